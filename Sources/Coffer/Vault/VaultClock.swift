import Synchronization

/// The vault's sense of "now", in Unix milliseconds: the wall clock plus an offset, or a fixed
/// time; only tests move or fix it (through `@testable import`), so grant expiry and retention
/// are tested without sleeping and without racing the wall clock.
final class VaultClock: Sendable {
    private struct State {
        var offset: Int64 = 0
        var frozen: Int64?
    }

    private let state = Mutex(State())

    /// Now, in Unix milliseconds.
    func now() -> Int64 {
        state.withLock { $0.frozen ?? nowMilliseconds() + $0.offset }
    }

    /// Moves this clock forward by `milliseconds` (tests only).
    func advance(by milliseconds: Int64) {
        state.withLock { state in
            state.offset += milliseconds
            if let frozen = state.frozen { state.frozen = frozen + milliseconds }
        }
    }

    /// Stops this clock at `milliseconds`; ``advance(by:)`` still moves it (tests only).
    func freeze(at milliseconds: Int64) {
        state.withLock { $0.frozen = milliseconds }
    }
}
