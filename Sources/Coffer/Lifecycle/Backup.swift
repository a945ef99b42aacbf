import CofferCrypto
import Foundation

/// What a backup holds: its files with their SHA-256, the log it copied, and the erasures it
/// was brought up to. Written beside the files as `manifest.json` and, signed with the log's
/// key, as `manifest.note`.
public struct BackupManifest: Sendable, Codable, Hashable {
    /// One file of the backup.
    public struct File: Sendable, Codable, Hashable {
        /// Its name (`control.sqlite`, `pii.sqlite`, `content.sqlite`, `audit.sqlite`).
        public let name: String
        /// Its size in bytes.
        public let bytes: Int64
        /// SHA-256 of its bytes, hex.
        public let sha256: String
    }

    /// The backup's id (`backup-` and the UTC time of its creation, then 8 hex digits); also the
    /// name of its directory.
    public let id: String
    /// When it was taken (Unix milliseconds).
    public let createdAt: Int64
    /// The files, in the order they were copied.
    public var files: [File]
    /// Records in the copied access log.
    public let logSize: Int64
    /// The Merkle root of the copied log's newest checkpoint, hex, and that checkpoint's size.
    public let logRoot: String
    /// The size of the checkpoint `logRoot` belongs to.
    public let logCheckpointSize: Int64
    /// The erasure-ledger entries applied to this backup's keys: those recorded when it was
    /// taken, and every erasure since that reached it (its destroyed keys removed from the copy).
    public var appliedLedger: [String]
    /// When an erasure last removed keys from the copy (Unix milliseconds).
    public var scrubbedAt: Int64?

    /// The first line of a signed manifest.
    static let header = "coffer-backup-manifest/v1"
    /// The files' names, in copy order: content first (its keys are in the copies made after
    /// it), then the keys and PII (copied until they agree), then the log (it covers them all).
    static let fileOrder = [Vault.FileName.content, Vault.FileName.control, Vault.FileName.pii, Vault.FileName.audit]
}

/// What ``Vault/verifyBackup(at:key:)`` found.
public struct BackupVerification: Sendable, Codable, Hashable {
    /// The backup's id.
    public let id: String
    /// Whether every check held.
    public let ok: Bool
    /// Whether the manifest's signature was checked (a verifier key was given) and held.
    public let signatureChecked: Bool
    /// What failed, if anything.
    public let problems: [String]
}

/// What ``Vault/restoreBackup(from:to:keyringFile:witness:ledgerFrom:supersedeWitness:allowDevelopmentKeyring:context:)`` did.
public struct RestoreReport: Sendable, Codable, Hashable {
    /// The backup restored.
    public let backup: String
    /// Erasure-ledger entries applied again that the backup had not seen.
    public let reappliedErasures: Int
    /// Keys removed from the restored copy because they were destroyed after the backup.
    public let removedKeys: Int
    /// Subjects whose rows were erased again, and objects of erased tenants deleted again.
    public let erasedSubjects: Int
    /// Objects deleted again (of tenants erased after the backup).
    public let deletedObjects: Int
    /// The witnessed checkpoint the restore superseded (the lost log's), as `size:root`.
    public let supersededCheckpoint: String?
    /// Records in the restored log, after the restore's own record.
    public let logSize: Int64
}
