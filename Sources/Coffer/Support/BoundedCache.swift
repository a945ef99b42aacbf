/// A dictionary that holds at most `limit` values, dropping the oldest first. Not thread-safe:
/// keep it in a `Mutex`.
struct BoundedCache<Value> {
    let limit: Int
    private var values: [String: Value] = [:]
    /// Keys in insertion order; may hold keys removed since, skipped when evicting.
    private var order: [String] = []
    private var start = 0

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// How many values it holds.
    var count: Int { values.count }

    subscript(key: String) -> Value? {
        get { values[key] }
        set {
            guard let newValue else { values[key] = nil; return }
            if values.updateValue(newValue, forKey: key) == nil {
                order.append(key)
                while values.count > limit { evictOldest() }
            }
            compactIfNeeded()
        }
    }

    /// True when a key matches.
    func contains(where matches: (String) -> Bool) -> Bool { values.keys.contains(where: matches) }

    /// Removes every value whose key matches.
    mutating func removeAll(where matches: (String) -> Bool) {
        for key in values.keys where matches(key) { values[key] = nil }
        compactIfNeeded()
    }

    private mutating func evictOldest() {
        while start < order.count {
            let key = order[start]
            start += 1
            if values.removeValue(forKey: key) != nil { return }
        }
    }

    /// Keeps `order` within about twice the limit: drops keys already gone, and all but the
    /// newest mention of a key added again.
    private mutating func compactIfNeeded() {
        guard order.count - start > 2 * limit || start > limit else { return }
        var seen = Set<String>()
        var kept: [String] = []
        for key in order[start...].reversed() where values[key] != nil && seen.insert(key).inserted { kept.append(key) }
        order = kept.reversed()
        start = 0
    }
}
