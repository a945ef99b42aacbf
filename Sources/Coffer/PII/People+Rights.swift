import CofferCrypto
import Foundation

/// The changes a data subject's rights ask for (correction, billing, consent, identifiers,
/// restriction, passwords), on subjects whose tenant the gate has already resolved.
extension People {
    /// Replaces fields: the subject moves to a fresh key with the new values (every value sealed
    /// anew, the old key destroyed, the WAL emptied), so the old values cannot be opened from a
    /// copy of the PII file taken before.
    func replaceFields(_ id: SubjectID, tenant: TenantID, _ values: [(SubjectField, String)]) async throws {
        try await moveToFreshKey(id, tenant: tenant) { opened in
            for (field, value) in values { opened.fields[field.rawValue] = value }
        }
    }

    /// Appends a consent event to the subject's chain. The subject moves to a fresh key with it:
    /// an older row and history written back into the file (a withdrawal undone) name a key that
    /// no longer exists.
    func recordConsent(_ id: SubjectID, tenant: TenantID, kind: String, granted: Bool, policyVersion: String) async throws {
        let consent = Consent(kind: kind, granted: granted, time: nowMilliseconds(), policyVersion: policyVersion)
        let json = String(decoding: try JSONEncoder().encode(consent), as: UTF8.self)
        try await moveToFreshKey(id, tenant: tenant, at: consent.time) { opened in opened.consents.append(json) }
    }

    /// Stores a technical identifier, sealed, with its IP address in the tenant's blind index.
    /// - Returns: The identifier's id.
    func addIdentifier(_ id: SubjectID, tenant: TenantID, ip: String?, userAgent: String?, device: String?) async throws -> String {
        let identifierID = try makeIdentifier("ident")
        var parts: [String: String] = [:]
        parts["ip"] = ip
        parts["userAgent"] = userAgent
        parts["device"] = device
        let json = String(decoding: try JSONEncoder().encode(parts), as: UTF8.self)
        let mac = try ip.map { try integrity.lookupMAC(kind: "ip", value: $0, tenant: tenant) }
        try await store.insertIdentifier(identifierID, subject: id, at: nowMilliseconds(), ipMAC: mac, integrity: integrity) { row in
            try self.seal(json, row: row, field: "identifier-\(identifierID)", key: self.fieldKey(for: row))
        }
        return identifierID
    }

    /// Restricts processing of a subject, or lifts the restriction, moving it to a fresh key: the
    /// row from before, written back into the file, names a key that no longer exists.
    func restrict(_ id: SubjectID, tenant: TenantID, lift: Bool) async throws {
        let status = (lift ? SubjectStatus.active : .restricted).rawValue
        try await moveToFreshKey(id, tenant: tenant) { opened in opened.status = status }
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
        guard let found = try await store.sealedField(id, name: SubjectField.passwordHash.rawValue) else {
            throw CofferError(.notFound, "no subject \(id)")
        }
        _ = try checkedStatus(found.row)
        guard found.row.keyID == nil || found.row.fields.contains(SubjectField.passwordHash.rawValue) == (found.value != nil) else {
            throw CofferError(.tamperDetected, "subject \(id)'s fields are not the ones its row names: a field was added or removed outside Coffer")
        }
        guard let sealed = found.value else { return false }
        let stored = try open(sealed, row: found.row, field: SubjectField.passwordHash.rawValue, key: fieldKey(for: found.row))
        let (matches, parameters) = try await scrypt { try PasswordHash.verify(password, against: stored) }
        let current = settings.passwordHashing
        if matches && parameters < current {
            try await setPassword(id, tenant: tenant, password: password, parameters: current)
        }
        return matches
    }
}
