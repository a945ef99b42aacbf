import CofferCrypto
import Foundation
import GRDB
import Synchronization

/// The PII vault's subsystem: data subjects in `pii.sqlite` (``PeopleStore``), the PII settings,
/// the bound on concurrent scrypt work, the sealing of fields under each subject's own key (from
/// the key manager) and the blind index that finds people without storing what they are found
/// by. It decides and records nothing: the vault's gate (``Vault/guardedPII(_:_:subject:tenant:check:_:)``)
/// does, and calls it only for accesses already allowed and recorded.
final class People: Sendable {
    /// Sealed bytes and MACs only.
    let store: PeopleStore
    private let keys: KeyManager
    let janitor: WALJanitor
    private let settingsBox = Mutex(PIISettings())
    /// Bounds concurrent scrypt hashes (128 MiB each): one core's worth fewer than the blocking
    /// pool has threads, so password work never takes every thread.
    private let scryptLimiter = AsyncLimiter(limit: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))

    init(pool: DatabasePool, keys: KeyManager, janitor: WALJanitor) {
        store = PeopleStore(pool: pool)
        self.keys = keys
        self.janitor = janitor
    }

    // MARK: Settings, keys and sealing

    /// The PII settings in force (password policy, breached list, hashing parameters).
    var settings: PIISettings {
        get { settingsBox.withLock { $0 } }
        set { settingsBox.withLock { $0 = newValue } }
    }

    static func fieldAAD(subject: SubjectID, field: String) -> [UInt8] {
        Array("coffer/pii/v1\u{0}\(subject)\u{0}\(field)".utf8)
    }

    /// Seals one field's value under the subject's key, bound to the subject and field.
    func seal(_ value: String, subject: SubjectID, field: String, key: SecureBytes) throws -> Data {
        Data(try AESGCM.seal(Array(value.utf8), key: key, aad: Self.fieldAAD(subject: subject, field: field)))
    }

    /// Opens a field sealed by ``seal(_:subject:field:key:)``.
    /// - Throws: ``CofferError`` `tamperDetected` when it fails authentication.
    func open(_ sealed: Data, subject: SubjectID, field: String, key: SecureBytes) throws -> String {
        do {
            return String(decoding: try AESGCM.open([UInt8](sealed), key: key, aad: Self.fieldAAD(subject: subject, field: field)), as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "subject \(subject): stored \(field) failed authentication; the PII file was changed outside Coffer")
        }
    }

    /// The blind-index MAC of a value: HMAC-SHA256 under a per-kind key derived from the keyring's
    /// blind-index key, over the normalised value. The value is never stored; the same email or
    /// address gives the same MAC in every tenant, so an investigation can search across tenants.
    func lookupMAC(kind: String, value: String) throws -> Data {
        let (_, root) = try keys.keyring.requiredSecret(for: .blindIndex)
        let key = try HKDF.deriveKey(from: root, salt: [UInt8](), info: Array("coffer/v1/lookup/\(kind)".utf8), length: 32)
        return Data(try HMACSHA256.authenticate(Array(value.utf8), key: key))
    }

    /// The field key of one data subject, cached by the key manager.
    /// - Throws: ``CofferError`` `notFound` when the subject's key was destroyed.
    func subjectKey(_ subject: SubjectID, tenant: TenantID) throws -> SecureBytes {
        guard let key = try keys.subjectFieldKey(subject: subject.rawValue, tenant: tenant.rawValue) else {
            throw CofferError(.notFound, "subject \(subject) has no key: it was erased")
        }
        return key
    }

    /// Runs scrypt (hashing or checking a password) on the blocking pool, at most
    /// ``scryptLimiter``'s limit at once.
    func scrypt<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await scryptLimiter.run { try await BlockingPool.shared.run(body) }
    }

    // MARK: Subjects

    /// Tenant and status of a subject, or nil.
    func state(of subject: SubjectID) throws -> (tenant: TenantID, status: SubjectStatus)? {
        try store.state(of: subject)
    }

    /// Registers a person of `tenant` (already known to exist): a new subject key, the fields
    /// sealed under it, the email in the blind index, the password (if any) hashed with scrypt.
    /// - Returns: The subject id.
    func add(tenant: TenantID, name: String, email: String, company: String?, password: String?,
             hashing parameters: PasswordHashParameters) async throws -> SubjectID {
        var hash: String?
        if let password {
            hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
        }
        let id = SubjectID(try makeIdentifier("subj"))
        let emailMAC = try lookupMAC(kind: "email", value: PIIValidation.emailKey(email))
        let now = nowMilliseconds()
        let keys = self.keys
        try await BlockingPool.shared.run { try keys.createSubjectKey(subject: id.rawValue, tenant: tenant.rawValue, now: now) }
        let fieldKey = try subjectKey(id, tenant: tenant)
        var fields: [(SubjectField, String)] = [(.name, name), (.email, email)]
        if let company { fields.append((.company, company)) }
        if let hash { fields.append((.passwordHash, hash)) }
        let sealed = try fields.map { (name: $0.0.rawValue, value: try seal($0.1, subject: id, field: $0.0.rawValue, key: fieldKey)) }
        do {
            try await store.insertSubject(id, tenant: tenant, fields: sealed, emailMAC: emailMAC, at: now)
        } catch {
            // No key without its subject: undo the key row if the PII file refused the subject.
            try? keys.destroySubjectKey(subject: id.rawValue, tenant: tenant.rawValue)
            throw error
        }
        return id
    }

    /// What the vault holds about a subject, decrypted: only `fields` (nil for all, with
    /// consents and identifiers).
    /// - Throws: ``CofferError`` `notFound`, `tamperDetected`.
    func read(_ id: SubjectID, tenant: TenantID, status: SubjectStatus, fields: Set<SubjectField>?) throws -> SubjectRecord {
        let key = try subjectKey(id, tenant: tenant)
        let everything = fields == nil
        guard let stored = try store.sealedSubject(id, withHistory: everything) else { throw CofferError(.notFound, "no subject \(id)") }
        var values: [SubjectField: String] = [:]
        for (name, sealed) in stored.fields {
            guard let field = SubjectField(rawValue: name), fields?.contains(field) ?? true else { continue }
            values[field] = try open(sealed, subject: id, field: field.rawValue, key: key)
        }
        let consents = try stored.consents.map { consent in
            try JSONDecoder().decode(Consent.self, from: Data(try open(consent.value, subject: id, field: "consent-\(consent.seq)", key: key).utf8))
        }
        let identifiers = try stored.identifiers.map { identifier -> TechnicalIdentifier in
            let parts = try JSONDecoder().decode([String: String].self,
                                                 from: Data(try open(identifier.value, subject: id, field: "identifier-\(identifier.id)", key: key).utf8))
            return TechnicalIdentifier(id: identifier.id, ip: parts["ip"], userAgent: parts["userAgent"], device: parts["device"],
                                       firstSeen: identifier.firstSeen, lastSeen: identifier.lastSeen)
        }
        return SubjectRecord(id: id, tenant: tenant, status: status, name: values[.name], email: values[.email],
                             company: values[.company], billingLast4: values[.billingLast4], billingAddress: values[.billingAddress],
                             hasPassword: stored.fields[SubjectField.passwordHash.rawValue] != nil,
                             consents: consents, identifiers: identifiers, createdAt: stored.createdAt, updatedAt: stored.updatedAt)
    }

    /// Subjects whose `kind` lookup (email, ip) is `value`, through the blind index.
    /// - Parameters:
    ///   - tenant: One tenant, or nil for every tenant.
    ///   - scope: The tenants the caller may see (nil: all).
    ///   - includeRestricted: Whether restricted subjects are found too.
    func find(kind: String, value: String, tenant: TenantID?, scope: [TenantID]?, includeRestricted: Bool) async throws -> [SubjectID] {
        let mac = try lookupMAC(kind: kind, value: value)
        let rows = try await store.find(kind: kind, mac: mac, tenant: tenant)
        return rows.filter { row in
            (scope?.contains(row.tenant) ?? true) && (includeRestricted || row.status != SubjectStatus.restricted.rawValue)
        }.map(\.subject)
    }
}
