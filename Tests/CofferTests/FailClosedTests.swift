import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

// Fail closed beyond the file-mode pre-check: the log file deleted while the vault is open, calls
// after close(), a read-only vault directory, and a real write failure (a full filesystem under
// the log). Each time every operation throws, no byte reaches a sink, and nothing changes.

/// A snapshot of everything stored besides the log: every row of every table of the content,
/// PII and control files, read through raw read-only connections.
private func storedState(_ t: TestVault) throws -> [String: [String]] {
    try storedStateRaw(t)
}

/// What differs between two ``storedState`` snapshots, for failure messages.
private func difference(_ a: [String: [String]], _ b: [String: [String]]) -> String {
    Set(a.keys).union(b.keys).sorted().compactMap { key in
        a[key] == b[key] ? nil : "\(key): \(Set(a[key] ?? []).subtracting(b[key] ?? [])) -> \(Set(b[key] ?? []).subtracting(a[key] ?? []))"
    }.joined(separator: "; ")
}

private func storedStateRaw(_ t: TestVault) throws -> [String: [String]] {
    var state: [String: [String]] = [:]
    for file in [Vault.FileName.content, Vault.FileName.pii, Vault.FileName.control] {
        try withRawReadOnly(t, file) { db in
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
                state["\(file)/\(table)"] = try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\" ORDER BY rowid").map(\.description)
            }
        }
    }
    return state
}

/// The log's size as its file says, read raw.
private func rawLogSize(_ t: TestVault) throws -> Int64 {
    try withRawReadOnly(t, Vault.FileName.audit) { db in try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state") ?? -1 }
}

/// A vault holding one object and one subject, for the fail-closed batteries.
private struct Fixture {
    let objectID: ObjectID
    let content: [UInt8]
    let subjectID: SubjectID
}

private func makeFixture(_ t: TestVault) async throws -> Fixture {
    let content = testBytes(20_000, seed: 31)
    let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: content, context: .test)
    let subject = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: "AE", context: .piiService)
    return Fixture(objectID: id, content: content, subjectID: subject)
}

/// Every kind of operation against `vault`: each must throw `code` (a ``CofferError``), no byte
/// may reach a sink, and (checked by the caller) nothing may change.
private func expectEverythingRefused(_ vault: Vault, _ f: Fixture, code: CofferError.Code, _ label: String,
                                     putCode: CofferError.Code? = nil,
                                     sourceLocation: SourceLocation = #_sourceLocation) async {
    var served: [UInt8] = []
    func expect(_ what: String, code: CofferError.Code = code, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("\(label): \(what) succeeded", sourceLocation: sourceLocation)
        } catch let error as CofferError {
            #expect(error.code == code, "\(label): \(what): \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(label): \(what) threw \(type(of: error)) \(error), not a CofferError", sourceLocation: sourceLocation)
        }
    }
    await expect("whole read") { try await vault.read(tenant: "acme", objectID: f.objectID, context: .test) { served += $0 } }
    await expect("range read") {
        try await vault.read(tenant: "acme", objectID: f.objectID, range: 0...99, context: .test) { served += $0 }
    }
    #expect(served.isEmpty, "\(label): \(served.count) bytes reached the sink", sourceLocation: sourceLocation)
    await expect("stat") { _ = try await vault.stat(tenant: "acme", objectID: f.objectID, context: .test) }
    await expect("list") { _ = try await vault.list(tenant: "acme", context: .test) }
    await expect("put of a new object", code: putCode ?? code) {
        _ = try await vault.put(tenant: "acme", kind: .testResult, name: "new", bytes: f.content, context: .test)
    }
    await expect("put of a new version", code: putCode ?? code) {
        _ = try await vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: [1, 2, 3], context: .test)
    }
    await expect("delete") { try await vault.delete(tenant: "acme", objectID: f.objectID, context: .test) }
    await expect("PII read") { _ = try await vault.subject(f.subjectID, context: .piiOfficer) }
    await expect("PII correction") { try await vault.correctSubject(f.subjectID, field: .company, value: "X", context: .piiOfficer) }
    await expect("PII add") {
        _ = try await vault.addSubject(tenant: "acme", name: "Eve", email: "eve@example.com", company: nil, context: .piiService)
    }
    await expect("find by email") { _ = try await vault.findSubjects(email: "ada@example.com", context: .piiService) }
    await expect("a refusal") { _ = try await vault.readAll(tenant: "acme", objectID: f.objectID, context: accessContext("nobody", .support)) }
    await expect("tenant listing") { _ = try await vault.tenants(context: .admin) }
}

/// Whether this process may mount filesystems (root on Linux; CI runs as root).
let canMount: Bool = getuid() == 0

func mount(_ arguments: [String]) throws {
    let result = try spawnProcess("mount", arguments)
    guard result.status == 0 else { throw CofferError(.io, "mount \(arguments.joined(separator: " ")) failed: \(result.error)") }
}

func unmount(_ path: String) {
    for _ in 0..<20 {
        if (try? spawnProcess("umount", [path]))?.status == 0 { return }
        usleep(100_000)
    }
    Issue.record("could not unmount \(path)")
}

@Suite("Fail closed: the log gone, the vault closed, a read-only directory, a full disk")
struct FailClosedTests {
    @Test("the log file deleted while the vault is open: everything is refused, nothing served or changed", .embeddedFilesOnly)
    func logDeletedWhileOpen() async throws {
        try await withPIIVault { t in
            let f = try await makeFixture(t)
            let before = try storedState(t)
            try FileManager.default.removeItem(at: t.auditURL)
            await expectEverythingRefused(t.vault, f, code: .auditUnavailable, "log deleted")
            let after = try storedState(t)
            #expect(after == before, "\(difference(before, after))")
            try? t.vault.close()
            // Reopening refuses too: the vault knows it had a log.
            await expectCofferError(.auditUnavailable) { _ = try await t.reopen() }
            #expect(!FileManager.default.fileExists(atPath: t.auditURL.path), "the log is not recreated empty")
        }
    }

    @Test("calls after close() are refused with audit-unavailable; nothing served or changed", .embeddedFilesOnly)
    func afterClose() async throws {
        try await withPIIVault { t in
            let f = try await makeFixture(t)
            let size = try t.auditLogSize()
            try t.vault.close()
            let before = try storedState(t)
            await expectEverythingRefused(t.vault, f, code: .auditUnavailable, "after close")
            let after = try storedState(t)
            #expect(after == before, "\(difference(before, after))")
            #expect(try rawLogSize(t) == size)
            // A second close is harmless, and the vault opens again afterwards.
            try? t.vault.close()
            let reopened = try await t.reopen()
            expectSameBytes(try await reopened.readAll(tenant: "acme", objectID: f.objectID, context: .test), f.content)
            try reopened.close()
        }
    }

    @Test("a read-only vault directory (read-only bind mount): nothing opens, is served, recorded or changed",
          .enabled(if: canMount, "needs root to mount"), .embeddedFilesOnly)
    func readOnlyDirectory() async throws {
        try await withPIIVault { t in
            let f = try await makeFixture(t)
            let size = try t.auditLogSize()
            try t.vault.close()
            let before = try storedState(t)
            let view = t.directory.deletingLastPathComponent().appendingPathComponent("ro-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: view, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: view) }
            try mount(["--bind", t.directory.path, view.path])
            defer { unmount(view.path) }
            try mount(["-o", "remount,bind,ro", view.path])
            do {
                let vault = try Vault.open(at: view, keyring: t.keyring)
                vault.configurePII(t.vault.piiSettings)
                // A put's writer lock cannot be made in writers/ either, but the refusal to record
                // comes first, as for every other operation.
                await expectEverythingRefused(vault, f, code: .auditUnavailable, "read-only directory", putCode: .auditUnavailable)
                try? vault.close()
            } catch let error as CofferError {
                // Refusing to open at all is as closed as it gets; the message must say why.
                #expect([.storage, .auditUnavailable].contains(error.code), "\(error)")
            }
            let after = try storedState(t)
            #expect(after == before, "\(difference(before, after))")
            #expect(try rawLogSize(t) == size)
        }
    }

    @Test("a full filesystem under the log (tmpfs): every operation is refused; freeing space restores service",
          .enabled(if: canMount, "needs root to mount a tmpfs"), .embeddedFilesOnly)
    func logOnFullDisk() async throws {
        try await withPIIVault { t in
            let f = try await makeFixture(t)
            try t.vault.close()
            // The log moves to a small tmpfs; audit.sqlite becomes a symlink to it. SQLite resolves
            // the link, so the WAL and shared-memory files live on the tmpfs too.
            let disk = t.directory.deletingLastPathComponent().appendingPathComponent("tmpfs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: disk) }
            try mount(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", disk.path])
            defer { unmount(disk.path) }
            let moved = disk.appendingPathComponent("audit.sqlite")
            try FileManager.default.copyItem(at: t.auditURL, to: moved)
            try FileManager.default.removeItem(at: t.auditURL)
            try FileManager.default.createSymbolicLink(at: t.auditURL, withDestinationURL: moved)
            let vault = try await t.reopen()
            vault.configurePII(t.vault.piiSettings)
            expectSameBytes(try await vault.readAll(tenant: "acme", objectID: f.objectID, context: .test), f.content)
            #expect(FileManager.default.fileExists(atPath: moved.path + "-wal"), "the WAL is on the tmpfs")
            // Empty the WAL, then fill the filesystem.
            try await vault.accessLog.log.sqlitePool!.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            let filler = disk.appendingPathComponent("filler")
            let fd = open(filler.path, O_WRONLY | O_CREAT, 0o600)
            try #require(fd >= 0)
            let block = [UInt8](repeating: 0xAA, count: 4096)
            var writes = 0
            while write(fd, block, block.count) == block.count { writes += 1 }
            #expect(errno == ENOSPC)
            close(fd)
            #expect(writes > 0)
            let size = try await vault.accessLog.log.pool.read { db in try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state") ?? -1 }
            let before = try storedState(t)
            await expectEverythingRefused(vault, f, code: .auditUnavailable, "disk full")
            let after = try storedState(t)
            #expect(after == before, "\(difference(before, after))")
            let sizeAfter = try await vault.accessLog.log.pool.read { db in try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state") ?? -1 }
            #expect(sizeAfter == size)

            // Space again: service resumes and the log verifies.
            try FileManager.default.removeItem(at: filler)
            expectSameBytes(try await vault.readAll(tenant: "acme", objectID: f.objectID, context: .test), f.content)
            #expect(try await vault.verifyAuditLog(context: .testAuditor).ok)
            try vault.close()
        }
    }
}
