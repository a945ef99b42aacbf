import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// Applies erasure-ledger entries to a copy of `control.sqlite` (a backup's, or one being
/// restored): the keys each erasure destroyed are deleted from it, erased tenants are marked,
/// the entries are added to the copy's own ledger, and the file is vacuumed so the deleted keys
/// are not left in free pages. The only code that edits a control file that is not open as a
/// vault.
enum BackupScrubber {
    /// Applies the entries of `ledger` that `applied` lacks.
    /// - Returns: The ids applied and how many key rows were deleted.
    static func apply(_ ledger: [LedgerEntry], skipping applied: Set<String>, toControlAt path: String) throws -> (applied: [String], removedKeys: Int) {
        let pending = ledger.filter { !applied.contains($0.id) }
        guard !pending.isEmpty else { return ([], 0) }
        var removed = 0
        try VaultDatabase.guardedSync {
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.write { db in
                for entry in pending {
                    switch entry.kind {
                    case .subject:
                        guard let subject = entry.subject else { continue }
                        try db.execute(sql: "DELETE FROM subject_key WHERE subject_id = ? AND role = 'fields'", arguments: [subject])
                        removed += db.changesCount
                        try db.execute(sql: "DELETE FROM legacy_subject_key WHERE subject_id = ?", arguments: [subject])
                        removed += db.changesCount
                    case .retained:
                        for id in entry.keyIDs {
                            try db.execute(sql: "DELETE FROM subject_key WHERE key_id = ? AND role = 'retained'", arguments: [id])
                            removed += db.changesCount
                        }
                    case .tenant:
                        try db.execute(sql: "DELETE FROM data_key WHERE tenant_id = ?", arguments: [entry.tenant])
                        removed += db.changesCount
                        try db.execute(sql: "UPDATE tenant SET erased_at = coalesce(erased_at, ?1), closed_at = coalesce(closed_at, ?1) WHERE id = ?2",
                                       arguments: [entry.at, entry.tenant])
                    case .periodKeys:
                        for id in entry.keyIDs {
                            try db.execute(sql: "DELETE FROM data_key WHERE id = ?", arguments: [id])
                            removed += db.changesCount
                        }
                    }
                    try KeyStore.appendLedger(SQLiteSession(db), entry)
                }
            }
            try queue.writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
            try queue.close()
        }
        return (pending.map(\.id), removed)
    }
}
