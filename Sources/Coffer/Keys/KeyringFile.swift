import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A keyring file and the one way Coffer changes it.
///
/// Every change is a read-modify-write under an exclusive `flock` on a lock file beside the
/// keyring (`KEYRING.lock`) that every Coffer process takes: the change starts from the file as it
/// is on disk now (never from a copy loaded earlier), the file it replaces is kept as
/// `KEYRING.previous`, and what was written is read back and compared key by key before the
/// change is reported done. Two rotations, or a rotation beside `keys add`, therefore follow one
/// another and neither loses the other's key.
///
/// Reading needs no lock: the file is replaced by `rename`, so a reader sees the old file or
/// the new one, whole.
public struct KeyringFile: Sendable, Hashable {
    /// The keyring's path.
    public let path: String

    /// How long a change waits for another process's change to finish.
    static let lockTimeout: Duration = .seconds(120)

    /// A keyring file at `path` (nothing is read yet).
    /// - Parameter path: The file's path.
    public init(path: String) {
        self.path = path
    }

    /// Where the file a change replaced is kept.
    public var previousPath: String { path + ".previous" }

    /// The lock file every change holds.
    public var lockPath: String { path + ".lock" }

    /// Reads the keyring as it is on disk now.
    /// - Returns: The keyring.
    /// - Throws: `CofferError` `keyringUnreadable`, `keyringInsecure`, `keyringMalformed`.
    public func load() throws -> Keyring {
        try Keyring.load(from: path)
    }

    /// Writes a new keyring file: one fresh active key-encryption key, a blind-index key and an
    /// audit-signing key. An existing file is never overwritten.
    /// - Parameter development: Marks the keyring as a development keyring.
    /// - Returns: The keyring written.
    /// - Throws: `CofferError` `alreadyExists`, `io`.
    @discardableResult
    public func create(development: Bool = false) throws -> Keyring {
        let keyring = try Keyring.generate(development: development)
        try keyring.write(to: path)
        return keyring
    }

    /// Changes the keyring under the lock: `change` gets the keyring as the file holds it now and
    /// returns the new one, which is saved with the next generation number, the old file kept as
    /// ``previousPath``, and read back before this returns.
    /// - Parameter change: Makes the new keyring from the current one.
    /// - Returns: The keyring as saved.
    /// - Throws: What `change` throws; `CofferError` `io` when the file cannot be locked,
    ///   written or read back the same; loading errors.
    @discardableResult
    public func update(_ change: (Keyring) throws -> Keyring) throws -> Keyring {
        try withLock { try save(change(load())) }
    }

    /// Adds a fresh key for `purpose` to a keyring that has none (content key-encryption keys
    /// come with a rotation; a `pii-kek` is added this way once, to a keyring made before PII had
    /// keys of its own, and later ones come with a rotation too). Blocks while another process
    /// changes the keyring.
    /// - Parameter purpose: `blindIndex`, `auditSigning` or `piiKeyEncryption`.
    /// - Returns: The keyring as saved.
    /// - Throws: `CofferError` `alreadyExists` when the keyring has a key for that purpose (a
    ///   vault keeps using the one it recorded), `invalidArgument` for key encryption.
    @discardableResult
    public func addKey(for purpose: Keyring.Purpose) throws -> Keyring {
        guard purpose != .keyEncryption else {
            throw CofferError(.invalidArgument, "key-encryption keys are added by rotating (`coffer keys rotate`), which also rewraps the vault's keys")
        }
        return try update { keyring in
            guard keyring.secret(for: purpose) == nil else {
                throw CofferError(.alreadyExists, "the keyring already has a \(purpose) key; a vault keeps using the one it recorded")
            }
            return try keyring.addingKey(for: purpose)
        }
    }

    /// Runs `body` holding the exclusive lock. Blocks the calling thread while another process
    /// holds it (up to two minutes); run it off Swift's cooperative pool.
    func withLock<T>(_ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CofferError(.io, "cannot open the keyring lock \(lockPath): \(String(cString: strerror(errno))); the keyring's directory must be writable to change the keyring")
        }
        defer { close(fd) }  // closing releases the lock
        let deadline = ContinuousClock.now + Self.lockTimeout
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw CofferError(.io, "cannot lock \(lockPath): \(String(cString: strerror(errno)))")
            }
            guard ContinuousClock.now < deadline else {
                throw CofferError(.io, "another process has held the keyring lock \(lockPath) for over \(Self.lockTimeout); try again when it is done")
            }
            usleep(5_000)
        }
        return try body()
    }

    /// Saves `keyring` as the next generation (the lock must be held): the current file becomes
    /// ``previousPath`` (a hard link, so the old keys are never absent from disk), the new one is
    /// written beside it and renamed into place, then read back and compared.
    /// - Returns: The keyring as saved (with its new generation).
    func save(_ keyring: Keyring) throws -> Keyring {
        let next = keyring.nextGeneration()
        try keepPrevious()
        try next.write(to: path, replacing: true)
        let readBack: Keyring
        do { readBack = try load() } catch {
            throw CofferError(.io, "the keyring written to \(path) cannot be read back (\((error as? CofferError)?.message ?? "unreadable")); the previous one is \(previousPath)")
        }
        guard readBack.generation == next.generation, readBack.holdsEveryKey(of: next), next.holdsEveryKey(of: readBack) else {
            throw CofferError(.io, "the keyring read back from \(path) differs from what was written; nothing was wrapped under it. The previous one is \(previousPath)")
        }
        return readBack
    }

    /// Replaces ``previousPath`` with a hard link to the current file.
    private func keepPrevious() throws {
        let staging = previousPath + ".\(getpid()).tmp"
        unlink(staging)
        guard link(path, staging) == 0 else {
            throw CofferError(.io, "cannot keep a copy of \(path) as \(previousPath): \(String(cString: strerror(errno)))")
        }
        guard rename(staging, previousPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(staging)
            throw CofferError(.io, "cannot keep a copy of \(path) as \(previousPath): \(reason)")
        }
    }
}
