import CofferCrypto
import Foundation

extension Vault {
    private func auditRequest(_ action: AccessAction = .auditRead) -> AccessRequest {
        AccessRequest(action: action, dataClass: .auditLog)
    }

    /// Access-log records matching `query`, newest first. Reading the log is itself recorded.
    /// - Throws: ``CofferError`` `accessDenied` for anyone but auditors (and privacy officers).
    public func auditRecords(_ query: AuditQuery, context: AccessContext) async throws -> [AuditRecord] {
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { try audit.records(query) }
    }

    /// Checks the whole log (every leaf, the MAC chain, the Merkle tree, every stored checkpoint)
    /// and, with `checkpoint`, that the log extends it.
    public func verifyAuditLog(extending checkpoint: AuditCheckpoint? = nil, context: AccessContext) async throws -> AuditVerification {
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { try audit.verify(extending: checkpoint) }
    }

    /// Signs and stores a checkpoint of the log as it is now; keep the result elsewhere.
    public func auditCheckpoint(context: AccessContext) async throws -> AuditCheckpoint {
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { try audit.checkpointNow() }
    }

    /// The stored checkpoints, oldest first.
    public func auditCheckpoints(context: AccessContext) async throws -> [AuditCheckpoint] {
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { try audit.checkpoints() }
    }

    /// An inclusion proof of record `sequence` in the log as it is now.
    public func auditProof(sequence: Int64, context: AccessContext) async throws -> AuditInclusionProof {
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { try audit.inclusionProof(sequence: sequence) }
    }

    /// The access review for `from <= time < to` (Unix milliseconds).
    public func accessReview(from: Int64, to: Int64, context: AccessContext) async throws -> AccessReview {
        guard from < to else { throw CofferError(.invalidArgument, "the review period must end after it starts") }
        let request = auditRequest()
        try await authorize(context, request)
        return try await performing(context, request) { AccessReview(from: from, to: to, records: try audit.records(from: from, to: to)) }
    }

    /// Deletes log records older than `time` (Unix milliseconds). Leaves, MACs and checkpoints
    /// stay, so the rest of the log still verifies; the boundary is itself recorded in the log.
    /// - Returns: How many records were deleted.
    public func pruneAuditLog(before time: Int64, context: AccessContext) async throws -> Int {
        // Never move the boundary back: an earlier or repeated prune keeps the previous one.
        let previous = try await audit.pool.readReleasingEarly { db in try AuditLog.prunedBefore(db) }
        let boundary = max(try audit.pruneBoundary(before: time), previous)
        var request = auditRequest(.purge)
        let decision = try decide(context, request)
        if case .success = decision { request.bytes = nil }
        // The purge record names the boundary; verification trusts no other statement of it.
        try await recordPurge(context, request, decision: decision, boundary: boundary)
        return try await performing(context, request) { try audit.deleteRecords(before: boundary) }
    }

    private func recordPurge(_ context: AccessContext, _ request: AccessRequest, decision: Result<Role, CofferError>,
                             boundary: Int64) async throws {
        guard case .success(let role) = decision else {
            try await record(context, request, decision: decision)
            return
        }
        var entry = AuditEntry(context, request, outcome: .allowed)
        entry.role = role.code
        entry.reason = "pruned-before=\(boundary)"
        _ = try await appender.append(entry)
    }
}
