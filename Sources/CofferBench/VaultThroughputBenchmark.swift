import Coffer
import CofferCrypto
import Foundation

/// Large-object put and get throughput through the public API of a vault on any engine (on
/// PostgreSQL + S3: `coffer bench scale-out`, compared with boto3 moving the same bytes to the
/// same server by `scripts/bench-scale-out.sh`).
public enum VaultThroughputBenchmark {
    /// The report: median bytes per second of each operation.
    public struct Report: Codable, Sendable {
        public let size: Int
        public let repetitions: Int
        public let putBytesPerSecond: Double
        public let getBytesPerSecond: Double
        /// Every timed repetition, in seconds.
        public let putSeconds: [Double]
        public let getSeconds: [Double]
    }

    /// Puts an object of `size` bytes `repetitions` times (new versions of one name) and reads
    /// each back whole, checking the bytes; one untimed put and get first.
    /// - Parameters:
    ///   - vault: An open vault; tenant `tenant` is registered if it is not.
    ///   - context: A service principal's context (and an admin's, for the tenant).
    public static func run(_ vault: Vault, tenant: TenantID = "bench", size: Int, repetitions: Int,
                           context: AccessContext, admin: AccessContext) async throws -> Report {
        do { try await vault.createTenant(tenant, context: admin) } catch let error as CofferError where error.code == .alreadyExists {}
        var payload = [UInt8](repeating: 0, count: size)
        for i in 0..<size { payload[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
        let name = "throughput-\(UUID().uuidString)"
        var puts: [Double] = []
        var gets: [Double] = []
        for round in 0...repetitions {
            let start = ContinuousClock.now
            let (id, _) = try await vault.put(tenant: tenant, kind: .testResult, name: name, bytes: payload, context: context)
            let put = ContinuousClock.now - start
            let readStart = ContinuousClock.now
            let back = try await vault.readAll(tenant: tenant, objectID: id, context: context)
            let get = ContinuousClock.now - readStart
            guard back == payload else { throw CofferError(.tamperDetected, "the benchmark object read back other bytes") }
            if round > 0 {
                puts.append(AuditBenchmark.seconds(put))
                gets.append(AuditBenchmark.seconds(get))
            }
        }
        return Report(size: size, repetitions: repetitions, putBytesPerSecond: Double(size) / median(puts),
                      getBytesPerSecond: Double(size) / median(gets), putSeconds: puts, getSeconds: gets)
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
