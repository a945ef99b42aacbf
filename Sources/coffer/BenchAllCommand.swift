import ArgumentParser
import Foundation

extension BenchCommand {
    struct All: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "crypto, store, small and audit in one run (one JSON document with --json), each with --compare when given.")

        @Option(name: .long, help: "Bytes of the large object (crypto and store).") var size: Int = 256 * 1024 * 1024
        @Option(name: .long, help: "4 KiB operations per measurement (store, small, audit).") var operations: Int = 2000
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var peers: PeerOptions

        func validate() throws {
            try checkBenchSize(size)
            guard (1...1_000_000).contains(operations) else { throw ValidationError("--operations must be between 1 and 1000000") }
        }

        func run() async throws {
            try await runReportingErrors {
                var shared = peers.compare ? ["--compare"] : []
                if let script = peers.peersScript { shared += ["--peers-script", script] }
                if json { shared.append("--json") }
                let crypto = try Crypto.parse(shared + ["--size", "\(size)"])
                let sections: [(name: String, output: BenchOutput)] = [
                    ("crypto", try await onOwnThread { try crypto.measure() }),
                    ("store", try await Store.parse(shared + ["--size", "\(size)", "--count", "\(operations)"]).measure()),
                    ("small", try await Small.parse(shared + ["--operations", "\(operations)"]).measure()),
                    ("audit", try await Audit.parse(shared + ["--gets", "\(operations)", "--query-sizes", "10000,100000"]).measure()),
                ]
                if json {
                    print("{\n" + sections.map { "\"\($0.name)\": \($0.output.json ?? "null")" }.joined(separator: ",\n") + "\n}")
                } else {
                    for section in sections {
                        print("== \(section.name)")
                        section.output.print()
                    }
                }
            }
        }
    }
}

/// Runs CPU-bound `body` on a thread of its own, not on the cooperative pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
