import Foundation
import GRDB

/// Writes one new version of an object as a stream: bytes go in as pieces of any size, are
/// sealed segment by segment (Tink format, AAD binding tenant, object and version) and stored one
/// segment per row. Nothing is visible to readers until ``commit()``; a writer that is abandoned,
/// dropped or killed leaves nothing readable, and its rows are removed (at once, or by the next
/// ``Vault/open(at:keyring:logger:)`` if the process died).
///
/// Calls are serialised by an internal lock; use one writer from one task at a time.
public final class ObjectWriter: @unchecked Sendable {
    // @unchecked: every mutable member is touched only while `lock` is held.
    /// The object id (new, or the existing object with the same tenant, kind and name).
    public let objectID: String
    /// The version this writer creates.
    public let version: Int

    private let vault: Vault
    private let versionRowID: Int64
    private let encryptor: StreamEncryptor
    private let digest: HMACSHA256.Authenticator
    private let writerLock: WriterLock
    private let lock = NSLock()
    private var plaintextBytes: Int64 = 0
    private var ciphertextBytes: Int64 = 0
    private var segments = 0
    private var finished = false

    init(vault: Vault, objectID: String, version: Int, versionRowID: Int64, keys: ClassKeys, aad: [UInt8],
         writerLock: WriterLock) throws {
        self.vault = vault
        self.objectID = objectID
        self.version = version
        self.versionRowID = versionRowID
        self.writerLock = writerLock
        encryptor = try StreamEncryptor(aead: StreamingAEAD(key: keys.stream, segmentSize: vault.segmentSize), aad: aad)
        digest = try HMACSHA256.Authenticator(key: keys.digest)
    }

    deinit {
        if !finished { try? abandonLocked() }
    }

    /// Adds bytes to the object.
    /// - Parameter bytes: The next piece of content, any size.
    /// - Throws: ``CofferError`` `storage` when the database fails; the writer is then abandoned.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try lock.withLock {
            try checkOpen()
            do {
                digest.update(bytes)
                try encryptor.append(bytes) { try self.store($0) }
                plaintextBytes += Int64(bytes.count)
            } catch {
                try? abandonLocked()
                throw VaultDatabase.translate(error)
            }
        }
    }

    /// Adds bytes to the object.
    public func write(_ bytes: some ContiguousBytes) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Adds every buffer of `sequence`, in order.
    public func write<S: AsyncSequence>(contentsOf sequence: S) async throws where S.Element: ContiguousBytes {
        for try await buffer in sequence { try write(buffer) }
    }

    /// Reads `fd` to its end straight into the writer's batch buffer (no intermediate copy).
    /// - Parameters:
    ///   - fd: A readable descriptor (file or pipe).
    ///   - progress: Called with the bytes read so far, after each read.
    /// - Returns: Bytes read.
    @discardableResult
    public func write(readingFrom fd: Int32, progress: ((Int64) -> Void)? = nil) throws -> Int64 {
        try lock.withLock {
            try checkOpen()
            var total: Int64 = 0
            do {
                while true {
                    let n = try encryptor.fill(to: { try self.store($0) }) { space in
                        let n = try FileDescriptorIO.readFully(fd, into: space)
                        digest.update(UnsafeRawBufferPointer(rebasing: space[0..<n]))
                        return n
                    }
                    if n == 0 { break }
                    total += Int64(n)
                    progress?(total)
                }
                plaintextBytes += total
                return total
            } catch {
                try? abandonLocked()
                throw VaultDatabase.translate(error)
            }
        }
    }

    /// Seals the last segment, stores it and makes the version visible, atomically.
    /// - Returns: The committed version.
    public func commit() throws -> ObjectVersionInfo {
        try lock.withLock {
            try checkOpen()
            do {
                let mac = try digest.finalize()
                let now = nowMilliseconds()
                let (rowID, objectID, version) = (versionRowID, self.objectID, self.version)
                // The last batch and the commit share one transaction (one fsync for small objects).
                let (plaintext, ciphertext) = try vault.content.write { db -> (Int64, Int64) in
                    try encryptor.finish { try self.insert($0, db) }
                    CrashPoint.hit("commit.after-segments")
                    let (plaintext, ciphertext, count) = (plaintextBytes, ciphertextBytes, segments)
                    try db.execute(sql: """
                        UPDATE version SET state = 1, writer = NULL, plaintext_size = ?, ciphertext_size = ?,
                               segment_count = ?, digest = ?, committed_at = ? WHERE id = ? AND state = 0
                        """, arguments: [plaintext, ciphertext, count, Data(mac), now, rowID])
                    guard db.changesCount == 1 else {
                        throw CofferError(.notFound, "the pending version was removed while it was being written")
                    }
                    try db.execute(sql: "UPDATE object SET latest_version = max(latest_version, ?), updated_at = ? WHERE id = ?",
                                   arguments: [version, now, objectID])
                    writerLock.removeFile()
                    return (plaintext, ciphertext)
                }
                CrashPoint.hit("commit.after-transaction")
                finished = true
                writerLock.release()
                return ObjectVersionInfo(version: version, size: plaintext, storedSize: ciphertext,
                                         segmentSize: vault.segmentSize, digest: mac.hexString, createdAt: now)
            } catch {
                try? abandonLocked()
                throw VaultDatabase.translate(error)
            }
        }
    }

    /// Throws the version away: its rows are deleted and nothing becomes visible.
    public func abandon() throws {
        try lock.withLock {
            guard !finished else { return }
            try abandonLocked()
        }
    }

    private func abandonLocked() throws {
        finished = true
        defer { writerLock.release() }
        try vault.deletePendingVersion(rowID: versionRowID, objectID: objectID)
    }

    private func checkOpen() throws {
        guard !finished else { throw CofferError(.invalidArgument, "this writer has already committed or been abandoned") }
    }

    /// Stores a batch of sealed segments in one transaction.
    private func store(_ batch: CiphertextSegments) throws {
        try vault.content.write { db in try insert(batch, db) }
    }

    /// Inserts a batch of sealed segments, one row each, within the caller's transaction.
    private func insert(_ batch: CiphertextSegments, _ db: Database) throws {
        // A pending version removed under its writer (its object deleted, or an open that found
        // no lock) is `not-found`, not the foreign-key failure its segment rows would raise.
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE id = ? AND state = 0", arguments: [versionRowID]) == true else {
            throw CofferError(.notFound, "the pending version was removed while it was being written")
        }
        let statement = try db.cachedStatement(sql: "INSERT INTO segment (version_id, idx, data) VALUES (?, ?, ?)")
        for j in 0..<batch.count {
            let bytes = batch[j]
            let blob = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count,
                            deallocator: .none)
            try statement.execute(arguments: [versionRowID, batch.firstSegment + j, blob])
        }
        segments += batch.count
        ciphertextBytes += Int64(batch.bytes.count)
    }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
