import Foundation

/// The thread under a group commit: items queue up from any thread, and one dedicated thread
/// hands everything queued since its last round to `commit` as one batch, so while one batch is
/// being synced to disk the next one gathers. Alone, an item is a batch of one.
///
/// The thread starts with the first item and ends once ``stop(waiting:)`` was called and the
/// queue is empty.
package final class GroupCommitThread<Item>: @unchecked Sendable {
    // @unchecked: `pending`, `started`, `stopping` and `finished` are touched only with
    // `condition` locked; `commit` runs on the thread alone.
    private let condition = NSCondition()
    private let name: String
    private let commit: ([Item]) -> Void
    private var pending: [Item] = []
    private var started = false
    private var stopping = false
    private var finished = false

    /// A thread named `name` that passes each batch to `commit`.
    package init(name: String, commit: @escaping ([Item]) -> Void) {
        self.name = name
        self.commit = commit
    }

    /// Queues `item` for the next batch.
    /// - Returns: False, queueing nothing, once ``stop(waiting:)`` was called.
    package func submit(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        pending.append(item)
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = name
            thread.start()
        }
        condition.signal()
        return true
    }

    /// True once ``stop(waiting:)`` was called.
    package var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Lets the thread commit what is queued and exit; with `waiting`, returns once it has.
    package func stop(waiting: Bool) {
        condition.lock()
        stopping = true
        condition.broadcast()
        while waiting && started && !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            condition.unlock()
            commit(batch)
        }
    }
}
