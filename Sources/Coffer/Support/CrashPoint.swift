import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named points where the crash tests kill the process, to prove that a process dying there
/// leaves every file sound and every object absent or complete.
///
/// Compiled into every build, and a no-op unless the environment variable `COFFER_CRASH_AT`
/// names the point when the process starts (it is read once): then reaching that point ends the
/// process at once with `_exit(137)`, as `kill -9` would (no cleanup, no atexit handlers, no
/// buffered output flushed). Nothing sets the variable but the tests (`CrashPointTests`).
///
/// Points: `commit.after-segments` (inside the commit transaction, the last segments inserted,
/// the version not yet marked committed), `commit.after-transaction` (committed, the writer
/// lock not yet released), `put.after-commit` (a small put's one transaction committed, its
/// record still in the outbox), `delete.after-rows` (inside the delete transaction),
/// `delete.before-wal-truncate` (committed, the WAL not yet checkpointed),
/// `audit.after-records` (inside the log's group commit, records and leaves inserted, the state
/// row not yet updated), `audit.after-commit` (the records durable, the callers not yet resumed),
/// `rotate.after-batch` (a key rotation's first batch of rewrapped keys committed, the rest not),
/// `pii.after-rewrite` (a subject's values committed under its fresh key, the old key not yet
/// destroyed), `retention.after-rows` (inside a retention run's delete of an object's due
/// versions), `retention.after-item` (a retention run's first item removed, the rest not).
enum CrashPoint {
    /// The point named by `COFFER_CRASH_AT`, read once.
    private static let armed: String? = ProcessInfo.processInfo.environment["COFFER_CRASH_AT"].flatMap { $0.isEmpty ? nil : $0 }

    /// Ends the process with status 137 if `COFFER_CRASH_AT` is `name`; otherwise does nothing.
    @inline(__always)
    static func hit(_ name: StaticString) {
        guard let armed else { return }
        if armed == "\(name)" { _exit(137) }
    }
}
