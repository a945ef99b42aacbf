import Foundation

/// Group fetches of sequential readers, started ahead of the batch that needs them and kept
/// until that batch has read them (or they fail), at most `limit` at once across every reader of
/// the store: bounded memory, ciphertext only. Keys are an object key and a byte range; object
/// keys are never reused, so an entry can never be stale.
final class GroupReadAhead: @unchecked Sendable {
    // @unchecked: `fetches`, `order` and `plans` are touched only with `lock` held.
    private let lock = NSLock()
    private var fetches: [String: Task<[UInt8], any Error>] = [:]
    private var order: [String] = []
    private var plans: [String: [SegmentGroup]] = [:]
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// The fetch of `name`: the one already under way, or a new one started with `start`
    /// (dropping the oldest other entry when full).
    func fetch(_ name: String, _ start: @escaping @Sendable () async throws -> [UInt8]) -> Task<[UInt8], any Error> {
        lock.withLock {
            if let running = fetches[name] { return running }
            while fetches.count >= limit, let oldest = order.first {
                order.removeFirst()
                fetches[oldest] = nil
            }
            let task = Task { try await start() }
            fetches[name] = task
            order.append(name)
            return task
        }
    }

    /// The groups of a planned read, listed by its first batch and kept for the others (no
    /// catalog query per batch); at most `limit` plans.
    func groups(of plan: String, _ list: () throws -> [SegmentGroup]) rethrows -> [SegmentGroup] {
        if let known = lock.withLock({ plans[plan] }) { return known }
        let listed = try list()
        lock.withLock {
            if plans.count >= limit { plans.removeAll() }
            plans[plan] = listed
        }
        return listed
    }

    /// Forgets the plan `plan` (read to its end, or failed).
    func dropPlan(_ plan: String) {
        _ = lock.withLock { plans.removeValue(forKey: plan) }
    }

    /// Forgets `name` (read to its end, or failed).
    func drop(_ name: String) {
        lock.withLock {
            fetches[name] = nil
            order.removeAll { $0 == name }
        }
    }
}
