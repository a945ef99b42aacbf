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
    func pinnedVersion(tenant: String, objectID: String, version: Int?) throws -> PinnedVersion?
}

/// A committed version as a reader pins it: its row and what it holds.
struct PinnedVersion: Sendable {
    let row: Int64
    let kind: ObjectKind
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

    func pinnedVersion(tenant: String, objectID: String, version: Int?) throws -> PinnedVersion? {
        try VaultDatabase.guardedSync {
            try pool.read { db -> PinnedVersion? in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT v.id, o.kind, v.version, v.plaintext_size, v.ciphertext_size, v.segment_size, v.digest, v.committed_at
                    FROM object o JOIN version v ON v.object_id = o.id
                    WHERE o.id = ? AND o.tenant_id = ? AND o.latest_version > 0 AND v.state = 1 AND v.version = coalesce(?, o.latest_version)
                    """, arguments: [objectID, tenant, version]) else { return nil }
                do {
                    let info = ObjectVersionInfo(version: try row.decode(atIndex: 2), size: try row.decode(atIndex: 3),
                                                 storedSize: try row.decode(atIndex: 4), segmentSize: try row.decode(atIndex: 5),
                                                 digest: [UInt8](try row.decode(Data.self, atIndex: 6)).hexString,
                                                 createdAt: try row.decode(atIndex: 7))
                    return PinnedVersion(row: try row.decode(atIndex: 0), kind: try ObjectKind(parsing: try row.decode(atIndex: 1)), info: info)
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
