import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// A subject row as stored, with everything its tag covers.
struct SubjectRow: Sendable, Equatable {
    let id: SubjectID
    let tenant: TenantID
    /// The processing status, as stored (``SubjectStatus`` raw value).
    var status: String
    /// The id of the key its values are sealed under; nil for a subject from before keys had
    /// ids (sealed under its legacy key).
    var keyID: String?
    let createdAt: Int64
    var updatedAt: Int64
    /// The names of the fields it has, sorted.
    var fields: [String]
    /// How many consent events it has.
    var consentCount: Int64
    /// The hash chain's head over those events (nil before the first).
    var consentHead: Data?
    /// The tag over all of the above but `updatedAt`; nil for a row from before tags.
    var tag: Data?
}

/// A data subject as stored: every value still sealed. The PII vault opens them.
struct SealedSubject: Sendable {
    let row: SubjectRow
    /// Sealed field values by field name.
    let fields: [String: Data]
    /// Sealed consent events, by sequence number, with their sequence numbers.
    let consents: [(seq: Int64, value: Data)]
    /// Sealed technical identifiers, oldest first.
    let identifiers: [SealedIdentifier]
}

/// A technical identifier as stored.
struct SealedIdentifier: Sendable {
    let id: String
    let value: Data
    let firstSeen: Int64
    let lastSeen: Int64
}

/// What a subject becomes when it moves to a fresh key: every value sealed anew and the blind
/// index rebuilt. The store tags the row and the index entries.
struct SubjectRewrite: Sendable {
    var row: SubjectRow
    var fields: [(name: String, value: Data)]
    var consents: [(seq: Int64, value: Data)]
    var identifiers: [SealedIdentifier]
    var lookups: [(kind: String, mac: Data)]
}

/// A legacy subject another process moved to a key of its own first.
struct SubjectAlreadyMoved: Error {}

/// One blind-index match: the subject's row and the index entry that led to it.
struct LookupMatch: Sendable {
    let row: SubjectRow
    let kind: String
    let mac: Data
    let tag: Data?
}

/// Persistence of the PII vault: `pii.sqlite`, apart from content. The only code that knows the
/// SQL of `subject`, `field`, `consent`, `identifier` and `lookup`. It stores and returns sealed
/// bytes, blind-index MACs and tags only; every write checks the subject row's tag with
/// ``PIIIntegrity`` inside its transaction and tags what it writes.
struct PeopleStore: Sendable {
    let pool: any SQLDatabase

    // MARK: Reading

    /// A subject's row, or nil.
    func subjectRow(_ id: SubjectID) throws -> SubjectRow? {
        try VaultDatabase.guardedSync { try pool.read { db in try Self.row(db, id) } }
    }

    /// Everything stored about a subject, sealed, in one read; nil when there is no such subject.
    /// - Parameter withHistory: Also the consents and identifiers.
    func sealedSubject(_ id: SubjectID, withHistory: Bool) throws -> SealedSubject? {
        try VaultDatabase.guardedSync { try pool.read { db in try Self.sealed(db, id, withHistory: withHistory) } }
    }

    /// A subject's row and one of its sealed fields (nil when absent), in one read.
    func sealedField(_ id: SubjectID, name: String) async throws -> (row: SubjectRow, value: Data?)? {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                guard let row = try Self.row(db, id) else { return nil }
                return (row, try db.fetchOne(Data.self, sql: "SELECT value FROM field WHERE subject_id = ? AND name = ?", arguments: [id, name]))
            }
        }
    }

    /// Blind-index entries of `kind` holding one of `macs`, with their subjects' rows (erased
    /// subjects left out).
    func find(kind: String, macs: [Data]) async throws -> [LookupMatch] {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                var matches: [LookupMatch] = []
                // Within SQLite's bound on parameters.
                for start in stride(from: 0, to: macs.count, by: 500) {
                    let batch = Array(macs[start..<min(start + 500, macs.count)])
                    let marks = Array(repeating: "?", count: batch.count).joined(separator: ", ")
                    let rows = try db.fetchAll(sql: """
                        SELECT l.kind, l.mac, l.tag AS lookup_tag, s.* FROM lookup l JOIN subject s ON s.id = l.subject_id
                        WHERE l.kind = ? AND l.mac IN (\(marks)) AND s.status != 'erased' ORDER BY l.subject_id
                        """, arguments: SQLArguments([kind] + batch.map { $0 as DatabaseValueConvertible }))
                    for row in rows {
                        matches.append(LookupMatch(row: try Self.subjectRow(row), kind: try row.stored("kind", in: "lookup"),
                                                   mac: try row.stored("mac", in: "lookup"),
                                                   tag: try row.storedIfPresent("lookup_tag", in: "lookup")))
                    }
                }
                return matches
            }
        }
    }

    // MARK: Writing

    /// Stores a new subject, its sealed fields and its blind-index entries, tagged, in one
    /// transaction.
    func insertSubject(_ row: SubjectRow, fields: [(name: String, value: Data)], lookups: [(kind: String, mac: Data)],
                       integrity: PIIIntegrity) async throws {
        try await write { db in
            var row = row
            row.tag = try integrity.tag(row)
            try db.execute(sql: """
                INSERT INTO subject (id, tenant_id, status, key_id, fields, consent_count, consent_head, tag, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [row.id, row.tenant, row.status, row.keyID, row.fields.joined(separator: ","), row.consentCount,
                                 row.consentHead, row.tag, row.createdAt, row.updatedAt])
            for (name, value) in fields {
                try db.execute(sql: "INSERT INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)", arguments: [row.id, name, value, row.updatedAt])
            }
            try Self.insertLookups(db, lookups, row: row, integrity: integrity)
        }
    }

    /// Replaces everything stored about a subject with what `transform` makes of it, in one
    /// transaction: the row is checked first (``PIIIntegrity/verify(_:)``, or for `legacy` that
    /// it is a row from before tags), then every field, consent, identifier and index entry is
    /// deleted and written anew.
    /// Blocks: run it on the blocking pool.
    func rewrite(_ id: SubjectID, legacy: Bool, integrity: PIIIntegrity,
                 _ transform: (SealedSubject) throws -> SubjectRewrite) throws {
        try VaultDatabase.guardedSync { try pool.write { db in
            guard let stored = try Self.sealed(db, id, withHistory: true) else { throw CofferError(.notFound, "no subject \(id)") }
            if legacy {
                guard stored.row.tag == nil, stored.row.keyID == nil else { throw SubjectAlreadyMoved() }
            } else {
                try integrity.verify(stored.row)
            }
            var new = try transform(stored)
            new.row.tag = try integrity.tag(new.row)
            for table in ["field", "consent", "identifier", "lookup"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE subject_id = ?", arguments: [id])
            }
            try Self.update(db, new.row)
            for (name, value) in new.fields {
                try db.execute(sql: "INSERT INTO field (subject_id, name, value, updated_at) VALUES (?, ?, ?, ?)", arguments: [id, name, value, new.row.updatedAt])
            }
            for (seq, value) in new.consents {
                try db.execute(sql: "INSERT INTO consent (subject_id, seq, value) VALUES (?, ?, ?)", arguments: [id, seq, value])
            }
            for identifier in new.identifiers {
                try db.execute(sql: "INSERT INTO identifier (id, subject_id, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                               arguments: [identifier.id, id, identifier.value, identifier.firstSeen, identifier.lastSeen])
            }
            try Self.insertLookups(db, new.lookups, row: new.row, integrity: integrity)
        } }
    }

    /// Stores a technical identifier sealed (by `seal`) under the key the row names, and its IP
    /// address's blind-index MAC if it has one.
    func insertIdentifier(_ identifier: String, subject: SubjectID, at time: Int64, ipMAC: Data?, integrity: PIIIntegrity,
                          seal: @escaping @Sendable (SubjectRow) throws -> Data) async throws {
        try await mutate(subject, integrity: integrity) { db, row in
            try db.execute(sql: "INSERT INTO identifier (id, subject_id, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
                           arguments: [identifier, subject, try seal(row), time, time])
            if let ipMAC, try db.fetchOne(Bool.self, sql: "SELECT 1 FROM lookup WHERE kind = 'ip' AND mac = ? AND subject_id = ?",
                                            arguments: [ipMAC, subject]) != true {
                try Self.insertLookups(db, [(kind: "ip", mac: ipMAC)], row: row, integrity: integrity)
            }
            row.updatedAt = time
        }
    }

    // MARK: Rows

    /// Runs `change` on a subject's checked row in a write transaction, then stores the row
    /// tagged anew.
    private func mutate(_ id: SubjectID, integrity: PIIIntegrity,
                        _ change: @escaping @Sendable (any SQLSession, inout SubjectRow) throws -> Void) async throws {
        try await write { db in
            guard var row = try Self.row(db, id) else { throw CofferError(.notFound, "no subject \(id)") }
            try integrity.verify(row)
            try change(db, &row)
            row.tag = try integrity.tag(row)
            try Self.update(db, row)
        }
    }

    private static func insertLookups(_ db: any SQLSession, _ lookups: [(kind: String, mac: Data)], row: SubjectRow, integrity: PIIIntegrity) throws {
        for (kind, mac) in lookups {
            try db.execute(sql: "INSERT INTO lookup (kind, mac, subject_id, tag) VALUES (?, ?, ?, ?)",
                           arguments: [kind, mac, row.id, try integrity.lookupTag(kind: kind, mac: mac, subject: row.id, tenant: row.tenant)])
        }
    }

    static func update(_ db: any SQLSession, _ row: SubjectRow) throws {
        try db.execute(sql: """
            UPDATE subject SET status = ?, key_id = ?, fields = ?, consent_count = ?, consent_head = ?, tag = ?, updated_at = ? WHERE id = ?
            """, arguments: [row.status, row.keyID, row.fields.joined(separator: ","), row.consentCount, row.consentHead, row.tag,
                             row.updatedAt, row.id])
    }

    private static func row(_ db: any SQLSession, _ id: SubjectID) throws -> SubjectRow? {
        try db.fetchOne(sql: "SELECT * FROM subject WHERE id = ?", arguments: [id]).map(subjectRow)
    }

    private static func subjectRow(_ row: SQLRow) throws -> SubjectRow {
        let t = "subject"
        let fields: String = try row.stored("fields", in: t)
        return SubjectRow(id: try row.stored("id", in: t), tenant: try row.stored("tenant_id", in: t), status: try row.stored("status", in: t),
                          keyID: try row.storedIfPresent("key_id", in: t), createdAt: try row.stored("created_at", in: t),
                          updatedAt: try row.stored("updated_at", in: t), fields: fields.isEmpty ? [] : fields.split(separator: ",").map(String.init),
                          consentCount: try row.stored("consent_count", in: t), consentHead: try row.storedIfPresent("consent_head", in: t),
                          tag: try row.storedIfPresent("tag", in: t))
    }

    static func sealed(_ db: any SQLSession, _ id: SubjectID, withHistory: Bool) throws -> SealedSubject? {
        guard let subject = try row(db, id) else { return nil }
        var fields: [String: Data] = [:]
        for row in try db.fetchAll(sql: "SELECT name, value FROM field WHERE subject_id = ?", arguments: [id]) {
            fields[try row.stored("name", in: "field")] = try row.stored("value", in: "field")
        }
        let consents = withHistory ? try db.fetchAll(sql: "SELECT seq, value FROM consent WHERE subject_id = ? ORDER BY seq",
                                                      arguments: [id]).map { row in
            (seq: try row.stored("seq", in: "consent", as: Int64.self), value: try row.stored("value", in: "consent", as: Data.self))
        } : []
        let identifiers = withHistory ? try db.fetchAll(sql: """
            SELECT id, value, first_seen, last_seen FROM identifier WHERE subject_id = ? ORDER BY first_seen, id
            """, arguments: [id]).map { row in
            SealedIdentifier(id: try row.stored("id", in: "identifier"), value: try row.stored("value", in: "identifier"),
                             firstSeen: try row.stored("first_seen", in: "identifier"), lastSeen: try row.stored("last_seen", in: "identifier"))
        } : []
        return SealedSubject(row: subject, fields: fields, consents: consents, identifiers: identifiers)
    }

    private func write(_ body: @escaping @Sendable (any SQLSession) throws -> Void) async throws {
        try await VaultDatabase.guarded { try await pool.write(body) }
    }
}

extension PeopleStore {
    /// How many subjects (not erased) `tenant` has.
    func subjectCount(tenant: TenantID) async throws -> Int {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchOne(Int.self, sql: "SELECT count(*) FROM subject WHERE tenant_id = ? AND status != 'erased'", arguments: [tenant]) ?? 0
            }
        }
    }
}

/// What erasing a subject removed from the PII file.
struct ErasedRows: Sendable {
    let fields: [String]
    let consents: Int
    let identifiers: Int
    let indexEntries: Int
}

extension PeopleStore {
    /// Erases a subject in one transaction: its row is checked, what `retain` returns is stored
    /// (sealed records a legal retention keeps), every field, consent, identifier and index
    /// entry is deleted, and the row becomes an `erased` tombstone naming no key.
    /// `retain` gets the sealed subject. Blocks: run it on the blocking pool.
    func erase(_ id: SubjectID, integrity: PIIIntegrity,
               retain: (SealedSubject) throws -> [(kind: String, keyID: String, value: Data, until: Int64)]) throws -> ErasedRows {
        try VaultDatabase.guardedSync {
            try pool.write { db in
                guard let stored = try Self.sealed(db, id, withHistory: true) else { throw CofferError(.notFound, "no subject \(id)") }
                try integrity.verify(stored.row)
                for kept in try retain(stored) {
                    try db.execute(sql: """
                        INSERT INTO retained (subject_id, tenant_id, kind, key_id, value, retain_until) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (subject_id, kind) DO UPDATE SET tenant_id = excluded.tenant_id, key_id = excluded.key_id,
                            value = excluded.value, retain_until = excluded.retain_until
                        """, arguments: [id, stored.row.tenant, kept.kind, kept.keyID, kept.value, kept.until])
                }
                let index = try db.fetchOne(Int.self, sql: "SELECT count(*) FROM lookup WHERE subject_id = ?", arguments: [id]) ?? 0
                for table in ["field", "consent", "identifier", "lookup"] {
                    try db.execute(sql: "DELETE FROM \(table) WHERE subject_id = ?", arguments: [id])
                }
                var row = stored.row
                row.status = SubjectStatus.erased.rawValue
                row.keyID = nil
                row.fields = []
                row.consentCount = 0
                row.consentHead = nil
                row.updatedAt = nowMilliseconds()
                row.tag = try integrity.tag(row)
                try Self.update(db, row)
                return ErasedRows(fields: stored.fields.keys.sorted(), consents: stored.consents.count, identifiers: stored.identifiers.count,
                                  indexEntries: index)
            }
        }
    }
}

/// A technical identifier as the retention run sees it.
struct IdentifierAge: Sendable {
    let id: String
    let subject: SubjectID
    let tenant: TenantID
    let lastSeen: Int64
}

extension PeopleStore {
    /// Identifiers of `tenant`'s subjects (not erased) last seen at or before `time`.
    func identifiers(tenant: TenantID, lastSeenBefore time: Int64) async throws -> [IdentifierAge] {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchAll(sql: """
                    SELECT i.id, i.subject_id, s.tenant_id, i.last_seen FROM identifier i JOIN subject s ON s.id = i.subject_id
                    WHERE s.tenant_id = ? AND s.status != 'erased' AND i.last_seen <= ? ORDER BY i.subject_id, i.id
                    """, arguments: [tenant, time]).map { row in
                    IdentifierAge(id: try row.stored("id", in: "identifier"), subject: try row.stored("subject_id", in: "identifier"),
                                  tenant: try row.stored("tenant_id", in: "subject"), lastSeen: try row.stored("last_seen", in: "identifier"))
                }
            }
        }
    }

    /// `tenant`'s erased subjects (tombstones).
    func erasedSubjects(tenant: TenantID) async throws -> [SubjectID] {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchAll(SubjectID.self, sql: "SELECT id FROM subject WHERE tenant_id = ? AND status = 'erased' ORDER BY id", arguments: [tenant])
            }
        }
    }

    /// `tenant`'s subjects that are not erased.
    func subjects(tenant: TenantID) async throws -> [SubjectID] {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchAll(SubjectID.self, sql: "SELECT id FROM subject WHERE tenant_id = ? AND status != 'erased' ORDER BY id", arguments: [tenant])
            }
        }
    }

    /// Deletes one identifier, and the IP index entry `dropping` (its address's blind-index MAC,
    /// when no other identifier of the subject has that address), in one transaction.
    func deleteIdentifier(_ id: String, subject: SubjectID, dropping ipMAC: Data?) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM identifier WHERE id = ? AND subject_id = ?", arguments: [id, subject])
                if let ipMAC {
                    try db.execute(sql: "DELETE FROM lookup WHERE kind = 'ip' AND mac = ? AND subject_id = ?", arguments: [ipMAC, subject])
                }
            }
        }
    }

    /// Deletes the retained record sealed under `keyID`.
    func deleteRetained(subject: SubjectID, keyID: String) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in try db.execute(sql: "DELETE FROM retained WHERE subject_id = ? AND key_id = ?", arguments: [subject, keyID]) }
        }
    }
}
