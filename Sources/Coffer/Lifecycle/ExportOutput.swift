import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files an export writes: the archive and, for an encrypted export, its keyset
/// (`ARCHIVE.keyset.json`). Each is written under a private temporary name beside its
/// destination (mode 0600, ``AtomicOutputFile``) and both appear only when the archive is
/// complete and reads back; a failed export leaves neither, nor any temporary file.
final class ExportOutput {
    /// The archive's destination.
    let path: String
    /// The keyset's destination, for an encrypted export.
    let keysetPath: String?
    private let replacing: Bool
    let archive: AtomicOutputFile
    let keyset: AtomicOutputFile?

    /// The keyset file of the archive at `path`.
    static func keysetPath(for path: String) -> String { path + ".keyset.json" }

    /// Checks the destinations and creates the temporary files.
    /// - Parameters:
    ///   - path: Where the archive goes.
    ///   - encrypt: Whether a keyset goes beside it.
    ///   - replacing: Whether existing files may be replaced.
    /// - Throws: `CofferError` `alreadyExists` (a destination exists and `replacing` is false),
    ///   `invalidArgument` (a destination that is not a regular file, or an empty path), `io`
    ///   (the directory cannot be written).
    init(path: String, encrypt: Bool, replacing: Bool) throws {
        guard !path.isEmpty else { throw CofferError(.invalidArgument, "an export needs a file to write (--out FILE.zip)") }
        self.path = path
        keysetPath = encrypt ? Self.keysetPath(for: path) : nil
        self.replacing = replacing
        for destination in [path, keysetPath].compactMap({ $0 }) {
            var info = stat()
            guard lstat(destination, &info) == 0 else { continue }
            guard replacing else {
                throw CofferError(.alreadyExists, "\(destination) already exists; choose another --out, or replace it with --force")
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw CofferError(.invalidArgument, "\(destination) exists and is not a regular file; an export replaces only a file")
            }
        }
        archive = try AtomicOutputFile(path: path)
        do {
            keyset = try keysetPath.map(AtomicOutputFile.init(path:))
            try ExportArchive.prepare(archive)
        } catch {
            archive.discard()
            throw error
        }
    }

    /// The archive's temporary file, which the ZIP writer opens by name.
    var archiveTemporaryPath: String { archive.temporaryPath ?? path }

    /// Moves the keyset, then the archive, into place. If the archive cannot follow, the keyset
    /// is removed again.
    /// - Throws: `CofferError` `alreadyExists` (a file appeared meanwhile, without `replacing`), `io`.
    func commit() throws {
        try keyset?.commit(replacing: replacing)
        do {
            try archive.commit(replacing: replacing)
        } catch {
            if let keysetPath { unlink(keysetPath) }
            throw error
        }
        // Make the new names durable.
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Removes both temporary files; the destinations are left as they were.
    func discard() {
        archive.discard()
        keyset?.discard()
    }
}
