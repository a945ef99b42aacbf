import CofferCrypto
import Foundation
import Synchronization

/// The keys that bind the PII file's bookkeeping to the keyring: per tenant, a blind-index key
/// for each kind of lookup and an integrity key that tags every subject row (tenant, status,
/// key id, field names, consent count and chain head) and every blind-index entry. All are
/// derived with HKDF from the keyring's `blind-index` key, which stays the same for the life of
/// the vault: someone who can write `pii.sqlite` but does not hold the keyring can neither make
/// a tag nor link a person across tenants by the index.
final class PIIIntegrity: Sendable {
    private let keys: KeyManager
    private let derived = Mutex(BoundedCache<SecureBytes>(limit: 4096))

    init(keys: KeyManager) {
        self.keys = keys
    }

    /// The blind-index MAC of a normalised value of `kind` (email, ip) in `tenant`.
    func lookupMAC(kind: String, value: String, tenant: TenantID) throws -> Data {
        Data(try HMACSHA256.authenticate(Array(value.utf8), key: key("lookup/\(kind)", tenant: tenant)))
    }

    /// The tag of a subject row (its `tag` and `updatedAt` aside).
    func tag(_ row: SubjectRow) throws -> Data {
        let parts = ["subject", row.id.rawValue, row.tenant.rawValue, row.status, row.keyID ?? "", String(row.createdAt),
                     row.fields.joined(separator: ","), String(row.consentCount)]
        return try mac(parts.map { Array($0.utf8) } + [[UInt8](row.consentHead ?? Data())], tenant: row.tenant)
    }

    /// The tag of a blind-index entry, binding it to the subject it names.
    func lookupTag(kind: String, mac: Data, subject: SubjectID, tenant: TenantID) throws -> Data {
        try self.mac([Array("lookup".utf8), Array(kind.utf8), [UInt8](mac), Array(subject.rawValue.utf8)], tenant: tenant)
    }

    /// Checks a subject row's tag.
    /// - Throws: `CofferError` `tamperDetected` for a row without a tag or with a wrong one.
    func verify(_ row: SubjectRow) throws {
        guard let stored = row.tag else {
            throw CofferError(.tamperDetected, "subject \(row.id) has no integrity tag: its row in the PII file was changed or replaced outside Coffer")
        }
        guard ConstantTime.equals([UInt8](stored), [UInt8](try tag(row))) else {
            throw CofferError(.tamperDetected, "subject \(row.id)'s row (tenant, status, key, fields or consents) fails its integrity tag: the PII file was changed outside Coffer")
        }
    }

    /// Checks a blind-index entry's tag.
    /// - Throws: `CofferError` `tamperDetected` when it does not name this subject.
    func verifyLookup(_ match: LookupMatch) throws {
        let expected = try lookupTag(kind: match.kind, mac: match.mac, subject: match.row.id, tenant: match.row.tenant)
        guard let stored = match.tag, ConstantTime.equals([UInt8](stored), [UInt8](expected)) else {
            throw CofferError(.tamperDetected, "a blind-index entry pointing at subject \(match.row.id) fails its integrity tag: the PII file was changed outside Coffer")
        }
    }

    /// The next head of a consent chain: SHA-256 over the previous head, the event's sequence
    /// number and its sealed bytes. Deleting, reordering or replacing an event changes every
    /// head after it, and the last one is in the subject row's tag.
    static func chain(_ head: Data?, seq: Int64, value: Data) throws -> Data {
        var message = Array("coffer/pii-consent/v2".utf8)
        message += [UInt8](head ?? Data(count: 32))
        message += withUnsafeBytes(of: seq.bigEndian, Array.init)
        message += [UInt8](value)
        return Data(try SHA256.hash(message))
    }

    private func mac(_ parts: [[UInt8]], tenant: TenantID) throws -> Data {
        var message: [UInt8] = []
        for part in parts {
            message += withUnsafeBytes(of: UInt32(part.count).bigEndian, Array.init)
            message += part
        }
        return Data(try HMACSHA256.authenticate(message, key: key("integrity", tenant: tenant)))
    }

    private func key(_ use: String, tenant: TenantID) throws -> SecureBytes {
        let name = use + "\u{0}" + tenant.rawValue
        if let cached = derived.withLock({ $0[name] }) { return cached }
        let (_, root) = try keys.keyring.requiredSecret(for: .blindIndex)
        let key = try HKDF.deriveKey(from: root, salt: [UInt8](), info: Array("coffer/v2/pii/\(use)/tenant/\(tenant)".utf8), length: 32)
        derived.withLock { $0[name] = key }
        return key
    }
}
