import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Synchronization

/// The principals the access gate has read, kept until any process changes a principal of the
/// vault: a decision then costs a `stat` instead of a read transaction of `control.sqlite`.
///
/// Every process with the vault open announces each committed change to the `principal` table
/// by growing the stamp file `principals.stamp` by one byte (``PrincipalStamp``); a cached
/// principal is used only while the file's identity and size are what they were when it was
/// read, so a change made anywhere is seen by the next decision everywhere. A stamp that cannot
/// be read (the file removed) disables the cache; an entry is also read again after a second,
/// which bounds what a process killed between its commit and its announcement leaves behind.
final class PrincipalCache: Sendable {
    private struct Entry {
        let principal: Principal?
        let stamp: PrincipalStamp.Value
        let readAt: ContinuousClock.Instant
    }

    private let stamp: PrincipalStamp
    private let entries = Mutex<[PrincipalID: Entry]>([:])
    /// How long an entry is trusted at most, whatever the stamp says.
    static let lifetime: Duration = .seconds(1)
    /// Entries kept at most; beyond, the cache starts again (a vault has few principals).
    static let capacity = 4096

    init(stamp: PrincipalStamp) {
        self.stamp = stamp
    }

    /// The principal `id`: the cached one while nothing changed, else what `read` returns (then
    /// cached under the stamp taken before reading).
    func principal(id: PrincipalID, read: (PrincipalID) throws -> Principal?) throws -> Principal? {
        guard let now = stamp.current() else { return try read(id) }
        let clock = ContinuousClock.now
        if let entry = entries.withLock({ $0[id] }), entry.stamp == now, clock - entry.readAt < Self.lifetime {
            return entry.principal
        }
        let principal = try read(id)
        entries.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll() }
            cache[id] = Entry(principal: principal, stamp: now, readAt: clock)
        }
        return principal
    }
}

/// `principals.stamp` in the vault's directory: its size grows by one at every committed change
/// to the principals, from any process. The file holds no data (it grows by `ftruncate`, sparse,
/// so a full disk cannot stop an announcement).
final class PrincipalStamp: Sendable {
    /// The file's identity and size: equal values, no change in between.
    struct Value: Equatable, Sendable {
        let device: UInt64, inode: UInt64, size: Int64
    }

    static let fileName = "principals.stamp"
    let path: String

    /// The stamp of the vault in `directory`, making the file (mode 0600) if it is missing.
    /// - Returns: Nil when the file cannot be made (a read-only directory): no cache then.
    init?(directory: URL) {
        path = directory.appendingPathComponent(Self.fileName, isDirectory: false).path
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        close(fd)
    }

    /// The stamp of the vault in `directory`, announced by an observer on `control`'s writer.
    /// - Returns: Nil when the file cannot be made: no cache then.
    static func observing(_ control: DatabasePool, in directory: URL) -> PrincipalStamp? {
        guard let stamp = PrincipalStamp(directory: directory) else { return nil }
        control.writeWithoutTransaction { db in
            db.add(transactionObserver: PrincipalChangeObserver(stamp: stamp), extent: .databaseLifetime)
        }
        return stamp
    }

    /// The stamp now, or nil when the file cannot be read.
    func current() -> Value? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Value(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size))
    }

    /// Announces a committed change: one byte more, under the file's lock, so that two
    /// processes announcing at once both count.
    /// - Returns: False when the file could not be grown (every cache then still expires).
    @discardableResult
    func announce() -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { return false }
        defer { flock(fd, LOCK_UN) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return ftruncate(fd, info.st_size + 1) == 0
    }
}

/// Announces, on the stamp, every committed transaction of `control.sqlite`'s writer that
/// changed the `principal` table (GRDB calls it on the writer's thread).
final class PrincipalChangeObserver: TransactionObserver, @unchecked Sendable {
    // @unchecked: `changed` is touched only on the writer connection's thread, one
    // transaction at a time.
    private let stamp: PrincipalStamp
    private var changed = false

    init(stamp: PrincipalStamp) {
        self.stamp = stamp
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == "principal"
    }

    func databaseDidChange(with event: DatabaseEvent) {
        changed = true
    }

    func databaseDidCommit(_ db: Database) {
        guard changed else { return }
        changed = false
        stamp.announce()
    }

    func databaseDidRollback(_ db: Database) {
        changed = false
    }
}
