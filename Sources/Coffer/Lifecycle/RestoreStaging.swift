import CofferCrypto
import Foundation
import GRDB

/// A backup's files copied where a restore prepares them, read before the vault is opened:
/// the audit key and witness it recorded, its log's newest checkpoint.
struct RestoreStaging {
    let directory: URL
    let recordedWitness: URL?
    private let signingKey: Ed25519SigningKey
    private let origin: String

    init(directory: URL, keyring: Keyring) throws {
        self.directory = directory
        let info = try VaultDatabase.guardedSync {
            try DatabaseQueue(path: directory.appendingPathComponent(Vault.FileName.control).path, configuration: Vault.readOnlyConfiguration).read { db in
                try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT name, value FROM vault_info").map {
                    (try $0.stored("name", in: "vault_info") as String, try $0.stored("value", in: "vault_info") as String)
                })
            }
        }
        guard let auditKey = info["audit_key"] else { throw CofferError(.schemaMismatch, "the backup's control file names no audit key") }
        signingKey = try AuditLog.signingKey(seed: keyring.secret(id: auditKey, purpose: .auditSigning))
        origin = "coffer.vault/" + Array(try SHA256.hash(signingKey.publicKey).prefix(8)).hexString
        recordedWitness = info["witness"].map { URL(fileURLWithPath: $0) }
    }

    /// Checks the backup's manifest is signed by this vault's log key.
    func checkSignature(of backup: URL) throws {
        do {
            _ = try BackupFiles.manifest(in: backup, key: try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey))
        } catch let error as CofferError where error.code == .authenticationFailed {
            throw CofferError(.tamperDetected, "the backup's manifest is not signed by this keyring's audit key: it is another vault's, or was changed")
        }
    }

    /// When `witness` holds a checkpoint of a longer log than the backup's, moves it aside
    /// (`checkpoint.superseded-<time>`) and witnesses the backup's newest checkpoint instead.
    /// - Returns: The superseded checkpoint as `size:root`, or nil.
    func supersedeWitness(_ witness: URL) throws -> String? {
        let current = AuditWitness(directory: witness)
        guard let latest = try current.latest() else { return nil }
        let (size, root) = try VaultDatabase.guardedSync {
            try DatabaseQueue(path: directory.appendingPathComponent(Vault.FileName.audit).path, configuration: Vault.readOnlyConfiguration).read { db in
                let row = try Row.fetchOne(db, sql: "SELECT tree_size, root FROM checkpoint ORDER BY tree_size DESC LIMIT 1")
                return (try row?.stored("tree_size", in: "checkpoint") ?? Int64(0), try row?.storedBytes("root", in: "checkpoint") ?? MerkleTree.root([]))
            }
        }
        guard latest.treeSize > size else { return nil }
        let aside = witness.appendingPathComponent("\(AuditWitness.fileName).superseded-\(nowMilliseconds())")
        do { try FileManager.default.moveItem(at: current.file, to: aside) } catch {
            throw CofferError(.io, "cannot move the witnessed checkpoint aside: \(error.localizedDescription)")
        }
        try current.record(try CheckpointNote(origin: origin, treeSize: size, rootHash: root, time: nowMilliseconds(), signingKey: signingKey))
        return "\(latest.treeSize):\(latest.rootHash.hexString)"
    }

    /// The erasure ledger of the vault in `directory` (read only; none when it has no control file).
    static func ledger(ofVaultAt directory: URL) throws -> [LedgerEntry] {
        let url = directory.appendingPathComponent(Vault.FileName.control)
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let pool = try VaultDatabase.guardedSync { try DatabasePool(path: url.path, configuration: Vault.readOnlyConfiguration) }
        return try KeyStore(pool: pool).ledger()
    }
}
