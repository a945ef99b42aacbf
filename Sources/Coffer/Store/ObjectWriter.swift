import CofferCrypto
import Foundation

/// Writes one new version of an object as a stream: bytes go in as pieces of any size, are
/// sealed segment by segment (Tink format, AAD binding tenant, object and version) and stored one
/// segment per row. Nothing is visible to readers until ``commit()``; a writer that is abandoned,
/// dropped or killed leaves nothing readable, and its rows are removed (at once, or by the next
/// open or maintenance pass if the process died).
///
/// The sealing and the database writes run on Coffer's blocking pool, never on the caller's
/// cooperative thread. A write that fails (a full disk, say) abandons the version and is
/// recorded in the access log as an error, so the log's allowed write never stands alone for an
/// object that was never stored. Calls are serialised; use one writer from one task at a time.
public final class ObjectWriter: @unchecked Sendable {
    // @unchecked: every mutable member is touched only while `lock` is held.
    /// The object id (new, or the existing object with the same tenant, kind and name).
    public let objectID: ObjectID
    /// The version this writer creates.
    public let version: Int

    private let vault: Vault
    private let versionRowID: Int64
    private let sink: any SegmentSink
    private let encryptor: StreamEncryptor
    private let digest: HMACSHA256.Authenticator
    private let writerLock: WriterLock
    /// The batch buffer's share of the vault's writer budget, given back when the writer finishes.
    private let memory: MemoryReservation
    private let onFailure: @Sendable (any Error) async -> Void
    private let lock = NSLock()
    private var plaintextBytes: Int64 = 0
    private var ciphertextBytes: Int64 = 0
    private var segments = 0
    private var finished = false
    /// The last segments are sealed: the writer is committing and takes no more bytes.
    private var sealed = false

    init(vault: Vault, tenant: TenantID, objectID: ObjectID, version: Int, versionRowID: Int64, streamKey: SecureBytes, digestKey: SecureBytes, aad: [UInt8],
         writerLock: WriterLock, memory: MemoryReservation, expectedBytes: Int?,
         onFailure: @escaping @Sendable (any Error) async -> Void) throws {
        self.vault = vault
        self.objectID = objectID
        self.version = version
        self.versionRowID = versionRowID
        self.sink = try vault.contentStore.segments.sink(version: versionRowID, tenant: tenant, objectID: objectID, number: version)
        self.writerLock = writerLock
        self.memory = memory
        self.onFailure = onFailure
        let aead = try StreamingAEAD(key: streamKey, segmentSize: vault.segmentSize)
        // The batch is what the budget granted: at least two segments, and two per worker.
        let segments = max(2, memory.bytes / vault.segmentSize)
        encryptor = try StreamEncryptor(aead: aead, session: aead.newSession(aad: aad),
                                        workers: max(1, min(StreamingAEAD.defaultWorkers, segments / 2)),
                                        batchSegments: segments, expectedBytes: expectedBytes)
        digest = try HMACSHA256.Authenticator(key: digestKey)
    }

    deinit {
        guard !finished else { return }
        try? abandonLocked()
        // Dropped without commit or abandon: the log says the write did not happen.
        let onFailure = self.onFailure
        Task { await onFailure(CofferError(.invalidArgument, "the writer was dropped before commit")) }
    }

    /// Adds bytes to the object.
    /// - Parameter bytes: The next piece of content, any size.
    /// - Throws: `CofferError` `storage` when the database fails (the message names the cause,
    ///   such as a full disk); the writer is then abandoned and the failure recorded.
    public func write(_ bytes: some ContiguousBytes & Sendable) async throws {
        try await onPool { try bytes.withUnsafeBytes { try self.appendLocked($0) } }
    }

    /// Adds bytes from memory the caller keeps valid, unchanged, until this returns (the
    /// unsafe-pointer core under ``write(_:)``, without a copy).
    /// - Parameter bytes: The next piece of content, any size.
    /// - Throws: The errors of ``write(_:)``.
    public func write(unsafeBytes bytes: UnsafeRawBufferPointer) async throws {
        let borrowed = BorrowedBytes(bytes: bytes)
        try await onPool { try self.appendLocked(borrowed.bytes) }
    }

    /// Adds every buffer of `sequence`, in order, with memory bounded by one buffer and one batch.
    /// - Parameter sequence: Buffers of any size (`Data`, `[UInt8]`, ...).
    /// - Throws: What `sequence` throws, and the errors of ``write(_:)``.
    public func write<S: AsyncSequence>(contentsOf sequence: S) async throws where S.Element: ContiguousBytes & Sendable {
        do {
            for try await buffer in sequence { try await write(buffer) }
        } catch {
            await fail(error)
            throw error
        }
    }

    /// Reads `fd` to its end straight into the writer's batch buffer (no intermediate copy), on
    /// the blocking pool.
    /// - Parameters:
    ///   - fd: A readable descriptor (file or pipe).
    ///   - progress: Called with the bytes read so far, after each read.
    /// - Returns: Bytes read.
    /// - Throws: `CofferError` `io` when `fd` cannot be read, and the errors of ``write(_:)``.
    @discardableResult
    public func write(readingFrom fd: Int32, progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Int64 {
        try await onPool { try self.readLocked(fd, progress: progress) }
    }

    /// Seals the last segment, stores it and makes the version visible, atomically.
    /// - Returns: The committed version.
    /// - Throws: `CofferError` `storage`, `invalidArgument` after a commit or abandon.
    public func commit() async throws -> ObjectVersionInfo {
        try await finishCommit(try await onPool { try self.sealLocked() })
    }

    /// Throws the version away: its rows are deleted and nothing becomes visible; recorded in
    /// the log as an error outcome of the write.
    /// - Throws: `CofferError` `storage` when the rows cannot be deleted.
    public func abandon() async throws {
        let wasOpen = try await BlockingPool.shared.run { () throws -> Bool in
            try self.lock.withLock {
                guard !self.finished else { return false }
                try self.abandonLocked()
                return true
            }
        }
        if wasOpen { await onFailure(CofferError(.invalidArgument, "the write was abandoned before commit")) }
    }

    /// Writes `bytes` and commits, in one trip to the blocking pool and one group commit (the
    /// small-object path).
    func writeAndCommit(_ bytes: some ContiguousBytes & Sendable) async throws -> ObjectVersionInfo {
        let body: @Sendable () throws -> SealedVersion = {
            try bytes.withUnsafeBytes { try self.appendLocked($0) }
            return try self.sealLocked()
        }
        // Up to 64 KiB that fit the first segment stay in the encryptor until the commit (it
        // holds back the segment that may be the last), so sealing them touches no file: it runs
        // here, not on the blocking pool, two thread wake-ups fewer per small put.
        let count = bytes.withUnsafeBytes { $0.count }
        if count <= Self.inlineBytes && count <= encryptor.layout.plaintextCapacity(ofSegment: 0) {
            return try await finishCommit(try await inline(body))
        }
        return try await finishCommit(try await onPool(body))
    }

    /// The most bytes `writeAndCommit` seals on the calling thread.
    static let inlineBytes = 64 * 1024

    /// Stores the sealed last segments and makes the version visible, in the store's group
    /// commit; on failure abandons the version and records the error.
    private func finishCommit(_ sealed: SealedVersion) async throws -> ObjectVersionInfo {
        let writerLock = self.writerLock
        do {
            // The lock file goes inside the commit: see `WriterLock.removeFile()`.
            try await sink.commit(sealed.final, totals: sealed.totals, digest: sealed.digest, at: sealed.time,
                                  beforeCommit: { writerLock.removeFile() })
        } catch {
            let translated = VaultDatabase.translate(error)
            await fail(translated)
            throw translated
        }
        CrashPoint.hit("commit.after-transaction")
        lock.withLock { finished = true }
        writerLock.release()
        memory.release()
        return ObjectVersionInfo(version: version, size: sealed.totals.plaintext, storedSize: sealed.totals.ciphertext,
                                 segmentSize: vault.segmentSize, digest: sealed.digest.hexString, createdAt: sealed.time)
    }

    /// Runs `body` under the lock on the blocking pool; on failure abandons the version and
    /// records the error.
    private func onPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await abandoningOnFailure { try await BlockingPool.shared.run { try self.locked(body) } }
    }

    /// Runs `body` under the lock on the calling thread (work that touches no file); on failure
    /// abandons the version and records the error.
    private func inline<T>(_ body: () throws -> T) async throws -> T {
        try await abandoningOnFailure { try locked(body) }
    }

    /// `body` under the lock, once the writer is known to be still open.
    private func locked<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock { try checkOpen(); return try body() }
    }

    /// `body`'s result, or its failure translated, the version abandoned and the error recorded.
    private func abandoningOnFailure<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as WriterFinished {
            throw CofferError(.invalidArgument, error.description)
        } catch {
            let translated = VaultDatabase.translate(error)
            await fail(translated)
            throw translated
        }
    }

    /// Abandons the version after a failure and records the failure, once: a writer that has
    /// already finished (committed, abandoned, or failed before) records nothing more.
    private func fail(_ error: any Error) async {
        let abandoned = (try? await BlockingPool.shared.run { () -> Bool in
            self.lock.withLock {
                guard !self.finished else { return false }
                try? self.abandonLocked()
                return true
            }
        }) ?? false
        if abandoned { await onFailure(error) }
    }

    private func appendLocked(_ bytes: UnsafeRawBufferPointer) throws {
        digest.update(bytes)
        try encryptor.append(bytes) { try self.store($0) }
        plaintextBytes += Int64(bytes.count)
    }

    private func readLocked(_ fd: Int32, progress: ((Int64) -> Void)?) throws -> Int64 {
        var total: Int64 = 0
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
    }

    /// Seals the last segments (they stay in the encryptor's buffer, unchanged, until the
    /// writer is released) and stops taking bytes: the commit comes next.
    private func sealLocked() throws -> SealedVersion {
        let mac = try digest.finalize()
        var final: CiphertextSegments?
        try encryptor.finish { batch in
            final = batch
            count(batch)
        }
        guard let final else { throw CofferError(.cryptoFailure, "the stream's last segment was not sealed") }
        sealed = true
        return SealedVersion(final: SealedSegments(segments: final),
                             totals: VersionTotals(plaintext: plaintextBytes, ciphertext: ciphertextBytes, segments: segments),
                             digest: mac, time: nowMilliseconds())
    }

    private func abandonLocked() throws {
        finished = true
        defer { writerLock.release(); memory.release() }
        try vault.deletePendingVersion(rowID: versionRowID, objectID: objectID)
    }

    private func checkOpen() throws {
        guard !finished && !sealed else { throw WriterFinished() }
    }

    /// Stores a batch of sealed segments in one transaction.
    private func store(_ batch: CiphertextSegments) throws {
        try sink.append(batch)
        count(batch)
    }

    /// Adds a stored (or, for the last, sealed) batch to the version's totals.
    private func count(_ batch: CiphertextSegments) {
        segments += batch.count
        ciphertextBytes += Int64(batch.bytes.count)
    }
}

/// A writer's version, sealed and ready to commit.
private struct SealedVersion: Sendable {
    let final: SealedSegments
    let totals: VersionTotals
    let digest: [UInt8]
    let time: Int64
}

/// Caller-owned memory handed to a pool thread for the duration of one awaited call.
private struct BorrowedBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}

/// A call on a writer that has committed or been abandoned.
struct WriterFinished: Error, CustomStringConvertible {
    var description: String { "this writer has already committed or been abandoned" }
}

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal, two digits per byte.
    var hexString: String { Hex.lower(self) }
}
