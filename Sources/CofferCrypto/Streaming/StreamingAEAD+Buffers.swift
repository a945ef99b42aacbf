import Foundation

extension StreamingAEAD {
    /// Seals a whole plaintext held in memory, straight from `plaintext` into `ciphertext` with no
    /// intermediate copy, on `workers` threads.
    /// - Parameters:
    ///   - plaintext: The message.
    ///   - ciphertext: Exactly ``SegmentLayout/ciphertextSize(plaintextSize:)`` bytes.
    ///   - aad: Associated data.
    ///   - workers: Threads to use.
    /// - Throws: ``CofferError`` `invalidArgument` for a wrong output size.
    public func seal(_ plaintext: UnsafeRawBufferPointer, into ciphertext: UnsafeMutableRawBufferPointer,
                     aad: some ContiguousBytes, workers: Int = StreamingAEAD.defaultWorkers) throws {
        let session = try newSession(aad: aad)
        try seal(plaintext, into: ciphertext, session: session, workers: workers)
    }

    package func seal(_ plaintext: UnsafeRawBufferPointer, into ciphertext: UnsafeMutableRawBufferPointer,
                      session: StreamSession, workers: Int) throws {
        let total = layout.ciphertextSize(plaintextSize: Int64(plaintext.count))
        guard Int64(ciphertext.count) == total else {
            throw CofferError(.invalidArgument, "ciphertext buffer is \(ciphertext.count) bytes; \(total) needed")
        }
        let count = layout.segmentCount(plaintextSize: Int64(plaintext.count))
        guard Int64(count) <= SegmentLayout.maximumSegmentCount else {
            throw CofferError(.invalidArgument, "plaintext needs more than 2^32 segments")
        }
        ciphertext.copyBytes(from: session.header)
        let parallel = try ParallelSegments(session: session, encrypting: true, workers: workers)
        let layout = self.layout, input = plaintext.baseAddress, output = ciphertext.baseAddress!
        let size = plaintext.count
        let failure = parallel.run(count: count, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
            (cipher, i) throws in
            let from = Int(layout.plaintextOffset(ofSegment: i))
            let length = min(layout.plaintextCapacity(ofSegment: i), size - from)
            try cipher.seal(segment: i, isLast: i == count - 1, plaintext: input.map { $0 + from }, count: length,
                            output: output + Int(layout.ciphertextOffset(ofSegment: i)))
        }
        if let failure { throw failure.error }
    }

    /// Opens a whole ciphertext held in memory into `plaintext`, on `workers` threads.
    /// - Parameters:
    ///   - ciphertext: The stream.
    ///   - plaintext: Exactly ``SegmentLayout/plaintextSize(ciphertextSize:)`` bytes. On failure
    ///     it is wiped entirely: nothing unauthenticated is left in it.
    ///   - aad: The associated data it was sealed with.
    ///   - workers: Threads to use.
    /// - Throws: ``CofferError`` `authenticationFailed`, `truncated`, `invalidFormat`, `invalidArgument`.
    public func open(_ ciphertext: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer,
                     aad: some ContiguousBytes, workers: Int = StreamingAEAD.defaultWorkers) throws {
        let size = try layout.plaintextSize(ciphertextSize: Int64(ciphertext.count))
        guard Int64(plaintext.count) == size else {
            throw CofferError(.invalidArgument, "plaintext buffer is \(plaintext.count) bytes; \(size) needed")
        }
        let session = try self.session(header: Array(UnsafeRawBufferPointer(rebasing: ciphertext[0..<SegmentLayout.headerSize])),
                                       aad: aad)
        let parallel = try ParallelSegments(session: session, encrypting: false, workers: workers)
        let count = layout.segmentCount(ciphertextSize: Int64(ciphertext.count))
        let layout = self.layout, input = ciphertext.baseAddress!, output = plaintext.baseAddress
        let total = ciphertext.count
        let failure = parallel.run(count: count, minimumBytesPerWorker: 256 * 1024, bytesPerSegment: layout.segmentSize) {
            (cipher, i) throws in
            let from = Int(layout.ciphertextOffset(ofSegment: i))
            let end = i == count - 1 ? total : (i + 1) * layout.segmentSize
            let scratch = output.map { $0 + Int(layout.plaintextOffset(ofSegment: i)) }
            try cipher.open(segment: i, isLast: i == count - 1, ciphertext: input + from, count: end - from,
                            output: scratch ?? UnsafeMutableRawPointer(mutating: input + from))
        }
        if let failure {
            SecureBytes.wipe(plaintext)
            throw failure.error
        }
    }

    /// Seals `plaintext` and returns the whole ciphertext.
    /// - Parameters:
    ///   - plaintext: The message.
    ///   - aad: Associated data.
    /// - Returns: Header and segments, Tink's format.
    /// - Throws: ``CofferError`` `cryptoFailure` when libcrypto fails.
    public func seal(_ plaintext: some ContiguousBytes, aad: some ContiguousBytes) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { (p) throws -> [UInt8] in
            var out = [UInt8](repeating: 0, count: Int(layout.ciphertextSize(plaintextSize: Int64(p.count))))
            try out.withUnsafeMutableBytes { (o) throws in try seal(p, into: o, aad: aad) }
            return out
        }
    }

    /// Opens a whole ciphertext and returns the plaintext.
    /// - Parameters:
    ///   - ciphertext: Header and segments, Tink's format.
    ///   - aad: The associated data it was sealed with.
    /// - Returns: The plaintext, only when every segment authenticated.
    /// - Throws: ``CofferError`` `authenticationFailed`, `truncated` or `invalidFormat`.
    public func open(_ ciphertext: some ContiguousBytes, aad: some ContiguousBytes) throws -> [UInt8] {
        try ciphertext.withUnsafeBytes { (c) throws -> [UInt8] in
            let size = try layout.plaintextSize(ciphertextSize: Int64(c.count))
            var out = [UInt8](repeating: 0, count: Int(size))
            try out.withUnsafeMutableBytes { (o) throws in try open(c, into: o, aad: aad) }
            return out
        }
    }
}
