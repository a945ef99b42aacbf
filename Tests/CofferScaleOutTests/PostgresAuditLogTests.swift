@testable import Coffer
import CofferCrypto
@testable import CofferScaleOut
import CofferSQL
import Foundation
import Logging
import CofferScaleOutTestSupport
import Testing

@Suite("The access log on PostgreSQL", .enabled(if: ScaleOutTestServers.postgresAvailable), .serialized)
struct PostgresAuditLogTests {
    @Test("four instances appending at once: one ordered, gap-free log that verifies, with its checkpoints, and counts what committed")
    func concurrentInstances() async throws {
        let keyring = try Keyring.generate()
        let keyID = try keyring.requiredSecret(for: .auditSigning).id
        try await ScaleOutTestServers.withFreshSchemas { main, pii in
            let logger = Logger(label: "test")
            let instances = 4, batches = 110  // 1,092 records: past the first automatic checkpoint (1,024)
            let committed = try await withThrowingTaskGroup(of: Int.self) { group in
                for instance in 0..<instances {
                    group.addTask {
                        let databases = try await PostgresVaultDatabases.open(main: main, pii: pii, connections: 2, logger: logger)
                        defer { databases.close() }
                        let log = try AuditLog(database: databases.audit, path: nil, keyring: keyring, keyID: keyID, logger: logger)
                        var written = 0
                        for n in 0..<batches {
                            let entries = (0...(n % 4)).map { i in
                                AuditEntry(time: nowMilliseconds(), actor: PrincipalID("instance-\(instance)"), tenant: TenantID("t\(i)"),
                                           objectID: "o-\(n)-\(i)", action: .read, dataClass: .content, purpose: .serviceOperation,
                                           outcome: .allowed, bytes: 4096)
                            }
                            // Each commit on a blocking thread, as the vault's group committer runs it.
                            let stored = try await Task.detached { try log.commit(entries) }.value
                            written += stored.count
                        }
                        return written
                    }
                }
                return try await group.reduce(0, +)
            }
            let databases = try await PostgresVaultDatabases.open(main: main, pii: pii, connections: 2, logger: logger)
            defer { databases.close() }
            let log = try AuditLog(database: databases.audit, path: nil, keyring: keyring, keyID: keyID, logger: logger)
            let verdict = try log.verify()
            #expect(verdict.ok, "\(verdict.problem ?? "")")
            #expect(verdict.treeSize == Int64(committed))
            #expect(verdict.recordsChecked == Int64(committed))
            #expect(verdict.checkpointsChecked >= 1, "a checkpoint signed under the row lock by whichever instance crossed 1,024")
            let sequences = try await databases.audit.read { try $0.fetchAll(Int64.self, sql: "SELECT seq FROM record ORDER BY seq") }
            #expect(sequences == Array(1...Int64(committed)), "no gap, no duplicate")
            let actors = try await databases.audit.read { try $0.fetchAll(String.self, sql: "SELECT DISTINCT actor FROM record ORDER BY actor") }
            #expect(actors.count == instances)
        }
    }

    @Test("a record edited in the table is caught by verification, as in audit.sqlite")
    func tamperCaught() async throws {
        let keyring = try Keyring.generate()
        let keyID = try keyring.requiredSecret(for: .auditSigning).id
        try await ScaleOutTestServers.withFreshSchemas { main, pii in
            let logger = Logger(label: "test")
            let databases = try await PostgresVaultDatabases.open(main: main, pii: pii, connections: 2, logger: logger)
            defer { databases.close() }
            let log = try AuditLog(database: databases.audit, path: nil, keyring: keyring, keyID: keyID, logger: logger)
            let entries = (0..<5).map { i in
                AuditEntry(time: nowMilliseconds(), actor: PrincipalID("svc"), objectID: "o\(i)", action: .read, dataClass: .content,
                           purpose: .serviceOperation, outcome: .allowed)
            }
            _ = try await Task.detached { try log.commit(entries) }.value
            #expect(try log.verify().ok)
            try await databases.audit.write { db in try db.execute(sql: "UPDATE record SET actor = ? WHERE seq = ?", arguments: ["someone-else", 3]) }
            let verdict = try log.verify()
            #expect(!verdict.ok)
            #expect(verdict.firstBadRecord == 3)
            try await databases.audit.write { db in try db.execute(sql: "DELETE FROM record WHERE seq = ?", arguments: [3]) }
            #expect(try log.verify().firstBadRecord == 3)
        }
    }
}
