import CofferCrypto
import CofferSQL
import Foundation

extension People {
    /// The fields a legal retention keeps after erasure (billing records, P11).
    static let retainedFields: [SubjectField] = [.billingLast4, .billingAddress]

    /// Erases a subject (P16): its billing records, if any, are sealed anew under a key of their
    /// own kept until `retainUntil`; every other value, consent, identifier and index entry is
    /// deleted with them in one transaction; then the subject's keys are destroyed (so every
    /// copy sealed under them, in a WAL or a backup, no longer opens) and the WALs emptied. The
    /// ledger entry of the keys names `requestID` (the erasure request, if any) and what was
    /// removed, for the request's receipt. Blocks: run it on the blocking pool.
    func erase(_ id: SubjectID, tenant: TenantID, retainUntil: Int64, requestID: String? = nil) throws {
        var retainedKey: String?
        var retained: [(fields: [String], until: Int64)] = []
        let rows: ErasedRows
        do {
            rows = try store.erase(id, integrity: integrity) { stored in
                guard stored.row.tenant == tenant else { throw CofferError(.tamperDetected, "subject \(id) moved to another tenant outside Coffer") }
                let names = Self.retainedFields.map(\.rawValue).filter { stored.fields[$0] != nil }
                // A subject whose key is gone already (an erasure applied again to a restored
                // backup) keeps nothing: what was sealed under that key cannot be opened.
                guard !names.isEmpty, try keys.subjectFieldKey(keyID: stored.row.keyID, subject: id.rawValue, tenant: tenant.rawValue) != nil else {
                    return []
                }
                let opened = try self.open(stored, only: Set(names))
                let keyID = try keys.createSubjectKey(subject: id.rawValue, tenant: tenant.rawValue, role: .retained, retainUntil: retainUntil,
                                                      now: nowMilliseconds())
                retainedKey = keyID
                let row = SubjectRow(id: id, tenant: tenant, status: SubjectStatus.erased.rawValue, keyID: keyID, createdAt: 0, updatedAt: 0,
                                     fields: [], consentCount: 0, consentHead: nil, tag: nil)
                let json = String(decoding: try JSONEncoder().encode(opened.fields), as: UTF8.self)
                let value = try self.seal(json, row: row, field: "retained-billing", key: self.fieldKey(for: row))
                retained = [(fields: names, until: retainUntil)]
                return [(kind: "billing", keyID: keyID, value: value, until: retainUntil)]
            }
        } catch {
            if let retainedKey { try? keys.store.deleteRetainedKey(retainedKey, subject: id.rawValue, tenant: tenant.rawValue) }
            throw error
        }
        let tally = ErasureTally(fields: rows.fields, consents: rows.consents, identifiers: rows.identifiers, indexEntries: rows.indexEntries,
                                 retained: retained.map { ErasureTally.Retained(fields: $0.fields, until: $0.until) })
        try keys.store.deleteSubjectKeys(subject: id.rawValue, tenant: tenant.rawValue, requestID: requestID, tally: tally)
        keys.forgetSubject(id.rawValue, tenant: tenant.rawValue)
    }
}

extension People {
    /// Deletes one technical identifier (P10), and its IP address's index entry when no other
    /// identifier of the subject has that address.
    func purgeIdentifier(_ identifierID: String, subject: SubjectID, tenant: TenantID) async throws {
        guard let stored = try await BlockingPool.shared.run({ try self.store.sealedSubject(subject, withHistory: true) }) else { return }
        _ = try checkedStatus(stored.row)
        let opened = try open(stored)
        let ips = try opened.identifiers.map { (id: $0.stored.id, ip: try $0.parts()["ip"]) }
        guard let target = ips.first(where: { $0.id == identifierID }) else { return }
        var drop: Data?
        if let ip = target.ip, !ips.contains(where: { $0.id != identifierID && $0.ip == ip }) {
            drop = try integrity.lookupMAC(kind: "ip", value: ip, tenant: tenant)
        }
        try await store.deleteIdentifier(identifierID, subject: subject, dropping: drop)
    }

    /// Destroys a retained record's key (named by `control.sqlite`, never by the PII file) and
    /// the record, once its retention ended.
    func purgeRetained(subject: SubjectID, tenant: TenantID, keyID: String) async throws {
        let keys = self.keys
        try await BlockingPool.shared.run {
            try keys.store.deleteRetainedKey(keyID, subject: subject.rawValue, tenant: tenant.rawValue)
            keys.forgetSubject(subject.rawValue, tenant: tenant.rawValue)
        }
        try await store.deleteRetained(subject: subject, keyID: keyID)
    }
}
