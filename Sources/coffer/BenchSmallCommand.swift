import ArgumentParser
import Coffer
import CofferBench
import Foundation

extension BenchCommand {
    struct Small: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "4 KiB puts and gets per second through the library, with and without the access log, at several concurrencies, with latency percentiles.")

        @Option(name: .long, help: "Operations per measurement.") var operations: Int = 2000
        @Option(name: .long, help: "Comma-separated numbers of concurrent callers.") var concurrency: String = "1,16"
        @Option(name: .customLong("page-size"), help: "Page size of the scratch vault's content.sqlite (default: the vault default).")
        var pageSize: Int?
        @Option(name: .long, help: "4 KiB objects put into the vault before measuring (the rates and open time of a vault that size).")
        var preload: Int = 0
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var peers: PeerOptions

        /// The callers of `--concurrency`: 1 to 8 numbers, each 1 to 1024.
        func concurrencies() throws -> [Int] {
            try numberList(concurrency, option: "--concurrency", what: "numbers", range: 1...1024)
        }

        func validate() throws {
            guard (1...1_000_000).contains(operations) else { throw ValidationError("--operations must be between 1 and 1000000") }
            _ = try concurrencies()
            try checkPageSize(pageSize)
            guard (0...10_000_000).contains(preload) else { throw ValidationError("--preload must be between 0 and 10000000") }
        }

        func run() async throws {
            try await runReportingErrors { try await measure().print() }
        }

        /// Runs the benchmark (and with `--compare`, SQLCipher and SQLite beside it).
        func measure() async throws -> BenchOutput {
            let report = try await SmallObjectBenchmark.run(operations: operations, concurrencies: try concurrencies(),
                                                            contentPageSize: pageSize, preload: preload)
            let peerReport = try peers.run(["sqlcipher", "sqlite"], ["--small-count", "\(operations)", "--large-size", "4096", "--seconds", "0.2"])
            var ratios: [String: Double] = [:]
            for m in report.measurements {
                for peer in ["sqlcipher", "sqlite"] {
                    if let value = peerReport?.value(peer, m.operation) {
                        ratios["\(m.operation) log \(m.audited ? "on" : "off") \(m.callers) callers / \(peer) \(m.operation)"] = m.operationsPerSecond / value
                    }
                }
            }
            var lines = ["\(report.operations) operations of 4 KiB per line, \(report.preloaded + 200) objects in the vault, opened in \(String(format: "%.1f", report.openMilliseconds)) ms",
                         "operation  log      callers      ops/s    p50 µs    p99 µs"]
            for m in report.measurements {
                lines.append(String(format: "%-10@ %-8@ %7d %10.0f %9.0f %9.0f", m.operation as NSString, (m.audited ? "on" : "off") as NSString,
                                    m.callers, m.operationsPerSecond, m.p50Microseconds, m.p99Microseconds))
            }
            return try BenchOutput(report, peers: peerReport, ratios: ratios, lines: lines, json: json)
        }
    }
}

/// Refuses a `--page-size` SQLite would not take.
func checkPageSize(_ size: Int?) throws {
    guard let size else { return }
    guard (512...65536).contains(size), size & (size - 1) == 0 else {
        throw ValidationError("--page-size must be a power of two from 512 to 65536")
    }
}
