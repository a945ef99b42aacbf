import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lock file held (`flock`) by a put in progress, named by its token. The kernel releases it
/// when the process dies, however it dies, so the vault can tell a crashed writer's pending
/// version from one still being written.
final class WriterLock: @unchecked Sendable {
    // @unchecked: `fileRemoved` is touched only with `lock` held.
    let token: String
    private let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var fileRemoved = false

    /// Creates and locks a new lock file in `directory`.
    init(directory: URL) throws {
        token = try makeIdentifier("w")
        // `isDirectory: false`: without it Foundation stats the path to find out.
        path = directory.appendingPathComponent(token + ".lock", isDirectory: false).path
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CofferError(.io, "cannot create writer lock: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw CofferError(.io, "cannot lock writer lock: \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the lock file but keeps the lock held. Called inside the commit transaction:
    /// once the commit is durable no lock file is needed, and a process that dies just after it
    /// leaves none behind; if it dies before, its pending version has no lock file and the next
    /// open clears it (which cannot happen earlier: this process holds the write transaction).
    func removeFile() {
        lock.withLock {
            guard !fileRemoved else { return }
            fileRemoved = true
            unlink(path)
        }
    }

    /// Removes the lock file if it is still there, and unlocks.
    func release() {
        removeFile()
        close(fd)
    }

    /// True when no live process holds the lock of `token` (its writer is gone).
    static func isAbandoned(token: String, directory: URL) -> Bool {
        let path = directory.appendingPathComponent(token + ".lock", isDirectory: false).path
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        unlink(path)
        return true
    }
}
