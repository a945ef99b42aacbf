import CofferCrypto
import Foundation

extension Vault {
    /// A request on the access log; `wholeLog` for what describes the whole log (its sizes,
    /// roots, checkpoints and proofs), which a tenant-limited principal may not see.
    func auditRequest(_ action: AccessAction = .auditRead, wholeLog: Bool = false) -> AccessRequest {
        var request = AccessRequest(action: action, dataClass: .auditLog)
        request.vaultWide = wholeLog
        return request
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
    /// - Parameters:
    ///   - checkpoint: A checkpoint kept elsewhere the log must extend, or nil.
    ///   - context: An auditor's context without a tenant limit (the verdict describes every tenant's records).
    /// - Returns: The verdict; a bad log is a failed verdict naming the first bad record.
    /// - Throws: `CofferError` `accessDenied` (a tenant-limited principal too), `storage`.
    public func verifyAuditLog(extending checkpoint: AuditCheckpoint? = nil, context: AccessContext) async throws -> AuditVerification {
        let request = auditRequest(wholeLog: true)
        let accessLog = self.accessLog
        return try await guarded(context, request) { _ in
            try await accessLog.run { log in
                let verdict = try log.verify(extending: checkpoint)
                // Records still waiting for the log are part of it: rows deleted there fail it too.
                guard verdict.ok, let problem = accessLog.outboxProblem() else { return verdict }
                return AuditVerification(ok: false, treeSize: verdict.treeSize, rootHash: verdict.rootHash, recordsChecked: verdict.recordsChecked,
                                         prunedBefore: verdict.prunedBefore, checkpointsChecked: verdict.checkpointsChecked,
                                         firstBadRecord: verdict.treeSize + 1, problem: problem)
            }
        }
    }

    /// Signs and stores a checkpoint of the log as it is now; keep the result elsewhere.
    /// - Parameter context: An auditor's context without a tenant limit.
    /// - Returns: The checkpoint (size, root, signature).
    /// - Throws: `CofferError` `accessDenied` (a tenant-limited principal too).
    public func auditCheckpoint(context: AccessContext) async throws -> AuditCheckpoint {
        let request = auditRequest(wholeLog: true)
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.checkpointNow() } }
    }

    /// The stored checkpoints, oldest first.
    /// - Parameter context: An auditor's context without a tenant limit.
    /// - Returns: The checkpoints.
    /// - Throws: `CofferError` `accessDenied` (a tenant-limited principal too).
    public func auditCheckpoints(context: AccessContext) async throws -> [AuditCheckpoint] {
        let request = auditRequest(wholeLog: true)
        return try await guarded(context, request) { _ in try await accessLog.run { try $0.checkpoints() } }
    }

    /// An inclusion proof of record `sequence` in the log as it is now. The access is recorded
    /// with the record's tenant: a tenant-limited principal gets proofs of its tenants' records
    /// only (not of a record without a tenant, nor of a pruned one).
    /// - Parameters:
    ///   - sequence: The record's sequence number.
    ///   - context: An auditor's context.
    /// - Returns: The proof.
    /// - Throws: `CofferError` `accessDenied`, `notFound` for a sequence outside the log.
    public func auditProof(sequence: Int64, context: AccessContext) async throws -> AuditInclusionProof {
        try await guarded(context, auditRequest(), resolve: { request in
            // The record's tenant decides; one without a tenant, or pruned, concerns the whole vault.
            request.tenant = try await accessLog.run { try $0.recordTenant(sequence: sequence) }
            request.vaultWide = request.tenant == nil
        }) { _ in try await accessLog.run { try $0.inclusionProof(sequence: sequence) } }
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
    /// While the vault has two or more admins without a tenant limit, nothing is deleted yet: the
    /// prune waits for a second, different admin (``approveChange(_:context:)``), which checks
    /// the minimum retention again. A fresh vault's first operator prunes alone.
    /// - Parameters:
    ///   - time: The boundary: records older than it go.
    ///   - context: An admin's context without a tenant limit (purpose administration).
    /// - Returns: How many records were deleted, or the pending change.
    /// - Throws: `CofferError` `invalidArgument` (unrecorded) for a date inside the log's minimum
    ///   retention (``auditRetentionDays(context:)``, 400 days unless raised), `accessDenied`.
    public func pruneAuditLog(before time: Int64, context: AccessContext) async throws -> AuditPruneResult {
        switch try await prune(before: time, context: context, approving: nil) {
        case .done(let count): .pruned(records: count)
        case .pending(let change): .pending(change)
        }
    }

    /// Prunes the log before `time`, or queues the prune under dual control; with `change`,
    /// carries out that pending prune for a second admin.
    func prune(before time: Int64, context: AccessContext, approving change: PendingChange?) async throws -> DualControlOutcome<Int> {
        try await checkOutsideRetention(time)
        let boundary = try await accessLog.pruneBoundary(before: time)
        // The purge record names the boundary; verification trusts no other statement of it.
        let pruned = AuditLog.prunedReason(boundary, approved: change?.changeID)
        return try await guardedChange(context, auditRequest(.purge), refine: { caller, access in
            if let refusal = change?.refusal(approver: caller) {
                access.refuse(refusal)
            } else if change == nil, try await BlockingPool.shared.run({ try self.administration.isUnderDualControl() }) {
                return try PendingChange(pruneBefore: time, requestedBy: caller.id)
            } else {
                access.request.reason = pruned
            }
            return nil
        }) { _ in
            if let change { _ = try await administration.applyPending(change.changeID, by: context.actor) }
            return try await accessLog.run { try $0.deleteRecords(before: boundary) }
        }
    }
}
