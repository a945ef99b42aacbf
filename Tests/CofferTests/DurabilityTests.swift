import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

@Suite("Durable commits")
struct DurabilityTests {
    /// SQLite's `synchronous` on a pool's writer connection (2 is FULL: the WAL is synced at
    /// every commit; 1, NORMAL, syncs only at checkpoints).
    private func synchronous(_ pool: DatabasePool) throws -> Int? {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    }

    @Test("every vault file's writer syncs its WAL at each commit (GRDB's NORMAL is overridden)", .embeddedFilesOnly)
    func everyFileIsFull() async throws {
        try await withTestVault { test in
            let files = try #require(test.vault.files)
            let audit = try #require(test.vault.accessLog.log.sqlitePool)
            for (name, pool) in [("control", files.control), ("content", files.content), ("pii", files.pii), ("audit", audit)] {
                #expect(try synchronous(pool) == 2, "\(name).sqlite")
            }
            // Still so after a reopen (the setting is per connection, made at each open).
            let reopened = try await test.reopen()
            defer { try? reopened.close() }
            let again = try #require(reopened.files)
            #expect(try synchronous(again.content) == 2)
            #expect(try synchronous(try #require(reopened.accessLog.log.sqlitePool)) == 2)
        }
    }

    @Test("a put's reservation is not waited for on disk, and the writer is back at FULL after it, committed or not", .embeddedFilesOnly)
    func deferredReservation() async throws {
        try await withTestVault { test in
            try await test.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: Array("x".utf8), context: .test)
            let files = try #require(test.vault.files)
            #expect(try synchronous(files.content) == 2)
            let database = SQLiteDatabase(files.content)
            struct Refused: Error {}
            let seen = try await database.writeDeferringDurability { db in
                try db.fetchOne(Int.self, sql: "PRAGMA synchronous", arguments: [])
            }
            #expect(seen == 1)
            await #expect(throws: Refused.self) {
                try await database.writeDeferringDurability { db in
                    try db.execute(sql: "UPDATE object SET next_version = next_version + 100", arguments: [])
                    throw Refused()
                }
            }
            #expect(try synchronous(files.content) == 2)
            // The failed body was rolled back.
            let info = try await test.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: Array("y".utf8), context: .test)
            #expect(info.version.version == 2)
        }
    }
}
