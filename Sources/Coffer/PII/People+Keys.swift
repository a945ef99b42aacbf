import CofferCrypto
import Foundation

/// A subject's values opened: what a move to a fresh key seals again.
struct OpenedSubject: Sendable {
    /// A technical identifier, opened.
    struct Identifier: Sendable {
        let stored: SealedIdentifier
        /// Its JSON (`ip`, `userAgent`, `device`).
        let json: String

        func parts() throws -> [String: String] {
            try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        }
    }

    /// The processing status (``SubjectStatus`` raw value).
    var status: String
    /// Field values by field name.
    var fields: [String: String]
    /// Consent events' JSON, by sequence number.
    var consents: [String]
    var identifiers: [Identifier]
}

/// Subject keys: every change of a subject's fields, status or consents moves it to a fresh key
/// (the old key is destroyed, so the old values left in a WAL, a backup or a copy of the file no
/// longer open, and an older row written back names a key that no longer exists);
/// subjects from before keys had ids move the same way when the vault opens.
extension People {
    /// Opens a subject's values (only the fields named in `only`, when given), after checking
    /// that its fields are the ones its row names and that its consents form its chain.
    /// - Throws: `CofferError` `tamperDetected`, `notFound` (the key was destroyed).
    func open(_ stored: SealedSubject, only: Set<String>? = nil) throws -> OpenedSubject {
        let row = stored.row
        let key = try fieldKey(for: row)
        if row.keyID != nil {
            guard Set(stored.fields.keys) == Set(row.fields) else {
                throw CofferError(.tamperDetected, "subject \(row.id)'s fields are not the ones its row names: a field was added or removed outside Coffer")
            }
            if only == nil { try checkConsentChain(stored) }
        }
        var fields: [String: String] = [:]
        for (name, sealed) in stored.fields where only?.contains(name) ?? true {
            fields[name] = try open(sealed, row: row, field: name, key: key)
        }
        let consents = try stored.consents.map { try open($0.value, row: row, field: "consent-\($0.seq)", key: key) }
        let identifiers = try stored.identifiers.map {
            OpenedSubject.Identifier(stored: $0, json: try open($0.value, row: row, field: "identifier-\($0.id)", key: key))
        }
        return OpenedSubject(status: row.status, fields: fields, consents: consents, identifiers: identifiers)
    }

    /// Checks that the consent events are 1...n and hash to the head the row's tag covers.
    private func checkConsentChain(_ stored: SealedSubject) throws {
        var head: Data?
        for (index, consent) in stored.consents.enumerated() {
            guard consent.seq == Int64(index + 1) else { throw brokenChain(stored.row) }
            head = try PIIIntegrity.chain(head, seq: consent.seq, value: consent.value)
        }
        guard Int64(stored.consents.count) == stored.row.consentCount, head == stored.row.consentHead else { throw brokenChain(stored.row) }
    }

    private func brokenChain(_ row: SubjectRow) -> CofferError {
        CofferError(.tamperDetected, "subject \(row.id)'s consent history does not match its chain: an event was deleted, added or reordered outside Coffer")
    }

    /// Moves a subject to a fresh key: a new key is stored, then in one transaction of the PII
    /// file every value is opened with the old key, `change`d, sealed under the new one and the
    /// blind index rebuilt; then the old key is destroyed and the WAL emptied.
    /// - Parameters:
    ///   - time: The subject's new update time (now unless told).
    ///   - change: What to change in the opened values (nothing, for a plain move).
    func moveToFreshKey(_ id: SubjectID, tenant: TenantID, at time: Int64? = nil,
                        change: @escaping @Sendable (inout OpenedSubject) throws -> Void = { _ in }) async throws {
        try await BlockingPool.shared.run { try self.moveToFreshKeyNow(id, tenant: tenant, legacy: false, at: time, change: change) }
        await janitor.truncate(.pii)
        await janitor.truncate(.control)
    }

    /// ``moveToFreshKey(_:tenant:change:)`` on the calling thread, without emptying the WAL;
    /// `legacy` for a subject from before keys had ids (its row has no tag yet). Blocks: run it
    /// on the blocking pool.
    private func moveToFreshKeyNow(_ id: SubjectID, tenant: TenantID, legacy: Bool, at time: Int64? = nil,
                                   change: (inout OpenedSubject) throws -> Void) throws {
        let keyID = try keys.createSubjectKey(subject: id.rawValue, tenant: tenant.rawValue, now: nowMilliseconds())
        do {
            try store.rewrite(id, legacy: legacy, integrity: integrity) { stored in
                guard stored.row.tenant == tenant else {
                    throw CofferError(.tamperDetected, "subject \(id) moved to another tenant outside Coffer")
                }
                var opened = try self.open(stored)
                try change(&opened)
                return try self.sealed(opened, from: stored.row, keyID: keyID, at: time ?? nowMilliseconds())
            }
        } catch {
            try? keys.discardSubjectKey(keyID)
            throw error
        }
        CrashPoint.hit("pii.after-rewrite")
        try keys.settleSubjectKey(keyID, subject: id.rawValue, tenant: tenant.rawValue)
    }

    /// Seals opened values under the key `keyID`, with the blind index rebuilt from them.
    private func sealed(_ opened: OpenedSubject, from old: SubjectRow, keyID: String, at time: Int64) throws -> SubjectRewrite {
        var row = SubjectRow(id: old.id, tenant: old.tenant, status: opened.status, keyID: keyID, createdAt: old.createdAt, updatedAt: time,
                             fields: opened.fields.keys.sorted(), consentCount: 0, consentHead: nil, tag: nil)
        let key = try fieldKey(for: row)
        let fields = try opened.fields.map { (name: $0.key, value: try seal($0.value, row: row, field: $0.key, key: key)) }
        var consents: [(seq: Int64, value: Data)] = []
        for (index, json) in opened.consents.enumerated() {
            let seq = Int64(index + 1)
            let value = try seal(json, row: row, field: "consent-\(seq)", key: key)
            consents.append((seq, value))
            row.consentHead = try PIIIntegrity.chain(row.consentHead, seq: seq, value: value)
        }
        row.consentCount = Int64(consents.count)
        let identifiers = try opened.identifiers.map { identifier in
            SealedIdentifier(id: identifier.stored.id, value: try seal(identifier.json, row: row, field: "identifier-\(identifier.stored.id)", key: key),
                             firstSeen: identifier.stored.firstSeen, lastSeen: identifier.stored.lastSeen)
        }
        var lookups: [(kind: String, mac: Data)] = []
        if let email = opened.fields[SubjectField.email.rawValue] {
            lookups.append((kind: "email", mac: try integrity.lookupMAC(kind: "email", value: PIIValidation.emailKey(email), tenant: row.tenant)))
        }
        var ips = Set<String>()
        for identifier in opened.identifiers {
            if let ip = try identifier.parts()["ip"], ips.insert(ip).inserted {
                lookups.append((kind: "ip", mac: try integrity.lookupMAC(kind: "ip", value: ip, tenant: row.tenant)))
            }
        }
        return SubjectRewrite(row: row, fields: fields, consents: consents, identifiers: identifiers, lookups: lookups)
    }

    // MARK: At open

    /// Moves every subject from before keys had ids to a key of its own under the PII KEK (its
    /// values sealed with the tenant in their associated data, its row and index tagged, its
    /// index rebuilt with the tenant's key); resumable, one subject at a time. A subject that
    /// fails (its values were changed outside Coffer) stays as it is and is logged; reading it
    /// fails with `tamper-detected`.
    /// - Returns: How many subjects moved.
    /// Blocks: it runs while the vault opens.
    @discardableResult
    func upgradeLegacySubjects() throws -> Int {
        var moved = 0
        var after = ""
        while true {
            let batch = try keys.store.legacySubjects(after: after, limit: 256)
            guard let last = batch.last else { return moved }
            after = last.subject
            for legacy in batch {
                do {
                    try moveToFreshKeyNow(SubjectID(legacy.subject), tenant: TenantID(legacy.tenant), legacy: true) { _ in }
                    moved += 1
                } catch is SubjectAlreadyMoved {
                    continue
                } catch {
                    keys.logger.error("a subject could not move to a key of its own", metadata: ["subject": "\(legacy.subject)", "error": "\(error)"])
                }
            }
        }
    }

    /// Settles the subject keys a crashed process left pending: a key the PII file names becomes
    /// the subject's only key at once (the key it replaced is destroyed, as the process would
    /// have done); any other is destroyed once older than `grace`, so a key another process is
    /// storing right now is left alone.
    func settlePendingKeys(grace: Int64 = 10 * 60 * 1000) throws {
        let cutoff = nowMilliseconds() - grace
        for pending in try keys.store.pendingSubjectKeys() {
            let row = try store.subjectRow(SubjectID(pending.subject))
            if let row, row.keyID == pending.keyID, row.tenant.rawValue == pending.tenant, (try? integrity.verify(row)) != nil {
                try keys.settleSubjectKey(pending.keyID, subject: pending.subject, tenant: pending.tenant)
            } else if pending.createdAt < cutoff {
                try keys.discardSubjectKey(pending.keyID)
            }
        }
    }
}
