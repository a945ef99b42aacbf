import CofferCrypto
import Foundation

extension Vault {
    /// The key that verifies this vault's checkpoint notes, as `name+keyid+base64`: keep a copy
    /// apart from the vault and its keyring, and pass it to
    /// ``verifyAuditLog(against:pinnedKey:context:)``. It is public; nothing is recorded.
    /// - Throws: `CofferError` `invalidArgument` if the key cannot be encoded (never for a valid keyring).
    public var auditVerifierKey: NoteVerifierKey {
        get throws { try accessLog.log.verifierKey }
    }

    /// The newest checkpoint in the vault's witness directory, or nil when the vault has no
    /// witness or none was written yet.
    /// - Parameter context: An auditor's context without a tenant limit.
    /// - Returns: The witnessed checkpoint note.
    /// - Throws: `CofferError` `accessDenied` (a tenant-limited principal too), `tamperDetected` for a damaged witness file, `io`.
    public func witnessedCheckpoint(context: AccessContext) async throws -> CheckpointNote? {
        try await guarded(context, auditRequest(wholeLog: true)) { _ in try await accessLog.run { try $0.witness?.latest() } }
    }

    /// The consistency proof from the log's first `oldSize` records to its first `newSize`
    /// (RFC 9162): the proof that the log only grew between two checkpoints.
    /// - Parameters:
    ///   - oldSize: Records in the older tree.
    ///   - newSize: Records in the newer tree; nil for the log as it is now.
    ///   - context: An auditor's context without a tenant limit.
    /// - Returns: The proof, with both roots.
    /// - Throws: `CofferError` `invalidArgument` for sizes outside the log, `accessDenied` (a tenant-limited principal too).
    public func auditConsistencyProof(from oldSize: Int64, to newSize: Int64? = nil,
                                      context: AccessContext) async throws -> AuditConsistencyProof {
        try await guarded(context, auditRequest(wholeLog: true)) { _ in try await accessLog.run { try $0.consistencyProof(from: oldSize, to: newSize) } }
    }

    /// Checks the whole log against a checkpoint note kept elsewhere, trusting only `pinnedKey`:
    /// the note must be signed by it, the vault's audit key must be it (a log rewritten and
    /// re-signed under another key fails here), and the log, recomputed record by record, must
    /// extend the note (a log rewritten under the vault's own key fails here: its tree at the
    /// note's size has another root).
    /// - Parameters:
    ///   - note: A witnessed checkpoint (the witness file, or a copy of it).
    ///   - pinnedKey: The verifier key the caller kept (``auditVerifierKey`` when it was safe).
    ///   - context: An auditor's context without a tenant limit.
    /// - Returns: The verdict; a mismatch is a failed verdict naming it, not an error.
    /// - Throws: `CofferError` `accessDenied` (a tenant-limited principal too), `storage`.
    public func verifyAuditLog(against note: CheckpointNote, pinnedKey: NoteVerifierKey,
                               context: AccessContext) async throws -> AuditVerification {
        try await guarded(context, auditRequest(wholeLog: true)) { _ in
            try await accessLog.run { log in
                guard note.isSigned(by: pinnedKey) else {
                    return AuditVerification.failed("the checkpoint is not signed by the pinned key \(pinnedKey.name)")
                }
                guard try log.verifierKey == pinnedKey else {
                    return AuditVerification.failed("this vault's audit key is not the pinned key: the log is signed under another key (replaced, or re-signed with another keyring)")
                }
                return try log.verify(extendingNote: note)
            }
        }
    }
}

extension AuditVerification {
    /// A failed verdict that precedes reading the log.
    static func failed(_ problem: String) -> AuditVerification {
        AuditVerification(ok: false, treeSize: 0, rootHash: "", recordsChecked: 0, prunedBefore: 1, checkpointsChecked: 0,
                          firstBadRecord: 0, problem: problem)
    }
}
