import Foundation
internal import COpenSSL

/// SHA-1, only to look passwords up in breach corpora that publish SHA-1 hashes. Not for anything
/// that needs collision resistance.
public enum BreachCorpusSHA1 {
    /// Upper-case hex SHA-1 of `bytes`.
    /// - Parameter bytes: The bytes to hash.
    /// - Returns: 40 upper-case hex digits.
    /// - Throws: ``CofferError`` `cryptoFailure` if libcrypto fails.
    public static func hex(_ bytes: [UInt8]) throws -> String {
        guard let md = EVP_MD_fetch(nil, "SHA1", nil) else { throw OpenSSL.failure("EVP_MD_fetch(SHA1)") }
        defer { EVP_MD_free(md) }
        var out = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        try OpenSSL.check(EVP_Digest(bytes, bytes.count, &out, &length, md, nil), "EVP_Digest(SHA1)")
        return out.map { String(format: "%02X", $0) }.joined()
    }
}
