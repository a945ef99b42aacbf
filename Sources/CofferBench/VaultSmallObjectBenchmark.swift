import Coffer
import CofferCrypto
import Foundation

/// 4 KiB puts and gets, with access control and the log, through the public API of a vault on
/// any engine (on PostgreSQL + S3: `coffer bench scale-out --small N`, beside the same rows and
/// objects moved directly by `scripts/bench-scale-out.sh`).
public enum VaultSmallObjectBenchmark {
    /// `operations` new 4 KiB objects put, then read back, at each concurrency in `callers`.
    /// - Parameters:
    ///   - vault: An open vault; tenant `tenant` is registered if it is not.
    ///   - context: A service principal's context (and an admin's, for the tenant).
    /// - Returns: One put and one get measurement per concurrency (`audited` true).
    public static func run(_ vault: Vault, tenant: TenantID = "bench", operations: Int, callers: [Int],
                           context: AccessContext, admin: AccessContext) async throws -> [SmallObjectBenchmark.Measurement] {
        do { try await vault.createTenant(tenant, context: admin) } catch let error as CofferError where error.code == .alreadyExists {}
        let payload = [UInt8](repeating: 0x42, count: 4096)
        let run = UUID().uuidString
        var measurements: [SmallObjectBenchmark.Measurement] = []
        for count in callers {
            let ids = IDs(count: operations)
            let put = try await SmallObjectBenchmark.measure(callers: count, operations: operations) { i in
                let (id, _) = try await vault.put(tenant: tenant, kind: .testScript, name: "small-\(run)-\(count)-\(i)", bytes: payload, context: context)
                ids.set(i, id)
            }
            let written = ids.all
            let get = try await SmallObjectBenchmark.measure(callers: count, operations: operations) { i in
                guard let id = written[i] else { throw CofferError(.notFound, "benchmark put \(i) made no object") }
                guard try await vault.readAll(tenant: tenant, objectID: id, context: context).count == payload.count else {
                    throw CofferError(.tamperDetected, "the benchmark object read back another size")
                }
            }
            measurements.append(.init(operation: "put-4k", audited: true, callers: count, sample: put))
            measurements.append(.init(operation: "get-4k", audited: true, callers: count, sample: get))
        }
        return measurements
    }
}

extension VaultSmallObjectBenchmark {
    /// The same number of operations done by `insert(i)` then `select(i)` at `callers`: the
    /// yardstick the caller supplies (on PostgreSQL, a row per operation inserted and read back
    /// by primary key through postgres-nio).
    /// - Returns: One `insert` and one `select` measurement (`audited` false).
    public static func direct(operations: Int, callers: Int, insert: @escaping @Sendable (Int) async throws -> Void,
                              select: @escaping @Sendable (Int) async throws -> Void) async throws -> [SmallObjectBenchmark.Measurement] {
        let inserted = try await SmallObjectBenchmark.measure(callers: callers, operations: operations, insert)
        let selected = try await SmallObjectBenchmark.measure(callers: callers, operations: operations, select)
        return [.init(operation: "insert", audited: false, callers: callers, sample: inserted),
                .init(operation: "select", audited: false, callers: callers, sample: selected)]
    }
}

/// The ids the concurrent puts made, by operation number.
private final class IDs: @unchecked Sendable {
    // @unchecked: `values` is touched only with `lock` held.
    private let lock = NSLock()
    private var values: [ObjectID?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ id: ObjectID) { lock.withLock { values[i] = id } }

    var all: [ObjectID?] { lock.withLock { values } }
}
