import CofferCrypto
import Foundation

/// The keys one (tenant, data class) data key yields, derived with HKDF so each use has its own key.
struct ClassKeys: Sendable {
    /// The data key's id (recorded with every version sealed under it).
    let id: String
    /// Input key material of the streaming AEAD (each stream derives its own key from it).
    let stream: SecureBytes
    /// Seals object names.
    let name: SecureBytes
    /// Keys the name lookup MAC.
    let nameIndex: SecureBytes
    /// Keys the content digest (HMAC-SHA256 of the plaintext).
    let digest: SecureBytes

    init(id: String, dataKey: SecureBytes) throws {
        self.id = id
        func derive(_ label: String) throws -> SecureBytes {
            try HKDF.deriveKey(from: dataKey, salt: [UInt8](), info: Array("coffer/v1/\(label)".utf8), length: 32)
        }
        stream = try derive("stream")
        name = try derive("name")
        nameIndex = try derive("name-index")
        digest = try derive("digest")
    }
}

/// One row of ``Vault/keyStatus(context:)``: a data key and the KEK it depends on.
public struct DataKeyStatus: Sendable, Codable, Hashable {
    /// The data key's id.
    public let id: String
    /// The tenant it belongs to.
    public let tenant: TenantID
    /// The data class (an object kind) it protects.
    public let dataClass: String
    /// The id of the KEK that wraps it.
    public let kekID: String
    /// When it was made (Unix milliseconds).
    public let createdAt: Int64
    /// When it was last rewrapped (Unix milliseconds), if ever.
    public let rewrappedAt: Int64?
}

/// The wrap context binds a wrapped data key to its id, tenant and class.
func dataKeyContext(id: String, tenant: String, dataClass: String) -> String {
    "data-key/\(id)/tenant/\(tenant)/class/\(dataClass)"
}

/// Identifiers Coffer makes: a prefix and 128 random bits in lower-case hex.
/// - Throws: `CofferError` `cryptoFailure` when the random generator fails.
package func makeIdentifier(_ prefix: String) throws -> String {
    prefix + "_" + Hex.lower(try SecureRandom.bytes(16))
}

/// Milliseconds since 1970.
package func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

/// The wrap context of a data subject's key: its own id, the subject and the tenant.
func subjectKeyContext(keyID: String, subject: String, tenant: String) -> String {
    "subject-key/\(keyID)/subject/\(subject)/tenant/\(tenant)"
}

/// The wrap context of a data subject's key made before subject keys had ids.
func legacySubjectKeyContext(subject: String, tenant: String) -> String {
    "subject-key/\(subject)/tenant/\(tenant)"
}
