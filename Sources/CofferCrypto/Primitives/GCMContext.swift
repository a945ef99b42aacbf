internal import COpenSSL

/// One `EVP_CIPHER_CTX` keyed once for AES-256-GCM and reused for many messages.
///
/// Each call re-initialises only the IV (`EVP_CipherInit_ex2(ctx, NULL, NULL, iv, NULL)`), so
/// the key schedule is computed once per context. Not thread-safe: one context per thread.
package final class GCMContext {
    /// Key size in bytes (AES-256).
    static let keySize = 32
    /// Nonce (IV) size in bytes.
    package static let nonceSize = 12
    /// Tag size in bytes.
    package static let tagSize = 16
    /// The most bytes one `EVP_*Update` call is given (its length is an `int`): 1 GiB.
    static let maximumUpdate = 1 << 30

    /// `count` as the `int` length libcrypto takes, refused when it does not fit.
    static func updateLength(_ count: Int) throws -> Int {
        guard count <= Int(Int32.max) else {
            throw CofferError(.invalidArgument, "associated data of \(count) bytes is more than libcrypto takes in one call")
        }
        return count
    }

    private let context: OpaquePointer
    private let encrypting: Bool

    /// Creates a context for `key` (32 bytes) in one direction.
    /// - Throws: ``CofferError`` `invalidKey` for a key of another size, `cryptoFailure` when
    ///   libcrypto fails.
    package init(key: UnsafeRawBufferPointer, encrypting: Bool) throws {
        guard key.count == GCMContext.keySize else {
            throw CofferError(.invalidKey, "AES-256-GCM needs a 32-byte key, got \(key.count) bytes")
        }
        let algorithms = try Algorithms.shared()
        context = try OpenSSL.check(EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new")
        self.encrypting = encrypting
        do {
            try OpenSSL.check(
                EVP_CipherInit_ex2(context, algorithms.aes256GCM, key.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                   nil, encrypting ? 1 : 0, nil),
                "EVP_CipherInit_ex2")
        } catch {
            EVP_CIPHER_CTX_free(context)
            throw error
        }
    }

    deinit {
        // EVP_CIPHER_CTX_free cleanses the key schedule.
        EVP_CIPHER_CTX_free(context)
    }

    /// Encrypts `count` bytes from `input` to `output` (which may be the same address) and writes
    /// the 16-byte tag to `tag`.
    @inline(__always)
    package func seal(nonce: UnsafePointer<UInt8>,
                      aad: UnsafeRawBufferPointer,
                      input: UnsafeRawPointer?, count: Int,
                      output: UnsafeMutableRawPointer?,
                      tag: UnsafeMutableRawPointer) throws {
        assert(encrypting)
        #if COFFER_STUB_CIPHER
        GCMContext.stubCopy(input, count, output)
        tag.initializeMemory(as: UInt8.self, repeating: 0, count: GCMContext.tagSize)
        return
        #else
        try OpenSSL.check(EVP_EncryptInit_ex2(context, nil, nil, nonce, nil), "EVP_EncryptInit_ex2")
        var written: Int32 = 0
        if let aadBase = aad.baseAddress, aad.count > 0 {
            try OpenSSL.check(EVP_EncryptUpdate(context, nil, &written, aadBase.assumingMemoryBound(to: UInt8.self),
                                                Int32(try GCMContext.updateLength(aad.count))), "EVP_EncryptUpdate(aad)")
        }
        var done = 0
        while done < count {
            // libcrypto takes an `int` length: more than 2 GiB goes in several updates.
            let n = min(count - done, GCMContext.maximumUpdate)
            try OpenSSL.check(EVP_EncryptUpdate(context, output!.assumingMemoryBound(to: UInt8.self) + done, &written,
                                                input!.assumingMemoryBound(to: UInt8.self) + done, Int32(n)),
                              "EVP_EncryptUpdate")
            // GCM is a stream mode: every byte in comes out at once.
            guard Int(written) == n else { throw CofferError(.cryptoFailure, "EVP_EncryptUpdate wrote \(written) of \(n) bytes") }
            done += n
        }
        var tail: Int32 = 0
        try OpenSSL.check(EVP_EncryptFinal_ex(context, output.map { $0.assumingMemoryBound(to: UInt8.self) + done },
                                              &tail), "EVP_EncryptFinal_ex")
        try OpenSSL.check(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(GCMContext.tagSize), tag),
                          "EVP_CTRL_AEAD_GET_TAG")
        #endif
    }

    /// Decrypts `count` bytes from `input` to `output` (which may be the same address) and checks
    /// `tag`. Returns false when authentication fails; the caller must then discard `output`.
    @inline(__always)
    func open(nonce: UnsafePointer<UInt8>,
              aad: UnsafeRawBufferPointer,
              input: UnsafeRawPointer?, count: Int,
              output: UnsafeMutableRawPointer?,
              tag: UnsafeRawPointer) throws -> Bool {
        assert(!encrypting)
        #if COFFER_STUB_CIPHER
        GCMContext.stubCopy(input, count, output)
        return true
        #else
        try OpenSSL.check(EVP_DecryptInit_ex2(context, nil, nil, nonce, nil), "EVP_DecryptInit_ex2")
        try OpenSSL.check(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(GCMContext.tagSize),
                                              UnsafeMutableRawPointer(mutating: tag)), "EVP_CTRL_AEAD_SET_TAG")
        var written: Int32 = 0
        if let aadBase = aad.baseAddress, aad.count > 0 {
            try OpenSSL.check(EVP_DecryptUpdate(context, nil, &written, aadBase.assumingMemoryBound(to: UInt8.self),
                                                Int32(try GCMContext.updateLength(aad.count))), "EVP_DecryptUpdate(aad)")
        }
        var done = 0
        while done < count {
            let n = min(count - done, GCMContext.maximumUpdate)
            try OpenSSL.check(EVP_DecryptUpdate(context, output!.assumingMemoryBound(to: UInt8.self) + done, &written,
                                                input!.assumingMemoryBound(to: UInt8.self) + done, Int32(n)),
                              "EVP_DecryptUpdate")
            // GCM is a stream mode: every byte in comes out at once.
            guard Int(written) == n else { throw CofferError(.cryptoFailure, "EVP_DecryptUpdate wrote \(written) of \(n) bytes") }
            done += n
        }
        var tail: Int32 = 0
        let verdict = EVP_DecryptFinal_ex(context, output.map { $0.assumingMemoryBound(to: UInt8.self) + done },
                                          &tail)
        if verdict != 1 {
            OpenSSL.clearErrors()
            return false
        }
        return true
        #endif
    }

    /// What the cipher is in this build: AES-256-GCM, or in a build with `COFFER_STUB_CIPHER`
    /// (benchmarks of everything but AES-GCM, `scripts/bench-stub-ceiling.sh`) a copy.
    package static var cipherName: String {
        #if COFFER_STUB_CIPHER
        "stub: a copy, no encryption (COFFER_STUB_CIPHER build, for benchmarks only)"
        #else
        "AES-256-GCM (libcrypto)"
        #endif
    }

    #if COFFER_STUB_CIPHER
    /// The stub cipher: the bytes as they are.
    private static func stubCopy(_ input: UnsafeRawPointer?, _ count: Int, _ output: UnsafeMutableRawPointer?) {
        guard count > 0, let input, let output, input != UnsafeRawPointer(output) else { return }
        output.copyMemory(from: input, byteCount: count)
    }
    #endif
}
