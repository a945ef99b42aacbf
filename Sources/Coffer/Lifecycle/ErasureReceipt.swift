import CofferCrypto
import Foundation

/// What an erasure did, signed with the access log's Ed25519 key as a C2SP signed note, so it
/// can be checked with the verifier key `coffer audit public-key` prints, without the vault:
///
/// ```text
/// coffer-erasure-receipt/v1
/// {"checkpoint":{...},"destroyedKeys":[...],...}
///
/// — coffer.vault/3f2a… AbCd…
/// ```
public struct ErasureReceipt: Sendable, Codable, Hashable {
    /// What a legal retention kept, and why.
    public struct Retained: Sendable, Codable, Hashable {
        /// The records kept (for example `billing-last4`, `billing-address`).
        public let fields: [String]
        /// Until when (Unix milliseconds); then the retention run destroys them.
        public let until: Int64
        /// The obligation.
        public let reason: String
    }

    /// The log checkpoint the erasure reached: its record is in the tree of that size.
    public struct Checkpoint: Sendable, Codable, Hashable {
        /// Records in the tree.
        public let treeSize: Int64
        /// The Merkle root, hex.
        public let rootHash: String
    }

    /// The erasure request.
    public let requestID: String
    /// The tenant.
    public let tenant: TenantID
    /// The subject erased; nil when the whole tenant was.
    public let subject: SubjectID?
    /// When it was asked for (Unix milliseconds).
    public let requestedAt: Int64
    /// Its deadline: 30 days after the request (Unix milliseconds).
    public let deadline: Int64
    /// When it was carried out (Unix milliseconds).
    public let erasedAt: Int64
    /// The ids of the keys destroyed (crypto-shredding: every copy sealed under them, in any
    /// backup, no longer opens with any key the vault holds).
    public let destroyedKeys: [String]
    /// The fields deleted, by name.
    public let deletedFields: [String]
    /// How many consent events were deleted.
    public let deletedConsents: Int
    /// How many technical identifiers were deleted.
    public let deletedIdentifiers: Int
    /// How many blind-index entries were deleted.
    public let deletedIndexEntries: Int
    /// What a legal retention kept (P11), sealed under a key of its own.
    public let retained: [Retained]
    /// The log checkpoint that includes the erasure's record.
    public let checkpoint: Checkpoint
    /// A tenant's erasure: how many objects were deleted (every version, under keys destroyed):
    /// those the tenant had when its keys were destroyed.
    public var deletedObjects: Int?
    /// A tenant's erasure: the subjects erased with it.
    public var erasedSubjects: [SubjectID]?
    /// The backups the erasure reached: the ids of those whose copies of the destroyed keys were
    /// removed (``Vault/createBackup(in:context:)``).
    public var scrubbedBackups: [String]?

    /// The first line of a receipt note.
    static let header = "coffer-erasure-receipt/v1"

    /// The receipt as a signed note, signed under the log's name.
    func note(origin: String, key: Ed25519SigningKey) throws -> String {
        try SignedJSONNote.sign(self, header: Self.header, origin: origin, key: key)
    }

    /// Checks a receipt note against a verifier key and reads it.
    /// - Parameters:
    ///   - note: The receipt file's text.
    ///   - key: The vault's verifier key (`coffer audit public-key`), kept apart from the vault.
    /// - Returns: The receipt.
    /// - Throws: `CofferError` `invalidFormat` for something that is not a receipt,
    ///   `authenticationFailed` when no signature by `key` holds.
    public static func verify(_ note: String, key: NoteVerifierKey) throws -> ErasureReceipt {
        try SignedJSONNote.open(note, header: header, key: key, as: ErasureReceipt.self, what: "an erasure receipt")
    }
}

/// An erasure request (P16): asked for by a privacy officer, due within 30 days, carried out by
/// ``Vault/runErasures(context:)`` unless a legal hold covers it.
public struct ErasureRequest: Sendable, Codable, Hashable {
    /// The request's id (`erasure_` and 32 hex digits).
    public let id: String
    /// The subject's tenant.
    public let tenant: TenantID
    /// The subject to erase; nil for a whole tenant.
    public let subject: SubjectID?
    /// Why (the request's reference).
    public let reason: String
    /// Who asked.
    public let requestedBy: PrincipalID
    /// When (Unix milliseconds).
    public let requestedAt: Int64
    /// The promised deadline: 30 days after the request.
    public let deadline: Int64
    /// When it was carried out, if it was.
    public let completedAt: Int64?

    /// Whether it is still to be carried out.
    public var isOpen: Bool { completedAt == nil }
    /// Whether it is open past its deadline at `time`.
    public func isOverdue(at time: Int64) -> Bool { isOpen && time > deadline }
}
