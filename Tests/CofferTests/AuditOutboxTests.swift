import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

// A small put is one transaction of content.sqlite holding its record (the outbox); the log's
// committer moves the record into audit.sqlite afterwards. These tests pin what that must keep:
// the record reaches the log, in order, exactly once; rows deleted before the log took them
// stop the log; a content file older than the log never reuses an id the log has counted.
@Suite("Small puts record in their own transaction (the outbox)")
struct AuditOutboxTests {
    @Test("a small put's record commits with the version and reaches the log once, with the write's fields", .embeddedFilesOnly)
    func recordReachesTheLog() async throws {
        try await withTestVault { t in
            let before = try t.auditLogSize()
            let (id, version) = try await t.vault.put(tenant: "acme", kind: .config, name: "small", bytes: testBytes(4096), context: .test)
            let added = try t.auditRecords(after: before)
            #expect(added.count == 1)
            let record = try #require(added.first)
            #expect(record.action == "write" && record.outcome == .allowed && record.role == "service")
            #expect(record.actor == "store-tests" && record.tenant == "acme" && record.objectKind == "config")
            #expect(record.objectID == id.rawValue && record.objectVersion == version.version)
            // Taken once: later batches do not take it again, and the drained rows go.
            _ = try await t.vault.tenants(context: .admin)
            #expect(try t.auditRecords(after: before).filter { $0.action == "write" }.count == 1)
            try await waitUntil { try await t.vault.contentCount("SELECT count(*) FROM audit_outbox") == 0 }
            #expect(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) == testBytes(4096))
        }
    }

    @Test("a put's record precedes the record of reading it back, in one process", .embeddedFilesOnly)
    func order() async throws {
        try await withTestVault { t in
            let before = try t.auditLogSize()
            for i in 0..<20 {
                let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "o\(i)", bytes: testBytes(100, seed: UInt64(i)), context: .test)
                _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            }
            let actions = try t.auditRecords(after: before).map(\.action)
            #expect(actions == Array(repeating: ["write", "read"], count: 20).flatMap { $0 })
        }
    }

    @Test("outbox rows deleted before the log took them stop every access with tamper-detected", .embeddedFilesOnly,
          arguments: ["tail", "gap"])
    func deletedRows(_ where: String) async throws {
        try await withTestVault { t in
            let content = try #require(t.vault.files?.content)
            let entry = AuditEntry(time: nowMilliseconds(), actor: "store-tests", tenant: "acme", action: .write, dataClass: .content,
                                   purpose: .serviceOperation, outcome: .allowed)
            // Three records a put would have left (its process killed before the drain), then one removed.
            try await content.write { db in for _ in 0..<3 { try AuditOutbox.insert(entry, in: db) } }
            let ids = try await content.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM audit_outbox ORDER BY id") }
            try #require(ids.count == 3)
            let removed = `where` == "tail" ? ids[2] : ids[1]
            try await content.write { db in try db.execute(sql: "DELETE FROM audit_outbox WHERE id = ?", arguments: [removed]) }

            // Verification names it (it reads what waits as part of the log), or, when the
            // committer looked first (it looks at least once a second), refuses to run at all,
            // since its own record cannot be written.
            do {
                let verdict = try await t.verifyLog()
                #expect(!verdict.ok)
                #expect(verdict.problem?.contains("deleted from content.sqlite") == true, "\(verdict)")
            } catch let error as CofferError {
                #expect(error.code == .tamperDetected, "\(error)")
            }
            // From then on nothing is recorded, so nothing is allowed; nothing is stored.
            let size = try await t.vault.accessLog.log.pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT tree_size FROM log_state") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.tenants(context: .admin) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.put(tenant: "acme", kind: .config, name: "x", bytes: testBytes(10), context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.list(tenant: "acme", context: .test) }
            let after = try await t.vault.accessLog.log.pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT tree_size FROM log_state") }
            #expect(after == size)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
        }
    }

    @Test("a process killed before its drain leaves records the next open moves into the log", .embeddedFilesOnly)
    func leftRecords() async throws {
        try await withTestVault { t in
            let content = try #require(t.vault.files?.content)
            let entry = AuditEntry(time: nowMilliseconds(), actor: "store-tests", tenant: "acme", objectID: "obj_left", action: .write,
                                   dataClass: .content, purpose: .serviceOperation, outcome: .allowed)
            try await content.write { db in for _ in 0..<2 { try AuditOutbox.insert(entry, in: db) } }
            let reopened = try await t.reopen()
            defer { try? reopened.close() }
            let records = try await reopened.auditRecords(AuditQuery(objectID: "obj_left"), context: .testAuditor)
            #expect(records.count == 2)
            #expect(try await reopened.verifyAuditLog(context: .testAuditor).ok)
        }
    }

    @Test("a content.sqlite older than the log takes ids after those the log has counted", .embeddedFilesOnly)
    func olderContentFile() async throws {
        try await withTestVault { t in
            let before = try t.auditLogSize()
            _ = try await t.vault.put(tenant: "acme", kind: .config, name: "first", bytes: testBytes(64), context: .test)
            _ = try await t.vault.put(tenant: "acme", kind: .config, name: "second", bytes: testBytes(64), context: .test)
            #expect(try t.auditRecords(after: before).filter { $0.action == "write" }.count == 2)
            try t.vault.close()
            // As a content.sqlite copied before those puts would be: no outbox ids given yet.
            let file = try DatabaseQueue(path: t.directory.appendingPathComponent("content.sqlite").path)
            try await file.write { db in
                try db.execute(sql: "DELETE FROM sqlite_sequence WHERE name = 'audit_outbox'")
                try db.execute(sql: "DELETE FROM audit_outbox")
            }
            try file.close()

            let reopened = try await t.reopen()
            defer { try? reopened.close() }
            let (id, _) = try await reopened.put(tenant: "acme", kind: .config, name: "third", bytes: testBytes(64), context: .test)
            let records = try await reopened.auditRecords(AuditQuery(objectID: id.rawValue), context: .testAuditor)
            #expect(records.map(\.action) == ["write"], "the third put's record never reached the log")
        }
    }

    @Test("with the log read-only a small put takes the ordinary path and is refused; nothing waits in the outbox", .embeddedFilesOnly)
    func readOnlyLog() async throws {
        try await withTestVault { t in
            try t.setAuditFileMode(0o400)
            defer { try? t.setAuditFileMode(0o600) }
            await expectCofferError(.auditUnavailable) {
                _ = try await t.vault.put(tenant: "acme", kind: .config, name: "refused", bytes: testBytes(100), context: .test)
            }
            #expect(try await t.vault.contentCount("SELECT count(*) FROM audit_outbox") == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
        }
    }
}

/// Polls `condition` (every 10 ms, for up to 5 s) until it holds.
private func waitUntil(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("the condition did not hold within 5 s")
}
