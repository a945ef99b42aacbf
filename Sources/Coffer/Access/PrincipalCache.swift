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
/// Every process with the vault open announces each change to the `principal` table by growing
/// the stamp file `principals.stamp` by one byte before its commit and again after it
/// (``PrincipalStamp``, ``PrincipalChangeObserver``); a change that cannot be announced is
/// refused. A cached principal is used only while the file's identity, size and change time are
/// what they were before it was read, so a change made anywhere is seen by the next decision
/// everywhere. A stamp that cannot be read (removed, not a regular file) disables the cache; an
/// entry is also read again after a second, which bounds what a writer outside Coffer leaves
/// behind.
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

/// `principals.stamp` in the vault's directory: its size grows by one at every change to the
/// principals, from any process. The file holds no data (it grows by `ftruncate`, sparse, so a
/// full disk cannot stop an announcement).
final class PrincipalStamp: Sendable {
    /// The file's identity, size and change time: equal values, no announcement in between
    /// (the change time tells a file made again, whose inode may be reused, from the old one).
    struct Value: Equatable, Sendable {
        let device: UInt64, inode: UInt64, size: Int64, changedSeconds: Int, changedNanoseconds: Int
    }

    static let fileName = "principals.stamp"
    let path: String

    /// The stamp of the vault in `directory` (``announce()`` makes the file, mode 0600, when it is missing).
    init(directory: URL) {
        path = directory.appendingPathComponent(Self.fileName, isDirectory: false).path
    }

    /// The stamp of the vault in `directory`, with an observer on `control`'s writer that
    /// announces every change to the principals, and refuses a change it cannot announce.
    /// - Returns: The stamp, or nil when it cannot be read now (a read-only directory): the
    ///   observer is installed either way, only the cache is not.
    static func observing(_ control: DatabasePool, in directory: URL) -> PrincipalStamp? {
        let stamp = PrincipalStamp(directory: directory)
        control.writeWithoutTransaction { db in
            db.add(transactionObserver: PrincipalChangeObserver(stamp: stamp), extent: .databaseLifetime)
        }
        // Whatever changed the principals before this process could observe (a migration); this
        // also makes the file.
        stamp.announce()
        return stamp.current() == nil ? nil : stamp
    }

    /// The stamp now, or nil when the file cannot be read or is not a regular file.
    func current() -> Value? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Value(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                     changedSeconds: info.st_ctim.tv_sec, changedNanoseconds: info.st_ctim.tv_nsec)
    }

    /// Announces a change: one byte more, under the file's lock, so that two processes
    /// announcing at once both count.
    /// - Returns: False when the file could not be grown.
    @discardableResult
    func announce() -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { return false }
        defer { flock(fd, LOCK_UN) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
        return ftruncate(fd, info.st_size + 1) == 0
    }
}

/// Announces, on the stamp, every transaction of `control.sqlite`'s writer that changes the
/// `principal` table (GRDB calls it on the writer's thread): once before the commit, which is
/// refused if that announcement cannot be made (so no process keeps a principal nobody told it
/// changed), and once after it, which makes stale whatever was read in between.
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

    func databaseWillCommit() throws {
        guard changed else { return }
        guard stamp.announce() else {
            throw CofferError(.storage, "cannot announce a change to the principals (\(PrincipalStamp.fileName) cannot be written); nothing was changed")
        }
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
