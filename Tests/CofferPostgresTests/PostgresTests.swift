import CofferCrypto
import CofferPostgres
import Foundation
import PostgresNIO
import Testing

/// The PostgreSQL server `.ci/run` starts (`scripts/ci-services.sh`).
enum PostgresTestServer {
    static let environment = ProcessInfo.processInfo.environment
    static var available: Bool { environment["COFFER_TEST_POSTGRES_URL"] != nil }

    /// The content database as its own role, or the PII database as its role.
    static func address(pii: Bool = false, searchPath: String? = nil) throws -> PostgresAddress {
        let url = environment[pii ? "COFFER_TEST_POSTGRES_PII_URL" : "COFFER_TEST_POSTGRES_URL"] ?? ""
        let password = environment[pii ? "COFFER_TEST_POSTGRES_PII_PASSWORD" : "COFFER_TEST_POSTGRES_PASSWORD"] ?? ""
        let options = "?sslmode=disable" + (searchPath.map { "&schema=\($0)" } ?? "")
        return try PostgresAddress(parsing: url + options, environment: ["PGPASSWORD": password])
    }
}

@Suite("PostgreSQL addresses")
struct PostgresAddressTests {
    @Test("URLs as libpq names them; the password only from PGPASSWORD or a file, never the URL, never in the description")
    func parsing() throws {
        let address = try PostgresAddress(parsing: "postgres://coffer@db.internal:6432/vault?sslmode=require", environment: ["PGPASSWORD": "s3cret"])
        #expect(address.host == "db.internal" && address.port == 6432 && address.user == "coffer" && address.database == "vault")
        #expect(address.tlsMode == .require)
        #expect(!address.description.contains("s3cret"))
        #expect(try PostgresAddress(parsing: "postgresql://u@h/d", environment: [:]).tlsMode == .prefer)
        #expect(try PostgresAddress(parsing: "postgres://u@h/d?sslmode=allow", environment: [:]).tlsMode == .prefer)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        try Data("from-file\nignored\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try PostgresAddress(parsing: "postgres://u@h/d?passfile=\(file.path)", environment: [:])
        for bad in ["mysql://u@h/d", "postgres://u:pw@h/d", "postgres://h/d", "postgres://u@h/", "postgres://u@h/d/e",
                    "postgres://u@h/d?sslmode=bogus", "postgres://u@h/d?sslmode=verify-full", "postgres://u@h/d?application_name=x"] {
            #expect(throws: CofferError.self, "\(bad)") { _ = try PostgresAddress(parsing: bad, environment: [:]) }
        }
        do { _ = try PostgresAddress(parsing: "postgres://u:hunter2@h/d", environment: [:]) } catch let error as CofferError {
            #expect(!error.message.contains("hunter2"))
        }
    }
}

@Suite("PostgreSQL server present in CI")
struct PostgresPresenceTests {
    @Test("CI provides PostgreSQL (COFFER_TEST_POSTGRES_URL); elsewhere the server tests are skipped")
    func presentInCI() {
        if PostgresTestServer.environment["CI"] == "true" { #expect(PostgresTestServer.available, "CI must start PostgreSQL (scripts/ci-services.sh)") }
    }
}

@Suite("PostgreSQL database and migrations", .enabled(if: PostgresTestServer.available), .serialized)
struct PostgresDatabaseTests {
    @Test("queries with bound values, transactions that roll back, and a role kept out of the other database")
    func queriesAndRoles() async throws {
        let database = try await PostgresPool.open(try PostgresTestServer.address())
        defer { database.close() }
        let table = "t_" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        try await database.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(table) (k TEXT PRIMARY KEY, v BYTEA)"), logger: .init(label: "t")) }
        let value = "o'hara; DROP TABLE \(table); --"
        try await database.withConnection { c in
            _ = try await c.query("INSERT INTO \(unescaped: table) (k, v) VALUES (\(value), \(Data([1, 2, 3])))", logger: .init(label: "t"))
        }
        await #expect(throws: CofferError.self) {
            try await database.withTransaction { c in
                _ = try await c.query("INSERT INTO \(unescaped: table) (k) VALUES ('inside')", logger: .init(label: "t"))
                throw CofferError(.storage, "stop")
            }
        }
        let keys = try await database.withConnection { c in
            var keys: [String] = []
            for try await k in try await c.query("SELECT k FROM \(unescaped: table) ORDER BY k", logger: .init(label: "t")).decode(String.self) { keys.append(k) }
            return keys
        }
        #expect(keys == [value], "the bound value is data, and the rolled-back insert is gone")
        try await database.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"), logger: .init(label: "t")) }

        // P2: the PII role cannot connect to the content database.
        let crossed = try PostgresTestServer.address(pii: true).withDatabase(try PostgresTestServer.address().database)
        do { _ = try await PostgresPool.open(crossed); Issue.record("connected") } catch let error as CofferError {
            #expect(error.code == .accessDenied, "\(error)")
            #expect(!error.message.contains(PostgresTestServer.environment["COFFER_TEST_POSTGRES_PII_PASSWORD"] ?? "unset"))
        }
        // A wrong password fails at once too.
        do { _ = try await PostgresPool.open(try PostgresTestServer.address().with(user: "coffer", password: "wrong")); Issue.record("connected") }
        catch let error as CofferError { #expect(error.code == .accessDenied, "\(error)") }
    }

    @Test("an advisory lock is one schema's: a store in another schema of the database neither waits for it nor skips its work")
    func locksPerSchema() async throws {
        let admin = try await PostgresPool.open(try PostgresTestServer.address())
        defer { admin.close() }
        let schemas = try (0..<2).map { _ in "lock_" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined() }
        for schema in schemas {
            try await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: .init(label: "t")) }
        }
        var failure: (any Error)?
        do {
            var pools: [PostgresPool] = []
            defer { for pool in pools { pool.close() } }
            for schema in [schemas[0], schemas[0], schemas[1]] {
                pools.append(try await PostgresPool.open(try PostgresTestServer.address(searchPath: schema), maximumConnections: 2))
            }
            let one = PostgresSQLDatabase(pools[0], writerLock: 1)
            let sameSchema = PostgresSQLDatabase(pools[1], writerLock: 1)
            let otherSchema = PostgresSQLDatabase(pools[2], writerLock: 1)
            let key: Int64 = 0x436F_6666_6572_7E57
            let held = try await Task.detached {
                try one.whileHolding(key) { (try sameSchema.whileHolding(key) { true }, try otherSchema.whileHolding(key) { true }) }
            }.value
            #expect(held?.0 == nil, "another instance of the same schema waits its turn")
            #expect(held?.1 == true, "a vault in another schema does its own work")
            #expect(try await Task.detached { try sameSchema.whileHolding(key) { true } }.value == true, "released after the body")
        } catch {
            failure = error
        }
        for schema in schemas {
            try? await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: .init(label: "t")) }
        }
        if let failure { throw failure }
    }

    @Test("migrations apply once, in order, also when two instances start at once; an unknown applied migration is refused")
    func migrations() async throws {
        let database = try await PostgresPool.open(try PostgresTestServer.address())
        defer { database.close() }
        let suffix = (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
        let migrator = PostgresMigrator([
            .init("test-\(suffix)-1", ["CREATE TABLE m_\(suffix) (id BIGINT PRIMARY KEY)"]),
            .init("test-\(suffix)-2", ["ALTER TABLE m_\(suffix) ADD COLUMN note TEXT"]),
        ])
        let other = try await PostgresPool.open(try PostgresTestServer.address())
        defer { other.close() }
        async let first = migrator.migrate(database)
        async let second = migrator.migrate(other)
        let (a, b) = try await (first, second)
        #expect((a + b).sorted() == ["test-\(suffix)-1", "test-\(suffix)-2"], "each applied exactly once")
        #expect(try await migrator.migrate(database).isEmpty)
        // A database migrated by a newer Coffer: this one refuses it.
        let older = PostgresMigrator([.init("test-\(suffix)-1", [])])
        await #expect(throws: CofferError.self) { try await older.migrate(database) }
        try await database.withConnection { c in
            _ = try await c.query(PostgresQuery(unsafeSQL: "DROP TABLE m_\(suffix)"), logger: .init(label: "t"))
            _ = try await c.query("DELETE FROM coffer_migration WHERE name LIKE \("test-\(suffix)-%")", logger: .init(label: "t"))
        }
    }
}
