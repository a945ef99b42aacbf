import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a `lock` file in a directory, held while `body` runs: one process at a
/// time changes a backup or the witness's ledger. Blocks: call it on the blocking pool.
enum DirectoryLock {
    static func withLock<T>(_ directory: URL, _ body: () throws -> T) throws -> T {
        let path = directory.appendingPathComponent("lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw CofferError(.io, "cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CofferError(.io, "cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Whether `path` is a regular file and not a symbolic link.
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
