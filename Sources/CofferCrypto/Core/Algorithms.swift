internal import COpenSSL

/// Algorithm implementations fetched from OpenSSL's default provider once per process.
///
/// In OpenSSL 3 the `EVP_aes_256_gcm()` style getters make every init fetch again, which costs
/// measurably per segment; explicit fetches are reference-counted and safe to share.
final class Algorithms: @unchecked Sendable {
    // Sendable: fetched algorithm objects are immutable and OpenSSL allows sharing them across threads.
    let aes256GCM: OpaquePointer
    let sha256: OpaquePointer
    let hkdf: OpaquePointer
    let hmac: OpaquePointer

    private init() throws {
        aes256GCM = try OpenSSL.check(EVP_CIPHER_fetch(nil, "AES-256-GCM", nil), "EVP_CIPHER_fetch(AES-256-GCM)")
        sha256 = try OpenSSL.check(EVP_MD_fetch(nil, "SHA256", nil), "EVP_MD_fetch(SHA256)")
        hkdf = try OpenSSL.check(EVP_KDF_fetch(nil, "HKDF", nil), "EVP_KDF_fetch(HKDF)")
        hmac = try OpenSSL.check(EVP_MAC_fetch(nil, "HMAC", nil), "EVP_MAC_fetch(HMAC)")
    }

    deinit {
        EVP_CIPHER_free(aes256GCM)
        EVP_MD_free(sha256)
        EVP_KDF_free(hkdf)
        EVP_MAC_free(hmac)
    }

    private static let result: Result<Algorithms, any Error> = Result { try Algorithms() }

    /// The shared instance; throws if the default provider lacks an algorithm Coffer needs.
    static func shared() throws -> Algorithms {
        try result.get()
    }
}
