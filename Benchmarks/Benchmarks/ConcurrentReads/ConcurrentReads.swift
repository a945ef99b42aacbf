// 4 KiB gets by 200 concurrent callers, alone and while large reads stream to slow consumers
// (issue 8: "while two 1 GiB reads stream to consumers taking 10 MB/s, 200 concurrent 4 KiB gets
// by other callers all complete, at a rate within 2x of the same gets with no large reads
// running"; peak memory bounded whatever the number of streams). One iteration is one round of
// 200 concurrent gets, so gets per second = iterations per second x 200 (docs/benchmarks.md).
import Benchmark
import Coffer
import CofferCrypto
import Foundation
import Synchronization

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 2,
        maxDuration: .seconds(15),
        maxIterations: 40
    )
    Benchmark("200 concurrent 4 KiB gets, no large reads") { benchmark in
        for _ in benchmark.scaledIterations { try await Setting.shared.concurrentGets() }
    } setup: {
        try await Setting.shared.prepare()
    }
    for streams in [2, 16] {
        Benchmark("200 concurrent 4 KiB gets beside \(streams) 1 GiB streams at 10 MB/s each") { benchmark in
            for _ in benchmark.scaledIterations { try await Setting.shared.concurrentGets() }
        } setup: {
            try await Setting.shared.prepare()
            Setting.shared.startStreams(streams)
        } teardown: {
            let streamed = await Setting.shared.stopStreams()
            print("  \(streams) streams delivered \(streamed / 1_000_000) MB while the gets ran")
        }
    }
}

/// One vault shared by the benchmarks of this process: 256 small objects and two 1 GiB ones.
final class Setting: @unchecked Sendable {
    // @unchecked: `vault`, `small` and `large` are set once by `prepare()` before any
    // benchmark runs; `streams` is guarded by `lock`.
    static let shared = Setting()
    static let largeSize = 1 << 30
    static let callers = 200

    private let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("coffer-bench-concurrent-reads")
    private(set) var vault: Vault?
    private var small: [ObjectID] = []
    private var large: [ObjectID] = []
    private let lock = NSLock()
    private var streams: [Task<Int, Never>] = []
    let service = try! AccessContext(actor: "bench", purpose: .serviceOperation)

    func prepare() async throws {
        guard vault == nil else { return }
        try? FileManager.default.removeItem(at: directory)
        let vault = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "bench")
        try await vault.createTenant("bench", context: service)
        for n in 0..<256 {
            let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) }
            small.append(try await vault.put(tenant: "bench", kind: .config, name: "small-\(n)", bytes: bytes, context: service).objectID)
        }
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { piece.deallocate() }
        for n in 0..<2 {
            for i in 0..<piece.count { piece[i] = UInt8(truncatingIfNeeded: i &* 131 &+ n) }
            let writer = try await vault.makeWriter(tenant: "bench", kind: .runTelemetry, name: "large-\(n)", context: service)
            for _ in 0..<(Self.largeSize / piece.count) { try await writer.write(unsafeBytes: UnsafeRawBufferPointer(piece)) }
            _ = try await writer.commit()
            large.append(writer.objectID)
        }
        self.vault = vault
    }

    /// One round: 200 callers each get one 4 KiB object, all at once.
    func concurrentGets() async throws {
        guard let vault else { return }
        let (small, service) = (self.small, self.service)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for caller in 0..<Self.callers {
                group.addTask {
                    var count = 0
                    for try await chunk in try await vault.stream(tenant: "bench", objectID: small[caller % small.count], context: service) {
                        count += chunk.count
                    }
                    precondition(count == 4096)
                    return count
                }
            }
            for try await _ in group {}
        }
    }

    /// Starts `count` streams of the large objects, each consumed at 10 MB/s.
    func startStreams(_ count: Int) {
        guard let vault else { return }
        let (large, service) = (self.large, self.service)
        let tasks = (0..<count).map { n in
            Task { () -> Int in
                var delivered = 0
                do {
                    let start = ContinuousClock.now
                    for try await chunk in try await vault.stream(tenant: "bench", objectID: large[n % large.count], context: service) {
                        delivered += chunk.count
                        // A consumer taking 10 MB/s: wait until this many bytes are due.
                        let due = start + .milliseconds(delivered / 10_000)
                        try await Task.sleep(until: due, clock: .continuous)
                    }
                } catch {}
                return delivered
            }
        }
        lock.withLock { streams = tasks }
    }

    /// Stops the streams; returns the bytes they delivered.
    func stopStreams() async -> Int {
        let tasks = lock.withLock { () -> [Task<Int, Never>] in
            defer { streams = [] }
            return streams
        }
        for task in tasks { task.cancel() }
        var total = 0
        for task in tasks { total += await task.value }
        return total
    }
}
