// Seal and open throughput of the streaming core, with malloc counts, at 4 KiB, 64 KiB and
// 1 MiB segments, on one thread and on every core. Each iteration processes `payload` bytes;
// throughput is reported through `scaledIterations` as bytes (see docs/benchmarks.md).
import Benchmark
import Coffer
import CofferCrypto

let payload = 64 * 1024 * 1024

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 20
    )

    for segmentSize in [4 * 1024, 64 * 1024, 1024 * 1024] {
        for workers in Set([1, StreamingAEAD.defaultWorkers]).sorted() {
            let label = "\(segmentSize / 1024) KiB segments, \(workers) thread\(workers == 1 ? "" : "s")"
            Benchmark("seal \(label)") { (benchmark: Benchmark, fixture: Fixture) throws in
                for _ in benchmark.scaledIterations {
                    try fixture.aead.seal(UnsafeRawBufferPointer(fixture.plaintext), into: fixture.ciphertext,
                                          aad: fixture.aad, workers: workers)
                }
            } setup: {
                try Fixture(segmentSize: segmentSize)
            }
            Benchmark("open \(label)") { (benchmark: Benchmark, fixture: Fixture) throws in
                for _ in benchmark.scaledIterations {
                    try fixture.aead.open(UnsafeRawBufferPointer(fixture.ciphertext), into: fixture.plaintext,
                                          aad: fixture.aad, workers: workers)
                }
            } setup: {
                let fixture = try Fixture(segmentSize: segmentSize)
                try fixture.aead.seal(UnsafeRawBufferPointer(fixture.plaintext), into: fixture.ciphertext,
                                      aad: fixture.aad, workers: workers)
                return fixture
            }
        }
        // The incremental API as the store and the CLI use it: copy in, seal in place, emit.
        Benchmark("stream encryptor \(segmentSize / 1024) KiB segments") { (benchmark: Benchmark, fixture: Fixture) throws in
            for _ in benchmark.scaledIterations {
                let encryptor = try StreamEncryptor(aead: fixture.aead, aad: fixture.aad)
                var written = 0
                try encryptor.append(UnsafeRawBufferPointer(fixture.plaintext)) { written += $0.bytes.count }
                try encryptor.finish { written += $0.bytes.count }
                blackHole(written)
            }
        } setup: {
            try Fixture(segmentSize: segmentSize)
        }
    }
}

/// Buffers allocated once per benchmark, outside the measured loop.
final class Fixture: @unchecked Sendable {
    let aead: StreamingAEAD
    let aad = Array("coffer-benchmark".utf8)
    let plaintext: UnsafeMutableRawBufferPointer
    let ciphertext: UnsafeMutableRawBufferPointer

    init(segmentSize: Int) throws {
        aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: segmentSize)
        plaintext = .allocate(byteCount: payload, alignment: 64)
        for i in 0..<payload { plaintext[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
        ciphertext = .allocate(byteCount: Int(aead.layout.ciphertextSize(plaintextSize: Int64(payload))), alignment: 64)
    }

    deinit {
        plaintext.deallocate()
        ciphertext.deallocate()
    }
}
