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

    /// Restores a backup into `directory` (which must not exist, or be empty) and opens it.
    ///
    /// Erasure reaches the restored copy before it is opened: every entry of the erasure ledger
    /// (from the witness directory and, if given, from the vault being replaced) that the backup
    /// had not seen is applied to its `control.sqlite` (the keys destroyed since are deleted,
    /// then the file vacuumed), and once open, the rows of subjects and tenants erased since are
    /// erased again. When the witness holds a checkpoint of a longer log than the backup's (the
    /// lost log's), that checkpoint is kept beside it as `checkpoint.superseded-<time>`, and the
    /// restored log records the restore with the superseded size and root.
    /// - Parameters:
    ///   - backup: The backup's directory.
    ///   - directory: Where the vault goes.
    ///   - keyringFile: The vault's keyring.
    ///   - witness: The vault's witness directory (nil: the one it recorded, or the default).
    ///   - ledgerFrom: The directory of the vault being replaced, whose ledger is applied too.
    ///   - allowDevelopmentKeyring: Accept a development keyring.
    ///   - context: An admin of the restored vault, purpose administration.
    /// - Returns: The open vault and what the restore did.
    /// - Throws: `CofferError` `alreadyExists` for a directory that holds something,
    ///   `tamperDetected` for a backup that fails verification, `io`.
    public static func restoreBackup(from backup: URL, to directory: URL, keyringFile: KeyringFile, witness: URL? = nil, ledgerFrom: URL? = nil,
                                     allowDevelopmentKeyring: Bool = false, context: AccessContext) async throws -> (vault: Vault, report: RestoreReport) {
        let directory = directory.standardizedFileURL
        let keyring = try keyringFile.load()
        let verification = try verifyBackup(at: backup)
        guard verification.ok else { throw CofferError(.tamperDetected, "the backup fails verification: \(verification.problems.joined(separator: "; "))") }
        let manifest = try BackupFiles.manifest(in: backup)
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory.path), !existing.isEmpty {
            throw CofferError(.alreadyExists, "\(directory.path) is not empty: restore into a new directory (move the damaged vault aside and pass it as --ledger-from)")
        }
        let staging = URL(fileURLWithPath: directory.path + ".restoring-" + (try SecureRandom.bytes(4)).hexString)
        defer { try? FileManager.default.removeItem(at: staging) }
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for name in BackupManifest.fileOrder {
                try FileManager.default.copyItem(at: backup.appendingPathComponent(name), to: staging.appendingPathComponent(name))
            }
        } catch {
            throw CofferError(.io, "cannot copy the backup to \(staging.path): \(error.localizedDescription)")
        }
        let staged = try RestoreStaging(directory: staging, keyring: keyring)
        try staged.checkSignature(of: backup)
        let witness = witness ?? staged.recordedWitness ?? defaultWitness(for: keyringFile, vault: directory)
        var ledger = try LedgerWitness(directory: witness).entries()
        if let ledgerFrom { ledger += try RestoreStaging.ledger(ofVaultAt: ledgerFrom) }
        ledger = Array(Set(ledger)).sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        let (applied, removedKeys) = try BackupScrubber.apply(ledger, skipping: Set(manifest.appliedLedger),
                                                              toControlAt: staging.appendingPathComponent(FileName.control).path)
        let superseded = try staged.supersedeWitness(witness)
        do {
            if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
            try FileManager.default.moveItem(at: staging, to: directory)
        } catch {
            throw CofferError(.io, "cannot move the restored vault into \(directory.path): \(error.localizedDescription)")
        }
        let vault = try Vault.open(at: directory, keyringFile: keyringFile, allowDevelopmentKeyring: allowDevelopmentKeyring)
        let reapplied = ledger.filter { applied.contains($0.id) }
        let (subjects, objects) = try await vault.eraseRowsAgain(reapplied)
        let reason = "backup-restored=\(manifest.id) reapplied=\(applied.count)" + (superseded.map { " superseded=\($0)" } ?? "")
        try await vault.guarded(context, AccessRequest(action: .lifecycle, dataClass: .administration, objectID: manifest.id, reason: reason)) { _ in }
        _ = await vault.janitor.truncate(.pii)
        _ = await vault.janitor.truncate(.content)
        try await vault.propagateErasures()
        let size = try await vault.accessLog.run { try $0.checkpointNow() }.treeSize
        return (vault, RestoreReport(backup: manifest.id, reappliedErasures: applied.count, removedKeys: removedKeys, erasedSubjects: subjects,
                                     deletedObjects: objects, supersededCheckpoint: superseded, logSize: size))
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
                _ = try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: entry.at) }
                subjects += 1
            case .tenant:
                objects += try await deleteAllObjects(of: tenant)
                for subject in try await people.store.subjects(tenant: tenant) {
                    _ = try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: entry.at) }
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
