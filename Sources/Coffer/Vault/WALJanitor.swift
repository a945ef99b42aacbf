import Foundation
import GRDB
import Logging
import Synchronization

/// Empties the vault files' WALs after deletes, corrections and key rotations, so the old
/// ciphertext they still hold (and the old pages in the database file, which only a checkpoint
/// overwrites with the zeroed ones) is gone.
///
/// A checkpoint with `TRUNCATE` must wait for every reader of the WAL; Coffer waits a quarter of
/// a second, not the 30-second busy timeout, so a delete never stalls behind an unrelated reader.
/// When a reader is in the way the file is marked pending, and ``VaultMaintenance`` (or the next
/// delete, or ``Vault/close()``, or the next open) tries again until it succeeds.
final class WALJanitor: Sendable {
    /// A vault file whose WAL is emptied.
    enum File: String, Sendable, CaseIterable {
        case control, content, pii
    }

    /// How long one attempt waits for readers.
    static let attemptTimeout: Duration = .milliseconds(250)

    private let pools: [File: DatabasePool]
    private let pending = Mutex<Set<File>>([])
    private let logger: Logger

    init(control: DatabasePool, content: DatabasePool, pii: DatabasePool, logger: Logger) {
        pools = [.control: control, .content: content, .pii: pii]
        self.logger = logger
    }

    /// A janitor with nothing to do: a vault on another engine has no WAL files.
    init(nothingToDo logger: Logger) {
        pools = [:]
        self.logger = logger
    }

    /// The files whose WAL still waits to be emptied.
    var pendingFiles: Set<File> { pending.withLock { $0 } }

    /// Marks `file` pending (tried by the next attempt).
    func markPending(_ file: File) {
        guard pools[file] != nil else { return }
        _ = pending.withLock { $0.insert(file) }
    }

    /// Marks every file pending: at open, because a process that died between a delete's commit
    /// and its checkpoint left the old pages behind and nothing else would empty them.
    func markAllPending() {
        pending.withLock { $0 = Set(File.allCases.filter { pools[$0] != nil }) }
    }

    /// Tries to empty `file`'s WAL now (and any other pending one).
    /// - Returns: True when every WAL asked for is empty.
    @discardableResult
    func truncate(_ file: File) async -> Bool {
        markPending(file)
        return await retryPending()
    }

    /// Tries every pending file once, on the blocking pool.
    /// - Returns: True when nothing is pending any more.
    @discardableResult
    func retryPending() async -> Bool {
        (try? await BlockingPool.shared.run { self.retryPendingNow() }) ?? false
    }

    /// Tries every pending file once, on the calling thread (blocks up to ``attemptTimeout`` per file).
    /// - Returns: True when nothing is pending any more.
    @discardableResult
    func retryPendingNow() -> Bool {
        for file in pendingFiles.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let pool = pools[file] else { continue }
            if Self.attempt(pool) {
                _ = pending.withLock { $0.remove(file) }
            } else {
                logger.debug("WAL truncation postponed: a reader holds it", metadata: ["file": "\(file.rawValue)"])
            }
        }
        return pendingFiles.isEmpty
    }

    /// One checkpoint of `pool` in `TRUNCATE` mode, waiting at most ``attemptTimeout`` for readers.
    private static func attempt(_ pool: DatabasePool) -> Bool {
        let milliseconds = Int(attemptTimeout.components.seconds * 1000 + attemptTimeout.components.attoseconds / 1_000_000_000_000_000)
        do {
            return try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA busy_timeout = \(milliseconds)")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = \(VaultDatabase.busyTimeoutMilliseconds)") }
                let result = try db.checkpoint(.truncate)
                return result.walFrameCount <= 0 || result.checkpointedFrameCount == result.walFrameCount
            }
        } catch {
            return false
        }
    }
}
