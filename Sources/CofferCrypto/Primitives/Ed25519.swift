import Foundation
internal import COpenSSL

/// An Ed25519 private key (one `EVP_PKEY`), for signing access-log checkpoints.
public final class Ed25519SigningKey: @unchecked Sendable {
    // Sendable: the EVP_PKEY is immutable after creation; each signature uses its own MD context.
    private let key: OpaquePointer
    /// The 32-byte public key.
    public let publicKey: [UInt8]

    /// Makes the key from a 32-byte seed (RFC 8032 private key).
    /// - Parameter seed: The 32-byte seed.
    /// - Throws: ``CofferError`` `invalidKey` for a wrong seed size, `cryptoFailure` if libcrypto fails.
    public init(seed: SecureBytes) throws {
        guard seed.count == 32 else { throw CofferError(.invalidKey, "an Ed25519 seed is 32 bytes, got \(seed.count)") }
        key = try seed.withUnsafeBytes { s in
            try OpenSSL.check(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil,
                                                           s.baseAddress!.assumingMemoryBound(to: UInt8.self), 32),
                              "EVP_PKEY_new_raw_private_key(ED25519)")
        }
        var length = 32
        var raw = [UInt8](repeating: 0, count: 32)
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            EVP_PKEY_free(key)
            throw OpenSSL.failure("EVP_PKEY_get_raw_public_key")
        }
        publicKey = raw
    }

    deinit { EVP_PKEY_free(key) }

    /// Signs `message` (pure Ed25519, no pre-hash).
    /// - Parameter message: The bytes to sign.
    /// - Returns: The 64-byte signature.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public func sign(_ message: some ContiguousBytes) throws -> [UInt8] {
        let context = try OpenSSL.check(EVP_MD_CTX_new(), "EVP_MD_CTX_new")
        defer { EVP_MD_CTX_free(context) }
        try OpenSSL.check(EVP_DigestSignInit(context, nil, nil, nil, key), "EVP_DigestSignInit")
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        try message.withUnsafeBytes { m in
            try OpenSSL.check(EVP_DigestSign(context, &signature, &length, m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count),
                              "EVP_DigestSign")
        }
        return signature
    }
}

/// Ed25519 signature verification.
public enum Ed25519 {
    /// True when `signature` is a valid Ed25519 signature of `message` under `publicKey`.
    /// - Parameters:
    ///   - signature: The 64-byte signature.
    ///   - message: The signed bytes.
    ///   - publicKey: The 32-byte public key.
    /// - Returns: False for a bad signature, a key of the wrong size, or a libcrypto failure.
    public static func isValid(signature: [UInt8], message: some ContiguousBytes, publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32 else { return false }
        guard let key = publicKey.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }) else {
            OpenSSL.clearErrors()
            return false
        }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { OpenSSL.clearErrors(); return false }
        let ok = message.withUnsafeBytes { m in
            EVP_DigestVerify(context, signature, 64, m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count)
        }
        OpenSSL.clearErrors()
        return ok == 1
    }
}
