import CofferCrypto
import Foundation

/// What an export (P18) covers.
public enum ExportScope: Sendable, Hashable, Codable {
    /// One data subject: their record and the access history about them. (Content objects are
    /// not linked to subjects in Coffer, so none is included.)
    case subject(SubjectID)
    /// One tenant: every object's latest version, the object catalogue, every subject of the
    /// tenant that is not erased, and the access history of the tenant.
    case tenant(TenantID)
}

/// How an export is written.
public struct ExportOptions: Sendable {
    /// Seal every file of the archive in Tink's AES-GCM-HKDF streaming format under one fresh
    /// key, delivered as a Tink JSON keyset beside the archive (`FILE.keyset.json`).
    public var encrypt: Bool
    /// Replace an existing archive (and keyset) instead of refusing with `alreadyExists`.
    public var replaceExisting: Bool
    /// Called after each file and every 64 MiB of an object, from the exporting task.
    public var progress: (@Sendable (ExportProgress) -> Void)?

    /// Creates options.
    /// - Parameters:
    ///   - encrypt: Seal every file under a fresh key (default: no).
    ///   - replaceExisting: Replace an existing archive (default: refuse).
    ///   - progress: A callback for long exports (default: none).
    public init(encrypt: Bool = false, replaceExisting: Bool = false, progress: (@Sendable (ExportProgress) -> Void)? = nil) {
        self.encrypt = encrypt
        self.replaceExisting = replaceExisting
        self.progress = progress
    }
}

/// How far an export is.
public struct ExportProgress: Sendable, Hashable {
    /// Files written so far.
    public var files: Int
    /// Plaintext bytes written so far.
    public var bytes: Int64
    /// Objects the export holds in all (0 for a subject export).
    public var objectsTotal: Int
    /// Objects written so far.
    public var objectsDone: Int
    /// The file being written, or nil between files.
    public var currentFile: String?
}

/// What an export wrote.
public struct ExportSummary: Sendable, Codable, Hashable {
    /// The archive.
    public let path: String
    /// The keyset file of an encrypted export (the only copy of its key), or nil.
    public let keysetPath: String?
    /// The tenant exported, or the subject's tenant.
    public let tenant: TenantID
    /// The subject of a subject export.
    public let subject: SubjectID?
    /// Files in the archive, the manifest included.
    public let files: Int
    /// Plaintext bytes of those files.
    public let bytes: Int64
    /// Size of the archive file.
    public let archiveBytes: Int64
    /// Objects exported.
    public let objects: Int
    /// Subjects exported.
    public let subjects: Int
    /// Access-log records exported.
    public let accessRecords: Int
    /// Whether every file is sealed.
    public let encrypted: Bool
}

/// `manifest.json` of an export: every other file of the archive with its SHA-256 and size
/// (of the plaintext, also in an encrypted export), and for objects their id, kind and version.
public struct ExportManifest: Sendable, Codable, Hashable {
    /// One file of the archive.
    public struct File: Sendable, Codable, Hashable {
        /// Its name in the archive.
        public let path: String
        /// SHA-256 of its plaintext, lowercase hex.
        public let sha256: String
        /// Its plaintext size in bytes.
        public let size: Int64
        /// The object it holds, for an object file.
        public let objectID: ObjectID?
        /// The object's kind.
        public let kind: ObjectKind?
        /// The object version it holds (the latest when exported).
        public let version: Int?
        /// The object's name as the tenant gave it (the file name is a sanitised form).
        public let name: String?
    }

    /// How an encrypted export is sealed.
    public struct Encryption: Sendable, Codable, Hashable {
        /// `tink-aes-gcm-hkdf-streaming`: Tink's `AesGcmHkdfStreamingKey`, HKDF-SHA256, 32-byte derived key.
        public let format: String
        /// Ciphertext segment size in bytes.
        public let segmentSize: Int
        /// The associated data every file is sealed with: empty.
        public let associatedData: String
        /// The keyset file's name, beside the archive.
        public let keyset: String
    }

    /// `coffer-export/v1`.
    public let format: String
    /// When the export was made (Unix milliseconds).
    public let createdAt: Int64
    /// The tenant (of the subject, for a subject export).
    public let tenant: TenantID
    /// The subject of a subject export.
    public let subject: SubjectID?
    /// How the files are sealed, or nil when they are not.
    public let encryption: Encryption?
    /// Every file but the manifest, in archive order.
    public let files: [File]
}
