import Foundation
import Testing

@Suite("coffer bench soak: refusals")
struct BenchSoakCLITests {
    @Test("a directory vault is refused with invalid-argument naming what the soak needs, and nothing is written; bad counts are usage errors")
    func refusals() async throws {
        try await withAuditCLI { cli in
            let before = try FileManager.default.contentsOfDirectory(atPath: cli.vault.path).sorted()
            let soak = try cli.spawn(["bench", "soak", "--seconds", "1"])
            #expect(soak.status == 1 && soak.error.contains("[invalid-argument]") && soak.error.contains("needs a PostgreSQL vault"), "\(soak.error)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: cli.vault.path).sorted() == before)
            for bad in [["--processes", "0"], ["--processes", "65"], ["--seconds", "0"]] {
                let result = try cli.spawn(["bench", "soak"] + bad)
                #expect(result.status == 64, "\(bad): \(result.error)")
            }
        }
    }
}

@Suite("coffer bench scale-out: refusals")
struct BenchScaleOutCLITests {
    @Test("a directory vault is refused with invalid-argument naming the embedded engine's benchmark; bad sizes, counts and callers are usage errors")
    func refusals() async throws {
        try await withAuditCLI { cli in
            let bench = try cli.spawn(["bench", "scale-out", "--size", "1000"])
            #expect(bench.status == 1 && bench.error.contains("[invalid-argument]") && bench.error.contains("bench store"), "\(bench.error)")
            for bad in [["--size", "0"], ["--repetitions", "0"], ["--repetitions", "101"], ["--small", "-1"], ["--small", "100001"],
                        ["--small-concurrency", "0"], ["--small-concurrency", "1,x"], ["--small-concurrency", "65"]] {
                let result = try cli.spawn(["bench", "scale-out"] + bad)
                #expect(result.status == 64, "\(bad): \(result.error)")
            }
        }
    }
}
