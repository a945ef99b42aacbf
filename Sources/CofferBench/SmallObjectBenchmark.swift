import Coffer
import CofferCrypto
import Foundation
import Logging

/// 4 KiB puts and gets through the public API, with access control and the log and with the
/// log switched off, at one and at many concurrent callers: operations per second and latency
/// percentiles (see docs/benchmarks.md, issue 12).
public enum SmallObjectBenchmark {
    /// One rate at one concurrency.
    public struct Measurement: Codable, Sendable {
        /// `put-4k` or `get-4k`.
        public let operation: String
        /// True when the vault records every access (the product); false for the benchmark-only
        /// twin opened with the log switched off.
        public let audited: Bool
        public let callers: Int
        public let operationsPerSecond: Double
        /// Latency percentiles of single operations, in microseconds.
        public let p50Microseconds: Double
        public let p99Microseconds: Double
    }

    /// Rates and latencies of `operations` operations per measurement.
    public struct Report: Codable, Sendable {
        public let operations: Int
        /// The page size of `content.sqlite` (nil: the default).
        public let contentPageSize: Int?
        /// Objects put into the vault before measuring, besides the 200 the gets start from.
        public let preloaded: Int
        /// How long opening the vault took once it held them, in milliseconds (median of 3).
        public let openMilliseconds: Double
        public let measurements: [Measurement]
    }

    /// Runs the benchmark in a scratch directory (removed afterwards): for each concurrency,
    /// puts of new objects and gets of existing ones, audited and not, interleaved so both sides
    /// see the same machine.
    /// - Parameters:
    ///   - operations: Operations per measurement (spread over the callers).
    ///   - concurrencies: Concurrent callers, one measurement each.
    ///   - contentPageSize: The page size of `content.sqlite` (nil: the default).
    ///   - preload: Objects of 4 KiB put first (16 at a time, the log off), so the rates and the
    ///     open time are those of a vault of that size; the gets then spread over all of them.
    public static func run(operations: Int = 2000, concurrencies: [Int] = [1, 16], contentPageSize: Int? = nil,
                           preload: Int = 0) async throws -> Report {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-small-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let keyring = try Keyring.generate()
        let logger = Logger(label: "coffer")
        let context = try AccessContext(actor: "bench", purpose: .serviceOperation)
        let directory = scratch.appendingPathComponent("vault")
        let audited = try Vault.create(at: directory, keyring: keyring, operator: "bench", segmentSize: SegmentLayout.defaultSegmentSize,
                                       contentPageSize: contentPageSize, logger: logger)
        try await audited.createTenant("bench", context: context)
        // The unaudited twin opens the same files.
        let unaudited = try Vault.open(at: directory, keyring: keyring, logger: logger, auditing: false)
        let payload = [UInt8](repeating: 0x42, count: 4096)
        var ids: [ObjectID] = []
        for i in 0..<200 {
            ids.append(try await audited.put(tenant: "bench", kind: .testResult, name: "o\(i)", bytes: payload, context: context).objectID)
        }
        ids += try await preloaded(preload, into: unaudited, payload: payload, context: context)
        var opens: [Double] = []
        for _ in 0..<3 {
            let start = ContinuousClock.now
            let reopened = try Vault.open(at: directory, keyring: keyring, logger: logger, auditing: false)
            opens.append(AuditBenchmark.seconds(ContinuousClock.now - start) * 1000)
            try reopened.close()
        }
        let objects = ids
        var results: [Measurement] = []
        var round = 0
        for callers in concurrencies {
            for (vault, isAudited) in [(unaudited, false), (audited, true)] {
                round += 1
                let prefix = "p\(round)-"
                let put = try await measure(callers: callers, operations: operations) { i in
                    _ = try await vault.put(tenant: "bench", kind: .testResult, name: prefix + String(i), bytes: payload, context: context)
                }
                results.append(Measurement(operation: "put-4k", audited: isAudited, callers: callers, sample: put))
                let get = try await measure(callers: callers, operations: operations) { i in
                    // Spread over every object (a prime stride), not only the first ones.
                    let bytes = try await vault.readAll(tenant: "bench", objectID: objects[(i &* 7919) % objects.count], context: context)
                    guard bytes.count == payload.count else { throw CofferError(.storage, "the benchmark read \(bytes.count) bytes") }
                }
                results.append(Measurement(operation: "get-4k", audited: isAudited, callers: callers, sample: get))
            }
        }
        try unaudited.close()
        try audited.close()
        return Report(operations: operations, contentPageSize: contentPageSize, preloaded: preload,
                      openMilliseconds: opens.sorted()[1], measurements: results)
    }

    /// Puts `count` objects of `payload` into `vault`, 16 callers at a time.
    private static func preloaded(_ count: Int, into vault: Vault, payload: [UInt8], context: AccessContext) async throws -> [ObjectID] {
        guard count > 0 else { return [] }
        let callers = 16
        return try await withThrowingTaskGroup(of: [ObjectID].self) { group in
            for c in 0..<callers {
                group.addTask {
                    var own: [ObjectID] = []
                    for i in stride(from: c, to: count, by: callers) {
                        own.append(try await vault.put(tenant: "bench", kind: .testResult, name: "pre-\(i)", bytes: payload, context: context).objectID)
                    }
                    return own
                }
            }
            var all: [ObjectID] = []
            for try await own in group { all += own }
            return all
        }
    }

    /// A measured rate and its latencies.
    struct Sample {
        let rate: Double
        let latencies: [Double]
    }

    /// Runs `operation(i)` for i in 0..<operations, spread over `callers` concurrent tasks.
    static func measure(callers: Int, operations: Int, _ operation: @escaping @Sendable (Int) async throws -> Void) async throws -> Sample {
        let perCaller = max(1, operations / callers)
        let clock = ContinuousClock()
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for c in 0..<callers {
                group.addTask {
                    var own: [Double] = []
                    own.reserveCapacity(perCaller)
                    for i in 0..<perCaller {
                        let begun = clock.now
                        try await operation(c * perCaller + i)
                        own.append(AuditBenchmark.seconds(clock.now - begun))
                    }
                    return own
                }
            }
            var all: [Double] = []
            for try await own in group { all += own }
            return all
        }
        return Sample(rate: Double(perCaller * callers) / AuditBenchmark.seconds(clock.now - start), latencies: latencies.sorted())
    }
}

extension SmallObjectBenchmark.Measurement {
    init(operation: String, audited: Bool, callers: Int, sample: SmallObjectBenchmark.Sample) {
        func percentile(_ p: Double) -> Double {
            sample.latencies[min(sample.latencies.count - 1, Int(Double(sample.latencies.count) * p))] * 1e6
        }
        self.init(operation: operation, audited: audited, callers: callers, operationsPerSecond: sample.rate,
                  p50Microseconds: percentile(0.5), p99Microseconds: percentile(0.99))
    }
}
