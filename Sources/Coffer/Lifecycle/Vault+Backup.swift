import CofferCrypto
import CofferSQL
import Foundation
import GRDB

extension Vault {
    /// Days a backup is kept by ``pruneBackups(in:keepDays:context:)`` unless told otherwise
    /// (P16: backups on a 35-day cycle).
    public static let backupRetentionDays = 35

    /// Takes a backup of the vault into a new directory under `root`: SQLite's online backup of
    /// each file, consistent across them (content first; then keys and PII, taken again until
    /// every key the PII copy names is in the key copy; the log last, covering everything), a
    /// manifest with the SHA-256 of every file, signed with the log's key, and `root` recorded
    /// so every later erasure reaches the backup (its copy of the keys loses every key an erasure destroys). An admin's act.
    /// - Parameters:
    ///   - root: The operator's backup directory (made with mode 0700 if missing).
    ///   - context: An admin, purpose administration.
    /// - Returns: The backup's manifest; its directory is `root/<id>`.
    /// - Throws: `CofferError` `io`, `storage` (the vault kept changing keys), `accessDenied`.
    public func createBackup(in root: URL, context: AccessContext) async throws -> BackupManifest {
        let root = root.standardizedFileURL
        let now = administration.clock.now()
        let id = try BackupFiles.newID(at: now)
        let request = AccessRequest(action: .lifecycle, dataClass: .administration, objectID: id, reason: "backup-create")
        return try await guarded(context, request) { _ in
            let log = accessLog.log
            let checkpoint = try await accessLog.run { try $0.checkpointNow() }
            return try await BlockingPool.shared.run { () throws -> BackupManifest in
                // Built under a partial name and renamed when whole: a crash leaves no backup that
                // erasures skip (stale partial ones are removed by the next backup or erasure).
                let partial = root.appendingPathComponent(BackupFiles.partialPrefix + id)
                do {
                    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                    try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw CofferError(.io, "cannot create the backup directory \(partial.path): \(error.localizedDescription)")
                }
                do {
                    try self.keys.store.addBackupLocation(root.path, at: now)
                    let manifest = try self.copyFiles(into: partial, id: id, at: now, checkpoint: checkpoint, log: log)
                    try BackupFiles.writeManifest(manifest, in: partial, origin: log.origin, key: log.signingKey)
                    try FileManager.default.moveItem(at: partial, to: root.appendingPathComponent(id))
                    try AtomicOutputFile.syncDirectory(root.path)
                    BackupFiles.removeStalePartials(in: root)
                    return manifest
                } catch {
                    try? FileManager.default.removeItem(at: partial)
                    throw error
                }
            }
        }
    }

    private func copyFiles(into directory: URL, id: String, at now: Int64, checkpoint: AuditCheckpoint, log: AuditLog) throws -> BackupManifest {
        let url = { (name: String) in directory.appendingPathComponent(name) }
        guard let sqlite = storage.files else {
            throw CofferError(.invalidArgument, "backups are of SQLite vaults; a PostgreSQL vault is backed up with its servers' own tools (docs/scale-out.md)")
        }
        let (content, control, pii) = (sqlite.content, sqlite.control, sqlite.pii)
        try BackupFiles.copy(content, to: url(FileName.content))
        var consistent = false
        for _ in 0..<8 {
            for name in [FileName.control, FileName.pii] { try? FileManager.default.removeItem(at: url(name)) }
            try BackupFiles.copy(control, to: url(FileName.control))
            try BackupFiles.copy(pii, to: url(FileName.pii))
            if try BackupFiles.missingSubjectKeys(control: url(FileName.control), pii: url(FileName.pii)) == 0 { consistent = true; break }
        }
        guard consistent else {
            throw CofferError(.storage, "subject keys kept changing while the backup copied them; try again when the vault is quieter")
        }
        guard let auditPool = log.sqlitePool else {
            throw CofferError(.invalidArgument, "backups are of SQLite vaults; a PostgreSQL vault is backed up with its servers' own tools (docs/scale-out.md)")
        }
        try BackupFiles.copy(auditPool, to: url(FileName.audit))
        let logSize = try VaultDatabase.guardedSync {
            try DatabaseQueue(path: url(FileName.audit).path).read { db in
                try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state WHERE id = 1") ?? 0
            }
        }
        // What the key copy reflects is what its own ledger holds: an erasure that committed after
        // the copy is not in it, so it is applied to this backup later.
        let ledger = try BackupFiles.ledgerIDs(inControlAt: url(FileName.control))
        let files = try BackupManifest.fileOrder.map { try BackupFiles.digest(of: url($0)) }
        return BackupManifest(id: id, createdAt: now, files: files, logSize: logSize, logRoot: checkpoint.rootHash,
                              logCheckpointSize: checkpoint.treeSize, appliedLedger: ledger, scrubbedAt: nil)
    }

    /// The backups under `root`, oldest first.
    /// - Parameters:
    ///   - root: The operator's backup directory.
    ///   - context: An admin or auditor.
    public func backups(in root: URL, context: AccessContext) async throws -> [BackupManifest] {
        try await guarded(context, AccessRequest(action: .list, dataClass: .administration, reason: "backup-list")) { _ in
            try await BlockingPool.shared.run { try BackupFiles.backups(in: root.standardizedFileURL).map(\.manifest) }
        }
    }

    /// Deletes the backups under `root` older than `keepDays` (35 unless told), always keeping
    /// the newest one.
    /// - Returns: The ids deleted.
    public func pruneBackups(in root: URL, keepDays: Int = Vault.backupRetentionDays, context: AccessContext) async throws -> [String] {
        guard keepDays >= 1 else { throw CofferError(.invalidArgument, "keep backups for at least 1 day") }
        let cutoff = administration.clock.now() - Int64(keepDays) * 86_400_000
        return try await guarded(context, AccessRequest(action: .lifecycle, dataClass: .administration, reason: "backup-prune days=\(keepDays)")) { _ in
            try await BlockingPool.shared.run { () throws -> [String] in
                let all = try BackupFiles.backups(in: root.standardizedFileURL)
                var removed: [String] = []
                for (url, manifest) in all.dropLast() where manifest.createdAt < cutoff {
                    do { try FileManager.default.removeItem(at: url) } catch {
                        throw CofferError(.io, "cannot delete the backup \(url.path): \(error.localizedDescription)")
                    }
                    removed.append(manifest.id)
                }
                return removed
            }
        }
    }

    /// Takes every erasure so far to where copies of the vault live: the erasure ledger is
    /// written to the witness directory, and every backup in a recorded backup directory has the
    /// keys destroyed since it was taken removed from its copy of `control.sqlite` (then
    /// vacuumed; its manifest updated and signed again).
    /// - Returns: The ids of the backups that hold no destroyed key now.
    /// - Throws: `CofferError` `io` when the witness cannot be written (a backup that cannot be
    ///   reached is skipped, and tried again by the next erasure).
    @discardableResult
    func propagateErasures() async throws -> [String] {
        let log = accessLog.log
        let key = try log.verifierKey
        return try await BlockingPool.shared.run { () throws -> [String] in
            let ledger = try self.keys.store.ledger()
            if let witness = log.witness { try LedgerWitness(directory: witness.directory).record(ledger) }
            var reached: [String] = []
            for root in try self.keys.store.backupLocations() {
                let rootURL = URL(fileURLWithPath: root)
                BackupFiles.removeStalePartials(in: rootURL)
                for (url, manifest) in (try? BackupFiles.backups(in: rootURL)) ?? [] {
                    do {
                        try BackupFiles.scrub(url, ledger: ledger, key: key, log: log, at: self.administration.clock.now())
                        reached.append(manifest.id)
                    } catch {
                        self.logger.warning("a backup could not be brought up to the erasures", metadata: ["backup": "\(manifest.id)"])
                    }
                }
            }
            return reached
        }
    }
}

extension KeyStore {
    /// Records a directory backups are written to.
    func addBackupLocation(_ path: String, at time: Int64) throws {
        try VaultDatabase.guardedSync {
            try pool.write { db in
                try db.execute(sql: "INSERT INTO backup_location (path, added_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING", arguments: [path, time])
            }
        }
    }

    /// The directories backups were written to.
    func backupLocations() throws -> [String] {
        try VaultDatabase.guardedSync { try pool.read { db in try db.fetchAll(String.self, sql: "SELECT path FROM backup_location ORDER BY path") } }
    }
}
