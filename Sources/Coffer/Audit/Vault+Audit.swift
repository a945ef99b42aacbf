import CofferCrypto
import Foundation

extension Vault {
    func auditRequest(_ action: AccessAction = .auditRead) -> AccessRequest {
        AccessRequest(action: action, dataClass: .auditLog)
    }

    /// Access-log records matching `query`, newest first. Reading the log is itself recorded.
    /// - Throws: `CofferError` `accessDenied` for anyone but auditors (and privacy officers).
    public func auditRecords(_ query: AuditQuery, context: AccessContext) async throws -> [AuditRecord] {
        let request = auditRequest()
        return try await guarded(context, request) { _ in
            // A tenant-limited auditor or privacy officer sees only its tenants' records.
            var scoped = query
            scoped.scope = try await callerScope(context)
            return try await accessLog.run { [scoped] in try $0.records(scoped) }
        }
    }

    /// Checks the whole log (every leaf, the MAC chain, the Merkle tree, every stored checkpoint)
    /// and, with `checkpoint`, that the log extends it.
    public func verifyAuditLog(extending checkpoint: AuditCheckpoint? = nil, context: AccessContext) async throws -> AuditVerification {
        let request = auditRequest()
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.verify(extending: checkpoint) } }
    }

    /// Signs and stores a checkpoint of the log as it is now; keep the result elsewhere.
    public func auditCheckpoint(context: AccessContext) async throws -> AuditCheckpoint {
        let request = auditRequest()
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.checkpointNow() } }
    }

    /// The stored checkpoints, oldest first.
    public func auditCheckpoints(context: AccessContext) async throws -> [AuditCheckpoint] {
        let request = auditRequest()
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.checkpoints() } }
    }

    /// An inclusion proof of record `sequence` in the log as it is now.
    public func auditProof(sequence: Int64, context: AccessContext) async throws -> AuditInclusionProof {
        let request = auditRequest()
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.inclusionProof(sequence: sequence) } }
    }

    /// The access review for `from <= time < to` (Unix milliseconds).
    public func accessReview(from: Int64, to: Int64, context: AccessContext) async throws -> AccessReview {
        guard from < to else { throw CofferError(.invalidArgument, "the review period must end after it starts") }
        let request = auditRequest()
        return try await guarded(context, request) { _ in
            let scope = try await callerScope(context)
            return try await accessLog.run { log in
                let records = try log.records(from: from, to: to).filter { record in
                    scope.map { scope in record.tenant.map(scope.contains) ?? false } ?? true
                }
                return AccessReview(from: from, to: to, records: records)
            }
        }
    }

    /// Deletes log records older than `time` (Unix milliseconds). Leaves, MACs and checkpoints
    /// stay, so the rest of the log still verifies; the boundary is itself recorded in the log.
    /// - Returns: How many records were deleted.
    /// - Throws: `CofferError` `invalidArgument` (unrecorded) for a date inside the log's minimum
    ///   retention (``auditRetentionDays(context:)``, 400 days unless raised), `accessDenied`.
    public func pruneAuditLog(before time: Int64, context: AccessContext) async throws -> Int {
        try await checkOutsideRetention(time)
        let boundary = try await accessLog.pruneBoundary(before: time)
        // The purge record names the boundary; verification trusts no other statement of it.
        return try await guarded(context, auditRequest(.purge), refine: { access in
            if access.isAllowed { access.request.reason = "pruned-before=\(boundary)" }
        }) { _ in try await accessLog.run { try $0.deleteRecords(before: boundary) } }
    }
}
