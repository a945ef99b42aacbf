import CofferCrypto
import CofferPostgres
import CofferSQL
import CofferTestSupport
import Foundation
import GRDB
import PostgresNIO
import Testing

/// A fresh database with table `t` on the named engine: a temporary SQLite file, or a schema of
/// its own on the test server (dropped afterwards).
private func withEngine(_ name: String, _ body: @escaping @Sendable (any SQLDatabase) throws -> Void) async throws {
    switch name {
    case "sqlite":
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sql-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pool = try DatabasePool(path: directory.appendingPathComponent("t.sqlite").path)
        try await pool.write { try $0.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB)") }
        let database = SQLiteDatabase(pool)
        try await onOwnThread { try body(database) }
    default:
        guard PostgresTestServer.available else { return }
        let admin = try await PostgresPool.open(try PostgresTestServer.address())
        defer { admin.close() }
        let schema = "sql_" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        try await admin.withConnection { c in
            _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: .init(label: "t"))
            _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(schema).t (k TEXT PRIMARY KEY, n BIGINT, r DOUBLE PRECISION, s TEXT, b BYTEA)"),
                                  logger: .init(label: "t"))
        }
        let pool = try await PostgresPool.open(try PostgresTestServer.address(searchPath: schema), maximumConnections: 4)
        defer { pool.close() }
        do {
            let database = PostgresSQLDatabase(pool, writerLock: 7_001)
            try await onOwnThread { try body(database) }
        } catch {
            try? await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: .init(label: "t")) }
            throw error
        }
        try await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: .init(label: "t")) }
    }
}

@Suite("The stores' SQL on both engines", .serialized)
struct SQLEngineTests {
    @Test("values go in and come back as they were: NULL, 64-bit integers, reals, text, blobs with zero bytes", arguments: ["sqlite", "postgres"])
    func values(engine: String) async throws {
        try await withEngine(engine) { database in
            let blob = Data([0, 1, 0, 255, 0])
            let text = "o'hara; DROP TABLE t; -- ?  \u{1F510} é"
            try database.write { db in
                let inserted = try db.execute(sql: "INSERT INTO t (k, n, r, s, b) VALUES (?, ?, ?, ?, ?)",
                                              arguments: ["a", Int64.max, 0.25, text, blob])
                #expect(inserted == 1)
                try db.execute(sql: "INSERT INTO t (k, n, r, s, b) VALUES (?, ?, ?, ?, ?)", arguments: ["b", nil, nil, nil, nil])
            }
            try database.read { db in
                let row = try #require(try db.fetchOne(sql: "SELECT n, r, s, b, 'lit?' AS q FROM t WHERE k = ?", arguments: ["a"]))
                #expect(try row.stored("n", in: "t", as: Int64.self) == Int64.max)
                #expect(try row.stored("r", in: "t", as: Double.self) == 0.25)
                #expect(try row.stored("s", in: "t", as: String.self) == text)
                #expect(try row.stored("b", in: "t", as: Data.self) == blob)
                #expect(try row.stored("q", in: "t", as: String.self) == "lit?", "a ? inside a literal is not a placeholder")
                let empty = try #require(try db.fetchOne(sql: "SELECT n, s, b FROM t WHERE k = ?", arguments: ["b"]))
                #expect(try empty.storedIfPresent("n", in: "t", as: Int64.self) == nil)
                #expect(throws: CofferError.self) { try empty.stored("s", in: "t", as: String.self) }
                #expect(try db.fetchOne(Int64.self, sql: "SELECT count(*) FROM t") == 2)
                #expect(try db.fetchAll(String.self, sql: "SELECT k FROM t ORDER BY k") == ["a", "b"])
                #expect(try db.fetchOne(Bool.self, sql: "SELECT 1 FROM t WHERE k = ?", arguments: ["zz"]) == nil)
                #expect(try db.fetchOne(Int64.self, sql: "SELECT CAST(sum(n) AS BIGINT) FROM t WHERE k = ?", arguments: ["b"]) == nil)
            }
        }
    }

    @Test("empty text and empty blobs stay empty, not NULL; a write after a failed one succeeds; a wrong count of values is refused", arguments: ["sqlite", "postgres"])
    func binding(engine: String) async throws {
        try await withEngine(engine) { database in
            let insert = "INSERT INTO t (k, s, b) VALUES (?, ?, ?)"
            try database.write { db in try db.execute(sql: insert, arguments: ["e", "", Data()]) }
            // The statement fails (a duplicate key); the next write goes through.
            #expect(throws: (any Error).self) { try database.write { db in try db.execute(sql: insert, arguments: ["e", "x", Data([1])]) } }
            try database.write { db in try db.execute(sql: insert, arguments: ["f", "f", Data([0])]) }
            #expect(throws: (any Error).self) { try database.write { db in try db.execute(sql: insert, arguments: ["g", "too few"]) } }
            if engine == "sqlite" {  // PostgreSQL's protocol takes parameters a statement does not use
                #expect(throws: (any Error).self) {
                    try database.read { db in try db.fetchAll(sql: "SELECT k FROM t WHERE k = ?", arguments: ["e", "one too many"]) }
                }
            }
            try database.read { db in
                let row = try #require(try db.fetchOne(sql: "SELECT s, b, s IS NULL AS sn, b IS NULL AS bn FROM t WHERE k = ?", arguments: ["e"]))
                #expect(try row.stored("s", in: "t", as: String.self) == "")
                #expect(try row.stored("b", in: "t", as: Data.self) == Data())
                #expect(try row.stored("sn", in: "t", as: Bool.self) == false)
                #expect(try row.stored("bn", in: "t", as: Bool.self) == false)
                #expect(try db.fetchOne(Data.self, sql: "SELECT b FROM t WHERE k = ?", arguments: ["f"]) == Data([0]))
                #expect(try db.fetchAll(String.self, sql: "SELECT k FROM t ORDER BY k") == ["e", "f"])
            }
        }
    }

    @Test("rows changed by inserts, updates, deletes and ignored conflicts", arguments: ["sqlite", "postgres"])
    func changes(engine: String) async throws {
        try await withEngine(engine) { database in
            try database.write { db in
                for k in ["a", "b", "c"] { try db.execute(sql: "INSERT INTO t (k, n) VALUES (?, ?)", arguments: [k, 1]) }
                #expect(try db.execute(sql: "INSERT INTO t (k, n) VALUES (?, ?) ON CONFLICT (k) DO NOTHING", arguments: ["a", 2]) == 0)
                #expect(try db.execute(sql: "UPDATE t SET n = n + 1 WHERE k <> ?", arguments: ["a"]) == 2)
                #expect(try db.execute(sql: "DELETE FROM t WHERE k = ?", arguments: ["zz"]) == 0)
                let returned = try db.fetchAll(String.self, sql: "DELETE FROM t WHERE n = ? RETURNING k", arguments: [2])
                #expect(returned.sorted() == ["b", "c"])
            }
        }
    }

    @Test("a write that throws leaves nothing behind", arguments: ["sqlite", "postgres"])
    func rollback(engine: String) async throws {
        try await withEngine(engine) { database in
            #expect(throws: CofferError.self) {
                try database.write { db in
                    try db.execute(sql: "INSERT INTO t (k) VALUES (?)", arguments: ["gone"])
                    throw CofferError(.storage, "injected")
                }
            }
            #expect(throws: CofferError.self) {
                try database.write { db in try db.execute(sql: "INSERT INTO nonesuch (k) VALUES (?)", arguments: ["x"]) }
            }
            try database.write { db in try db.execute(sql: "INSERT INTO t (k) VALUES (?)", arguments: ["kept"]) }
            #expect(try database.read { try $0.fetchAll(String.self, sql: "SELECT k FROM t") } == ["kept"])
        }
    }

    @Test("writers run one at a time: read-modify-write from many threads loses no update", arguments: ["sqlite", "postgres"])
    func writersSerialized(engine: String) async throws {
        try await withEngine(engine) { database in
            try database.write { db in try db.execute(sql: "INSERT INTO t (k, n) VALUES (?, ?)", arguments: ["counter", 0]) }
            let threads = 4, rounds = 25
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                for _ in 0..<rounds {
                    try? database.write { db in
                        let n = try db.fetchOne(Int64.self, sql: "SELECT n FROM t WHERE k = ?", arguments: ["counter"]) ?? 0
                        try db.execute(sql: "UPDATE t SET n = ? WHERE k = ?", arguments: [n + 1, "counter"])
                    }
                }
            }
            #expect(try database.read { try $0.fetchOne(Int64.self, sql: "SELECT n FROM t WHERE k = ?", arguments: ["counter"]) } == Int64(threads * rounds))
        }
    }

    @Test("async reads run off the cooperative pool: many at once complete", arguments: ["sqlite", "postgres"])
    func asyncReads(engine: String) async throws {
        try await withEngine(engine) { database in
            try database.write { db in try db.execute(sql: "INSERT INTO t (k, n) VALUES (?, ?)", arguments: ["x", 5]) }
            let semaphore = DispatchSemaphore(value: 0)
            let sum = LockedSum()
            Task {
                await withTaskGroup(of: Int64.self) { group in
                    for _ in 0..<64 {
                        group.addTask { (try? await database.read { try $0.fetchOne(Int64.self, sql: "SELECT n FROM t") ?? 0 }) ?? 0 }
                    }
                    for await value in group { sum.add(value) }
                }
                semaphore.signal()
            }
            semaphore.wait()
            #expect(sum.value == 64 * 5)
        }
    }
}

@Suite("Placeholders numbered for PostgreSQL")
struct SQLPlaceholderTests {
    @Test("each ? outside literals, quoted names and comments becomes $n in order")
    func numbering() {
        #expect(SQLPlaceholderProbe.number("SELECT a FROM t WHERE b = ? AND c IN (?, ?)") == "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)")
        #expect(SQLPlaceholderProbe.number("SELECT '?', \"?\", ? -- ?\n, ?") == "SELECT '?', \"?\", $1 -- ?\n, $2")
        #expect(SQLPlaceholderProbe.number("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1")
        #expect(SQLPlaceholderProbe.number("SELECT a FROM t WHERE (?1 IS NULL OR b = ?1) AND c = ?2") == "SELECT a FROM t WHERE ($1 IS NULL OR b = $1) AND c = $2",
                "SQLite's numbered placeholders keep their numbers")
    }
}

/// A thread-safe sum for the async test.
private final class LockedSum: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64 = 0
    func add(_ n: Int64) { lock.withLock { total += n } }
    var value: Int64 { lock.withLock { total } }
}
