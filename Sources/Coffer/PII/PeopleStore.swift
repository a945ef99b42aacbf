import CofferCrypto
import Foundation
import GRDB

/// A data subject as stored: every value still sealed. The PII vault opens them.
struct SealedSubject: Sendable {
    let createdAt: Int64
    let updatedAt: Int64
    /// Sealed field values by field name.
    let fields: [String: Data]
    /// Sealed consent events, oldest first, with their sequence numbers.
    let consents: [(seq: Int64, value: Data)]
    /// Sealed technical identifiers, oldest first.
    let identifiers: [(id: String, value: Data, firstSeen: Int64, lastSeen: Int64)]
}

/// Persistence of the PII vault: `pii.sqlite`, apart from content. The only code that knows the
/// SQL of `subject`, `field`, `consent`, `identifier` and `lookup`. It stores and returns sealed
/// bytes and blind-index MACs only: sealing, opening and the MAC keys stay in the PII vault.
struct PeopleStore: Sendable {
    let pool: DatabasePool

    /// Tenant and status of a subject, or nil.
    /// - Throws: `CofferError` `tamperDetected` for an unknown status (never taken for
    ///   `active`, which would lift a restriction).
    func state(of subject: SubjectID) throws -> (tenant: TenantID, status: SubjectStatus)? {
        try VaultDatabase.guardedSync {
            try pool.read { db in try Row.fetchOne(db, sql: "SELECT tenant_id, status FROM subject WHERE id = ?", arguments: [subject]) }
        }.map { row in
            guard let status = SubjectStatus(rawValue: try row.stored("status", in: "subject")) else {
                throw CofferError(.tamperDetected, "a subject row has an unknown status: the PII file was changed outside Coffer")
            }
            return (try row.stored("tenant_id", in: "subject"), status)
        }
    }

    /// Stores a new subject with its sealed fields and its email's blind-index MAC, in one transaction.
    func insertSubject(_ id: SubjectID, tenant: TenantID, fields: [(name: String, value: Data)], emailMAC: Data, at time: Int64) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO subject (id, tenant_id, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?)",
                           arguments: [id, tenant, time, time])
            for (name, value) in fields {
                try db.execute(sql: "INSERT INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)", arguments: [id, name, value, time])
            }
            try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id) VALUES ('email', ?, ?)", arguments: [emailMAC, id])
        }
    }

    /// Everything stored about a subject, sealed, in one read; nil when there is no such subject.
    /// - Parameter withHistory: Also the consents and identifiers.
    func sealedSubject(_ id: SubjectID, withHistory: Bool) throws -> SealedSubject? {
        try VaultDatabase.guardedSync {
            try pool.read { db -> SealedSubject? in
                guard let subject = try Row.fetchOne(db, sql: "SELECT created_at, updated_at FROM subject WHERE id = ?", arguments: [id]) else {
                    return nil
                }
                var fields: [String: Data] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT name, value FROM field WHERE subject_id = ?", arguments: [id]) {
                    fields[try row.stored("name", in: "field")] = try row.stored("value", in: "field")
                }
                let consents = withHistory ? try Row.fetchAll(db, sql: "SELECT seq, value FROM consent WHERE subject_id = ? ORDER BY seq",
                                                              arguments: [id]).map { row in
                    (seq: try row.stored("seq", in: "consent", as: Int64.self), value: try row.stored("value", in: "consent", as: Data.self))
                } : []
                let identifiers = withHistory ? try Row.fetchAll(db, sql: """
                    SELECT id, value, first_seen, last_seen FROM identifier WHERE subject_id = ? ORDER BY first_seen
                    """, arguments: [id]).map { row in
                    (id: try row.stored("id", in: "identifier", as: String.self), value: try row.stored("value", in: "identifier", as: Data.self),
                     firstSeen: try row.stored("first_seen", in: "identifier", as: Int64.self),
                     lastSeen: try row.stored("last_seen", in: "identifier", as: Int64.self))
                } : []
                return SealedSubject(createdAt: try subject.stored("created_at", in: "subject"), updatedAt: try subject.stored("updated_at", in: "subject"),
                                     fields: fields, consents: consents, identifiers: identifiers)
            }
        }
    }

    /// One sealed field, or nil.
    func sealedField(_ id: SubjectID, name: String) async throws -> Data? {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                try Data.fetchOne(db, sql: "SELECT value FROM field WHERE subject_id = ? AND name = ?", arguments: [id, name])
            }
        }
    }

    /// Replaces sealed fields and blind-index entries in one transaction.
    func replaceFields(_ id: SubjectID, fields: [(name: String, value: Data)], lookups: [(kind: String, mac: Data)], at time: Int64) async throws {
        try await write { db in
            for (name, value) in fields {
                try db.execute(sql: "INSERT OR REPLACE INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
                               arguments: [id, name, value, time])
            }
            for (kind, mac) in lookups {
                try db.execute(sql: "DELETE FROM lookup WHERE subject_id = ? AND kind = ?", arguments: [id, kind])
                try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id) VALUES (?, ?, ?)", arguments: [kind, mac, id])
            }
            try db.execute(sql: "UPDATE subject SET updated_at = ? WHERE id = ?", arguments: [time, id])
        }
    }

    /// Appends a consent event; `seal` seals it for the sequence number it gets.
    func appendConsent(_ id: SubjectID, at time: Int64, seal: @escaping @Sendable (Int64) throws -> Data) async throws {
        try await write { db in
            let seq = (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM consent WHERE subject_id = ?", arguments: [id]) ?? 0) + 1
            try db.execute(sql: "INSERT INTO consent (subject_id, seq, value) VALUES (?, ?, ?)", arguments: [id, seq, try seal(seq)])
            try db.execute(sql: "UPDATE subject SET updated_at = ? WHERE id = ?", arguments: [time, id])
        }
    }

    /// Stores a sealed technical identifier, and its IP address's blind-index MAC if it has one.
    func insertIdentifier(_ identifier: String, subject: SubjectID, value: Data, ipMAC: Data?, at time: Int64) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO identifier (id, subject_id, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                           arguments: [identifier, subject, value, time, time])
            if let ipMAC {
                try db.execute(sql: "INSERT OR IGNORE INTO lookup (kind, mac, subject_id) VALUES ('ip', ?, ?)", arguments: [ipMAC, subject])
            }
        }
    }

    /// Sets a subject's processing status.
    func setStatus(_ id: SubjectID, _ status: SubjectStatus, at time: Int64) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE subject SET status = ?, updated_at = ? WHERE id = ?", arguments: [status.rawValue, time, id])
        }
    }

    /// Subjects (not erased) whose blind index holds `mac` for `kind`, optionally in one tenant,
    /// with their tenant and status.
    func find(kind: String, mac: Data, tenant: TenantID?) async throws -> [(subject: SubjectID, tenant: TenantID, status: String)] {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                try Row.fetchAll(db, sql: """
                    SELECT DISTINCT l.subject_id, s.tenant_id, s.status FROM lookup l JOIN subject s ON s.id = l.subject_id
                    WHERE l.kind = ? AND l.mac = ? AND (?3 IS NULL OR s.tenant_id = ?3) AND s.status != 'erased' ORDER BY l.subject_id
                    """, arguments: [kind, mac, tenant]).map { row in
                        (subject: try row.stored(at: 0, in: "lookup"), tenant: try row.stored(at: 1, in: "subject"),
                         status: try row.stored(at: 2, in: "subject"))
                    }
            }
        }
    }

    private func write(_ body: @escaping @Sendable (Database) throws -> Void) async throws {
        try await VaultDatabase.guarded { try await pool.write(body) }
    }
}
