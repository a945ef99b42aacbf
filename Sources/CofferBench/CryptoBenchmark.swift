import CofferCrypto
import Foundation

/// Throughput of the streaming core in memory, beside plain AES-256-GCM on the same machine in
/// the same run, so the ratios are not spoiled by a noisy neighbour.
public enum CryptoBenchmark {
    /// One measured operation.
    public struct Measurement: Codable, Sendable {
        /// `baseline-gcm` (plain AES-256-GCM blocks, one thread), `seal` or `open`.
        public let operation: String
        /// Threads used.
        public let threads: Int
        /// Median throughput in bytes of plaintext per second.
        public let bytesPerSecond: Double
        /// How many timed repetitions the median is taken over.
        public let repetitions: Int
    }

    /// The whole result.
    public struct Report: Codable, Sendable {
        /// Segment size in bytes (also the baseline's block size).
        public let segmentSize: Int
        /// Plaintext bytes per repetition.
        public let size: Int
        /// Cores the process may use.
        public let cores: Int
        /// The cipher measured: AES-256-GCM, or in a `COFFER_STUB_CIPHER` build a copy (the
        /// ceiling of everything but AES-GCM).
        public let cipher: String
        /// Every measurement.
        public let measurements: [Measurement]
        /// Ratios the project tracks: one-thread seal and open against the baseline, and
        /// all-core against one-thread throughput.
        public let ratios: [String: Double]
        /// `openssl speed -evp aes-256-gcm` at the same block size, in bytes per second, when run.
        public let opensslSpeed: Double?
    }

    /// Runs the benchmark.
    /// - Parameters:
    ///   - segmentSize: Segment size in bytes.
    ///   - size: Plaintext bytes per repetition.
    ///   - minimumSeconds: Time spent on each measurement (at least three repetitions).
    ///   - opensslSpeed: A measured `openssl speed` figure to include in the ratios.
    public static func run(segmentSize: Int, size: Int, minimumSeconds: Double = 1.5,
                           opensslSpeed: Double? = nil) throws -> Report {
        let key = try SecureBytes.random(count: 32)
        let aead = try StreamingAEAD(key: key, segmentSize: segmentSize)
        let cores = StreamingAEAD.defaultWorkers
        let aad = Array("coffer-bench".utf8)
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        let cipherSize = Int(aead.layout.ciphertextSize(plaintextSize: Int64(size)))
        let ciphertext = UnsafeMutableRawBufferPointer.allocate(byteCount: cipherSize, alignment: 64)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, cipherSize), alignment: 64)
        defer { plaintext.deallocate(); ciphertext.deallocate(); scratch.deallocate() }
        for i in 0..<size { plaintext[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }

        func measure(_ operation: String, threads: Int, _ body: () throws -> Void) throws -> Measurement {
            try body()  // warm-up: page in buffers, fetch algorithms
            var rates: [Double] = []
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .milliseconds(Int(minimumSeconds * 1000)))
            while rates.count < 3 || clock.now < deadline {
                let elapsed = try clock.measure(body)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                rates.append(Double(size) / seconds)
            }
            rates.sort()
            return Measurement(operation: operation, threads: threads, bytesPerSecond: rates[rates.count / 2],
                               repetitions: rates.count)
        }

        var results: [Measurement] = []
        for threads in Set([1, cores]).sorted() {
            // Plain GCM on `threads` threads, each on its own share of the buffer: the ceiling
            // this machine offers, whatever Coffer does.
            results.append(try measure("baseline-gcm", threads: threads) {
                try BaselineGCM.seal(UnsafeRawBufferPointer(plaintext),
                                     into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]),
                                     blockSize: segmentSize, key: key, threads: threads)
            })
        }
        for threads in Set([1, cores]).sorted() {
            results.append(try measure("seal", threads: threads) {
                try aead.seal(UnsafeRawBufferPointer(plaintext), into: ciphertext, aad: aad, workers: threads)
            })
            results.append(try measure("open", threads: threads) {
                try aead.open(UnsafeRawBufferPointer(ciphertext),
                              into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<size]), aad: aad, workers: threads)
            })
        }
        guard scratch.prefix(size).elementsEqual(plaintext) else {
            throw CofferError(.cryptoFailure, "benchmark round trip did not reproduce the plaintext")
        }
        func rate(_ op: String, _ threads: Int) -> Double {
            results.first { $0.operation == op && $0.threads == threads }?.bytesPerSecond ?? .nan
        }
        let baseline = rate("baseline-gcm", 1)
        var ratios: [String: Double] = [
            "seal-1-thread/baseline-gcm": rate("seal", 1) / baseline,
            "open-1-thread/baseline-gcm": rate("open", 1) / baseline,
            "baseline-gcm-\(cores)-threads/baseline-gcm-1-thread": rate("baseline-gcm", cores) / baseline,
            "seal-\(cores)-threads/seal-1-thread": rate("seal", cores) / rate("seal", 1),
            "open-\(cores)-threads/open-1-thread": rate("open", cores) / rate("open", 1),
        ]
        if let opensslSpeed {
            ratios["seal-1-thread/openssl-speed"] = rate("seal", 1) / opensslSpeed
            ratios["open-1-thread/openssl-speed"] = rate("open", 1) / opensslSpeed
        }
        return Report(segmentSize: segmentSize, size: size, cores: cores, cipher: GCMContext.cipherName, measurements: results, ratios: ratios,
                      opensslSpeed: opensslSpeed)
    }
}
