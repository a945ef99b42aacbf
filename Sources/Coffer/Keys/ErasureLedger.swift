import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// What an erasure-ledger entry records.
enum LedgerKind: String, Sendable, Codable {
    /// A subject erased: its field keys destroyed, its rows deleted.
    case subject
    /// A tenant erased whole: every data key destroyed, every object deleted.
    case tenant
    /// Billing records a legal retention kept, destroyed when it ended.
    case retained
    /// Period data keys a retention run destroyed once nothing of their period was left.
    case periodKeys = "period-keys"
}

/// One entry of the erasure ledger: an erasure, or keys a retention run destroyed. It holds ids
/// and times only, never content or PII. The ledger lives in `control.sqlite` and is copied to
/// the witness directory (outside the vault), so a restore from a backup taken before an
/// erasure applies the erasure again (``Vault/restoreBackup(_:to:keyring:witness:)``).
struct LedgerEntry: Sendable, Codable, Hashable {
    let id: String
    let at: Int64
    let kind: LedgerKind
    let tenant: String
    let subject: String?
    let keyIDs: [String]
    let requestID: String?

    init(id: String? = nil, at: Int64, kind: LedgerKind, tenant: String, subject: String?, keyIDs: [String], requestID: String?) {
        self.id = id ?? ((try? makeIdentifier("led")) ?? "led_\(at)_\(tenant)")
        self.at = at
        self.kind = kind
        self.tenant = tenant
        self.subject = subject
        self.keyIDs = keyIDs
        self.requestID = requestID
    }
}

/// What an erasure removed besides keys, kept with its ledger entry in the live vault's
/// `control.sqlite` (never in a backup's or the witness's ledger) so the request's receipt covers
/// every run of it: field names and counts, never content or PII.
struct ErasureTally: Sendable, Codable, Hashable {
    /// Records a legal retention kept (P11), and until when.
    struct Retained: Sendable, Codable, Hashable {
        let fields: [String]
        let until: Int64
    }

    var fields: [String] = []
    var consents = 0
    var identifiers = 0
    var indexEntries = 0
    var retained: [Retained] = []
    /// A tenant's entry: the objects the erasure deletes.
    var objects = 0
}

extension KeyStore {
    /// Appends `entry` within the caller's transaction (an entry already there is kept), with
    /// `tally` when given (the live vault's own erasures; a backup's copy has no such column),
    /// and moves the key epoch on: every entry is keys destroyed.
    static func appendLedger(_ db: any SQLSession, _ entry: LedgerEntry, tally: ErasureTally? = nil) throws {
        try advanceKeyEpoch(db)
        let keys = String(decoding: try JSONEncoder().encode(entry.keyIDs), as: UTF8.self)
        var arguments: SQLArguments = [entry.id, entry.at, entry.kind.rawValue, entry.tenant, entry.subject, keys, entry.requestID]
        guard let tally else {
            try db.execute(sql: """
                INSERT INTO erasure_ledger (id, at, kind, tenant_id, subject_id, key_ids, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO NOTHING
                """, arguments: arguments)
            return
        }
        arguments += [String(decoding: try JSONEncoder().encode(tally), as: UTF8.self)]
        try db.execute(sql: """
            INSERT INTO erasure_ledger (id, at, kind, tenant_id, subject_id, key_ids, request_id, tally) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING
            """, arguments: arguments)
    }

    /// Appends entries (from a witness copy of the ledger), keeping those already there.
    func mergeLedger(_ entries: [LedgerEntry]) throws {
        try VaultDatabase.guardedSync { try pool.write { db in for entry in entries { try Self.appendLedger(db, entry) } } }
    }

    /// The whole ledger, oldest first (a control file of any version since the ledger's).
    func ledger() throws -> [LedgerEntry] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchAll(sql: "SELECT id, at, kind, tenant_id, subject_id, key_ids, request_id FROM erasure_ledger ORDER BY at, id")
                    .map(Self.ledgerEntry)
            }
        }
    }

    /// The entries erasure request `requestID` wrote, in the order written, with their tallies:
    /// every run of it, one a crash interrupted included.
    func ledger(request requestID: String) throws -> [(entry: LedgerEntry, tally: ErasureTally?)] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchAll(sql: """
                    SELECT id, at, kind, tenant_id, subject_id, key_ids, request_id, tally FROM erasure_ledger WHERE request_id = ? ORDER BY at, id
                    """, arguments: [requestID]).map { row in
                    let text = try row.storedIfPresent("tally", in: "erasure_ledger", as: String.self)
                    guard let text else { return (try Self.ledgerEntry(row), nil) }
                    guard let tally = try? JSONDecoder().decode(ErasureTally.self, from: Data(text.utf8)) else {
                        throw CofferError(.tamperDetected, "an erasure-ledger tally is malformed: control.sqlite was changed outside Coffer")
                    }
                    return (try Self.ledgerEntry(row), tally)
                }
            }
        }
    }

    private static func ledgerEntry(_ row: SQLRow) throws -> LedgerEntry {
        let t = "erasure_ledger"
        guard let kind = LedgerKind(rawValue: try row.stored("kind", in: t)),
              let keys = try? JSONDecoder().decode([String].self, from: Data((try row.stored("key_ids", in: t) as String).utf8)) else {
            throw CofferError(.tamperDetected, "an erasure-ledger row is malformed: control.sqlite was changed outside Coffer")
        }
        return LedgerEntry(id: try row.stored("id", in: t), at: try row.stored("at", in: t), kind: kind,
                           tenant: try row.stored("tenant_id", in: t), subject: try row.storedIfPresent("subject_id", in: t),
                           keyIDs: keys, requestID: try row.storedIfPresent("request_id", in: t))
    }
}

/// The copy of the erasure ledger in the witness directory: the file `erasure-ledger`, one JSON
/// entry per line, rewritten whole and durably after each change. It only grows: what is there
/// is merged with what the vault holds, never dropped.
struct LedgerWitness: Sendable {
    let directory: URL

    static let fileName = "erasure-ledger"
    var file: URL { directory.appendingPathComponent(Self.fileName) }

    /// The entries there (none when the file does not exist yet).
    /// - Throws: `CofferError` `tamperDetected` for a line that is not an entry, `io`.
    func entries() throws -> [LedgerEntry] {
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw CofferError(.io, "cannot read the erasure ledger \(file.path): \(error.localizedDescription)")
        }
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            do { return try JSONDecoder().decode(LedgerEntry.self, from: Data(line)) } catch {
                throw CofferError(.tamperDetected, "the erasure ledger \(file.path) has a line that is not an entry")
            }
        }
    }

    /// Writes the union of what is there and `entries`, oldest first, under the directory's lock
    /// (two processes recording at once lose nothing).
    func record(_ entries: [LedgerEntry]) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CofferError(.io, "cannot create the witness directory \(directory.path): \(error.localizedDescription)")
        }
        try DirectoryLock.withLock(directory) { try write(entries) }
    }

    private func write(_ entries: [LedgerEntry]) throws {
        let merged = Set(try self.entries()).union(entries).sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes: [UInt8] = []
        for entry in merged { bytes += try encoder.encode(entry); bytes.append(UInt8(ascii: "\n")) }
        let output = try AtomicOutputFile(path: file.path)
        try bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(output.fd, $0) }
        try output.commit()
        try AtomicOutputFile.syncDirectory(directory.path)
    }
}
