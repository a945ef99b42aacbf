import ArgumentParser
import Coffer
import CofferBench
import CofferCrypto
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput on this machine.",
        subcommands: [Crypto.self, Store.self, Audit.self, Soak.self, ScaleOut.self]
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

        func validate() throws {
            guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
                throw ValidationError("--segment-size must be between 4096 and 67108864")
            }
            try checkBenchSize(size)
        }

        func run() throws {
            try runReportingErrorsSync {
                let speed = try opensslSpeed.map(parseOpensslSpeed)
                let report = try CryptoBenchmark.run(segmentSize: segmentSize, size: size, opensslSpeed: speed)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(report), as: UTF8.self))
                    return
                }
                print("segment size \(report.segmentSize) B, \(report.size) B per repetition, \(report.cores) cores")
                if let speed = report.opensslSpeed { print(String(format: "openssl speed     %8.0f MB/s", speed / 1e6)) }
                for m in report.measurements {
                    print(String(format: "%-13@ %2d thr %8.0f MB/s  (median of %d)", m.operation as NSString, m.threads,
                                 m.bytesPerSecond / 1e6, m.repetitions))
                }
                for (name, value) in report.ratios.sorted(by: { $0.key < $1.key }) {
                    print(String(format: "%-40@ %.2f", name as NSString, value))
                }
            }
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
        @Flag(name: .long, help: "Print JSON.") var json = false

        func validate() throws {
            guard (SegmentLayout.minimumSegmentSize...SegmentLayout.maximumSegmentSize).contains(segmentSize) else {
                throw ValidationError("--segment-size must be between 4096 and 67108864")
            }
            try checkBenchSize(size)
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be between 1 and 1000000") }
            guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be between 1 and 100") }
        }

        func run() async throws {
            try await runReportingErrors {
                let speed = try opensslSpeed.map(parseOpensslSpeed)
                let report = try await StoreBenchmark.run(size: size, count: count, segmentSize: segmentSize,
                                                          repetitions: repetitions, opensslSpeed: speed)
                if json { print(try jsonText(report)); return }
                print("large object \(report.size) B, \(report.count) objects of 4 KiB, segment size \(report.segmentSize) B")
                for m in report.measurements {
                    let value = m.unit == "bytes/s" ? String(format: "%8.0f MB/s", m.rate / 1e6) : String(format: "%8.0f ops/s", m.rate)
                    print("\(m.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(value)  (median of \(m.repetitions))")
                }
                for (name, value) in report.ratios.sorted(by: { $0.key < $1.key }) {
                    print("\(name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(String(format: "%.2f", value))")
                }
            }
        }
    }
}

/// The largest `--size` a benchmark takes: 16 GiB (it is held in memory).
let maximumBenchSize = 16 << 30

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

        /// The log sizes of `--query-sizes`: 1 to 8 of them, each 1 to 100 000 000.
        func sizes() throws -> [Int] {
            let parts = querySizes.split(separator: ",", omittingEmptySubsequences: false)
            let sizes = parts.compactMap { Int($0) }
            guard sizes.count == parts.count, (1...8).contains(sizes.count), sizes.allSatisfy({ (1...100_000_000).contains($0) }) else {
                throw ValidationError("--query-sizes must be 1 to 8 comma-separated sizes, each 1 to 100000000")
            }
            return sizes
        }

        func validate() throws {
            guard (1...1_000_000).contains(gets) else { throw ValidationError("--gets must be between 1 and 1000000") }
            guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1024") }
            _ = try sizes()
        }

        func run() async throws {
            try await runReportingErrors {
                let sizes = try self.sizes()
                let report = try await AuditBenchmark.run(gets: gets, concurrency: concurrency, querySizes: sizes)
                if json { print(try jsonText(report)); return }
                for m in report.measurements {
                    print("\(m.name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%12.2f", m.value)) \(m.unit)")
                }
                for (name, value) in report.getOverhead.sorted(by: { $0.key < $1.key }) {
                    print("\(name.padding(toLength: 48, withPad: " ", startingAt: 0)) \(String(format: "%.2f", value))")
                }
            }
        }
    }
}
