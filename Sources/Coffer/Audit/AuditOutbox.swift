import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Synchronization

/// Records written in the transaction of the access they record, in `content.sqlite`, until the
/// log's committer moves them into `audit.sqlite` (embedded engine only).
///
/// A small put is one transaction of `content.sqlite`: its version and the record of its
/// allowed write commit together, with one sync, so the write cannot happen without its record
/// and the record cannot outlive a write that rolled back. The committer then drains every
/// waiting record into the log ahead of its next batch (a few milliseconds later, or at the
/// next open after a crash), in the order the puts committed, under the log's write lock:
/// `log_state.outbox_drained` says how far the log has taken them, in the same transaction as
/// the records, so a crash between the two files neither loses nor repeats one. Drained rows
/// are deleted afterwards, lazily.
///
/// Ids are `AUTOINCREMENT`: a committed id is never given again, so the waiting rows are always
/// the ids after `outbox_drained` up to `sqlite_sequence`, with no gap. A gap, or a sequence
/// ahead of the last row, means rows were deleted outside Coffer before the log took them: the
/// drain refuses (`tamperDetected`) and every access stops until an operator looks.
final class AuditOutbox: Sendable {
    /// `content.sqlite`.
    let pool: DatabasePool
    /// Its group committer, which runs the deletes of drained rows with the next puts.
    private let commits: SQLiteCommitQueue
    /// The highest drained id whose delete is queued or done.
    private let forgotten = Mutex<Int64>(0)
    /// Whether this process wrote records the committer has not looked for yet, and when it
    /// last looked (``shouldDrain(asked:)``).
    private let looked = Mutex((wrote: false, at: ContinuousClock.now))

    /// How often the committer looks for records other processes left, when nothing asks.
    static let lookInterval = Duration.seconds(1)

    /// Notes that this process committed a record here (after the put's commit).
    func noteWritten() {
        looked.withLock { $0.wrote = true }
    }

    /// True when the committer's next batch should take what waits here: when `asked` (a
    /// drain was requested), when this process wrote records since it last looked (so a
    /// process's records keep their order: a put's record precedes the read of what it wrote),
    /// or once per ``lookInterval`` for other processes' records. A batch of reads alone
    /// otherwise skips the outbox's read transaction.
    func shouldDrain(asked: Bool) -> Bool {
        let now = ContinuousClock.now
        return looked.withLock { state in
            guard asked || state.wrote || now - state.at >= Self.lookInterval else { return false }
            state = (false, now)
            return true
        }
    }

    init(pool: DatabasePool, commits: SQLiteCommitQueue) {
        self.pool = pool
        self.commits = commits
    }

    /// The records waiting after `drained`, in order, and the last id among them.
    struct Waiting {
        var entries: [AuditEntry] = []
        var through: Int64
    }

    /// The table, made by ``VaultSchema/content``.
    static let schema = """
        CREATE TABLE audit_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
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
        """

    private static let columns = """
        time, actor, role, tenant, subject, object_id, object_version, object_kind, action, data_class, purpose,
        justification, outcome, error_code, bytes, request_id, client, grant_id, reason
        """

    /// Adds `entry` inside `db`'s transaction (the access's own). Its client must already be
    /// in the form the log keeps (``AuditLog/pseudonymousClient(_:)``).
    static func insert(_ entry: AuditEntry, in db: Database) throws {
        let r = entry.record(sequence: 0)
        let statement = try db.cachedStatement(sql: "INSERT INTO audit_outbox (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        try statement.execute(arguments: [r.time, r.actor.rawValue, r.role, r.tenant?.rawValue, r.subject?.rawValue, r.objectID, r.objectVersion,
                                          r.objectKind, r.action, r.dataClass, r.purpose, r.justification, r.outcome.rawValue, r.errorCode,
                                          r.bytes, r.requestID, r.client, r.grantID?.rawValue, r.reason])
    }

    /// The records after `drained`, read in one snapshot.
    /// - Throws: `CofferError` `tamperDetected` when rows the log has not taken are missing or
    ///   malformed.
    func waiting(after drained: Int64) throws -> Waiting {
        try VaultDatabase.guardedSync {
            try SQLiteDatabase(pool).read { db in
                let last = try db.fetchOne(Int64.self, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_outbox'") ?? 0
                var waiting = Waiting(through: drained)
                guard last > drained else { return waiting }
                for row in try db.fetchAll(sql: "SELECT id AS seq, \(Self.columns) FROM audit_outbox WHERE id > ? ORDER BY id", arguments: [drained]) {
                    let record = try AuditLog.record(row)
                    guard record.sequence == waiting.through + 1 else { throw Self.missing(after: waiting.through) }
                    waiting.entries.append(try AuditEntry(record))
                    waiting.through = record.sequence
                }
                guard waiting.through == last else { throw Self.missing(after: waiting.through) }
                return waiting
            }
        }
    }

    /// True when an id after `drained` was ever given (a record waits, or was deleted).
    func isWaiting(after drained: Int64) throws -> Bool {
        try VaultDatabase.guardedSync {
            try pool.read { db in try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_outbox'") ?? 0 } > drained
        }
    }

    private static func missing(after id: Int64) -> CofferError {
        CofferError(.tamperDetected, "records of accesses after outbox record \(id) were deleted from content.sqlite before the access log took them; nothing more can be recorded until content.sqlite and audit.sqlite are restored from a backup")
    }

    /// Queues the delete of every row up to `id` (drained) with the next puts' transaction,
    /// not waited for: a row left behind is skipped by the next drain and deleted then.
    func forget(through id: Int64) {
        let queue = forgotten.withLock { done in
            guard id > done else { return false }
            done = id
            return true
        }
        guard queue else { return }
        _ = commits.enqueue(durably: false) { db in
            try db.execute(sql: "DELETE FROM audit_outbox WHERE id <= ?", arguments: [id])
        }
    }

    /// Makes the next id follow `drained` when this file is older than the log (restored from
    /// an earlier copy than `audit.sqlite`): a new record must never take an id the log has
    /// already counted as drained. Run at open, before any access.
    func continueAfter(drained: Int64) throws {
        let sequence = "SELECT seq FROM sqlite_sequence WHERE name = 'audit_outbox'"
        try VaultDatabase.guardedSync {
            guard try pool.read({ db in try Int64.fetchOne(db, sql: sequence) ?? 0 }) < drained else { return }
            try pool.write { db in
                let last = try Int64.fetchOne(db, sql: sequence)
                guard (last ?? 0) < drained else { return }
                if last == nil {
                    try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_outbox', ?)", arguments: [drained])
                } else {
                    try db.execute(sql: "UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_outbox'", arguments: [drained])
                }
                try db.execute(sql: "DELETE FROM audit_outbox WHERE id <= ?", arguments: [drained])
            }
        }
    }
}

extension AuditEntry {
    /// The entry of a record read back (the outbox keeps its entries as the log keeps records).
    /// - Throws: `CofferError` `tamperDetected` for an unknown purpose.
    init(_ record: AuditRecord) throws {
        let purpose: Purpose
        do { purpose = try Purpose(parsing: record.purpose) } catch {
            throw CofferError(.tamperDetected, "an outbox record has an unknown purpose '\(record.purpose)'")
        }
        self.init(time: record.time, actor: record.actor, role: record.role, tenant: record.tenant, subject: record.subject,
                  objectID: record.objectID, objectVersion: record.objectVersion, objectKind: record.objectKind,
                  action: AccessAction(record.action), dataClass: DataClass(record.dataClass), purpose: purpose,
                  justification: record.justification, outcome: record.outcome, errorCode: record.errorCode, bytes: record.bytes,
                  requestID: record.requestID, client: record.client, grantID: record.grantID, reason: record.reason)
    }
}
