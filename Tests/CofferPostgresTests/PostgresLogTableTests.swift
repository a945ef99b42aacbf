import CofferCrypto
import CofferPostgres
import Foundation
import PostgresNIO
import Testing

/// A schema of its own per test, so runs never see each other's log.
private func withLogDatabase(_ body: (PostgresPool, PostgresAddress) async throws -> Void) async throws {
    let admin = try await PostgresPool.open(try PostgresTestServer.address())
    defer { admin.close() }
    let schema = "log_" + (try SecureRandom.bytes(6)).map { String(format: "%02x", $0) }.joined()
    try await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: .init(label: "t")) }
    defer {
        Task { try? await admin.withConnection { c in _ = try await c.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: .init(label: "t")) } }
    }
    let address = try PostgresTestServer.address(searchPath: schema)
    let database = try await PostgresPool.open(address)
    defer { database.close() }
    try await PostgresMigrator(PostgresLogTable.migrations).migrate(database)
    try await body(database, address)
}

@Suite("The access log's table on PostgreSQL", .enabled(if: PostgresTestServer.available), .serialized)
struct PostgresLogTableTests {
    @Test("four instances appending at once, some transactions failing: positions gap-free, each chain value from the one before")
    func concurrentAppends() async throws {
        try await withLogDatabase { _, address in
            let chain: @Sendable ([UInt8], [UInt8]) throws -> [UInt8] = { head, body in try SHA256.hash(head + body) }
            let committed = try await withThrowingTaskGroup(of: Int.self) { group in
                for instance in 0..<4 {
                    group.addTask {
                        let database = try await PostgresPool.open(address, maximumConnections: 2)
                        defer { database.close() }
                        let log = PostgresLogTable(database)
                        var written = 0
                        for n in 0..<25 {
                            let batch = (0...(n % 3)).map { Array("i\(instance)-\(n)-\($0)".utf8) }
                            if n % 7 == 3 {
                                // A failing chain: the transaction rolls back and leaves no hole.
                                await #expect(throws: CofferError.self) {
                                    _ = try await log.append(batch) { _, _ in throw CofferError(.storage, "injected") }
                                }
                                continue
                            }
                            _ = try await log.append(batch, chain: chain)
                            written += batch.count
                        }
                        return written
                    }
                }
                return try await group.reduce(0, +)
            }
            let database = try await PostgresPool.open(address)
            defer { database.close() }
            let log = PostgresLogTable(database)
            let (size, head) = try await log.state()
            #expect(size == Int64(committed))
            let records = try await log.records(from: 0, to: size)
            #expect(records.map(\.seq) == Array(0..<size), "no gap, no duplicate")
            var expected: [UInt8] = []
            for record in records {
                expected = try chain(expected, record.body)
                #expect(record.chain == expected)
            }
            #expect(head == expected)
        }
    }
}
