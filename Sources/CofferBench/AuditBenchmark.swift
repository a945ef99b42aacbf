import Coffer
import CofferCrypto
import Foundation
import Logging

/// What the access log costs: append rate (alone and with many callers), overhead on 4 KiB gets
/// against the same vault with the log switched off, filtered-query latency at several log sizes,
/// and verification rate (see docs/benchmarks.md).
public enum AuditBenchmark {
    /// One measurement.
    public struct Measurement: Codable, Sendable {
        public let name: String
        public let value: Double
        public let unit: String
    }

    /// The report.
    public struct Report: Codable, Sendable {
        public let measurements: [Measurement]
        /// Audited over unaudited cost of a 4 KiB get, at each concurrency.
        public let getOverhead: [String: Double]
    }

    /// Runs the benchmark in a scratch directory (removed afterwards).
    /// - Parameters:
    ///   - gets: 4 KiB gets per measurement.
    ///   - concurrency: Concurrent callers for the group-commit measurements.
    ///   - querySizes: Log sizes (records) at which to time filtered queries and verification.
    public static func run(gets: Int = 2000, concurrency: Int = 16, querySizes: [Int] = [10_000, 1_000_000]) async throws -> Report {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-audit-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let keyring = try Keyring.generate()
        let logger = Logger(label: "coffer")
        let context = try AccessContext(actor: "bench", purpose: .serviceOperation)
        let auditor = try AccessContext(actor: "bench", purpose: .audit)
        var results: [Measurement] = []
        var overhead: [String: Double] = [:]

        // 4 KiB gets, audited and not, on one vault directory (the unaudited twin opens the same files).
        let directory = scratch.appendingPathComponent("vault")
        let audited = try Vault.create(at: directory, keyring: keyring, operator: "bench", logger: logger)
        try await audited.createTenant("bench", context: context)
        let payload = [UInt8](repeating: 0x42, count: 4096)
        var ids: [ObjectID] = []
        for i in 0..<200 {
            ids.append(try await audited.put(tenant: "bench", kind: .testResult, name: "o\(i)", bytes: payload, context: context).objectID)
        }
        let unaudited = try Vault.open(at: directory, keyring: keyring, logger: logger, auditing: false)
        func getRate(_ vault: Vault, callers: Int) async throws -> Double {
            let ids = ids
            return try await SmallObjectBenchmark.measure(callers: callers, operations: gets) { i in
                _ = try await vault.readAll(tenant: "bench", objectID: ids[i % ids.count], context: context)
            }.rate
        }
        for callers in [1, concurrency] {
            // Interleave twice so both sides see the same machine.
            var plain: [Double] = [], logged: [Double] = []
            for _ in 0..<2 {
                plain.append(try await getRate(unaudited, callers: callers))
                logged.append(try await getRate(audited, callers: callers))
            }
            let p = plain.max()!, l = logged.max()!
            results.append(Measurement(name: "get-4k-unaudited-\(callers)-callers", value: p, unit: "ops/s"))
            results.append(Measurement(name: "get-4k-audited-\(callers)-callers", value: l, unit: "ops/s"))
            overhead["\(callers) callers: audited cost / unaudited cost"] = p / l
        }

        // Append rate through the group-commit path, alone and with many callers.
        for callers in [1, concurrency] {
            let rate = try await SmallObjectBenchmark.measure(callers: callers, operations: gets) { _ in
                _ = try await audited.auditAppender.append(sampleEntry(0))
            }.rate
            results.append(Measurement(name: "append-\(callers)-callers", value: rate, unit: "records/s"))
        }
        try unaudited.close()
        try audited.close()

        // Query latency and verification at each size, on a log filled in large transactions.
        for size in querySizes.sorted() {
            let url = scratch.appendingPathComponent("audit-\(size).sqlite")
            let log = try AuditLog(url: url, keyring: keyring, keyID: keyring.requiredSecret(for: .auditSigning).id,
                                   logger: logger)
            let fillStart = ContinuousClock.now
            var written = 0
            while written < size {
                let n = min(20_000, size - written)
                _ = try log.commit((0..<n).map { sampleEntry(written + $0) })
                written += n
            }
            results.append(Measurement(name: "bulk-append-\(size)", value: Double(size) / seconds(ContinuousClock.now - fillStart), unit: "records/s"))
            let queries: [(String, AuditQuery)] = [
                ("by-tenant", AuditQuery(tenant: "tenant-7", limit: 100)),
                ("by-actor", AuditQuery(actor: "actor-13", limit: 100)),
                ("by-object", AuditQuery(objectID: "obj-\(size / 2)", limit: 100)),
                ("denied-by-actor", AuditQuery(actor: "actor-13", outcome: .denied, limit: 100)),
                ("tenant-last-hour", AuditQuery(tenant: "tenant-3", since: nowMilliseconds() - 3_600_000, limit: 100)),
            ]
            for (name, query) in queries {
                var best = Double.infinity
                for _ in 0..<5 {
                    let start = ContinuousClock.now
                    let found = try log.records(query)
                    best = min(best, seconds(ContinuousClock.now - start))
                    if found.isEmpty && name != "denied-by-actor" { throw CofferError(.storage, "benchmark query \(name) found nothing") }
                }
                results.append(Measurement(name: "query-\(name)-\(size)", value: best * 1000, unit: "ms"))
            }
            let verifyStart = ContinuousClock.now
            let verdict = try log.verify()
            guard verdict.ok else { throw CofferError(.storage, "benchmark log failed verification: \(verdict.problem ?? "")") }
            results.append(Measurement(name: "verify-\(size)", value: Double(size) / seconds(ContinuousClock.now - verifyStart), unit: "records/s"))
            log.pool.close()
        }
        _ = auditor
        return Report(measurements: results, getOverhead: overhead)
    }

    /// A plausible record: 50 actors, 20 tenants, one object per record.
    static func sampleEntry(_ i: Int) -> AuditEntry {
        AuditEntry(time: nowMilliseconds(), actor: PrincipalID("actor-\(i % 50)"), role: "service", tenant: TenantID("tenant-\(i % 20)"), subject: nil,
                   objectID: "obj-\(i)", objectVersion: 1, objectKind: "test-result", action: i % 10 == 0 ? .write : .read,
                   dataClass: .content, purpose: .serviceOperation, justification: nil, outcome: i % 97 == 0 ? .denied : .allowed,
                   errorCode: nil, bytes: 4096, requestID: "req-\(i)", client: "bench", grantID: nil, reason: nil)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
