import Foundation
import Testing

/// The JSON of `coffer bench small --json` (and its `--compare` wrapping).
private struct SmallReport: Decodable {
    struct Measurement: Decodable {
        let operation: String
        let audited: Bool
        let callers: Int
        let operationsPerSecond: Double
        let p50Microseconds: Double
        let p99Microseconds: Double
    }

    let operations: Int
    let contentPageSize: Int?
    let preloaded: Int
    let openMilliseconds: Double
    let measurements: [Measurement]
}

private struct ComparedSmall: Decodable {
    let coffer: SmallReport
    let ratios: [String: Double]
}

@Suite("coffer bench small and --compare")
struct BenchSmallCLITests {
    @Test("bench small measures puts and gets, with and without the log, at each concurrency, on the page size asked for")
    func measuresEveryCase() async throws {
        try await withAuditCLI { cli in
            let run = try cli.spawn(["bench", "small", "--operations", "24", "--concurrency", "1,4", "--page-size", "4096", "--preload", "40", "--json"])
            #expect(run.status == 0, "\(run.error)")
            let report = try JSONDecoder().decode(SmallReport.self, from: Data(run.output.utf8))
            #expect(report.operations == 24 && report.contentPageSize == 4096 && report.preloaded == 40 && report.openMilliseconds > 0)
            let cases = Set(report.measurements.map { "\($0.operation) \($0.audited) \($0.callers)" })
            #expect(cases == ["put-4k true 1", "put-4k false 1", "get-4k true 1", "get-4k false 1",
                              "put-4k true 4", "put-4k false 4", "get-4k true 4", "get-4k false 4"])
            for m in report.measurements {
                #expect(m.operationsPerSecond > 0 && m.p50Microseconds > 0 && m.p50Microseconds <= m.p99Microseconds)
            }
        }
    }

    @Test("--compare runs the peers script and divides by its figures; a missing peer is named; no script is a clear error")
    func compareWithPeers() async throws {
        try await withAuditCLI { cli in
            // A stand-in for scripts/bench-peers.py with known figures.
            let script = FileManager.default.temporaryDirectory.appendingPathComponent("peers-\(UUID().uuidString).py")
            defer { try? FileManager.default.removeItem(at: script) }
            try """
                import json, sys
                assert sys.argv[1:3] == ["--only", "sqlcipher,sqlite"], sys.argv
                print(json.dumps({"peers": {"sqlcipher": {"version": "fake 1", "measurements": [
                    {"name": "put-4k", "value": 1000.0, "unit": "ops/s"}, {"name": "get-4k", "value": 2000.0, "unit": "ops/s"}]}},
                    "missing": {"sqlite": "No module named 'sqlite3'"}}))
                """.write(to: script, atomically: true, encoding: .utf8)
            let json = try cli.spawn(["bench", "small", "--operations", "8", "--concurrency", "2", "--json", "--compare", "--peers-script", script.path])
            #expect(json.status == 0, "\(json.error)")
            let compared = try JSONDecoder().decode(ComparedSmall.self, from: Data(json.output.utf8))
            for m in compared.coffer.measurements {
                let name = "\(m.operation) log \(m.audited ? "on" : "off") \(m.callers) callers / sqlcipher \(m.operation)"
                let expected = m.operationsPerSecond / (m.operation == "put-4k" ? 1000 : 2000)
                #expect(abs((compared.ratios[name] ?? -1) - expected) < 1e-9 * expected, "\(name)")
            }
            let text = try cli.spawn(["bench", "small", "--operations", "4", "--concurrency", "1", "--compare", "--peers-script", script.path])
            #expect(text.status == 0 && text.output.contains("peer sqlcipher (fake 1)") && text.output.contains("peer sqlite missing: No module named"),
                    "\(text.output)\(text.error)")
            let none = try cli.spawn(["bench", "small", "--operations", "4", "--compare", "--peers-script", "/nonexistent/peers.py"])
            #expect(none.status == 1 && none.error.contains("[not-found]") && none.error.contains("--peers-script"), "\(none.error)")
        }
    }

    @Test("bench all prints one JSON document holding the crypto, store, small and audit reports")
    func allInOneDocument() async throws {
        try await withAuditCLI { cli in
            let run = try cli.spawn(["bench", "all", "--size", "65536", "--operations", "8", "--json"])
            #expect(run.status == 0, "\(run.error)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            #expect(Set(document.keys) == ["crypto", "store", "small", "audit"])
            for (name, section) in document {
                let measurements = (section as? [String: Any])?["measurements"] as? [Any]
                #expect(measurements?.isEmpty == false, "\(name)")
            }
            #expect(try cli.spawn(["bench", "all", "--operations", "0"]).status == 64)
        }
    }

    @Test("bad counts, concurrencies and page sizes are usage errors")
    func refusals() async throws {
        try await withAuditCLI { cli in
            for bad in [["--operations", "0"], ["--concurrency", "0"], ["--concurrency", "1,x"], ["--page-size", "1000"], ["--page-size", "131072"],
                        ["--preload", "-1"], ["--preload", "10000001"]] {
                let result = try cli.spawn(["bench", "small"] + bad)
                #expect(result.status == 64, "\(bad): \(result.error)")
            }
            #expect(try cli.spawn(["bench", "store", "--page-size", "3000"]).status == 64)
        }
    }
}
