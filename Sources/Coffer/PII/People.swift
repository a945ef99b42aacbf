import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging
import Synchronization

/// The PII vault's subsystem: data subjects in `pii.sqlite` (``PeopleStore``), the PII settings,
/// the bound on concurrent scrypt work, the sealing of fields under each subject's own key (from
/// the key manager), the blind index that finds people without storing what they are found by,
/// and the tags that bind the file's bookkeeping to the keyring (``PIIIntegrity``). It decides and
/// records nothing: the vault's gate (``Vault/guardedPII(_:_:subject:tenant:check:_:)``) does,
/// and calls it only for accesses already allowed and recorded.
final class People: Sendable {
    /// Sealed bytes, MACs and tags only.
    let store: PeopleStore
    let keys: KeyManager
    let integrity: PIIIntegrity
    let janitor: WALJanitor
    private let settingsBox = Mutex(PIISettings())
    /// Bounds concurrent scrypt hashes (128 MiB each): one core's worth fewer than the blocking
    /// pool has threads, so password work never takes every thread.
    private let scryptLimiter = AsyncLimiter(limit: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))

    init(pool: any SQLDatabase, keys: KeyManager, janitor: WALJanitor) {
        store = PeopleStore(pool: pool)
        self.keys = keys
        integrity = PIIIntegrity(keys: keys)
        self.janitor = janitor
    }

    // MARK: Settings, keys and sealing

    /// The PII settings in force (password policy, breached list, hashing parameters).
    var settings: PIISettings {
        get { settingsBox.withLock { $0 } }
        set { settingsBox.withLock { $0 = newValue } }
    }

    /// The associated data of a sealed value: tenant, subject and field (consents and
    /// identifiers are fields named `consent-SEQ` and `identifier-ID`).
    static func fieldAAD(tenant: TenantID, subject: SubjectID, field: String) -> [UInt8] {
        Array("coffer/pii/v2\u{0}\(tenant)\u{0}\(subject)\u{0}\(field)".utf8)
    }

    /// The associated data of values sealed before it named the tenant (legacy subjects only).
    static func legacyFieldAAD(subject: SubjectID, field: String) -> [UInt8] {
        Array("coffer/pii/v1\u{0}\(subject)\u{0}\(field)".utf8)
    }

    /// Seals one field's value under the subject's key, bound to its tenant, subject and field.
    func seal(_ value: String, row: SubjectRow, field: String, key: SecureBytes) throws -> Data {
        Data(try AESGCM.seal(Array(value.utf8), key: key, aad: Self.fieldAAD(tenant: row.tenant, subject: row.id, field: field)))
    }

    /// Opens a field sealed by ``seal(_:row:field:key:)`` (or, for a legacy row, before it).
    /// - Throws: ``CofferError`` `tamperDetected` when it fails authentication.
    func open(_ sealed: Data, row: SubjectRow, field: String, key: SecureBytes) throws -> String {
        let aad = row.keyID == nil ? Self.legacyFieldAAD(subject: row.id, field: field)
            : Self.fieldAAD(tenant: row.tenant, subject: row.id, field: field)
        do {
            return String(decoding: try AESGCM.open([UInt8](sealed), key: key, aad: aad), as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "subject \(row.id): stored \(field) failed authentication; the PII file was changed outside Coffer")
        }
    }

    /// The field key of the key a subject row names.
    /// - Throws: ``CofferError`` `notFound` when that key was destroyed.
    func fieldKey(for row: SubjectRow) throws -> SecureBytes {
        guard let key = try keys.subjectFieldKey(keyID: row.keyID, subject: row.id.rawValue, tenant: row.tenant.rawValue) else {
            throw CofferError(.notFound, "subject \(row.id) has no key: it was erased")
        }
        return key
    }

    /// Runs scrypt (hashing or checking a password) on the blocking pool, at most
    /// ``scryptLimiter``'s limit at once.
    func scrypt<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await scryptLimiter.run { try await BlockingPool.shared.run(body) }
    }

    // MARK: Subjects

    /// Tenant and status of a subject, or nil; its row's tag checked first.
    /// - Throws: `CofferError` `tamperDetected` for a row that fails its tag or has an unknown
    ///   status (never taken for `active`, which would lift a restriction).
    func state(of subject: SubjectID) throws -> (tenant: TenantID, status: SubjectStatus)? {
        guard let row = try store.subjectRow(subject) else { return nil }
        return (row.tenant, try checkedStatus(row))
    }

    /// A row's status once its tag holds.
    func checkedStatus(_ row: SubjectRow) throws -> SubjectStatus {
        try integrity.verify(row)
        guard let status = SubjectStatus(rawValue: row.status) else {
            throw CofferError(.tamperDetected, "subject \(row.id) has an unknown status: the PII file was changed outside Coffer")
        }
        return status
    }

    /// Registers a person of `tenant` (already known to exist): a new subject key, the fields
    /// sealed under it, the email in the blind index, the password (if any) hashed with scrypt.
    /// - Returns: The subject id, `id`.
    func add(_ id: SubjectID, tenant: TenantID, name: String, email: String, company: String?, password: String?,
             hashing parameters: PasswordHashParameters) async throws -> SubjectID {
        var hash: String?
        if let password {
            hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
        }
        let now = nowMilliseconds()
        var values: [SubjectField: String] = [.name: name, .email: email]
        values[.company] = company
        values[.passwordHash] = hash
        let keys = self.keys
        let keyID = try await BlockingPool.shared.run { try keys.createSubjectKey(subject: id.rawValue, tenant: tenant.rawValue, now: now) }
        do {
            let row = SubjectRow(id: id, tenant: tenant, status: SubjectStatus.active.rawValue, keyID: keyID, createdAt: now, updatedAt: now,
                                 fields: values.keys.map(\.rawValue).sorted(), consentCount: 0, consentHead: nil, tag: nil)
            let key = try fieldKey(for: row)
            let sealed = try values.map { (name: $0.key.rawValue, value: try seal($0.value, row: row, field: $0.key.rawValue, key: key)) }
            let emailMAC = try integrity.lookupMAC(kind: "email", value: PIIValidation.emailKey(email), tenant: tenant)
            try await store.insertSubject(row, fields: sealed, lookups: [(kind: "email", mac: emailMAC)], integrity: integrity)
        } catch {
            // No key without its subject: destroy the key if the PII file refused the subject.
            try? keys.discardSubjectKey(keyID)
            throw error
        }
        try await BlockingPool.shared.run { try keys.settleSubjectKey(keyID, subject: id.rawValue, tenant: tenant.rawValue) }
        return id
    }

    /// What the vault holds about a subject, decrypted: only `fields` (nil for all, with
    /// consents and identifiers).
    /// - Throws: ``CofferError`` `notFound`, `tamperDetected`.
    func read(_ id: SubjectID, tenant: TenantID, status: SubjectStatus, fields: Set<SubjectField>?) throws -> SubjectRecord {
        guard let stored = try store.sealedSubject(id, withHistory: fields == nil) else { throw CofferError(.notFound, "no subject \(id)") }
        let row = stored.row
        _ = try checkedStatus(row)
        guard row.tenant == tenant else {
            throw CofferError(.tamperDetected, "subject \(id) moved to another tenant while it was read")
        }
        let opened = try open(stored, only: fields.map { Set($0.map(\.rawValue)) })
        let values = Dictionary(uniqueKeysWithValues: opened.fields.compactMap { name, value in SubjectField(rawValue: name).map { ($0, value) } })
        let consents = try opened.consents.map { try JSONDecoder().decode(Consent.self, from: Data($0.utf8)) }
        let identifiers = try opened.identifiers.map { identifier -> TechnicalIdentifier in
            let parts = try identifier.parts()
            return TechnicalIdentifier(id: identifier.stored.id, ip: parts["ip"], userAgent: parts["userAgent"], device: parts["device"],
                                       firstSeen: identifier.stored.firstSeen, lastSeen: identifier.stored.lastSeen)
        }
        return SubjectRecord(id: id, tenant: tenant, status: status, name: values[.name], email: values[.email],
                             company: values[.company], billingLast4: values[.billingLast4], billingAddress: values[.billingAddress],
                             hasPassword: stored.fields[SubjectField.passwordHash.rawValue] != nil,
                             consents: consents, identifiers: identifiers, createdAt: row.createdAt, updatedAt: row.updatedAt)
    }

    /// Subjects whose `kind` lookup (email, ip) is `value` in one of `tenants`, through the blind
    /// index; every entry and subject row found is checked against its tag.
    /// - Parameters:
    ///   - tenants: The tenants to look in (each has its own index key).
    ///   - includeRestricted: Whether restricted subjects are found too.
    /// - Throws: `CofferError` `tamperDetected` for an entry or row that fails its tag.
    func find(kind: String, value: String, tenants: [TenantID], includeRestricted: Bool) async throws -> [SubjectID] {
        let macs = try tenants.map { try integrity.lookupMAC(kind: kind, value: value, tenant: $0) }
        var found: [SubjectID] = []
        for match in try await store.find(kind: kind, macs: macs) {
            // The entry must be the one its subject's tenant would have made, and name that subject.
            guard let index = tenants.firstIndex(of: match.row.tenant), macs[index] == match.mac else { continue }
            try integrity.verifyLookup(match)
            let status = try checkedStatus(match.row)
            if includeRestricted || status != .restricted, !found.contains(match.row.id) { found.append(match.row.id) }
        }
        return found
    }
}
