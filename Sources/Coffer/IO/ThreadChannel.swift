import CofferCrypto
import Foundation

/// A bounded queue from async code to one dedicated thread: for work that only exists as a
/// blocking callback (a library that pulls its input through a synchronous closure), fed by
/// tasks that must not block Swift's cooperative pool.
///
/// The sending task is suspended, not blocked, while the queue is full (``send(_:)``); the thread
/// blocks in ``receive()`` until something arrives. Either side can end the exchange with
/// ``fail(_:)``: the other side's next call throws that error. The shape is swift-nio's
/// `NIOAsyncWriter` seen from the other end: backpressure to the producer, one consumer.
final class ThreadChannel<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every stored property is touched only with `condition` locked.
    private let condition = NSCondition()
    private let capacity: Int
    /// What waits for the receiver, oldest first: a few elements (the capacity, plus what was
    /// posted), so taking the first is cheap, and a taken element is released at once.
    private var queue: [Element] = []
    private var closed = false
    private var failure: (any Error)?
    /// The sender suspended for room, if any (one sending task at a time).
    private var spaceWaiter: CheckedContinuation<Void, any Error>?

    /// A channel holding at most `capacity` elements sent with ``send(_:)``.
    init(capacity: Int) {
        precondition(capacity >= 1, "a channel needs room for one element")
        self.capacity = capacity
    }

    private var count: Int { queue.count }

    /// Queues `element`, suspending while the queue is full.
    /// - Throws: The error the channel failed with; `CofferError` `io` after ``close()``.
    func send(_ element: Element) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            condition.lock()
            defer { condition.unlock() }
            if let failure { return continuation.resume(throwing: failure) }
            if closed { return continuation.resume(throwing: CofferError(.io, "a closed channel was sent to")) }
            queue.append(element)
            condition.signal()
            if count < capacity {
                continuation.resume()
            } else {
                precondition(spaceWaiter == nil, "a ThreadChannel has one sender at a time")
                spaceWaiter = continuation
            }
        }
    }

    /// Queues `element` at once, whatever the queue holds: for a last, small message that must
    /// not wait (the receiver drains it, or ``fail(_:)`` hands it back).
    /// - Throws: The error the channel failed with; `CofferError` `io` after ``close()``.
    func post(_ element: Element) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        if closed { throw CofferError(.io, "a closed channel was posted to") }
        queue.append(element)
        condition.signal()
    }

    /// The next element, blocking the calling thread until one arrives; nil once the channel is
    /// closed and empty. Call it from the dedicated thread only, never from async code.
    /// - Throws: The error the channel failed with.
    func receive() throws -> Element? {
        condition.lock()
        while count == 0 && !closed && failure == nil { condition.wait() }
        if let failure {
            condition.unlock()
            throw failure
        }
        guard count > 0 else {
            condition.unlock()
            return nil
        }
        let element = queue.removeFirst()
        let waiter = count < capacity ? spaceWaiter : nil
        if waiter != nil { spaceWaiter = nil }
        condition.unlock()
        waiter?.resume()
        return element
    }

    /// Ends the stream: the receiver gets what is queued, then nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Fails the channel (the first failure stays): both sides' next calls throw `error`.
    /// - Returns: What was still queued, for the caller to answer (continuations inside).
    @discardableResult
    func fail(_ error: any Error) -> [Element] {
        condition.lock()
        if failure == nil { failure = error }
        let left = queue
        queue.removeAll()
        let waiter = spaceWaiter
        spaceWaiter = nil
        let stored = failure!
        condition.broadcast()
        condition.unlock()
        waiter?.resume(throwing: stored)
        return left
    }
}
