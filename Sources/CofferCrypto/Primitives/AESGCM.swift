import Foundation
internal import COpenSSL

/// AES-256-GCM for small records: one call seals or opens a whole message.
///
/// The sealed form is `nonce (12 random bytes) || ciphertext || tag (16 bytes)`.
public enum AESGCM {
    /// Bytes added to every sealed message (nonce and tag).
    public static let overhead = GCMContext.nonceSize + GCMContext.tagSize

    /// Encrypts and authenticates `plaintext`, binding `aad`.
    /// - Parameters:
    ///   - plaintext: The message.
    ///   - key: A 32-byte key.
    ///   - aad: Associated data, authenticated but not encrypted.
    /// - Returns: `nonce || ciphertext || tag`.
    /// - Throws: ``CofferError`` `invalidKey` for a wrong key size, `cryptoFailure` if libcrypto fails.
    public static func seal(_ plaintext: some ContiguousBytes, key: SecureBytes,
                            aad: some ContiguousBytes = [UInt8]()) throws -> [UInt8] {
        let context = try key.withUnsafeBytes { (k) throws in try GCMContext(key: k, encrypting: true) }
        var nonce = [UInt8](repeating: 0, count: GCMContext.nonceSize)
        try nonce.withUnsafeMutableBytes { (n) throws in try SecureRandom.fill(n) }
        return try seal(plaintext, context: context, nonce: nonce, aad: aad)
    }

    /// Seals with a caller-chosen nonce. Only for known-answer tests: reusing a nonce under one
    /// key destroys GCM's security.
    static func seal(_ plaintext: some ContiguousBytes, context: GCMContext, nonce: [UInt8],
                     aad: some ContiguousBytes) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { (p) throws -> [UInt8] in
            var out = [UInt8](repeating: 0, count: nonce.count + p.count + GCMContext.tagSize)
            try out.withUnsafeMutableBytes { (o) throws in
                o.copyBytes(from: nonce)
                try nonce.withUnsafeBufferPointer { (n) throws in
                    try aad.withUnsafeBytes { (a) throws in
                        try context.seal(nonce: n.baseAddress!, aad: a, input: p.baseAddress, count: p.count,
                                         output: o.baseAddress! + nonce.count,
                                         tag: o.baseAddress! + nonce.count + p.count)
                    }
                }
            }
            return out
        }
    }

    /// Checks and decrypts a message made by ``seal(_:key:aad:)``.
    /// - Parameters:
    ///   - sealed: `nonce || ciphertext || tag`.
    ///   - key: The 32-byte key it was sealed with.
    ///   - aad: The associated data it was sealed with.
    /// - Returns: The plaintext.
    /// - Throws: ``CofferError`` `authenticationFailed` when the message, key or AAD do not match,
    ///   `truncated` when the message is shorter than nonce and tag.
    public static func open(_ sealed: some ContiguousBytes, key: SecureBytes,
                            aad: some ContiguousBytes = [UInt8]()) throws -> [UInt8] {
        let context = try key.withUnsafeBytes { (k) throws in try GCMContext(key: k, encrypting: false) }
        return try open(sealed, context: context, aad: aad)
    }

    static func open(_ sealed: some ContiguousBytes, context: GCMContext,
                     aad: some ContiguousBytes) throws -> [UInt8] {
        try sealed.withUnsafeBytes { (s) throws -> [UInt8] in
            var out = [UInt8](repeating: 0, count: max(0, s.count - overhead))
            try out.withUnsafeMutableBytes { (o) throws in
                try aad.withUnsafeBytes { (a) throws in try open(s, context: context, aad: a, into: o) }
            }
            return out
        }
    }

    /// Opens a sealed secret (such as a wrapped key) straight into a zeroizing buffer.
    static func openSecret(_ sealed: some ContiguousBytes, key: SecureBytes,
                           aad: some ContiguousBytes) throws -> SecureBytes {
        let context = try key.withUnsafeBytes { (k) throws in try GCMContext(key: k, encrypting: false) }
        return try sealed.withUnsafeBytes { (s) throws -> SecureBytes in
            try SecureBytes(count: max(0, s.count - overhead)) { (o) throws in
                try aad.withUnsafeBytes { (a) throws in try open(s, context: context, aad: a, into: o) }
            }
        }
    }

    /// The core of every open: checks sizes, decrypts into `output` and wipes it on failure.
    private static func open(_ s: UnsafeRawBufferPointer, context: GCMContext, aad: UnsafeRawBufferPointer,
                             into output: UnsafeMutableRawBufferPointer) throws {
        guard s.count >= overhead else {
            throw CofferError(.truncated, "sealed record is \(s.count) bytes, shorter than nonce and tag (\(overhead))")
        }
        let bodyCount = s.count - overhead
        precondition(output.count == bodyCount)
        let base = s.baseAddress!
        let ok = try context.open(nonce: base.assumingMemoryBound(to: UInt8.self), aad: aad,
                                  input: base + GCMContext.nonceSize, count: bodyCount,
                                  output: output.baseAddress, tag: base + GCMContext.nonceSize + bodyCount)
        guard ok else {
            if let ob = output.baseAddress { OPENSSL_cleanse(ob, output.count) }
            throw CofferError(.authenticationFailed, "record failed authentication: tampered, or wrong key or associated data")
        }
    }
}
