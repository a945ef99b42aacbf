import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file that appears under its name only when complete: bytes go to a private temporary file
/// (mode 0600) beside the destination, which ``commit(replacing:)`` renames into place. If the writer fails
/// or is dropped without commit, the temporary file is removed, so no partial output is left.
///
/// A destination that exists and is not a regular file (a device such as `/dev/null`, a FIFO)
/// is written directly: it cannot be replaced, and nothing is left on it to clean up.
public final class AtomicOutputFile {
    /// The destination path.
    public let path: String
    /// The descriptor to write to.
    public let fd: Int32
    /// Where the bytes go until ``commit(replacing:)`` (nil when the destination is written
    /// directly): for writers that reopen the file by name, such as the export's ZIP writer.
    let temporaryPath: String?
    private var done = false

    /// Creates the temporary file.
    /// - Parameter path: Where the file should appear on success.
    /// - Throws: `CofferError` `io` when the directory is not writable.
    public init(path: String) throws {
        self.path = path
        var info = stat()
        if stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            temporaryPath = nil
            fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CofferError(.io, "cannot open \(path) for writing: \(String(cString: strerror(errno)))")
            }
            return
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporaryPath = directory + "/." + url.lastPathComponent + ".coffer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).partial"
        self.temporaryPath = temporaryPath
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CofferError(.io, "cannot create output beside \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes the file to disk and moves it into place.
    /// - Parameter replacing: Whether an existing file at ``path`` may be replaced (the default,
    ///   by `rename`). Without it the file is linked into place, which fails if the name exists
    ///   meanwhile, so nothing that appeared after a check is overwritten.
    /// - Throws: `CofferError` `alreadyExists` (not replacing, the name is taken) or `io`; the
    ///   temporary file is removed on failure.
    public func commit(replacing: Bool = true) throws {
        guard !done else { return }
        done = true
        guard let temporaryPath else {
            close(fd)
            return
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw CofferError(.io, "cannot finish writing \(path): \(reason)")
        }
        if replacing {
            guard rename(temporaryPath, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporaryPath)
                throw CofferError(.io, "cannot finish writing \(path): \(reason)")
            }
            return
        }
        let linked = link(temporaryPath, path) == 0
        let reason = errno
        unlink(temporaryPath)
        guard linked else {
            if reason == EEXIST { throw CofferError(.alreadyExists, "\(path) already exists; choose another name") }
            throw CofferError(.io, "cannot finish writing \(path): \(String(cString: strerror(reason)))")
        }
    }

    /// Syncs a directory, so a rename into it survives a crash.
    /// - Throws: `CofferError` `io` when the sync fails.
    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CofferError(.io, "cannot sync the directory \(directory): \(String(cString: strerror(errno)))") }
    }

    /// Removes the temporary file; the destination is left untouched.
    public func discard() {
        guard !done else { return }
        done = true
        close(fd)
        if let temporaryPath { unlink(temporaryPath) }
    }

    deinit { discard() }
}
