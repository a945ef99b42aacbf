import Foundation

/// The per-stream secrets of one ciphertext: its header, and the segment key derived from the
/// stream key, the header's salt and the AAD. Immutable and shareable across threads; each
/// thread makes its own ``SegmentCipher`` from it.
package final class StreamSession: Sendable {
    /// The 40 header bytes that begin the ciphertext.
    package let header: [UInt8]
    let segmentKey: SecureBytes

    /// Derives the session for `header` (which must be well formed) under `key` and `aad`.
    init(key: SecureBytes, header: [UInt8], aad: some ContiguousBytes) throws {
        guard header.count == SegmentLayout.headerSize, header[0] == UInt8(SegmentLayout.headerSize) else {
            throw CofferError(.invalidFormat,
                              "not a Coffer/Tink streaming ciphertext: header must start with 0x28 and be 40 bytes")
        }
        self.header = header
        let salt = header[1...SegmentLayout.saltSize]
        segmentKey = try HKDF.deriveKey(from: key, salt: Array(salt), info: aad, length: GCMContext.keySize)
    }

    /// Makes a fresh random header (salt and nonce prefix) and derives its session.
    static func random(key: SecureBytes, aad: some ContiguousBytes) throws -> StreamSession {
        var header = try SecureRandom.bytes(SegmentLayout.headerSize)
        header[0] = UInt8(SegmentLayout.headerSize)
        return try StreamSession(key: key, header: header, aad: aad)
    }

    /// A cipher for one thread.
    package func makeCipher(encrypting: Bool) throws -> SegmentCipher {
        try SegmentCipher(session: self, encrypting: encrypting)
    }
}

/// AES-256-GCM over the segments of one stream, for one thread: one `EVP_CIPHER_CTX` keyed once,
/// one nonce buffer, nothing allocated per segment.
package final class SegmentCipher {
    private let gcm: GCMContext
    private let nonce: UnsafeMutablePointer<UInt8>
    private nonisolated(unsafe) static let emptyAAD = UnsafeRawBufferPointer(start: nil, count: 0)

    init(session: StreamSession, encrypting: Bool) throws {
        gcm = try session.segmentKey.withUnsafeBytes { (k) throws in
            try GCMContext(key: k, encrypting: encrypting)
        }
        nonce = .allocate(capacity: GCMContext.nonceSize)
        nonce.initialize(repeating: 0, count: GCMContext.nonceSize)
        for i in 0..<SegmentLayout.noncePrefixSize {
            nonce[i] = session.header[1 + SegmentLayout.saltSize + i]
        }
    }

    deinit { nonce.deallocate() }

    @inline(__always)
    private func setNonce(segment index: Int, isLast: Bool) {
        let i = UInt32(truncatingIfNeeded: index)
        nonce[7] = UInt8(truncatingIfNeeded: i >> 24)
        nonce[8] = UInt8(truncatingIfNeeded: i >> 16)
        nonce[9] = UInt8(truncatingIfNeeded: i >> 8)
        nonce[10] = UInt8(truncatingIfNeeded: i)
        nonce[11] = isLast ? 1 : 0
    }

    /// Encrypts segment `index`: `count` plaintext bytes at `plaintext` become `count + 16`
    /// bytes at `output`. `output` may equal `plaintext`.
    @inline(__always)
    package func seal(segment index: Int, isLast: Bool, plaintext: UnsafeRawPointer?, count: Int,
                      output: UnsafeMutableRawPointer) throws {
        setNonce(segment: index, isLast: isLast)
        try gcm.seal(nonce: nonce, aad: Self.emptyAAD, input: plaintext, count: count, output: output,
                     tag: output + count)
    }

    /// Checks and decrypts segment `index`: `count` bytes at `ciphertext` (tag included) become
    /// `count - 16` bytes at `output`, which may equal `ciphertext`. On failure the output is
    /// wiped before the error is thrown, so no unauthenticated byte is ever released.
    @inline(__always)
    package func open(segment index: Int, isLast: Bool, ciphertext: UnsafeRawPointer, count: Int,
                      output: UnsafeMutableRawPointer) throws {
        guard count >= SegmentLayout.tagSize else {
            throw CofferError(.truncated, "segment \(index) is \(count) bytes, shorter than its tag: truncated ciphertext")
        }
        setNonce(segment: index, isLast: isLast)
        let body = count - SegmentLayout.tagSize
        let ok = try gcm.open(nonce: nonce, aad: Self.emptyAAD, input: ciphertext, count: body, output: output,
                              tag: ciphertext + body)
        if !ok {
            SecureBytes.wipe(UnsafeMutableRawBufferPointer(start: output, count: body))
            throw CofferError(.authenticationFailed,
                              "segment \(index) failed authentication: the ciphertext was changed, truncated or reordered, or the key or associated data is wrong")
        }
    }
}
