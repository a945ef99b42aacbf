import Foundation
import GRDB
import Logging
import ServiceLifecycle
import Testing
@testable import Coffer
import CofferCrypto

/// A read transaction on `file` from another connection, held until `release()`: it keeps the
/// WAL from being checkpointed past its snapshot, as a long reader in another process would.
final class HeldReader: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let released = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(_ file: URL) throws {
        queue = try DatabaseQueue(path: file.path)
        let started = DispatchSemaphore(value: 0)
        let (queue, released, done) = (self.queue, self.released, self.done)
        Thread.detachNewThread {
            try? queue.read { db in
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM segment")
                started.signal()
                released.wait()
            }
            done.signal()
        }
        started.wait()
    }

    func release() {
        released.signal()
        done.wait()
    }
}

/// Size of `path` in bytes (0 when absent).
func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

@Suite("Background maintenance and WAL truncation")
struct MaintenanceTests {
    @Test("a delete behind a long reader returns at once, says the WAL still holds the ciphertext, and the retry clears it", .embeddedFilesOnly)
    func deleteBehindReader() async throws {
        try await withTestVault { t in
            let bytes = testBytes(30_000, seed: 11)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .scanResult, name: "s", bytes: bytes, context: .test)
            let row = try #require(try await t.vault.versionRowID(objectID: id, version: 1))
            let sealed = try await t.vault.segmentData(versionRowID: row, idx: 2)
            let reader = try HeldReader(t.directory.appendingPathComponent("content.sqlite"))
            let started = ContinuousClock.now
            let outcome = try await t.vault.delete(tenant: "acme", objectID: id, context: .test)
            #expect(ContinuousClock.now - started < .seconds(10), "no 30-second wait behind the reader")
            #expect(!outcome.ciphertextCleared, "the reader keeps the WAL, and the result says so")
            #expect(t.vault.janitor.pendingFiles == [.content])
            reader.release()
            let pass = await t.vault.makeMaintenance().runOnce()
            #expect(pass.walsCleared && pass.pendingWALs.isEmpty)
            #expect(fileSize(t.directory.appendingPathComponent("content.sqlite-wal").path) == 0)
            let slice = Array(sealed[1000..<1016])
            for file in try t.allFiles() {
                #expect(!contains(try Data(contentsOf: file), slice), "\(file.lastPathComponent) still holds the deleted ciphertext")
            }
        }
    }

    @Test("a delete with no reader in the way clears the ciphertext at once")
    func deleteClears() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .scanResult, name: "s", bytes: testBytes(9000), context: .test)
            #expect(try await t.vault.delete(tenant: "acme", objectID: id, context: .test).ciphertextCleared)
            #expect(t.vault.janitor.pendingFiles.isEmpty)
        }
    }

    @Test("the maintenance service in a ServiceGroup retries the truncation, signs checkpoints, and stops on graceful shutdown", .embeddedFilesOnly)
    func serviceGroup() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .scanResult, name: "s", bytes: testBytes(9000), context: .test)
            let reader = try HeldReader(t.directory.appendingPathComponent("content.sqlite"))
            #expect(!(try await t.vault.delete(tenant: "acme", objectID: id, context: .test).ciphertextCleared))
            let before = try await t.vault.auditCheckpoints(context: .testAuditor).count
            let group = ServiceGroup(configuration: .init(services: [t.vault.makeMaintenance(interval: .milliseconds(50))],
                                                          logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                reader.release()
                let deadline = ContinuousClock.now + .seconds(20)
                while !t.vault.janitor.pendingFiles.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(t.vault.janitor.pendingFiles.isEmpty, "the service emptied the WAL once the reader was gone")
                while try await t.vault.auditCheckpoints(context: .testAuditor).count == before, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await t.vault.auditCheckpoints(context: .testAuditor).count > before, "a checkpoint was signed")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(fileSize(t.directory.appendingPathComponent("content.sqlite-wal").path) == 0)
        }
    }

    @Test("coffer rm says where the ciphertext is: gone, or still in the files while a reader holds the WAL")
    func cliRemoveTellsTheTruth() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-rm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyring = dir.appendingPathComponent("keyring.json").path
        try Keyring.generate().write(to: keyring)
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: keyring)
        #expect(try cli.run(["init"]).status == 0)
        #expect(try cli.run(["tenant", "add", "acme"]).status == 0)
        func put(_ name: String) throws -> String {
            let result = try cli.run(["put", "--tenant", "acme", "--kind", "config", "--name", name], input: Data(testBytes(5000)))
            return String(result.output.split(separator: " ").first ?? "")
        }
        let first = try put("a"), second = try put("b")
        let reader = try HeldReader(cli.vault.appendingPathComponent("content.sqlite"))
        let held = try cli.run(["rm", "--tenant", "acme", first])
        reader.release()
        #expect(held.status == 0, "\(held.error)")
        #expect(held.output.contains("a reader still holds the WAL"), "\(held.output)")
        let clear = try cli.run(["rm", "--tenant", "acme", second])
        #expect(clear.status == 0, "\(clear.error)")
        #expect(clear.output.contains("gone from content.sqlite and its WAL"), "\(clear.output)")
    }
}
