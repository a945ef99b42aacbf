import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

/// Runs the `coffer` binary built beside the tests, as a separate process.
struct CofferCLI {
    let executable: URL
    let vault: URL
    let keyring: String

    static func locate() throws -> URL {
        var candidates: [URL] = []
        if let main = Bundle.main.executableURL { candidates.append(main.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        for directory in candidates {
            let url = directory.appendingPathComponent("coffer")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw CofferError(.notFound, "coffer binary not found beside the test bundle")
    }

    /// The environment the CLI runs with: this vault, this keyring, actor `cli-test`, purpose
    /// `service-operation`; `overrides` change or (nil) remove variables.
    func environment(_ overrides: [String: String?] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["COFFER_VAULT"] = vault.path
        environment["COFFER_KEYRING"] = keyring
        environment["COFFER_ACTOR"] = "cli-test"
        environment["COFFER_PURPOSE"] = "service-operation"
        for (name, value) in overrides { environment[name] = value }
        return environment
    }

    /// Runs to completion; returns exit status and standard output.
    @discardableResult
    func run(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String, error: String) {
        // posix_spawn rather than Foundation's Process.run, which intermittently crashes the test
        // process on this toolchain (see AuditTestSupport.swift).
        try spawn(arguments, input: input)
    }
}

@Suite("coffer CLI as a process")
struct CLIProcessTests {
    private func withCLI(_ body: (CofferCLI) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyring = dir.appendingPathComponent("keyring.json").path
        try Keyring.generate().write(to: keyring)
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: keyring)
        #expect(try cli.run(["init", "--segment-size", "65536"]).status == 0)
        #expect(try cli.run(["tenant", "add", "acme"]).status == 0)
        try await body(cli)
    }

    @Test("put, ls, get and rm through the CLI")
    func roundTrip() async throws {
        try await withCLI { cli in
            let content = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let put = try cli.run(["put", "--tenant", "acme", "--kind", "test-result", "--name", "run-1"], input: content)
            #expect(put.status == 0)
            let id = String(put.output.split(separator: " ")[0])
            let outPath = cli.vault.deletingLastPathComponent().appendingPathComponent("got.bin").path
            #expect(try cli.run(["get", "--tenant", "acme", id, "--out", outPath]).status == 0)
            let back = try Data(contentsOf: URL(fileURLWithPath: outPath))
            #expect(back == content)
            #expect(try cli.run(["ls", "--tenant", "acme"]).output.contains("run-1"))
            #expect(try cli.run(["rm", "--tenant", "acme", id]).status == 0)
            #expect(try cli.run(["stat", "--tenant", "acme", id]).status != 0)
        }
    }

    @Test("a missing purpose and an unknown tenant are refused with clear messages")
    func refusals() async throws {
        try await withCLI { cli in
            let noPurpose = try cli.spawn(["ls", "--tenant", "acme"], environment: ["COFFER_PURPOSE": nil])
            let message = noPurpose.error
            #expect(noPurpose.status != 0)
            #expect(message.contains("purpose-missing"))
            let unknown = try cli.run(["ls", "--tenant", "globex"])
            #expect(unknown.status != 0)
            #expect(unknown.error.contains("unknown-tenant"))
        }
    }

    @Test("kill -9 during a put leaves no object, a sound database and a working vault")
    func killDuringPut() async throws {
        try await withCLI { cli in
            let put = try cli.launch(["put", "--tenant", "acme", "--kind", "run-telemetry", "--name", "interrupted"], pipeInput: true)
            // Enough for several committed batches of segment rows, then kill mid-stream.
            let chunk = Data(repeating: 0x5A, count: 1 << 20)
            for _ in 0..<48 { try put.write(chunk) }
            let vaultPath = cli.vault.path
            let pendingRows = try DatabaseQueue(path: vaultPath + "/content.sqlite").read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM segment") ?? 0
            }
            #expect(pendingRows > 0, "the put had stored segment rows before it was killed")
            kill(put.pid, SIGKILL)
            #expect(try put.wait().status == 128 + SIGKILL)

            // The next command opens the vault, which clears the dead writer's rows.
            let listing = try cli.run(["ls", "--tenant", "acme"])
            #expect(listing.status == 0)
            #expect(!listing.output.contains("interrupted"))
            for file in ["content.sqlite", "control.sqlite"] {
                let queue = try DatabaseQueue(path: vaultPath + "/" + file)
                let check = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
                #expect(check == ["ok"], "\(file)")
            }
            let leftovers = try DatabaseQueue(path: vaultPath + "/content.sqlite").read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM segment") ?? -1,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM object") ?? -1)
            }
            #expect(leftovers == (0, 0))
            let after = try cli.run(["put", "--tenant", "acme", "--kind", "run-telemetry", "--name", "after"], input: Data("fine".utf8))
            #expect(after.status == 0)
        }
    }
}
