import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Checks a backup: every file's size and SHA-256 against its manifest, SQLite's integrity
    /// check of each, and, given the vault's verifier key, the manifest's signature.
    /// - Parameters:
    ///   - directory: The backup's directory (`<backup root>/<id>`).
    ///   - key: The vault's verifier key (`coffer audit public-key`); nil checks all but the
    ///     signature.
    /// - Returns: What held and what did not.
    /// - Throws: `CofferError` `notFound` for a directory that is not a backup, `invalidFormat`.
    public static func verifyBackup(at directory: URL, key: NoteVerifierKey? = nil) throws -> BackupVerification {
        let manifest = try BackupFiles.manifest(in: directory)
        var problems: [String] = []
        var signed = false
        if let key {
            do { _ = try BackupFiles.manifest(in: directory, key: key); signed = true } catch let error as CofferError {
                problems.append(error.message)
            }
        }
        for file in manifest.files {
            let url = directory.appendingPathComponent(file.name)
            guard let found = try? BackupFiles.digest(of: url) else { problems.append("\(file.name) is missing or unreadable"); continue }
            guard found == file else { problems.append("\(file.name) does not match the manifest (size or SHA-256)"); continue }
            let check = try? VaultDatabase.guardedSync {
                try DatabaseQueue(path: url.path, configuration: readOnlyConfiguration).read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            }
            if check != ["ok"] { problems.append("\(file.name) fails SQLite's integrity check") }
        }
        if Set(manifest.files.map(\.name)) != Set(BackupManifest.fileOrder) { problems.append("the manifest does not list the four vault files") }
        return BackupVerification(id: manifest.id, ok: problems.isEmpty, signatureChecked: signed, problems: problems)
    }

    static var readOnlyConfiguration: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }

    /// Restores a backup into `directory` (which must not exist, or be an empty directory) and
    /// opens it.
    ///
    /// Everything happens in a staging directory beside `directory`, which becomes the vault
    /// only when the restore is complete: the backup's files are copied there and checked
    /// against its manifest, signed by this keyring's audit key; every entry of the erasure
    /// ledger (from the witness directories and, if given, from the vault being replaced) that
    /// the backup had not seen is applied to the copy of `control.sqlite` (the keys destroyed
    /// since are deleted, then the file vacuumed); the staged vault is opened, the restore
    /// decided and recorded in its log, and the rows of subjects and tenants erased since are
    /// erased again. A witness that holds a checkpoint of a longer log than the backup's (the
    /// lost vault's) is superseded only when `supersedeWitness` says that vault is gone: its
    /// checkpoint is kept aside as `checkpoint.superseded-<time>`.
    /// - Parameters:
    ///   - backup: The backup's directory.
    ///   - directory: Where the vault goes.
    ///   - keyringFile: The vault's keyring.
    ///   - witness: The restored vault's witness directory (nil: the one the backup recorded, or
    ///     the default one); recorded in the restored vault. A new, empty directory starts from
    ///     the backup's newest checkpoint (a restore drill beside a running vault).
    ///   - ledgerFrom: The directory of the vault being replaced, whose ledger is applied too.
    ///   - supersedeWitness: The vault whose log the witness holds is lost: supersede its checkpoint.
    ///   - allowDevelopmentKeyring: Accept a development keyring.
    ///   - context: An admin of the restored vault, purpose administration.
    /// - Returns: The open vault and what the restore did.
    /// - Throws: `CofferError` `alreadyExists` for a target that holds something or a witness
    ///   that is ahead without `supersedeWitness`, `tamperDetected` for a backup that fails its
    ///   checks, `invalidArgument` for a ledger of another vault, `io`.
    public static func restoreBackup(from backup: URL, to directory: URL, keyringFile: KeyringFile, witness: URL? = nil, ledgerFrom: URL? = nil,
                                     supersedeWitness: Bool = false, allowDevelopmentKeyring: Bool = false,
                                     context: AccessContext) async throws -> (vault: Vault, report: RestoreReport) {
        let directory = directory.standardizedFileURL
        try RestoreStaging.requireEmptyTarget(directory)
        let keyring = try keyringFile.load()
        try BackupFiles.finishInterruptedScrub(backup)
        RestoreStaging.removeStale(near: directory)
        let staging = URL(fileURLWithPath: directory.path + RestoreStaging.suffix + (try SecureRandom.bytes(4)).hexString)
        defer { try? FileManager.default.removeItem(at: staging) }
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for name in BackupManifest.fileOrder + [BackupFiles.manifestNote] {
                let source = backup.appendingPathComponent(name)
                guard DirectoryLock.isRegularFile(source.path) else { throw CofferError(.notFound, "\(source.path) is missing or not a regular file") }
                try FileManager.default.copyItem(at: source, to: staging.appendingPathComponent(name))
            }
        } catch let error as CofferError { throw error } catch {
            throw CofferError(.io, "cannot copy the backup to \(staging.path): \(error.localizedDescription)")
        }
        let staged = try RestoreStaging(directory: staging, keyring: keyring)
        let manifest = try staged.checkedManifest()
        let chosen = (witness ?? staged.recordedWitness ?? defaultWitness(for: keyringFile, vault: directory)).standardizedFileURL
        let ledger = try staged.ledger(witnesses: [chosen, staged.recordedWitness].compactMap { $0 }, ledgerFrom: ledgerFrom)
        let (applied, removedKeys) = try BackupScrubber.apply(ledger, skipping: Set(manifest.appliedLedger),
                                                              toControlAt: staging.appendingPathComponent(FileName.control).path)
        try staged.recordWitness(chosen)
        let superseded = try staged.prepareWitness(chosen, supersede: supersedeWitness)
        let vault = try Vault.open(at: staging, keyringFile: keyringFile, allowDevelopmentKeyring: allowDevelopmentKeyring)
        let report: RestoreReport
        do {
            let reapplied = ledger.filter { applied.contains($0.id) }
            let reason = "backup-restored=\(manifest.id) reapplied=\(applied.count)" + (superseded.map { " superseded=\($0)" } ?? "")
            let (subjects, objects) = try await vault.guarded(context, AccessRequest(action: .lifecycle, dataClass: .administration,
                                                                                     objectID: manifest.id, reason: reason)) { _ in
                try await vault.eraseRowsAgain(reapplied)
            }
            _ = await vault.janitor.truncate(.pii)
            _ = await vault.janitor.truncate(.content)
            try await vault.propagateErasures()
            let size = try await vault.accessLog.run { try $0.checkpointNow() }.treeSize
            report = RestoreReport(backup: manifest.id, reappliedErasures: applied.count, removedKeys: removedKeys, erasedSubjects: subjects,
                                   deletedObjects: objects, supersededCheckpoint: superseded, logSize: size)
            try vault.close()
        } catch {
            try? vault.close()
            throw error
        }
        try? FileManager.default.removeItem(at: staging.appendingPathComponent(BackupFiles.manifestNote))
        try RestoreStaging.moveIntoPlace(staging, at: directory)
        return (try Vault.open(at: directory, keyringFile: keyringFile, allowDevelopmentKeyring: allowDevelopmentKeyring), report)
    }

    /// Erases again, in a restored vault, the rows of subjects and tenants the ledger says were
    /// erased after the backup (their keys are gone already, so nothing is retained).
    private func eraseRowsAgain(_ entries: [LedgerEntry]) async throws -> (subjects: Int, objects: Int) {
        var subjects = 0, objects = 0
        for entry in entries {
            let tenant = TenantID(entry.tenant)
            switch entry.kind {
            case .subject:
                guard let raw = entry.subject else { continue }
                let subject = SubjectID(raw)
                guard try await people.store.subjects(tenant: tenant).contains(subject) else { continue }
                try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: entry.at) }
                subjects += 1
            case .tenant:
                objects += try await deleteAllObjects(of: tenant)
                for subject in try await people.store.subjects(tenant: tenant) {
                    try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: entry.at) }
                    subjects += 1
                }
            case .retained:
                guard let raw = entry.subject else { continue }
                let subject = SubjectID(raw)
                for key in entry.keyIDs { try await people.store.deleteRetained(subject: subject, keyID: key) }
            case .periodKeys:
                continue  // the versions sealed under them no longer open; the retention run deletes their rows
            }
        }
        return (subjects, objects)
    }
}
