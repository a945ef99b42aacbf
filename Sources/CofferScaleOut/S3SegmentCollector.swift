import Coffer
import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferSQL
import Foundation

/// Removes from object storage what no committed version needs any more, one instance at a
/// time (a session advisory lock, released by the server if the instance dies):
///
/// 1. versions left pending by a writer that stopped (killed, or crashed) — no heartbeat for
///    `staleAfter` — are deleted, which releases their groups;
/// 2. released objects (of deleted, purged, erased or abandoned versions) older than `grace`
///    are deleted from their location, then forgotten.
///
/// Nothing is deleted before the commit that stopped referencing it: an object is listed in
/// `segment_garbage` only by the transaction that removed its row, and the grace period outlasts
/// any upload still in flight from a writer that gave up (its requests time out sooner).
struct S3SegmentCollector: Sendable {
    let catalog: PostgresSQLDatabase
    let store: S3SegmentStore
    /// A pending version without a heartbeat for this long belongs to a writer that stopped.
    var staleAfter: Duration = .seconds(15 * 60)
    /// How long a released object is kept before it is deleted.
    var grace: Duration = .seconds(10 * 60)

    /// The collector's lock key ("Coffer" and 0x10).
    static let lockKey: Int64 = 0x436F_6666_6572_0010

    /// What one pass did, or nil when another instance was collecting.
    struct Pass: Sendable, Equatable {
        var abandonedVersions = 0
        var deletedObjects = 0
    }

    /// One pass, at `now` (milliseconds; nil: the clock, read again for the released objects,
    /// so that with no grace what this pass released itself goes in the same pass).
    /// - Returns: nil when another instance holds the collector's lock.
    /// - Throws: `CofferError` `storage` when the database or a location fails (what was deleted stays deleted; the rest waits for the next pass).
    func collect(now: Int64? = nil, batch: Int = 500) throws -> Pass? {
        try catalog.whileHolding(Self.lockKey) {
            var pass = Pass()
            let staleBefore = (now ?? nowMilliseconds()) - Self.milliseconds(staleAfter)
            pass.abandonedVersions = try catalog.write { db in
                try db.execute(sql: "DELETE FROM version WHERE state = 0 AND coalesce(heartbeat_at, created_at) < ?", arguments: [staleBefore])
            }
            let releasedBefore = (now ?? nowMilliseconds() + 1) - Self.milliseconds(grace)
            while true {
                let released = try catalog.read { db in
                    try db.fetchAll(sql: "SELECT object_key, location FROM segment_garbage WHERE released_at < ? ORDER BY released_at LIMIT ?",
                                    arguments: [releasedBefore, batch])
                }
                if released.isEmpty { break }
                var done: [String] = []
                for row in released {
                    let key: String = try row.stored("object_key", in: "segment_garbage")
                    let objects = try store.store(try row.stored("location", in: "segment_garbage"))
                    try BlockingWait.result { try await objects.delete(key) }
                    done.append(key)
                }
                try catalog.write { db in
                    for key in done { try db.execute(sql: "DELETE FROM segment_garbage WHERE object_key = ?", arguments: [key]) }
                }
                pass.deletedObjects += done.count
                if released.count < batch { break }
            }
            return pass
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
