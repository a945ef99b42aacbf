import CofferCrypto
import Foundation

/// What one ``Vault/runErasures(context:)`` did.
public struct ErasureRun: Sendable, Codable, Hashable {
    /// The receipts of the requests carried out.
    public let completed: [ErasureReceipt]
    /// The requests a legal hold kept open.
    public let held: [ErasureRequest]
    /// The requests that failed, by id, with the error (they stay open).
    public let failed: [String: String]
}

/// A legal hold covers what was about to be removed: it stays, and the run says so.
struct HeldNow: Error {}

extension Vault {
    /// Days between an erasure request and its deadline (P16).
    public static let erasureDeadlineDays = 30

    /// Records a request to erase a subject (P16), due within 30 days. A privacy officer's act,
    /// for a subject request or a legal reason, with a justification.
    /// - Parameters:
    ///   - subject: The subject to erase.
    ///   - reason: The request's reference (1-1024 characters, no control characters, no card
    ///     number).
    ///   - context: Who records it.
    /// - Returns: The request, with its deadline.
    /// - Throws: `CofferError` `alreadyExists` when the subject has an open request,
    ///   `notFound`, `accessDenied`, `purposeMissing`.
    @discardableResult
    public func requestErasure(subject: SubjectID, reason: String, context: AccessContext) async throws -> ErasureRequest {
        let reason = try Self.checkedReason(reason)
        let id = try makeIdentifier("erasure")
        return try await guardedPII(context, .erasure, subject: subject, check: { access in
            if access.isAllowed { access.request.reason = "erasure-requested=\(id)" }
        }) { state in
            guard let state else { throw CofferError(.notFound, "no subject \(subject)") }
            guard state.status != .erased else { throw CofferError(.notFound, "subject \(subject) was erased") }
            let now = administration.clock.now()
            let request = ErasureRequest(id: id, tenant: state.tenant, subject: subject, reason: reason, requestedBy: context.actor,
                                         requestedAt: now, deadline: now + Int64(Self.erasureDeadlineDays) * 86_400_000, completedAt: nil)
            try await BlockingPool.shared.run {
                if try self.lifecycle.erasures(includeCompleted: false).contains(where: { $0.subject == subject }) {
                    throw CofferError(.alreadyExists, "subject \(subject) has an open erasure request already")
                }
                try self.lifecycle.insertErasure(request)
            }
            return request
        }
    }

    /// Carries out every open erasure request that no legal hold covers: each subject's keys are
    /// destroyed and its rows deleted (its billing records kept under a key of their own for
    /// seven years, P11), the WALs emptied, and a receipt signed with the log's key.
    /// - Parameter context: A privacy officer's context (subject request or legal, with a
    ///   justification).
    /// - Returns: The receipts, the held requests and the failures.
    public func runErasures(context: AccessContext) async throws -> ErasureRun {
        // The run itself is decided first (a privacy officer's act); a tenant-limited officer
        // carries out, and sees, its tenants' requests only.
        let open = try await guarded(context, AccessRequest(action: .erasure, dataClass: .pii, reason: "erasure-run")) { _ in
            let scope = try await callerScope(context)
            return try await BlockingPool.shared.run { try self.lifecycle.erasures(includeCompleted: false) }
                .filter { scope?.contains($0.tenant) ?? true }
        }
        var completed: [ErasureReceipt] = []
        var held: [ErasureRequest] = []
        var failed: [String: String] = [:]
        for request in open {
            do {
                completed.append(try await request.subject == nil ? eraseTenant(request, context: context) : erase(request, context: context))
            } catch is HeldNow {
                held.append(request)
            } catch let error as CofferError {
                failed[request.id] = "\(error.code): \(error.message)"
            }
        }
        return ErasureRun(completed: completed, held: held, failed: failed)
    }

    private func erase(_ request: ErasureRequest, context: AccessContext) async throws -> ErasureReceipt {
        guard let subject = request.subject else { throw CofferError(.invalidArgument, "not a subject's erasure") }
        return try await guardedPII(context, .erasure, subject: subject, check: { access in
            if access.isAllowed { access.request.reason = "erased=\(request.id)" }
        }) { state in
            guard let state, state.tenant == request.tenant else {
                throw CofferError(.tamperDetected, "subject \(subject) is no longer of tenant \(request.tenant)")
            }
            // Checked here, just before anything goes, so a hold placed during a run counts.
            if try await BlockingPool.shared.run({ try self.lifecycle.isHeld(tenant: request.tenant, subject: subject) }) {
                throw HeldNow()
            }
            let erasedAt = administration.clock.now()
            let retainUntil = erasedAt + Int64(RetentionPolicy.sevenYears) * 86_400_000
            try await BlockingPool.shared.run {
                try self.people.erase(subject, tenant: state.tenant, retainUntil: retainUntil, requestID: request.id)
            }
            _ = await janitor.truncate(.pii)
            _ = await janitor.truncate(.control)
            return try await complete(request, receipt: try await receipt(of: request, erasedAt: erasedAt), at: erasedAt)
        }
    }

    /// Takes the erasure to the backups and the witness, signs the receipt and closes the request.
    func complete(_ request: ErasureRequest, receipt: ErasureReceipt, at erasedAt: Int64) async throws -> ErasureReceipt {
        var receipt = receipt
        receipt.scrubbedBackups = try await propagateErasures()
        let log = accessLog.log
        let note = try receipt.note(origin: log.origin, key: log.signingKey)
        try await BlockingPool.shared.run { try self.lifecycle.completeErasure(request.id, at: erasedAt, receipt: note) }
        return receipt
    }

    /// Erasure requests, oldest first: the open ones (with their deadlines; see
    /// ``ErasureRequest/isOverdue(at:)``), or all.
    /// - Parameters:
    ///   - includeCompleted: Also those carried out.
    ///   - context: A privacy officer, admin or auditor; a tenant-limited one sees its tenants'.
    public func erasureRequests(includeCompleted: Bool = false, context: AccessContext) async throws -> [ErasureRequest] {
        try await guarded(context, AccessRequest(action: .list, dataClass: .administration)) { _ in
            let scope = try await callerScope(context)
            return try await BlockingPool.shared.run { try self.lifecycle.erasures(includeCompleted: includeCompleted) }
                .filter { scope?.contains($0.tenant) ?? true }
        }
    }

    /// The signed receipt of a request carried out: a C2SP signed note that
    /// ``ErasureReceipt/verify(_:key:)`` checks with the vault's verifier key.
    /// - Throws: `CofferError` `notFound` for an unknown or open request, `accessDenied`.
    public func erasureReceipt(_ requestID: String, context: AccessContext) async throws -> String {
        try IdentifierRules.validateReference(requestID, as: "erasure request id")
        let found = try await BlockingPool.shared.run { try self.lifecycle.erasure(requestID) }
        let request = AccessRequest(action: .list, dataClass: .administration, tenant: found?.request.tenant, objectID: requestID)
        return try await guarded(context, request) { _ in
            guard let found else { throw CofferError(.notFound, "no erasure request \(requestID)") }
            guard let receipt = found.receipt else { throw CofferError(.notFound, "erasure request \(requestID) has not been carried out yet") }
            return receipt
        }
    }
}
