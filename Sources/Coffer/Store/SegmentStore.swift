import CofferCrypto
import Foundation
import CofferSQL
import GRDB

/// Where ciphertext segments live: immutable blobs under (version row, index) keys. Readers and
/// writers speak only to this interface; `SQLiteSegmentStore` keeps them as rows of
/// `content.sqlite`, the scale-out engine as objects in S3-compatible storage.
package protocol SegmentStore: Sendable {
    /// Calls `body` with each stored segment of version row `version` whose index is in `range`,
    /// in index order, within one short read. Missing segments are simply not visited; the
    /// bytes passed to `body` are valid only during the call.
    func withSegments(version: Int64, in range: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws

    /// ``withSegments(version:in:_:)`` for one batch of a reader that reads all of `planned`
    /// (which holds `range`), one batch after another: a store whose reads wait on a network may
    /// fetch ahead within `planned` (and never beyond it), so a sequential read overlaps its
    /// round trips.
    func withSegments(version: Int64, in range: ClosedRange<Int>, planned: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws

    /// True when the store reads ahead by itself within a planned read (over a network): a
    /// reader then asks for one batch at a time. False for local files, which a reader reads
    /// several batches of at once, on several threads.
    var readsAhead: Bool { get }

    /// True when version row `version` is still committed (it was not deleted).
    func isCommitted(version: Int64) throws -> Bool

    /// The committed version `version` (nil: the newest) of `objectID` in `tenant`, pinned by its
    /// row, or nil when there is none.
    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion?

    /// ``pinnedVersion(tenant:objectID:version:)``, with the version's segments copied out in
    /// the same read when they are stored in `limit` bytes or fewer (a small object then costs
    /// one read); a store whose reads wait on a network may leave them out.
    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?,
                       prefetchingUpTo limit: Int) throws -> (pinned: PinnedVersion, segments: PrefetchedSegments?)?

    /// Where a writer puts the segments of pending version row `version` (version `number` of
    /// `objectID` in `tenant`) until it commits.
    func sink(version: Int64, tenant: TenantID, objectID: ObjectID, number: Int) throws -> any SegmentSink
}

extension SegmentStore {
    /// A store that copies nothing out with the pin.
    package func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?,
                               prefetchingUpTo limit: Int) throws -> (pinned: PinnedVersion, segments: PrefetchedSegments?)? {
        try pinnedVersion(tenant: tenant, objectID: objectID, version: version).map { ($0, nil) }
    }

    /// A store that reads no faster ahead reads just `range`.
    package func withSegments(version: Int64, in range: ClosedRange<Int>, planned: ClosedRange<Int>,
                              _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try withSegments(version: version, in: range, body)
    }
}

/// A pending version's segments on their way in. Nothing is visible to readers until
/// ``commit(digest:at:final:beforeCommit:)`` returns.
package protocol SegmentSink: AnyObject {
    /// Stores `batch`, whose bytes are valid only during the call.
    /// - Throws: `CofferError` `notFound` when the pending version was removed meanwhile.
    func append(_ batch: CiphertextSegments) throws

    /// Stores the last batches `final` hands to its argument and returns the version's totals,
    /// then makes the version visible in one transaction of the catalog; `beforeCommit` runs
    /// last inside it.
    /// - Throws: `CofferError` `notFound` when the pending version was removed meanwhile.
    func commit(digest: [UInt8], at time: Int64,
                final: (_ store: (CiphertextSegments) throws -> Void) throws -> VersionTotals,
                beforeCommit: () -> Void) throws

    /// ``commit(digest:at:final:beforeCommit:)`` for a writer that has sealed its last
    /// segments already: stores `final` (its bytes valid and unchanged until this returns) and
    /// makes the version visible with `totals`, suspending the caller meanwhile. The SQLite
    /// store group-commits it with the other puts of the moment (one transaction, one sync).
    func commit(_ final: SealedSegments, totals: VersionTotals, digest: [UInt8], at time: Int64,
                beforeCommit: @escaping @Sendable () -> Void) async throws
}

/// A writer's last sealed segments on their way to the commit: the bytes stay in the writer's
/// buffer, which nothing changes until the commit returns.
package struct SealedSegments: @unchecked Sendable {
    // @unchecked: the bytes are read only, and only while their writer waits for its commit.
    package let segments: CiphertextSegments
}

extension SegmentSink {
    /// Runs the synchronous commit on the blocking pool.
    package func commit(_ final: SealedSegments, totals: VersionTotals, digest: [UInt8], at time: Int64,
                        beforeCommit: @escaping @Sendable () -> Void) async throws {
        let sink = UncheckedSink(sink: self)
        try await BlockingPool.shared.run {
            try sink.sink.commit(digest: digest, at: time, final: { store in
                try store(final.segments)
                return totals
            }, beforeCommit: beforeCommit)
        }
    }
}

/// A sink handed to a pool thread while its writer waits (a writer's calls are serialised).
private struct UncheckedSink: @unchecked Sendable {
    let sink: any SegmentSink
}

/// What a committed version holds.
package struct VersionTotals: Sendable {
    package var plaintext: Int64
    package var ciphertext: Int64
    package var segments: Int

    package init(plaintext: Int64, ciphertext: Int64, segments: Int) {
        self.plaintext = plaintext
        self.ciphertext = ciphertext
        self.segments = segments
    }
}

/// A committed version as a reader pins it: its row and what it holds.
package struct PinnedVersion: Sendable {
    package let row: Int64
    package let kind: ObjectKind
    /// The data key that sealed it.
    package let dataKeyID: String
    package let info: ObjectVersionInfo
}

/// The stored segments of a small version, copied out of the read that pinned it, so reading
/// it needs no second read (``SegmentStore/pinnedVersion(tenant:objectID:version:prefetchingUpTo:)``).
package struct PrefetchedSegments: Sendable {
    /// The segments' bytes, one after another.
    private var bytes: [UInt8] = []
    /// Each segment's index and where it ends in `bytes`.
    private var segments: [(index: Int, end: Int)] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// The bytes held.
    var byteCount: Int { bytes.count }

    /// Adds segment `index` (segments are added in index order).
    mutating func append(index: Int, _ stored: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: stored)
        segments.append((index, bytes.count))
    }

    /// Calls `body` with each segment whose index is in `range`, in index order, as
    /// ``SegmentStore/withSegments(version:in:_:)`` does.
    func withSegments(in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { all in
            var start = 0
            for (index, end) in segments {
                defer { start = end }
                guard range.contains(index) else { continue }
                try body(index, UnsafeRawBufferPointer(rebasing: all[start..<end]))
            }
        }
    }
}

/// Segments as rows of `content.sqlite`'s `segment` table (one per row, the blob as stored).
struct SQLiteSegmentStore: SegmentStore {
    let pool: DatabasePool
    var readsAhead: Bool { false }
    /// The group committer of `pool`'s puts.
    let commits: SQLiteCommitQueue

    func withSegments(version: Int64, in range: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try VaultDatabase.guardedSync {
            // One SELECT, so one snapshot without an explicit transaction: GRDB's `read` would
            // prepare its BEGIN and COMMIT again for every batch (about 20 allocations each).
            try pool.unsafeRead { db in try Self.visitSegments(db, version: version, in: range, body) }
        }
    }

    /// Calls `body` with each stored segment of `version` in `range`, within `db`'s transaction.
    private static func visitSegments(_ db: Database, version: Int64, in range: ClosedRange<Int>,
                                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        let statement = try db.cachedStatement(sql: "SELECT idx, data FROM segment WHERE version_id = ? AND idx BETWEEN ? AND ? ORDER BY idx")
        let rows = try Row.fetchCursor(statement, arguments: [version, range.lowerBound, range.upperBound])
        while let row = try rows.next() {
            guard let index = try? row.decode(Int.self, atIndex: 0) else {
                throw CofferError(.truncated, "a segment row of version \(version) has no index")
            }
            try row.withUnsafeData(atIndex: 1) { data in
                guard let data else { throw CofferError(.truncated, "segment \(index) is empty") }
                try data.withUnsafeBytes { try body(index, $0) }
            }
        }
    }

    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion? {
        try SQLiteDatabase(pool).read { db in try CatalogStore.pinnedVersion(db, tenant: tenant, objectID: objectID, version: version) }
    }

    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?,
                       prefetchingUpTo limit: Int) throws -> (pinned: PinnedVersion, segments: PrefetchedSegments?)? {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                guard let pinned = try CatalogStore.pinnedVersion(SQLiteSession(db), tenant: tenant, objectID: objectID, version: version) else {
                    return nil
                }
                guard pinned.info.storedSize <= limit else { return (pinned, nil) }
                var segments = PrefetchedSegments(capacity: Int(pinned.info.storedSize))
                var fits = true
                try Self.visitSegments(db, version: pinned.row, in: 0...Int.max) { index, stored in
                    // Rows beyond the recorded size (a changed file) are left to the plain read,
                    // which reports them; memory stays within the limit.
                    fits = fits && segments.byteCount + stored.count <= limit
                    if fits { segments.append(index: index, stored) }
                }
                return (pinned, fits ? segments : nil)
            }
        }
    }

    func isCommitted(version: Int64) throws -> Bool {
        try SQLiteDatabase(pool).read { db in try CatalogStore.isCommitted(db, version: version) }
    }

    func sink(version: Int64, tenant: TenantID, objectID: ObjectID, number: Int) throws -> any SegmentSink {
        SQLiteSegmentSink(store: self, version: version, objectID: objectID, number: number)
    }
}

/// A writer's segments as rows: each batch in a transaction of its own, the last with the commit
/// (one fsync for a small object).
final class SQLiteSegmentSink: SegmentSink {
    let store: SQLiteSegmentStore
    let version: Int64
    let objectID: ObjectID
    let number: Int

    init(store: SQLiteSegmentStore, version: Int64, objectID: ObjectID, number: Int) {
        self.store = store
        self.version = version
        self.objectID = objectID
        self.number = number
    }

    func append(_ batch: CiphertextSegments) throws {
        try store.append(version: version) { try $0.append(batch) }
    }

    func commit(digest: [UInt8], at time: Int64, final: (_ store: (CiphertextSegments) throws -> Void) throws -> VersionTotals,
                beforeCommit: () -> Void) throws {
        try store.commit(version: version, objectID: objectID, number: number, digest: digest, at: time,
                         final: { appender in try final { try appender.append($0) } }, beforeCommit: beforeCommit)
    }

    func commit(_ final: SealedSegments, totals: VersionTotals, digest: [UInt8], at time: Int64,
                beforeCommit: @escaping @Sendable () -> Void) async throws {
        let (version, objectID, number) = (self.version, self.objectID, self.number)
        try await VaultDatabase.guarded {
            try await store.commits.write(durably: true) { db in
                try SQLiteSegmentStore.commit(db, version: version, objectID: objectID, number: number, digest: digest, at: time,
                                              final: { try $0.append(final.segments); return totals }, beforeCommit: beforeCommit)
            }
        }
    }
}

/// Stores a writer's sealed segments, one row each, within one transaction of
/// ``SQLiteSegmentStore/append(version:_:)`` or ``SQLiteSegmentStore/commit(version:objectID:number:digest:at:final:beforeCommit:)``.
struct SegmentAppender {
    fileprivate let db: Database
    let version: Int64

    /// Inserts `batch` under the pending version.
    /// - Throws: `CofferError` `notFound` when the pending version was removed under its
    ///   writer (its object deleted, or an open that found no lock), rather than the
    ///   foreign-key failure its rows would raise.
    func append(_ batch: CiphertextSegments) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE id = ? AND state = 0", arguments: [version]) == true else {
            throw CofferError(.notFound, "the pending version was removed while it was being written")
        }
        let statement = try db.cachedStatement(sql: "INSERT INTO segment (version_id, idx, data) VALUES (?, ?, ?)")
        for j in 0..<batch.count {
            let bytes = batch[j]
            // The batch buffer itself, no copy: SQLite copies it into the row.
            let blob = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count, deallocator: .none)
            try statement.execute(arguments: [version, batch.firstSegment + j, blob])
        }
    }
}

extension SQLiteSegmentStore {
    /// Inserts one stored segment of version row `version` inside `db`'s transaction (a small
    /// put's whole version).
    static func insertSegment(_ db: Database, version: Int64, index: Int, _ bytes: [UInt8]) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO segment (version_id, idx, data) VALUES (?, ?, ?)")
        try statement.execute(arguments: [version, index, Data(bytes)])
    }

    /// Runs `body` with an appender for pending version `version`, in one write transaction.
    func append(version: Int64, _ body: (SegmentAppender) throws -> Void) throws {
        try pool.write { db in try body(SegmentAppender(db: db, version: version)) }
    }

    /// Commits pending version `version` of `objectID` in one transaction: `final` stores the
    /// last segments and returns the version's totals, then the version becomes visible and the
    /// object's newest version moves on; `beforeCommit` runs last, inside the transaction.
    /// - Throws: `CofferError` `notFound` when the pending version was removed meanwhile.
    func commit(version: Int64, objectID: ObjectID, number: Int, digest: [UInt8], at time: Int64,
                final: (SegmentAppender) throws -> VersionTotals,
                beforeCommit: () -> Void) throws {
        try VaultDatabase.guardedSync {
            try pool.write { db in
                try Self.commit(db, version: version, objectID: objectID, number: number, digest: digest, at: time,
                                final: final, beforeCommit: beforeCommit)
            }
        }
    }

    /// The commit's work inside `db`'s transaction, on either path.
    fileprivate static func commit(_ db: Database, version: Int64, objectID: ObjectID, number: Int, digest: [UInt8], at time: Int64,
                                   final: (SegmentAppender) throws -> VersionTotals, beforeCommit: () -> Void) throws {
        let totals = try final(SegmentAppender(db: db, version: version))
        CrashPoint.hit("commit.after-segments")
        try CatalogStore.commitVersion(SQLiteSession(db), version: version, objectID: objectID, number: number, digest: digest,
                                       at: time, totals: totals)
        beforeCommit()
    }
}
