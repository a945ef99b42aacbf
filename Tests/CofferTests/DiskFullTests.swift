import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// A tmpfs of `megabytes` mounted on a fresh directory for the duration of `body` (Coffer's
/// tests run as root on Linux, like CI).
func withSmallFilesystem<R>(megabytes: Int, _ body: (URL) async throws -> R) async throws -> R {
    let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-full-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: mountPoint) }
    guard mount("tmpfs", mountPoint.path, "tmpfs", 0, "size=\(megabytes)m,mode=0700") == 0 else {
        throw CofferError(.io, "cannot mount a tmpfs for the disk-full test (needs root): \(String(cString: strerror(errno)))")
    }
    defer { umount2(mountPoint.path, Int32(MNT_DETACH)) }
    return try await body(mountPoint)
}

@Suite("A full disk")
struct DiskFullTests {
    @Test("a put that fills the disk fails naming the cause, records its error, and the vault works again once space is freed")
    func fullDisk() async throws {
        try await withSmallFilesystem(megabytes: 48) { root in
            let directory = root.appendingPathComponent("vault")
            let vault = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "store-tests", segmentSize: 65536)
            try await vault.createTenant("acme", context: .test)
            let kept = testBytes(50_000, seed: 1)
            let (keptID, _) = try await vault.put(tenant: "acme", kind: .config, name: "kept", bytes: kept, context: .test)
            // Leave about 6 MiB free, then write 24 MiB.
            let filler = root.appendingPathComponent("filler")
            var info = statvfs()
            #expect(statvfs(root.path, &info) == 0)
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            #expect(FileManager.default.createFile(atPath: filler.path, contents: Data(count: max(0, free - 6 << 20))))

            let writer = try await vault.makeWriter(tenant: "acme", kind: .testResult, name: "too-big", context: .test)
            let error = await expectCofferError(.storage) {
                for n in 0..<24 { try await writer.write(testBytes(1 << 20, seed: UInt64(n))) }
                _ = try await writer.commit()
            }
            #expect(error?.message.contains("disk holding the vault is full") == true, "\(String(describing: error))")
            let failedID = writer.objectID

            try FileManager.default.removeItem(at: filler)
            // Usable again: reads and writes work, and the failed write's error outcome is in the
            // log (written late if the full disk refused it at first).
            expectSameBytes(try await vault.readAll(tenant: "acme", objectID: keptID, context: .test), kept)
            let after = testBytes(70_000, seed: 2)
            let (afterID, _) = try await vault.put(tenant: "acme", kind: .config, name: "after", bytes: after, context: .test)
            expectSameBytes(try await vault.readAll(tenant: "acme", objectID: afterID, context: .test), after)
            #expect(vault.accessLog.appender.deferredCount == 0)
            let records = try await vault.auditRecords(AuditQuery(objectID: failedID.rawValue, limit: 10), context: .testAuditor)
            #expect(records.contains { $0.action == "write" && $0.outcome == .allowed })
            #expect(records.contains { $0.action == "write" && $0.outcome == .error && $0.errorCode == "storage" },
                    "the allowed write does not stand alone: \(records.map { "\($0.outcome)" })")
            await expectCofferError(.notFound) { _ = try await vault.stat(tenant: "acme", objectID: failedID, context: .test) }
            _ = await vault.makeMaintenance().runOnce()
            #expect(try await vault.contentCount("SELECT count(*) FROM version WHERE state = 0") == 0, "no pending rows left")
            #expect(try await vault.verifyAuditLog(context: .testAuditor).ok)
            try vault.close()
        }
    }

    @Test("an error outcome the log cannot take at once is written ahead of the next record", .embeddedFilesOnly)
    func deferredErrorOutcome() async throws {
        try await withTestVault { t in
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "w", context: .test)
            let log = t.directory.appendingPathComponent("audit.sqlite").path
            try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: log)
            try await writer.abandon()
            #expect(t.vault.accessLog.appender.deferredCount == 1, "the log refused the error outcome; it waits")
            await expectCofferError(.auditUnavailable) { _ = try await t.vault.tenants(context: .admin) }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: log)
            _ = try await t.vault.tenants(context: .admin)
            #expect(t.vault.accessLog.appender.deferredCount == 0)
            let records = try await t.vault.auditRecords(AuditQuery(limit: 3), context: .testAuditor).reversed().map { $0 }
            #expect(records.map(\.action) == ["write", "list", "audit-read"])
            #expect(records.first?.objectID == writer.objectID.rawValue && records.first?.outcome == .error)
            #expect(try await t.vault.verifyAuditLog(context: .testAuditor).ok)
        }
    }
}
