// 4 KiB puts and gets through the public API with access control and the log (issue 12): one
// caller (one operation per iteration: latency percentiles and mallocs per operation) and 16
// concurrent callers (16 operations per iteration: operations per second = iterations per second
// x 16, the group-commit figures). `coffer bench small` prints the same as a table, beside the
// log switched off and the peers (docs/benchmarks.md).
import Benchmark
import Coffer
import CofferCrypto
import Foundation

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds,
        warmupIterations: 20,
        maxDuration: .seconds(10),
        maxIterations: 5_000
    )
    Benchmark("4 KiB get, 1 caller") { benchmark in
        for i in benchmark.scaledIterations { try await SmallSetting.shared.get(i) }
    } setup: {
        try await SmallSetting.shared.prepare()
    }
    Benchmark("4 KiB put, 1 caller") { benchmark in
        for i in benchmark.scaledIterations { try await SmallSetting.shared.put(i) }
    } setup: {
        try await SmallSetting.shared.prepare()
    }
    Benchmark("16 concurrent 4 KiB gets") { benchmark in
        for i in benchmark.scaledIterations { try await SmallSetting.shared.concurrently(16, i) { try await SmallSetting.shared.get($0) } }
    } setup: {
        try await SmallSetting.shared.prepare()
    }
    Benchmark("16 concurrent 4 KiB puts") { benchmark in
        for i in benchmark.scaledIterations { try await SmallSetting.shared.concurrently(16, i) { try await SmallSetting.shared.put($0) } }
    } setup: {
        try await SmallSetting.shared.prepare()
    }
}

/// One vault shared by the benchmarks of this process, with 200 objects of 4 KiB to get.
final class SmallSetting: @unchecked Sendable {
    // @unchecked: `vault` and `objects` are set once by `prepare()` before any benchmark runs;
    // `puts` is guarded by `lock`.
    static let shared = SmallSetting()

    private let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("coffer-bench-small-objects")
    private(set) var vault: Vault?
    private var objects: [ObjectID] = []
    private let lock = NSLock()
    private var puts = 0
    let payload = [UInt8](repeating: 0x42, count: 4096)
    let service = try! AccessContext(actor: "bench", purpose: .serviceOperation)

    func prepare() async throws {
        guard vault == nil else { return }
        try? FileManager.default.removeItem(at: directory)
        let vault = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "bench")
        try await vault.createTenant("bench", context: service)
        for n in 0..<200 {
            objects.append(try await vault.put(tenant: "bench", kind: .config, name: "o-\(n)", bytes: payload, context: service).objectID)
        }
        self.vault = vault
    }

    func get(_ i: Int) async throws {
        guard let vault else { return }
        let bytes = try await vault.readAll(tenant: "bench", objectID: objects[i % objects.count], context: service)
        precondition(bytes.count == payload.count)
    }

    /// A new object each time.
    func put(_ i: Int) async throws {
        guard let vault else { return }
        let n = lock.withLock { () -> Int in
            puts += 1
            return puts
        }
        try await vault.put(tenant: "bench", kind: .testResult, name: "p-\(n)", bytes: payload, context: service)
    }

    /// `callers` operations at once.
    func concurrently(_ callers: Int, _ round: Int, _ operation: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<callers { group.addTask { try await operation(round * callers + c) } }
            try await group.waitForAll()
        }
    }
}
