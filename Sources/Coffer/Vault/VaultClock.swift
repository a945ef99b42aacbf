import Synchronization

/// The vault's sense of "now", in Unix milliseconds: the wall clock, plus an offset that only
/// tests move (through `@testable import`), so grant expiry is tested without sleeping.
final class VaultClock: Sendable {
    private let offset = Mutex<Int64>(0)

    /// Now, in Unix milliseconds.
    func now() -> Int64 { nowMilliseconds() + offset.withLock { $0 } }

    /// Moves this clock forward by `milliseconds` (tests only).
    func advance(by milliseconds: Int64) { offset.withLock { $0 += milliseconds } }
}
