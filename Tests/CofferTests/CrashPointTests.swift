import Foundation
import GRDB
import Testing
@testable import Coffer

// The CLI killed (`_exit(137)`, through COFFER_CRASH_AT and Sources/Coffer/Support/CrashPoint.swift)
// at points inside a commit, a delete and the log's group commit. Afterwards every SQLite file
// passes `PRAGMA integrity_check`, the log verifies, the object is absent or complete (never
// partial), nothing was served, and the vault keeps working.
// (Key rotation killed between rewrap batches: RotationCrashTests in KeyRotationCLITests.swift.)

/// One crash point and what must hold after it.
struct CrashCase: Sendable, CustomTestStringConvertible {
    enum Operation: Sendable { case put, delete, get }
    /// What happens to the object the operation concerns.
    enum After: Sendable { case absent, complete }
    let point: String
    let operation: Operation
    let after: After
    /// A put of a few KiB: one transaction with its record (the outbox), not a writer.
    var small = false
    var testDescription: String { small ? "\(point) (small put)" : point }
}

private let crashCases: [CrashCase] = [
    CrashCase(point: "commit.after-segments", operation: .put, after: .absent),
    CrashCase(point: "commit.after-segments", operation: .put, after: .absent, small: true),
    CrashCase(point: "put.after-commit", operation: .put, after: .complete, small: true),
    CrashCase(point: "commit.after-transaction", operation: .put, after: .complete),
    CrashCase(point: "delete.after-rows", operation: .delete, after: .complete),
    CrashCase(point: "delete.before-wal-truncate", operation: .delete, after: .absent),
    CrashCase(point: "audit.after-records", operation: .get, after: .complete),
    CrashCase(point: "audit.after-commit", operation: .get, after: .complete),
]

/// More than one 8 MiB batch at 64 KiB segments, so a put has stored segment rows before it commits
/// (used where that matters: a crash inside the commit transaction).
private let largeCrashContent: Data = Data(testBytes(9 * 1024 * 1024 + 12_345, seed: 77))
/// Several segments, for the other points (less work on a shared CI machine).
private let smallCrashContent: Data = Data(testBytes(200_000, seed: 79))
/// One transaction's worth (`Vault.oneTransactionPutLimit`).
private let smallPutContent: Data = Data(testBytes(5_000, seed: 80))

@Suite("Crash at injected points (COFFER_CRASH_AT)", .serialized)  // one CLI pipeline at a time: less load on shared CI cores
struct CrashPointTests {
    @Test("killed inside commit, delete and the log's group commit: sound files, verified log, no partial object",
          arguments: crashCases)
    func crash(_ c: CrashCase) async throws {
        let crashContent = c.small ? smallPutContent : c.point == "commit.after-segments" ? largeCrashContent : smallCrashContent
        try await withAuditCLI { cli in
            // An object the delete and get cases act on.
            let existing = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-result", "--name", "existing"], input: crashContent)
            try #require(existing.status == 0, "\(existing.error)")
            let existingID = String(existing.output.split(separator: " ")[0])
            let crash = ["COFFER_CRASH_AT": c.point]
            let run: (status: Int32, output: String, error: String)
            switch c.operation {
            case .put:
                run = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-result", "--name", "crashed"], input: crashContent,
                                    environment: crash)
            case .delete:
                run = try cli.spawn(["rm", "--tenant", "acme", existingID], environment: crash)
            case .get:
                run = try cli.spawn(["get", "--tenant", "acme", existingID], environment: crash)
            }
            #expect(run.status == 137, "the process did not stop at \(c.point): status \(run.status), \(run.error)")
            #expect(run.output.isEmpty, "a killed process printed or served \(run.output.utf8.count) bytes")

            // Every SQLite file is sound (this also replays each WAL, as the next open would).
            for file in ["control.sqlite", "content.sqlite", "audit.sqlite", "pii.sqlite"] {
                let queue = try DatabaseQueue(path: cli.vault.appendingPathComponent(file).path)
                let check = try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
                try queue.close()
                #expect(check == ["ok"], "\(file) after \(c.point): \(check)")
            }
            let verify = try cli.spawn(["audit", "verify"])
            #expect(verify.status == 0, "audit verify after \(c.point): \(verify.output) \(verify.error)")

            // The object concerned is absent or complete, never partial.
            let listing = try cli.spawn(["ls", "--tenant", "acme"])
            #expect(listing.status == 0, "\(listing.error)")
            let name = c.operation == .put ? "crashed" : "existing"
            let listed = listing.output.split(separator: "\n").first { $0.contains(" \(name)") || $0.hasSuffix(name) }
            switch c.after {
            case .absent:
                #expect(listed == nil, "\(name) is listed after \(c.point): \(listing.output)")
            case .complete:
                let line = try #require(listed, "\(name) is missing after \(c.point): \(listing.output)")
                let id = String(line.split(separator: " ")[0])
                let out = cli.vault.deletingLastPathComponent().appendingPathComponent("got-\(name).bin")
                let get = try cli.spawn(["get", "--tenant", "acme", id, "--out", out.path])
                #expect(get.status == 0, "\(get.error)")
                let back = try Data(contentsOf: out)
                #expect(back.count == crashContent.count, "\(name) after \(c.point) reads \(back.count) bytes")
                #expect(back == crashContent, "\(name) after \(c.point) reads other bytes")
                if c.operation == .put {
                    // Its allowed write is in the log exactly once (a small put's record was in the
                    // outbox when the process died; the next open moved it).
                    let writes = try await DatabaseQueue(path: cli.vault.appendingPathComponent("audit.sqlite").path).read { db in
                        try Int.fetchOne(db, sql: "SELECT count(*) FROM record WHERE object_id = ? AND action = 'write' AND outcome = 'allowed'",
                                         arguments: [id]) ?? -1
                    }
                    #expect(writes == 1, "allowed write records of \(name) after \(c.point)")
                }
            }
            // No pending version and no dead writer's lock file is left once the vault was opened again.
            let leftovers = try await DatabaseQueue(path: cli.vault.appendingPathComponent("content.sqlite").path).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM version WHERE state = 0") ?? -1
            }
            #expect(leftovers == 0, "pending versions after \(c.point)")
            let locks = try FileManager.default.contentsOfDirectory(atPath: cli.vault.appendingPathComponent("writers").path)
            #expect(locks.isEmpty, "lock files left after \(c.point): \(locks)")

            // The vault keeps working.
            let after = try cli.spawn(["put", "--tenant", "acme", "--kind", "run-telemetry", "--name", "after"], input: Data("fine".utf8))
            #expect(after.status == 0, "\(after.error)")
            let afterID = String(after.output.split(separator: " ")[0])
            #expect(try cli.spawn(["get", "--tenant", "acme", afterID]).output == "fine")
            #expect(try cli.spawn(["audit", "verify"]).status == 0)
        }
    }

    @Test("killed after a delete committed but before its WAL checkpoint: the next open leaves no deleted ciphertext")
    func deletedCiphertextAfterCrash() async throws {
        try await withAuditCLI { cli in
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-result", "--name", "doomed"], input: Data(testBytes(300_000, seed: 78)))
            try #require(put.status == 0)
            let id = String(put.output.split(separator: " ")[0])
            var configuration = Configuration()
            configuration.readonly = true
            let raw = try DatabaseQueue(path: cli.vault.appendingPathComponent("content.sqlite").path, configuration: configuration)
            let segments = try await raw.read { db in
                try Data.fetchAll(db, sql: "SELECT s.data FROM segment s JOIN version v ON v.id = s.version_id WHERE v.object_id = ?",
                                  arguments: [id]).map { [UInt8]($0) }
            }
            try raw.close()
            #expect(segments.count == 5)
            let run = try cli.spawn(["rm", "--tenant", "acme", id], environment: ["COFFER_CRASH_AT": "delete.before-wal-truncate"])
            #expect(run.status == 137)
            // The next command opens the vault (and closes it).
            #expect(try cli.spawn(["ls", "--tenant", "acme"]).status == 0)
            // The delete's TRUNCATE checkpoint never ran; the next open (the `ls`) empties every WAL.
            let residue = try segments.map { segment in
                try vaultFiles(under: cli.vault, containing: Array(segment[segment.count / 2..<segment.count / 2 + 16]))
            }
            for (i, hits) in residue.enumerated() { #expect(hits.isEmpty, "a slice of segment \(i) is still in \(hits)") }
            // A later delete checkpoints the WAL and removes it.
            let other = try cli.spawn(["put", "--tenant", "acme", "--kind", "config", "--name", "x"], input: Data("x".utf8))
            #expect(try cli.spawn(["rm", "--tenant", "acme", String(other.output.split(separator: " ")[0])]).status == 0)
            for segment in segments {
                #expect(try vaultFiles(under: cli.vault, containing: Array(segment[segment.count / 2..<segment.count / 2 + 16])).isEmpty)
            }
        }
    }

    @Test("an unset or unknown COFFER_CRASH_AT changes nothing")
    func unarmed() async throws {
        try await withAuditCLI { cli in
            for value in ["", "no.such-point"] {
                let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "config", "--name", "n\(value.count)"], input: Data("x".utf8),
                                        environment: ["COFFER_CRASH_AT": value])
                #expect(put.status == 0, "\(put.error)")
            }
        }
    }
}
