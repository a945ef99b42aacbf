import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Testing

/// Counts the transactions a database commits (a savepoint released is not one).
private final class CommitCounter: TransactionObserver, @unchecked Sendable {
    // @unchecked: GRDB calls it on the writer only; `commits` is read once the writes are over.
    private let lock = NSLock()
    private var count = 0
    var commits: Int { lock.withLock { count } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { lock.withLock { count += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// A pool on a fresh file with table `t`, at `synchronous = FULL`, and a queue for it.
private func withQueue(_ body: (DatabasePool, SQLiteCommitQueue, CommitCounter) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("commits-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let pool = try DatabasePool(path: directory.appendingPathComponent("t.sqlite").path)
    try await pool.write { try $0.execute(sql: "CREATE TABLE t (k INTEGER PRIMARY KEY)") }
    try SQLiteDatabase(pool).makeDurable()
    let counter = CommitCounter()
    pool.add(transactionObserver: counter, extent: .databaseLifetime)
    let queue = SQLiteCommitQueue(pool: pool, name: "test.commit")
    try await body(pool, queue, counter)
    queue.stop()
}

/// Holds the committer inside a write until released, so the writes sent meanwhile share the
/// next transaction.
private final class Gate: @unchecked Sendable {
    private let entered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    func hold() { entered.signal(); released.wait() }
    func waitUntilHeld() async { await withCheckedContinuation { c in DispatchQueue.global().async { self.entered.wait(); c.resume() } } }
    func release() { released.signal() }
}

private func insert(_ k: Int) -> @Sendable (Database) throws -> Void {
    { db in try db.execute(sql: "INSERT INTO t (k) VALUES (?)", arguments: [k]) }
}

private func keys(_ pool: DatabasePool) throws -> [Int] {
    try pool.read { try Int.fetchAll($0, sql: "SELECT k FROM t ORDER BY k") }
}

@Suite("SQLite group commit")
struct CommitQueueTests {
    @Test("writes queued while a transaction runs share the next one; each returns its own result")
    func writesShareATransaction() async throws {
        try await withQueue { pool, queue, counter in
            let gate = Gate()
            let first = Task { try await queue.write(durably: true) { db in gate.hold(); try insert(0)(db) } }
            await gate.waitUntilHeld()
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for k in 1...32 {
                    group.addTask { try await queue.write(durably: true) { db in try insert(k)(db); return k * 10 } }
                }
                // Give every task time to queue behind the held transaction.
                try await Task.sleep(nanoseconds: 200_000_000)
                gate.release()
                var all: [Int] = []
                for try await r in group { all.append(r) }
                return all.sorted()
            }
            try await first.value
            #expect(results == (1...32).map { $0 * 10 })
            #expect(try keys(pool) == Array(0...32))
            #expect(counter.commits == 2)
        }
    }

    @Test("a write that throws rolls back only its own changes; the others of its transaction commit")
    func failingWriteRollsBackAlone() async throws {
        try await withQueue { pool, queue, counter in
            let gate = Gate()
            let first = Task { try await queue.write(durably: true) { db in gate.hold(); try insert(0)(db) } }
            await gate.waitUntilHeld()
            let a = Task { try await queue.write(durably: true, insert(1)) }
            let b = Task {
                try await queue.write(durably: true) { db in
                try insert(2)(db)
                throw CofferError(.invalidArgument, "refused")
                }
            }
            let c = Task { try await queue.write(durably: true, insert(3)) }
            try await Task.sleep(nanoseconds: 200_000_000)
            gate.release()
            try await first.value
            try await a.value
            try await c.value
            await #expect(throws: CofferError.self) { try await b.value }
            #expect(try keys(pool) == [0, 1, 3])
            #expect(counter.commits == 2)
        }
    }

    @Test("a write that ends the transaction fails every write of its batch, and none is stored")
    func endedTransactionFailsTheBatch() async throws {
        try await withQueue { pool, queue, _ in
            let gate = Gate()
            let first = Task { try await queue.write(durably: true) { db in gate.hold(); try insert(0)(db) } }
            await gate.waitUntilHeld()
            let a = Task { try await queue.write(durably: true, insert(1)) }
            try await Task.sleep(nanoseconds: 100_000_000)
            let b = Task {
                try await queue.write(durably: true) { db in
                try insert(2)(db)
                try db.execute(sql: "ROLLBACK")
                }
            }
            try await Task.sleep(nanoseconds: 100_000_000)
            let c = Task { try await queue.write(durably: true, insert(3)) }
            try await Task.sleep(nanoseconds: 100_000_000)
            gate.release()
            try await first.value
            await #expect(throws: (any Error).self) { try await a.value }
            await #expect(throws: (any Error).self) { try await b.value }
            await #expect(throws: (any Error).self) { try await c.value }
            #expect(try keys(pool) == [0])
            // The queue goes on afterwards.
            try await queue.write(durably: true, insert(4))
            #expect(try keys(pool) == [0, 4])
        }
    }

    @Test("a write that need not be durable leaves the writer at synchronous = FULL")
    func deferredWriteRestoresFullSync() async throws {
        try await withQueue { pool, queue, _ in
            try await queue.write(durably: false, insert(1))
            let level = try await queue.write(durably: true) { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(level == 2)
            #expect(try keys(pool) == [1])
        }
    }

    @Test("stop commits what is queued; later writes fail with a storage error")
    func stopDrainsThenRefuses() async throws {
        try await withQueue { pool, queue, _ in
            try await queue.write(durably: true, insert(1))
            queue.stop()
            await #expect(throws: CofferError.self) { try await queue.write(durably: true, insert(2)) }
            #expect(try keys(pool) == [1])
        }
    }
}
