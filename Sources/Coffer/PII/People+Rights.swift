import CofferCrypto
import Foundation

/// The changes a data subject's rights ask for (correction, billing, consent, identifiers,
/// restriction, passwords), on subjects whose tenant the gate has already resolved.
extension People {
    /// Replaces fields in one transaction, then checkpoints the WAL so the old ciphertext leaves
    /// it too (`secure_delete` has already zeroed it in the database file).
    func replaceFields(_ id: SubjectID, tenant: TenantID, _ values: [(SubjectField, String)],
                       lookups: [(kind: String, value: String)] = []) async throws {
        let key = try subjectKey(id, tenant: tenant)
        let sealed = try values.map { (name: $0.0.rawValue, value: try seal($0.1, subject: id, field: $0.0.rawValue, key: key)) }
        let macs = try lookups.map { (kind: $0.kind, mac: try lookupMAC(kind: $0.kind, value: $0.value)) }
        try await store.replaceFields(id, fields: sealed, lookups: macs, at: nowMilliseconds())
        await janitor.truncate(.pii)
    }

    /// Appends a consent event, sealed under the subject's key.
    func recordConsent(_ id: SubjectID, tenant: TenantID, kind: String, granted: Bool, policyVersion: String) async throws {
        let key = try subjectKey(id, tenant: tenant)
        let consent = Consent(kind: kind, granted: granted, time: nowMilliseconds(), policyVersion: policyVersion)
        let json = String(decoding: try JSONEncoder().encode(consent), as: UTF8.self)
        let sealer: @Sendable (Int64) throws -> Data = { seq in try self.seal(json, subject: id, field: "consent-\(seq)", key: key) }
        try await store.appendConsent(id, at: consent.time, seal: sealer)
    }

    /// Stores a technical identifier, sealed, with its IP address in the blind index.
    /// - Returns: The identifier's id.
    func addIdentifier(_ id: SubjectID, tenant: TenantID, ip: String?, userAgent: String?, device: String?) async throws -> String {
        let key = try subjectKey(id, tenant: tenant)
        let identifierID = try makeIdentifier("ident")
        var parts: [String: String] = [:]
        parts["ip"] = ip
        parts["userAgent"] = userAgent
        parts["device"] = device
        let json = String(decoding: try JSONEncoder().encode(parts), as: UTF8.self)
        let sealed = try seal(json, subject: id, field: "identifier-\(identifierID)", key: key)
        let mac = try ip.map { try lookupMAC(kind: "ip", value: $0) }
        let now = nowMilliseconds()
        try await store.insertIdentifier(identifierID, subject: id, value: sealed, ipMAC: mac, at: now)
        return identifierID
    }

    /// Restricts processing of a subject, or lifts the restriction.
    func restrict(_ id: SubjectID, lift: Bool) async throws {
        try await store.setStatus(id, lift ? .active : .restricted, at: nowMilliseconds())
    }

    /// Hashes `password` with `parameters` and stores it.
    func setPassword(_ id: SubjectID, tenant: TenantID, password: String, parameters: PasswordHashParameters) async throws {
        let hash = try await scrypt { try PasswordHash.make(password, parameters: parameters) }
        try await replaceFields(id, tenant: tenant, [(.passwordHash, hash)])
    }

    /// Checks a password; on success with a hash made under weaker parameters than today's, the
    /// hash is remade with today's.
    /// - Returns: Whether the password matches.
    func verifyPassword(_ id: SubjectID, tenant: TenantID, password: String) async throws -> Bool {
        let key = try subjectKey(id, tenant: tenant)
        guard let sealed = try await store.sealedField(id, name: SubjectField.passwordHash.rawValue) else { return false }
        let stored = try open(sealed, subject: id, field: SubjectField.passwordHash.rawValue, key: key)
        let (matches, parameters) = try await scrypt { try PasswordHash.verify(password, against: stored) }
        let current = settings.passwordHashing
        if matches && parameters < current {
            try await setPassword(id, tenant: tenant, password: password, parameters: current)
        }
        return matches
    }
}
