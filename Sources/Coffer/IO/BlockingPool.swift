import CofferCrypto
import Foundation

/// A fixed set of threads for work that blocks (file locks, SQLite, scrypt, bulk crypto), so
/// that it never occupies a thread of Swift's cooperative pool. Callers `await` the result; the
/// calling task is suspended, not blocked, while a pool thread runs the work.
///
/// The shape is swift-nio's `NIOThreadPool.runIfActive`: one queue of work items guarded by one
/// condition, drained by `threadCount` threads that live as long as the pool.
package final class BlockingPool: @unchecked Sendable {
    // @unchecked: `queue` and `stopped` are touched only with `condition` locked.
    private let condition = NSCondition()
    /// Work items; a taken slot is set to nil at once, so what an item captured is released as
    /// soon as it has run, not when the queue next drains.
    private var queue: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var stopped = false

    /// The pool most of Coffer shares: as many threads as cores, at least two, so a blocking
    /// wait (a lock held by another process) never stops unrelated work.
    package static let shared = BlockingPool(threadCount: max(2, ProcessInfo.processInfo.activeProcessorCount), name: "coffer.blocking")

    /// Starts `threadCount` threads named `name`.
    init(threadCount: Int, name: String) {
        for n in 0..<threadCount {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(n)"
            thread.start()
        }
    }

    /// Runs `body` on a pool thread and returns its result.
    /// - Throws: What `body` throws; `CofferError` `io` when the pool was stopped.
    package func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(handingOff: { finish in finish(Result { try body() }) })
    }

    /// Runs `body` on a pool thread and returns what it hands to `finish`, which it calls (or
    /// passes on to be called) exactly once, from any thread: work that ends on another thread,
    /// such as a record handed to the log's committer, then resumes its caller from there,
    /// without first waking the caller's thread to hand it on.
    /// - Throws: What `body` throws (it must then not have called `finish`), or hands to `finish`;
    ///   `CofferError` `io` when the pool was stopped.
    package func run<T: Sendable>(handingOff body: @escaping @Sendable (_ finish: @escaping @Sendable (Result<T, any Error>) -> Void) throws -> Void) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            condition.lock()
            defer { condition.unlock() }
            guard !stopped else {
                continuation.resume(throwing: CofferError(.io, "the blocking-work pool is stopped"))
                return
            }
            queue.append {
                do { try body { continuation.resume(with: $0) } } catch { continuation.resume(throwing: error) }
            }
            condition.signal()
        }
    }

    /// Lets the threads finish what is queued and exit. Only pools made for one job are stopped;
    /// the shared pool lives as long as the process.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !stopped { condition.wait() }
            if head == queue.count {
                condition.unlock()
                return
            }
            let item = queue[head]
            queue[head] = nil
            head += 1
            if head == queue.count {  // drained: reuse the storage from the start
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= queue.count {  // never drained: drop the done half
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            item?()
        }
    }
}
