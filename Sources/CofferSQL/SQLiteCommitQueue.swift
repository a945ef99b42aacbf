import CofferCrypto
import Foundation
import GRDB

/// Group commit for one SQLite database: callers hand over a write and suspend; one committer
/// thread runs every write that queued up meanwhile in a single transaction, each in a savepoint
/// of its own, and syncs once. Under load many puts share one fsync; alone, a write costs one.
///
/// A write that throws rolls back only its savepoint: the others in its transaction commit. A
/// failure that ends the transaction itself (a full disk, an I/O error, a failed commit) fails
/// every write of the batch, since none of them is stored. The transaction is durable (the WAL
/// synced before it returns, `synchronous = FULL`) when any of its writes asks to be; writes
/// that do not (``write(durably:_:)`` with false) commit at NORMAL when alone and become durable
/// with the next durable commit.
package final class SQLiteCommitQueue: Sendable {
    private let thread: GroupCommitThread<Member>

    /// One queued write: whether it must be durable, its body (run inside its savepoint, the
    /// outcome kept), and what resumes its caller once the transaction is over.
    private struct Member {
        let durable: Bool
        let run: (Database) -> Void
        let resume: (_ transactionError: (any Error)?) -> Void
    }

    /// A queue for `pool`'s writer, whose thread is named `name`. The pool's writer must be at
    /// `synchronous = FULL` (``SQLiteDatabase/makeDurable()``).
    package init(pool: DatabasePool, name: String) {
        thread = GroupCommitThread(name: name) { batch in Self.commit(batch, in: pool) }
    }

    deinit { thread.stop(waiting: false) }

    /// Runs `body` in the next group transaction, in a savepoint of its own, and returns its
    /// result once that transaction has committed (synced to disk when `durably`).
    /// - Throws: What `body` throws (its savepoint rolled back); the transaction's error when it
    ///   could not commit; `CofferError` `storage` once the queue is stopped.
    package func write<T: Sendable>(durably: Bool, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            var outcome: Result<T, any Error> = .failure(CofferError(.storage, "the transaction failed before this write ran"))
            let member = Member(durable: durably, run: { db in
                outcome = Result {
                    var value: T?
                    try db.inSavepoint {
                        value = try body(db)
                        return .commit
                    }
                    return value!
                }
            }, resume: { transactionError in
                if let transactionError, case .success = outcome {
                    continuation.resume(throwing: transactionError)
                } else {
                    continuation.resume(with: outcome)
                }
            })
            guard thread.submit(member) else {
                continuation.resume(throwing: CofferError(.storage, "the database is closed"))
                return
            }
        }
    }

    /// Runs `body` in the next group transaction, in a savepoint of its own, without waiting
    /// for it: for bookkeeping whose loss does no harm (a failed `body` is rolled back and
    /// dropped).
    /// - Returns: False, queueing nothing, once the queue is stopped.
    package func enqueue(durably: Bool, _ body: @escaping @Sendable (Database) throws -> Void) -> Bool {
        thread.submit(Member(durable: durably, run: { db in
            try? db.inSavepoint {
                try body(db)
                return .commit
            }
        }, resume: { _ in }))
    }

    /// Commits what is queued, then stops the committer and waits until it has exited; later
    /// writes fail.
    package func stop() {
        thread.stop(waiting: true)
    }

    /// Runs `batch` in one transaction of `pool`, then resumes every caller: each with its own
    /// outcome when the transaction committed, with the transaction's error otherwise.
    private static func commit(_ batch: [Member], in pool: DatabasePool) {
        let durable = batch.contains { $0.durable }
        var transactionError: (any Error)?
        do {
            try pool.writeWithoutTransaction { db in
                if !durable { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
                defer { if !durable { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                try db.beginTransaction(.immediate)
                do {
                    for member in batch {
                        member.run(db)
                        // SQLite ends the whole transaction on some errors (SQLITE_FULL, I/O):
                        // the writes before this one are then gone as well.
                        guard db.isInsideTransaction else {
                            throw CofferError(.storage, "a write of this batch ended its transaction; nothing of the batch was stored")
                        }
                    }
                    try db.commit()
                } catch {
                    if db.isInsideTransaction { try? db.rollback() }
                    throw error
                }
            }
        } catch {
            transactionError = error
        }
        for member in batch { member.resume(transactionError) }
    }
}
