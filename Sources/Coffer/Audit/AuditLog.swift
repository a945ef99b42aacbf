import CofferCrypto
import CofferSQL
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Logging

/// The access log: its own SQLite file (`audit.sqlite`), append-only, tamper-evident.
///
/// Every record is a leaf of an RFC 6962 Merkle tree and carries a MAC chained to the previous
/// record's (HMAC-SHA256 under a key derived from the keyring's audit-signing key), so editing,
/// reordering, deleting or forging a record breaks the chain at that record. Signed checkpoints
/// (tree size, root, time; Ed25519) fix the history so far and can be kept elsewhere.
///
/// `package`, not public: the vault reaches it through ``Vault``'s audit API; the benchmark
/// target (CofferBench) fills and queries logs of its own.
package final class AuditLog: Sendable {
    /// Where the records are: `audit.sqlite`, or the log's tables on PostgreSQL. `package` for
    /// the benchmark, which closes the logs it fills.
    package let pool: any SQLDatabase
    /// The SQLite pool of `audit.sqlite`, for what only a file has (backups); nil on PostgreSQL.
    package var sqlitePool: DatabasePool? { (pool as? SQLiteDatabase)?.pool }
    /// The SQLite file, whose mode is checked before each append (nil on PostgreSQL).
    let path: String?
    let macKey: SecureBytes
    /// Keys the hash a `client` that is an IP address is logged as (P10: no IP address in the log).
    let clientKey: SecureBytes
    let signingKey: Ed25519SigningKey
    let keyID: String
    let logger: Logger
    /// Where every checkpoint is also written, outside the vault (nil: not witnessed).
    let witness: AuditWitness?
    /// The log's name in its checkpoint notes: `coffer.vault/` and the first 8 bytes of
    /// SHA-256 of its public key, in hex.
    let origin: String
    /// A checkpoint is signed automatically every this many records.
    static let checkpointInterval: Int64 = 1024

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE record (
                    seq INTEGER PRIMARY KEY,
                    time INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT,
                    tenant TEXT,
                    subject TEXT,
                    object_id TEXT,
                    object_version INTEGER,
                    object_kind TEXT,
                    action TEXT NOT NULL,
                    data_class TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    justification TEXT,
                    outcome TEXT NOT NULL,
                    error_code TEXT,
                    bytes INTEGER,
                    request_id TEXT,
                    client TEXT,
                    grant_id TEXT,
                    reason TEXT
                );
                CREATE INDEX record_time ON record(time);
                CREATE INDEX record_tenant ON record(tenant, seq);
                CREATE INDEX record_actor ON record(actor, seq);
                CREATE INDEX record_subject ON record(subject, seq) WHERE subject IS NOT NULL;
                CREATE INDEX record_object ON record(object_id, seq) WHERE object_id IS NOT NULL;
                CREATE INDEX record_action ON record(action, seq);
                CREATE INDEX record_purpose ON record(purpose, seq);
                CREATE INDEX record_outcome ON record(outcome, seq);
                CREATE TABLE leaf (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, mac BLOB NOT NULL);
                CREATE TABLE log_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    tree_size INTEGER NOT NULL,
                    last_mac BLOB NOT NULL,
                    frontier BLOB NOT NULL,
                    pruned_before INTEGER NOT NULL DEFAULT 1
                );
                CREATE TABLE checkpoint (
                    tree_size INTEGER PRIMARY KEY,
                    root BLOB NOT NULL,
                    time INTEGER NOT NULL,
                    key_id TEXT NOT NULL,
                    public_key BLOB NOT NULL,
                    signature BLOB NOT NULL
                );
                """)
            try db.execute(sql: "INSERT INTO log_state (id, tree_size, last_mac, frontier) VALUES (1, 0, ?, ?)",
                           arguments: [Data(count: 32), Data(MerkleFrontier().encoded)])
        }
        migrator.registerMigration("v2-checkpoint-frontier") { db in
            // The frontier and chain MAC at each checkpoint, so that opening the vault can prove
            // the log extends the witnessed checkpoint by checking only the records after it.
            try db.execute(sql: "ALTER TABLE checkpoint ADD COLUMN frontier BLOB")
            try db.execute(sql: "ALTER TABLE checkpoint ADD COLUMN last_mac BLOB")
        }
        migrator.registerMigration("v3-outbox") { db in
            // How far the log has taken the records small puts wrote in their own transaction of
            // content.sqlite (``AuditOutbox``), moved in the same transaction as those records.
            try db.execute(sql: "ALTER TABLE log_state ADD COLUMN outbox_drained INTEGER NOT NULL DEFAULT 0")
        }
        return migrator
    }

    /// Opens (or creates) the log at `url`, keyed by the keyring's audit-signing key `keyID`.
    /// - Throws: `CofferError` `keyNotFound` when the keyring lacks the key, `storage`.
    /// - Parameter witness: The witness directory every checkpoint is also written to.
    package convenience init(url: URL, keyring: Keyring, keyID: String, logger: Logger, witness: URL? = nil) throws {
        var tuning = VaultDatabase.Tuning()
        tuning.cacheKiB = 4 * 1024
        let pool = try VaultDatabase.open(url, migrator: Self.migrator, tuning: tuning)
        try self.init(database: SQLiteDatabase(pool), path: url.path, keyring: keyring, keyID: keyID, logger: logger, witness: witness)
    }

    /// Opens the log in `database`, whose tables exist (the PostgreSQL engine's migrations make them).
    /// - Parameter path: The SQLite file, checked before each append; nil for another engine.
    package init(database: any SQLDatabase, path: String?, keyring: Keyring, keyID: String, logger: Logger, witness: URL? = nil) throws {
        let seed = try keyring.secret(id: keyID, purpose: .auditSigning)
        self.keyID = keyID
        macKey = try HKDF.deriveKey(from: seed, salt: [UInt8](), info: Array("coffer/audit/mac".utf8), length: 32)
        clientKey = try HKDF.deriveKey(from: seed, salt: [UInt8](), info: Array("coffer/audit/client-ip".utf8), length: 32)
        signingKey = try Self.signingKey(seed: seed)
        self.path = path
        self.logger = logger
        self.witness = witness.map(AuditWitness.init(directory:))
        origin = "coffer.vault/" + Array(try SHA256.hash(signingKey.publicKey).prefix(8)).hexString
        pool = database
    }

    /// Gives a new log on another engine its state row (the empty tree), once: the SQLite
    /// migration does the same for `audit.sqlite`.
    package static func prepareState(_ db: any SQLSession) throws {
        try db.execute(sql: "INSERT INTO log_state (id, tree_size, last_mac, frontier) VALUES (1, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
                       arguments: [Data(count: 32), Data(MerkleFrontier().encoded)])
    }

    /// The Ed25519 key checkpoints are signed with, derived from the audit-signing key's seed.
    static func signingKey(seed: SecureBytes) throws -> Ed25519SigningKey {
        try Ed25519SigningKey(seed: HKDF.deriveKey(from: seed, salt: [UInt8](), info: Array("coffer/audit/ed25519".utf8), length: 32))
    }

    /// The public key a log keyed by `keyID` of `keyring` signs with (the audit key's canary).
    static func publicKey(keyring: Keyring, keyID: String) throws -> [UInt8] {
        try signingKey(seed: keyring.secret(id: keyID, purpose: .auditSigning)).publicKey
    }

    /// The MAC that chains record `sequence` to the one before it.
    func chainMAC(sequence: Int64, leaf: [UInt8], previous: [UInt8]) throws -> [UInt8] {
        var message = Array("coffer-audit-mac-v1".utf8)
        message += (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) }
        message += leaf
        message += previous
        return try HMACSHA256.authenticate(message, key: macKey)
    }

    /// Appends `entries` in one transaction, durable (WAL fsync) when it returns.
    /// - Returns: The records as stored, with their sequence numbers.
    /// - Throws: `CofferError` `auditUnavailable` when the log cannot be written.
    package func commit(_ entries: [AuditEntry]) throws -> [AuditRecord] {
        try commit(entries, draining: nil).records
    }

    /// Refuses when the log's file is missing or read-only (SQLite running as root would write
    /// to a file an operator made read-only, and a read-only log must stop every access).
    /// - Throws: `CofferError` `auditUnavailable`.
    func checkWritable() throws {
        guard let path else { return }
        guard let mode = fileMode(path) else {
            throw CofferError(.auditUnavailable, "the access log \(path) is missing; no access is allowed without it")
        }
        guard mode & S_IWUSR != 0 else {
            throw CofferError(.auditUnavailable, "the access log \(path) is not writable (mode \(String(mode & 0o777, radix: 8))); no access is allowed until it is")
        }
    }

    /// ``commit(_:)`` that first takes every record waiting in `outbox`, in the same transaction.
    /// - Returns: The records as stored (the outbox's first, then `entries`') and the last
    ///   outbox id taken (nil when none was).
    func commit(_ entries: [AuditEntry], draining outbox: AuditOutbox?) throws -> (records: [AuditRecord], drained: Int64?) {
        // Only a drain, and nothing waits: no transaction (a read-only log can still be read).
        if entries.isEmpty {
            guard let outbox else { return ([], nil) }
            let after = try pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT outbox_drained FROM log_state WHERE id = 1") ?? 0 }
            guard try outbox.isWaiting(after: after) else { return ([], nil) }
        }
        try checkWritable()
        var signed: CheckpointNote?
        defer { if let signed { publish(signed) } }
        do {
            return try pool.write { db in
                var entries = entries
                var drained: Int64?
                if let outbox {
                    let after = try db.fetchOne(Int64.self, sql: "SELECT outbox_drained FROM log_state WHERE id = 1") ?? 0
                    let waiting = try outbox.waiting(after: after)
                    if waiting.through > after {
                        entries = waiting.entries + entries
                        drained = waiting.through
                    }
                }
                guard !entries.isEmpty else { return ([], nil) }
                // The chain head under a row lock as well as the writers' lock: one ordered log.
                let lock = db.engine == .postgres ? " FOR UPDATE" : ""
                guard let state = try db.fetchOne(sql: "SELECT tree_size, last_mac, frontier FROM log_state WHERE id = 1" + lock),
                      var frontier = MerkleFrontier(encoded: try state.storedBytes("frontier", in: "log_state")) else {
                    throw CofferError(.tamperDetected, "the access log's state row is missing or corrupt; run `coffer audit verify`")
                }
                var size: Int64 = try state.stored("tree_size", in: "log_state")
                var previous = try state.storedBytes("last_mac", in: "log_state")
                guard frontier.size == size else {
                    throw CofferError(.tamperDetected, "the access log's state is inconsistent; run `coffer audit verify`")
                }
                var records: [AuditRecord] = []
                for var entry in entries {
                    size += 1
                    entry.client = try pseudonymousClient(entry.client)
                    let record = entry.record(sequence: size)
                    let leaf = MerkleTree.leafHash(record.canonicalBytes)
                    let mac = try chainMAC(sequence: size, leaf: leaf, previous: previous)
                    try db.execute(sql: Self.insertRecord, arguments: Self.arguments(record))
                    try db.execute(sql: "INSERT INTO leaf (seq, hash, mac) VALUES (?, ?, ?)", arguments: [size, Data(leaf), Data(mac)])
                    frontier.append(leaf)
                    previous = mac
                    records.append(record)
                }
                CrashPoint.hit("audit.after-records")
                try db.execute(sql: "UPDATE log_state SET tree_size = ?, last_mac = ?, frontier = ? WHERE id = 1",
                               arguments: [size, Data(previous), Data(frontier.encoded)])
                if let drained {
                    try db.execute(sql: "UPDATE log_state SET outbox_drained = ? WHERE id = 1", arguments: [drained])
                }
                let lastCheckpoint = try db.fetchOne(Int64.self, sql: "SELECT max(tree_size) FROM checkpoint") ?? 0
                if size - lastCheckpoint >= Self.checkpointInterval {
                    signed = try insertCheckpoint(db, frontier: frontier, lastMAC: previous)
                }
                return (records, drained)
            }
        } catch let error as CofferError where error.code != .storage {
            throw error
        } catch {
            // The database failed (full disk, read-only file, server gone): the access is refused.
            let reason = (error as? CofferError)?.message ?? VaultDatabase.describe(error)
            throw CofferError(.auditUnavailable, "the access log could not record the access (\(reason)); the access did not happen")
        }
    }

    static let insertRecord = """
        INSERT INTO record (seq, time, actor, role, tenant, subject, object_id, object_version, object_kind, action,
            data_class, purpose, justification, outcome, error_code, bytes, request_id, client, grant_id, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// A client that is an IP address, as the log keeps it: `ip-hmac:` and the first 16 bytes of
    /// HMAC-SHA256 of the normalised address under a key derived from the audit key, so records
    /// from one address still group together without the address being stored.
    func pseudonymousClient(_ client: String?) throws -> String? {
        guard let client, let address = try? PIIValidation.ipAddress(client) else { return client }
        return "ip-hmac:" + Array(try HMACSHA256.authenticate(Array(address.utf8), key: clientKey).prefix(16)).hexString
    }

    static func arguments(_ r: AuditRecord) -> SQLArguments {
        [r.sequence, r.time, r.actor, r.role, r.tenant, r.subject, r.objectID, r.objectVersion, r.objectKind, r.action,
         r.dataClass, r.purpose, r.justification, r.outcome.rawValue, r.errorCode, r.bytes, r.requestID, r.client,
         r.grantID, r.reason]
    }

    /// A record from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column or an unknown outcome.
    static func record(_ row: SQLRow) throws -> AuditRecord {
        let t = "record"
        let sequence: Int64 = try row.stored("seq", in: t)
        guard let outcome = AuditRecord.Outcome(rawValue: try row.stored("outcome", in: t)) else {
            throw CofferError(.tamperDetected, "record \(sequence) has an unknown outcome")
        }
        func optional<T: DatabaseValueConvertible>(_ column: String) throws -> T? { try row.storedIfPresent(column, in: t) }
        return AuditRecord(sequence: sequence, time: try row.stored("time", in: t), actor: try row.stored("actor", in: t),
                           role: try optional("role"), tenant: try optional("tenant"), subject: try optional("subject"),
                           objectID: try optional("object_id"), objectVersion: try optional("object_version"),
                           objectKind: try optional("object_kind"), action: try row.stored("action", in: t),
                           dataClass: try row.stored("data_class", in: t), purpose: try row.stored("purpose", in: t),
                           justification: try optional("justification"), outcome: outcome, errorCode: try optional("error_code"),
                           bytes: try optional("bytes"), requestID: try optional("request_id"), client: try optional("client"),
                           grantID: try optional("grant_id"), reason: try optional("reason"))
    }
}

/// The mode bits of the file at `path`, or nil when it does not exist.
private func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode : nil
}
