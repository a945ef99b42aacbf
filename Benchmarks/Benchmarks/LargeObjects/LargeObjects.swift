// Large objects through the public API with access control and the log (issue 12): put and get
// of 256 MiB and of 1 GiB, streamed in 1 MiB pieces (`put(contentsOf:)`, `read(to:)`), with
// wall clock, mallocs per iteration and the process's peak resident memory, the figure the
// memory goal names (a 1 GiB put or get within 48 MiB). `coffer bench store` and
// `scripts/check-files.sh` print the throughput beside the peers (docs/benchmarks.md).
import Benchmark
import Coffer
import CofferCrypto
import Foundation

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(30),
        maxIterations: 4
    )
    for size in [256 << 20, 1 << 30] {
        let label = size >= 1 << 30 ? "\(size >> 30) GiB" : "\(size >> 20) MiB"
        Benchmark("put \(label)") { benchmark in
            for _ in benchmark.scaledIterations { try await LargeSetting.shared.put(size) }
        } setup: {
            try await LargeSetting.shared.prepare()
        }
        Benchmark("get \(label)") { benchmark in
            for _ in benchmark.scaledIterations { try await LargeSetting.shared.get(size) }
        } setup: {
            try await LargeSetting.shared.prepare()
            try await LargeSetting.shared.putOnce(size)
        }
    }
}

/// One vault shared by this process's benchmarks; each put is a new version of the object of its size.
final class LargeSetting: @unchecked Sendable {
    // @unchecked: `vault` and `stored` are set by the setups, which run before their benchmark's
    // iterations and never at the same time as another benchmark.
    static let shared = LargeSetting()

    private let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("coffer-bench-large-objects")
    private var vault: Vault?
    private var stored: [Int: ObjectID] = [:]
    let service = try! AccessContext(actor: "bench", purpose: .serviceOperation)

    func prepare() async throws {
        guard vault == nil else { return }
        try? FileManager.default.removeItem(at: directory)
        let vault = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "bench")
        try await vault.createTenant("bench", context: service)
        self.vault = vault
    }

    /// A new version of the object of `size` bytes, from 1 MiB pieces.
    func put(_ size: Int) async throws {
        guard let vault else { return }
        let written = try await vault.put(tenant: "bench", kind: .testResult, name: "large-\(size)",
                                          contentsOf: Pieces(total: size), context: service)
        stored[size] = written.objectID
    }

    /// Puts the object of `size` bytes unless a put did.
    func putOnce(_ size: Int) async throws {
        if stored[size] == nil { try await put(size) }
    }

    /// Reads the newest version of the object of `size` bytes, discarding the plaintext.
    func get(_ size: Int) async throws {
        guard let vault, let object = stored[size] else { return }
        var count = 0
        try await vault.read(tenant: "bench", objectID: object, context: service) { count += $0.count }
        precondition(count == size, "read \(count) of \(size) bytes")
    }
}

/// `total` bytes as 1 MiB pieces of one buffer (the producer allocates nothing per piece).
struct Pieces: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let total: Int
    static let piece = [UInt8](repeating: 0x5A, count: 1 << 20)

    func makeAsyncIterator() -> Iterator { Iterator(left: total) }

    struct Iterator: AsyncIteratorProtocol {
        var left: Int

        mutating func next() async -> [UInt8]? {
            guard left > 0 else { return nil }
            let count = Swift.min(left, Pieces.piece.count)
            left -= count
            return count == Pieces.piece.count ? Pieces.piece : Array(Pieces.piece[..<count])
        }
    }
}
