import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

@Suite("CLI input and failure handling")
struct InputCLITests {
    @Test("--since, --until, --from and --to refuse junk, impossible times and missing offsets with invalid-argument",
          arguments: ["2026-12-03junk", "2026-12-03T25:00:00Z", "2026-12-03T10:00:00", "2026-02-30", "yesterday"])
    func badTimes(time: String) async throws {
        try await withAuditCLI { cli in
            for arguments in [["audit", "query", "--since", time], ["audit", "query", "--until", time],
                              ["audit", "review", "--from", time, "--to", "2030-01-01"], ["audit", "prune", "--before", time]] {
                let result = try cli.spawn(arguments)
                #expect(result.status == 1, "\(arguments): \(result.error)")
                #expect(result.error.contains("[invalid-argument]"), "\(arguments): \(result.error)")
                #expect(result.error.contains("RFC 3339"), "\(arguments): \(result.error)")
            }
        }
    }

    @Test("fractional seconds and offsets are honoured, not rounded to midnight")
    func fractionalTimes() async throws {
        try await withAuditCLI { cli in
            let review = try cli.spawn(["audit", "review", "--from", "2026-12-03T10:00:00.5Z", "--to", "2026-12-03T12:00:00+01:00", "--json"])
            #expect(review.status == 0, "\(review.error)")
            let json = try JSONSerialization.jsonObject(with: Data(review.output.utf8)) as? [String: Any]
            #expect(json?["from"] as? Int64 == 1_796_292_000_500)
            #expect(json?["to"] as? Int64 == 1_796_295_600_000, "12:00+01:00 is 11:00Z")
        }
    }

    @Test("an argument that is not UTF-8 is refused with exit 1 before anything runs")
    func invalidUTF8() async throws {
        try await withAuditCLI { cli in
            let before = try cli.auditDatabase().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") ?? -1 }
            for name in [[0x78, 0xFF, 0x79], [0x78, 0xFE, 0x79], [0xC0, 0xAF], [0xED, 0xA0, 0x80]] as [[UInt8]] {
                let put = try cli.launch(raw: ["put", "--tenant", "acme", "--kind", "test-script", "--name"].map { Array($0.utf8) } + [name],
                                         input: Data("content".utf8)).wait()
                #expect(put.status == 1, "\(name): \(put.error)")
                #expect(put.error.contains("[invalid-argument]") && put.error.contains("UTF-8"), "\(put.error)")
            }
            let after = try cli.auditDatabase().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") ?? -1 }
            #expect(after == before, "nothing ran, so nothing was recorded")
            let listing = try cli.spawn(["ls", "--tenant", "acme", "--format", "json"])
            #expect(!listing.output.contains("\"name\" : \"x"), "\(listing.output)")
        }
    }

    @Test("names in tables are printed with bidi and control characters escaped")
    func escapedTables() async throws {
        try await withAuditCLI { cli in
            let name = "invoice\u{202E}fdp.exe"
            #expect(try cli.spawn(["put", "--tenant", "acme", "--kind", "test-script", "--name", name], input: Data("x".utf8)).status == 0)
            let listing = try cli.spawn(["ls", "--tenant", "acme"])
            #expect(listing.output.contains("invoice\\u{202E}fdp.exe"), "\(listing.output)")
            #expect(!listing.output.unicodeScalars.contains("\u{202E}"))
            let json = try cli.spawn(["ls", "--tenant", "acme", "--format", "json"])
            #expect(json.output.contains(name), "JSON keeps the exact name")
        }
    }

    @Test("CSV export cannot start a spreadsheet formula and keeps each record on one line")
    func csvInjection() async throws {
        try await withAuditCLI { cli in
            // A line break never reaches the log: free text with control characters is refused.
            let broken = try cli.spawn(["ls", "--tenant", "acme", "--justification", "=HYPERLINK(\"http://x\")\nnext line"])
            #expect(broken.status != 0 && broken.error.contains("[invalid-argument]"), "\(broken.error)")
            let ls = try cli.spawn(["ls", "--tenant", "acme", "--justification", "=HYPERLINK(\"http://x\") next line"])
            #expect(ls.status == 0, "\(ls.error)")
            let csv = try cli.spawn(["audit", "query", "--format", "csv", "--action", "list", "--tenant", "acme"])
            #expect(csv.status == 0, "\(csv.error)")
            let lines = csv.output.split(separator: "\n")
            #expect(lines.first.map(String.init) == AuditExport.csvHeader)
            let row = try #require(lines.dropFirst().first { $0.contains("HYPERLINK") })
            #expect(row.contains("\"'=HYPERLINK(\"\"http://x\"\") next line\""), "\(row)")
            #expect(lines.count == 2, "one header, one record: \(lines)")
        }
    }

    @Test("init refuses an empty or malformed operator and creates no vault", arguments: ["", "a,b", "tab\there"])
    func initActor(actor: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-init-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyring = dir.appendingPathComponent("keyring.json").path
        try Keyring.generate().write(to: keyring)
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: keyring)
        let result = try cli.spawn(["init", "--actor", actor])
        #expect(result.status == 1, "\(result.output) \(result.error)")
        #expect(result.error.contains("[invalid-argument]"), "\(result.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.vault.appendingPathComponent("control.sqlite").path))
    }

    @Test("init --content-page-size sets content.sqlite's page size (4096 without it); another size is refused, creating no vault",
          arguments: [nil, "16384", "1000", "131072", "256"])
    func initPageSize(size: String?) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-init-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyring = dir.appendingPathComponent("keyring.json").path
        try Keyring.generate().write(to: keyring)
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: keyring)
        let result = try cli.spawn(["init"] + (size.map { ["--content-page-size", $0] } ?? []))
        let content = cli.vault.appendingPathComponent("content.sqlite").path
        guard size == nil || size == "16384" else {
            #expect(result.status == 1, "\(result.output) \(result.error)")
            #expect(result.error.contains("[invalid-argument]") && result.error.contains("power of two"), "\(result.error)")
            #expect(!FileManager.default.fileExists(atPath: content))
            return
        }
        #expect(result.status == 0, "\(result.error)")
        let pageSize = try await DatabaseQueue(path: content).read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") }
        #expect(pageSize == Int(size ?? "4096"))
        // The vault works on it.
        #expect(try cli.spawn(["tenant", "add", "acme"]).status == 0)
        let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-script", "--name", "p"], input: Data("page".utf8))
        #expect(put.status == 0, "\(put.error)")
        let id = String(put.output.split(separator: " ").first ?? "")
        #expect(try cli.spawn(["get", "--tenant", "acme", id]).output == "page")
    }

    @Test("--range takes only START-END in digits", arguments: ["+1-5", " 1-5", "1-5 ", "5-1", "-5-3", "1-", "-", "1-2-3", "0x1-5", "1-99999999999999999999"])
    func badRanges(range: String) async throws {
        try await withAuditCLI { cli in
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-script", "--name", "r"], input: Data("0123456789".utf8))
            let id = String(put.output.split(separator: " ")[0])
            let get = try cli.spawn(["get", "--tenant", "acme", id, "--range=\(range)"])
            #expect(get.status == 1, "\(range): \(get.output) \(get.error)")
            #expect(get.error.contains("[invalid-argument]"), "\(range): \(get.error)")
            #expect(get.output.isEmpty)
            let good = try cli.spawn(["get", "--tenant", "acme", id, "--range", "2-4"])
            #expect(good.output == "234")
        }
    }

    @Test("--threads is bounded to 1...256 in validate(), before anything runs")
    func threadBounds() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-knobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key").path
        try Data(repeating: 0x42, count: 32).write(to: URL(fileURLWithPath: key))
        chmod(key, 0o600)
        let input = dir.appendingPathComponent("in").path
        try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: input))
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: key)
        for arguments in [["crypto", "seal", "--key", key, "--aad", "a", "--in", input, "--threads", "100000"],
                          ["crypto", "open", "--key", key, "--aad", "a", "--in", input, "--threads", "257"],
                          ["crypto", "seal", "--key", key, "--aad", "a", "--in", input, "--threads", "0"]] {
            let result = try cli.spawn(arguments)
            #expect(result.status == 64, "\(arguments): \(result.status) \(result.error.prefix(300))")
            #expect(result.error.contains("must be between"), "\(arguments): \(result.error.prefix(300))")
        }
        let ok = try cli.spawn(["crypto", "seal", "--key", key, "--aad", "a", "--in", input, "--threads", "256", "--out", input + ".sealed"])
        #expect(ok.status == 0, "\(ok.error)")
    }

    @Test("bench sizes, counts and segment sizes are bounded in validate()")
    func benchKnobs() async throws {
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: URL(fileURLWithPath: "/nonexistent"), keyring: "/nonexistent")
        for arguments in [["bench", "store", "--segment-size", "1"],
                          ["bench", "store", "--count", "100000000"],
                          ["bench", "crypto", "--size", "999999999999999"],
                          ["bench", "audit", "--query-sizes", "10,abc"],
                          ["bench", "audit", "--concurrency", "100000"]] {
            let result = try cli.spawn(arguments)
            #expect(result.status == 64, "\(arguments): \(result.status) \(result.error.prefix(300))")
            #expect(result.error.contains("must be"), "\(arguments): \(result.error.prefix(300))")
        }
    }

    @Test("a file truncated by another process while crypto seal reads it ends in an io error, not SIGBUS")
    func truncatedWhileSealing() async throws {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        let dir = base.appendingPathComponent("coffer-truncate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key").path
        try Data(repeating: 0x42, count: 32).write(to: URL(fileURLWithPath: key))
        chmod(key, 0o600)
        let input = dir.appendingPathComponent("in").path, output = dir.appendingPathComponent("out").path
        let size = 768 << 20
        #expect(FileManager.default.createFile(atPath: input, contents: nil))
        #expect(truncate(input, off_t(size)) == 0)  // sparse: reads as zeros, costs no memory until read
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: key)
        var outcomes: [Int32] = []
        for attempt in 0..<3 {
            #expect(truncate(input, off_t(size)) == 0)
            try? FileManager.default.removeItem(atPath: output)
            let seal = try cli.launch(["crypto", "seal", "--key", key, "--aad", "a", "--in", input, "--out", output, "--threads", "1"])
            // Let it start reading, then cut the file to a few bytes under it.
            usleep(useconds_t(150_000 + attempt * 100_000))
            #expect(truncate(input, 4096) == 0)
            let result = try seal.wait()
            outcomes.append(result.status)
            #expect(result.status != 128 + SIGBUS, "killed by SIGBUS: \(result.error.prefix(300))")
            if result.status != 0 {
                #expect(result.status == 1, "\(result.error.prefix(300))")
                #expect(result.error.contains("[io]"), "\(result.error.prefix(300))")
                #expect(!FileManager.default.fileExists(atPath: output), "no partial output")
            }
        }
        #expect(outcomes.contains(1), "at least one run saw the truncation: \(outcomes)")
    }
}
