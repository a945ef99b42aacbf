import Foundation
internal import CCofferShims
internal import COpenSSL

/// scrypt (RFC 7914) through libcrypto's `EVP_KDF`, for password hashing.
public enum Scrypt {
    /// Derives `length` bytes from `password` and `salt`.
    /// - Parameters:
    ///   - password: The password bytes (held by the caller, ideally in ``SecureBytes``).
    ///   - salt: A random salt of at least 16 bytes.
    ///   - logN: log2 of the CPU/memory cost N (10...20).
    ///   - r: Block size (1...32).
    ///   - p: Parallelism (1...16).
    ///   - length: Output bytes.
    /// - Returns: `length` derived bytes, in zeroizing storage.
    /// - Throws: ``CofferError`` `invalidArgument` for parameters out of range, `cryptoFailure`.
    public static func derive(password: UnsafeRawBufferPointer, salt: [UInt8], logN: Int, r: Int, p: Int,
                              length: Int = 32) throws -> SecureBytes {
        guard (10...20).contains(logN), (1...32).contains(r), (1...16).contains(p), salt.count >= 16, (16...64).contains(length) else {
            throw CofferError(.invalidArgument, "scrypt parameters out of range (ln 10-20, r 1-32, p 1-16, salt >= 16 bytes)")
        }
        return try deriveUnchecked(password: password, salt: salt, logN: logN, r: r, p: p, length: length)
    }

    /// ``derive(password:salt:logN:r:p:length:)`` without its range checks. Internal: only the
    /// RFC 7914 known-answer tests call it, whose vectors use parameters (N = 16, short or empty
    /// salts) the public function refuses for passwords.
    static func deriveUnchecked(password: UnsafeRawBufferPointer, salt: [UInt8], logN: Int, r: Int, p: Int,
                                length: Int) throws -> SecureBytes {
        guard let kdf = EVP_KDF_fetch(nil, "SCRYPT", nil) else { throw OpenSSL.failure("EVP_KDF_fetch(SCRYPT)") }
        defer { EVP_KDF_free(kdf) }
        let n = UInt64(1) << UInt64(logN)
        // Memory scrypt needs (128 * N * r * p plus slack); libcrypto refuses more than maxmem.
        let maxmem = UInt64(128) * n * UInt64(r) * UInt64(p + 2) + (1 << 20)
        return try SecureBytes(count: length) { out in
            let ok = salt.withUnsafeBufferPointer { s in
                coffer_scrypt(kdf, password.baseAddress?.assumingMemoryBound(to: UInt8.self), password.count,
                              s.baseAddress, s.count, n, UInt32(r), UInt32(p), maxmem,
                              out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count)
            }
            guard ok == 1 else { throw OpenSSL.failure("EVP_KDF_derive(SCRYPT)") }
        }
    }
}
