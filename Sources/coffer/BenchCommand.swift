import ArgumentParser
import Coffer
import CofferBench
import CofferCrypto
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput on this machine.",
        subcommands: [Crypto.self, Store.self, Small.self, Audit.self, All.self, Soak.self, ScaleOut.self]
    )

    struct Crypto: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal and open throughput of the streaming core in memory, one thread and all cores, beside plain AES-256-GCM.")

        @Option(name: .customLong("segment-size"), help: "Segment size in bytes.")
        var segmentSize: Int = SegmentLayout.defaultSegmentSize

        @Option(name: .long, help: "Plaintext bytes per repetition.")
        var size: Int = 256 * 1024 * 1024

        @Option(name: .customLong("openssl-speed"),
                help: "A figure from `openssl speed -evp aes-256-gcm -bytes N` (in its 1000s of bytes/s, e.g. 5100000.00k) to compare against; scripts/bench-crypto.sh measures it in the same run.")
        var opensslSpeed: String?

        @Flag(name: .long, help: "Print the report as JSON.")
        var json = false

        @OptionGroup var peers: PeerOptions

        func validate() throws {
            guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
                throw ValidationError("--segment-size must be between 4096 and 67108864")
            }
            try checkBenchSize(size)
        }

        func run() throws {
            try runReportingErrorsSync { try measure().print() }
        }

        /// Runs the benchmark (and with `--compare`, Tink beside it).
        func measure() throws -> BenchOutput {
            let speed = try opensslSpeed.map(parseOpensslSpeed)
            let report = try CryptoBenchmark.run(segmentSize: segmentSize, size: size, opensslSpeed: speed)
            let peerReport = try peers.run(["tink"], ["--large-size", "\(size)", "--segment-size", "\(segmentSize)", "--seconds", "0.5"])
            var ratios: [String: Double] = [:]
            for m in report.measurements where m.operation != "baseline-gcm" {
                if let tink = peerReport?.value("tink", m.operation + "-large") {
                    ratios["\(m.operation) \(m.threads) threads / tink \(m.operation)"] = m.bytesPerSecond / tink
                }
            }
            var lines = ["segment size \(report.segmentSize) B, \(report.size) B per repetition, \(report.cores) cores, cipher \(report.cipher)"]
            if let speed = report.opensslSpeed { lines.append(String(format: "openssl speed     %8.0f MB/s", speed / 1e6)) }
            for m in report.measurements {
                lines.append(String(format: "%-13@ %2d thr %8.0f MB/s  (median of %d)", m.operation as NSString, m.threads,
                                    m.bytesPerSecond / 1e6, m.repetitions))
            }
            for (name, value) in report.ratios.sorted(by: { $0.key < $1.key }) {
                lines.append(String(format: "%-40@ %.2f", name as NSString, value))
            }
            return try BenchOutput(report, peers: peerReport, ratios: ratios, lines: lines, json: json)
        }
    }
}

extension BenchCommand {
    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put and get throughput of large objects and operations per second of 4 KiB objects, beside the same bytes in the same schema without encryption.")

        @Option(name: .long, help: "Bytes of the large object.") var size: Int = 256 * 1024 * 1024
        @Option(name: .long, help: "How many 4 KiB objects.") var count: Int = 2000
        @Option(name: .customLong("segment-size"), help: "Segment size in bytes.") var segmentSize: Int = SegmentLayout.defaultSegmentSize
        @Option(name: .long, help: "Timed repetitions of each large-object measurement.") var repetitions: Int = 3
        @Option(name: .customLong("openssl-speed"), help: "openssl speed's figure at the segment size (e.g. 5100000.00k), to compare gets against.")
        var opensslSpeed: String?
        @Option(name: .customLong("page-size"), help: "Page size of the scratch vaults' content.sqlite (default: the vault default).")
        var pageSize: Int?
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var peers: PeerOptions

        func validate() throws {
            guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
                throw ValidationError("--segment-size must be between 4096 and 67108864")
            }
            try checkBenchSize(size)
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be between 1 and 1000000") }
            guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be between 1 and 100") }
            try checkPageSize(pageSize)
        }

        func run() async throws {
            try await runReportingErrors { try await measure().print() }
        }

        /// Runs the benchmark (and with `--compare`, SQLCipher and SQLite beside it).
        func measure() async throws -> BenchOutput {
            let speed = try opensslSpeed.map(parseOpensslSpeed)
            let report = try await StoreBenchmark.run(size: size, count: count, segmentSize: segmentSize,
                                                      repetitions: repetitions, opensslSpeed: speed, contentPageSize: pageSize)
            let peerReport = try peers.run(["sqlcipher", "sqlite"], ["--small-count", "\(count)", "--large-size", "\(size)",
                                                                    "--segment-size", "\(segmentSize)", "--seconds", "0.5"])
            var ratios: [String: Double] = [:]
            for m in report.measurements where m.name.hasSuffix("-encrypted") {
                let operation = String(m.name.dropLast("-encrypted".count))
                for peer in ["sqlcipher", "sqlite"] {
                    if let value = peerReport?.value(peer, operation) { ratios["\(m.name) / \(peer) \(operation)"] = m.rate / value }
                }
            }
            var lines = ["large object \(report.size) B, \(report.count) objects of 4 KiB, segment size \(report.segmentSize) B"]
            for m in report.measurements {
                let value = m.unit == "bytes/s" ? String(format: "%8.0f MB/s", m.rate / 1e6) : String(format: "%8.0f ops/s", m.rate)
                lines.append("\(m.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(value)  (median of \(m.repetitions))")
            }
            for (name, value) in report.ratios.sorted(by: { $0.key < $1.key }) {
                lines.append("\(name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(String(format: "%.2f", value))")
            }
            return try BenchOutput(report, peers: peerReport, ratios: ratios, lines: lines, json: json)
        }
    }
}

/// The largest `--size` a benchmark takes: 16 GiB (it is held in memory).
let maximumBenchSize = 16 << 30

/// The numbers of a comma-separated option: 1 to 8 of them, each in `range`.
/// - Throws: `ValidationError` naming `option` otherwise.
func numberList(_ text: String, option: String, what: String, range: ClosedRange<Int>) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    let values = parts.compactMap { Int($0) }
    guard values.count == parts.count, (1...8).contains(values.count), values.allSatisfy(range.contains) else {
        throw ValidationError("\(option) must be 1 to 8 comma-separated \(what), each \(range.lowerBound) to \(range.upperBound)")
    }
    return values
}

/// Refuses a benchmark size outside 1 byte ... ``maximumBenchSize``.
func checkBenchSize(_ size: Int) throws {
    guard (1...maximumBenchSize).contains(size) else { throw ValidationError("--size must be between 1 and \(maximumBenchSize) bytes") }
}

/// Parses openssl speed's figure (thousands of bytes per second, with or without the k).
func parseOpensslSpeed(_ text: String) throws -> Double {
    let digits = text.hasSuffix("k") ? String(text.dropLast()) : text
    guard let thousands = Double(digits) else {
        throw CofferError(.invalidArgument, "--openssl-speed takes openssl's figure, such as 5100000.00k")
    }
    return thousands * 1000
}

extension BenchCommand {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Access-log costs: append rate, overhead on 4 KiB gets, query latency at several log sizes, verify rate.")

        @Option(name: .long, help: "4 KiB gets per measurement.") var gets: Int = 2000
        @Option(name: .long, help: "Concurrent callers for group commit.") var concurrency: Int = 16
        @Option(name: .customLong("query-sizes"), help: "Comma-separated log sizes for query latency and verification.")
        var querySizes: String = "10000,1000000"
        @Flag(name: .long, help: "Print JSON.") var json = false
        @OptionGroup var peers: PeerOptions

        /// The log sizes of `--query-sizes`: 1 to 8 of them, each 1 to 100 000 000.
        func sizes() throws -> [Int] {
            try numberList(querySizes, option: "--query-sizes", what: "sizes", range: 1...100_000_000)
        }

        func validate() throws {
            guard (1...1_000_000).contains(gets) else { throw ValidationError("--gets must be between 1 and 1000000") }
            guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1024") }
            _ = try sizes()
        }

        func run() async throws {
            try await runReportingErrors { try await measure().print() }
        }

        /// Runs the benchmark (and with `--compare`, plain SQLite's one-transaction put beside
        /// it: one durable write, the bound of an append alone).
        func measure() async throws -> BenchOutput {
            let report = try await AuditBenchmark.run(gets: gets, concurrency: concurrency, querySizes: try sizes())
            let peerReport = try peers.run(["sqlite"], ["--small-count", "\(gets)", "--large-size", "4096", "--seconds", "0.2"])
            var ratios: [String: Double] = [:]
            if let put = peerReport?.value("sqlite", "put-4k") {
                for m in report.measurements where m.name.hasPrefix("append-") { ratios["\(m.name) / sqlite put-4k"] = m.value / put }
            }
            var lines: [String] = []
            for m in report.measurements {
                lines.append("\(m.name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%12.2f", m.value)) \(m.unit)")
            }
            for (name, value) in report.getOverhead.sorted(by: { $0.key < $1.key }) {
                lines.append("\(name.padding(toLength: 48, withPad: " ", startingAt: 0)) \(String(format: "%.2f", value))")
            }
            return try BenchOutput(report, peers: peerReport, ratios: ratios, lines: lines, json: json)
        }
    }
}
