import CofferCrypto
import Synchronization

/// A vault's budget of bytes for writers' batch buffers. Each writer reserves its buffer when it
/// starts and gives it back when it commits, is abandoned or is dropped, so the memory all
/// writers hold together stays under ``capacity`` however many run. A writer that cannot have
/// the buffer it prefers takes what is left if that is at least its minimum (smaller batches,
/// fewer workers); otherwise it waits, suspended and in order of arrival, and a cancelled wait
/// throws `CancellationError`.
final class MemoryBudget: Sendable {
    private struct Waiter {
        let id: UInt64
        let minimum: Int
        let preferred: Int
        let continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var capacity: Int
        var available: Int
        var waiting: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// A budget of `capacity` bytes.
    /// - Parameter capacity: At least 1.
    init(capacity: Int) {
        state = Mutex(State(capacity: max(1, capacity), available: max(1, capacity)))
    }

    /// Bytes the budget holds in all.
    var capacity: Int { state.withLock { $0.capacity } }

    /// Changes the capacity. Reservations already held keep their bytes; while they exceed a
    /// smaller capacity, new ones wait for them to be given back.
    /// - Parameter capacity: At least 1.
    func setCapacity(_ capacity: Int) {
        state.withLock { state in
            let capacity = max(1, capacity)
            state.available += capacity - state.capacity
            state.capacity = capacity
        }
        admitWaiting()
    }

    /// Bytes not reserved now.
    var available: Int { state.withLock { $0.available } }

    /// Reservations waiting now.
    var waiting: Int { state.withLock { $0.waiting.count } }

    /// Reserves `preferred` bytes, or what is available if that is at least `minimum`, waiting
    /// for `minimum` otherwise. Requests above ``capacity`` are cut to it.
    /// - Returns: The reservation (at least `minimum`, at most `preferred`, both cut to capacity).
    /// - Throws: `CancellationError` when the task is cancelled while it waits.
    func reserve(minimum: Int, preferred: Int) async throws -> MemoryReservation {
        let capacity = self.capacity
        let minimum = min(capacity, max(1, minimum))
        let preferred = min(capacity, max(minimum, preferred))
        let id = state.withLock { state -> UInt64 in state.nextID += 1; return state.nextID }
        let granted = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let now = state.withLock { state -> Result<Int, CancellationError>? in
                    if state.waiting.isEmpty, state.available >= minimum {
                        let granted = min(preferred, state.available)
                        state.available -= granted
                        return .success(granted)
                    }
                    // Cancelled before it could queue: the cancellation handler found nothing.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiting.append(Waiter(id: id, minimum: minimum, preferred: preferred, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(with: now.mapError { $0 as any Error }) }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Waiter? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiting.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
            // The head of the line may have changed: let the next one in if it fits.
            self.admitWaiting()
        }
        return MemoryReservation(budget: self, bytes: granted)
    }

    /// Gives `bytes` back and admits whoever now fits, in order.
    fileprivate func release(_ bytes: Int) {
        state.withLock { $0.available += bytes }
        admitWaiting()
    }

    private func admitWaiting() {
        let admitted = state.withLock { state -> [(CheckedContinuation<Int, any Error>, Int)] in
            var admitted: [(CheckedContinuation<Int, any Error>, Int)] = []
            // A minimum is cut to the capacity, which may have shrunk since the waiter queued.
            while let first = state.waiting.first, state.available >= min(first.minimum, state.capacity) {
                state.waiting.removeFirst()
                let granted = min(first.preferred, state.available)
                state.available -= granted
                admitted.append((first.continuation, granted))
            }
            return admitted
        }
        for (continuation, granted) in admitted { continuation.resume(returning: granted) }
    }
}

/// Bytes held from a ``MemoryBudget``, given back once: by ``release()`` or when the
/// reservation is dropped.
final class MemoryReservation: Sendable {
    /// The bytes held.
    let bytes: Int
    private let budget: MemoryBudget
    private let released = Atomic(false)

    fileprivate init(budget: MemoryBudget, bytes: Int) {
        self.budget = budget
        self.bytes = bytes
    }

    deinit { release() }

    /// Gives the bytes back (only the first call does anything).
    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        budget.release(bytes)
    }
}
