import Foundation
import GRDB

extension AuditLog {
    /// Signs a checkpoint when records were appended since the newest one, so the history is
    /// fixed by a signature at least every maintenance interval, not only every 1024 records.
    /// - Returns: The new checkpoint, or nil when the newest one already covers the whole log.
    func checkpointIfBehind() throws -> AuditCheckpoint? {
        let behind = try VaultDatabase.guardedSync {
            try pool.read { db -> Bool in
                let size = try db.fetchOne(Int64.self, sql: "SELECT tree_size FROM log_state WHERE id = 1") ?? 0
                let signed = try db.fetchOne(Int64.self, sql: "SELECT max(tree_size) FROM checkpoint") ?? 0
                return size > signed
            }
        }
        return behind ? try checkpointNow() : nil
    }
}
