import Foundation
internal import COpenSSL
internal import CCofferShims

/// HKDF with SHA-256 (RFC 5869), extract then expand.
public enum HKDF {
    /// Derives `length` bytes of key material into a zeroizing buffer.
    /// - Parameters:
    ///   - key: Input keying material.
    ///   - salt: The salt (may be empty).
    ///   - info: Context and application-specific information (may be empty).
    ///   - length: Output size in bytes (at most 255 * 32).
    /// - Returns: `length` bytes of output keying material.
    /// - Throws: ``CofferError`` `invalidArgument` for a bad length, `cryptoFailure` if libcrypto fails.
    public static func deriveKey(from key: SecureBytes, salt: some ContiguousBytes, info: some ContiguousBytes,
                                 length: Int) throws -> SecureBytes {
        guard length > 0, length <= 255 * SHA256.byteCount else {
            throw CofferError(.invalidArgument, "HKDF-SHA256 output length must be 1...\(255 * SHA256.byteCount)")
        }
        let kdf = try Algorithms.shared().hkdf
        return try SecureBytes(count: length) { (out) throws in
            let ok = key.withUnsafeBytes { ikm in
                salt.withUnsafeBytes { s in
                    info.withUnsafeBytes { i in
                        coffer_hkdf_sha256(kdf,
                                           ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), ikm.count,
                                           s.baseAddress?.assumingMemoryBound(to: UInt8.self), s.count,
                                           i.baseAddress?.assumingMemoryBound(to: UInt8.self), i.count,
                                           out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count)
                    }
                }
            }
            guard ok == 1 else { throw OpenSSL.failure("EVP_KDF_derive(HKDF)") }
        }
    }
}
