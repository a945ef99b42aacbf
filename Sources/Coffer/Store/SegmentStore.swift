import CofferCrypto
import Foundation
import GRDB

/// Where ciphertext segments live: immutable blobs under (version row, index) keys. The reader
/// speaks only to this interface; `SQLiteSegmentStore` keeps them as rows of `content.sqlite`,
/// and an object-storage engine can keep them as objects.
protocol SegmentStore: Sendable {
    /// Calls `body` with each stored segment of version row `version` whose index is in `range`,
    /// in index order, within one short read. Missing segments are simply not visited; the
    /// bytes passed to `body` are valid only during the call.
    func withSegments(version: Int64, in range: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws

    /// True when version row `version` is still committed (it was not deleted).
    func isCommitted(version: Int64) throws -> Bool

    /// The committed version `version` (nil: the newest) of `objectID` in `tenant`, pinned by its
    /// row, or nil when there is none.
    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion?
}

/// A committed version as a reader pins it: its row and what it holds.
struct PinnedVersion: Sendable {
    let row: Int64
    let kind: ObjectKind
    /// The data key that sealed it.
    let dataKeyID: String
    let info: ObjectVersionInfo
}

/// Segments as rows of `content.sqlite`'s `segment` table (one per row, the blob as stored).
struct SQLiteSegmentStore: SegmentStore {
    let pool: DatabasePool

    func withSegments(version: Int64, in range: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try VaultDatabase.guardedSync {
            try pool.read { db in
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
        }
    }

    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion? {
        try VaultDatabase.guardedSync {
            try pool.read { db -> PinnedVersion? in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT v.id, o.kind, v.version, v.plaintext_size, v.ciphertext_size, v.segment_size, v.digest, v.committed_at, v.data_key_id
                    FROM object o JOIN version v ON v.object_id = o.id
                    WHERE o.id = ? AND o.tenant_id = ? AND o.latest_version > 0 AND v.state = 1 AND v.version = coalesce(?, o.latest_version)
                    """, arguments: [objectID, tenant, version]) else { return nil }
                do {
                    let info = ObjectVersionInfo(version: try row.decode(atIndex: 2), size: try row.decode(atIndex: 3),
                                                 storedSize: try row.decode(atIndex: 4), segmentSize: try row.decode(atIndex: 5),
                                                 digest: [UInt8](try row.decode(Data.self, atIndex: 6)).hexString,
                                                 createdAt: try row.decode(atIndex: 7))
                    return PinnedVersion(row: try row.decode(atIndex: 0), kind: try ObjectKind(parsing: try row.decode(atIndex: 1)),
                                         dataKeyID: try row.decode(atIndex: 8), info: info)
                } catch {
                    throw CofferError(.tamperDetected, "object \(objectID): its version row is incomplete or malformed; the content file was changed outside Coffer")
                }
            }
        }
    }

    func isCommitted(version: Int64) throws -> Bool {
        try VaultDatabase.guardedSync {
            try pool.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE id = ? AND state = 1", arguments: [version]) ?? false }
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
    /// Runs `body` with an appender for pending version `version`, in one write transaction.
    func append(version: Int64, _ body: (SegmentAppender) throws -> Void) throws {
        try pool.write { db in try body(SegmentAppender(db: db, version: version)) }
    }

    /// Commits pending version `version` of `objectID` in one transaction: `final` stores the
    /// last segments and returns the version's totals, then the version becomes visible and the
    /// object's newest version moves on; `beforeCommit` runs last, inside the transaction.
    /// - Throws: `CofferError` `notFound` when the pending version was removed meanwhile.
    func commit(version: Int64, objectID: ObjectID, number: Int, digest: [UInt8], at time: Int64,
                final: (SegmentAppender) throws -> (plaintext: Int64, ciphertext: Int64, segments: Int),
                beforeCommit: () -> Void) throws {
        try pool.write { db in
            let totals = try final(SegmentAppender(db: db, version: version))
            CrashPoint.hit("commit.after-segments")
            try db.execute(sql: """
                UPDATE version SET state = 1, writer = NULL, plaintext_size = ?, ciphertext_size = ?,
                       segment_count = ?, digest = ?, committed_at = ? WHERE id = ? AND state = 0
                """, arguments: [totals.plaintext, totals.ciphertext, totals.segments, Data(digest), time, version])
            guard db.changesCount == 1 else {
                throw CofferError(.notFound, "the pending version was removed while it was being written")
            }
            try db.execute(sql: "UPDATE object SET latest_version = max(latest_version, ?), updated_at = ? WHERE id = ?",
                           arguments: [number, time, objectID])
            beforeCommit()
        }
    }
}
