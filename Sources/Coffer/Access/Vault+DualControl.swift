import CofferCrypto
import Foundation

/// What an operation under dual control did: went ahead, or waits for a second admin.
enum DualControlOutcome<T: Sendable>: Sendable {
    /// Done, with the operation's result.
    case done(T)
    /// Queued for a second admin's approval.
    case pending(PendingChange)

    /// The queued change, or nil when the operation went ahead.
    var pending: PendingChange? {
        if case .pending(let change) = self { return change }
        return nil
    }

    /// The result, or nil when the operation waits.
    var doneValue: T? {
        if case .done(let value) = self { return value }
        return nil
    }
}

extension Vault {
    /// The gate for an operation that may need a second admin (dual control), on top of
    /// ``guarded(_:_:resolve:refine:_:)``: once policy allowed it, `refine` runs the operation's
    /// own checks for the (registered) caller and returns the change to queue when it needs
    /// approval, or nil to go ahead. A queued change is recorded as allowed with the reason
    /// `pending-approval=ID` and stored, and `body` does not run.
    func guardedChange<T: Sendable>(_ context: AccessContext, _ request: AccessRequest,
                                    refine: (Principal, inout PendingAccess) async throws -> PendingChange?,
                                    _ body: (AccessRequest) async throws -> T) async throws -> DualControlOutcome<T> {
        var pending: PendingChange?
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed, let caller = try await caller(context) else { return }
            let change = try await refine(caller, &access)
            if let change, access.isAllowed {
                pending = change
                access.request.reason = "pending-approval=\(change.changeID)"
            }
        }) { recorded in
            if let pending {
                try await administration.requestChange(pending)
                return .pending(pending)
            }
            return .done(try await body(recorded))
        }
    }

    /// True when making principal `id` hold `after` needs a second admin (read on the blocking pool).
    func needsApproval(_ id: PrincipalID, from before: Principal?, to after: Entitlement?) async throws -> Bool {
        try await BlockingPool.shared.run { try self.administration.needsApproval(id, from: before, to: after) }
    }

    /// The changes waiting for a second admin's approval, oldest first: principals to register,
    /// update or remove, and prunes of the access log. A tenant-limited admin sees the ones it
    /// asked for and the registrations and updates within its tenants.
    /// - Parameter context: An admin's context (purpose administration).
    /// - Returns: The pending changes.
    /// - Throws: `CofferError` `accessDenied`.
    public func pendingChanges(context: AccessContext) async throws -> [PendingChange] {
        try await guarded(context, AccessRequest(action: .principalAdmin, dataClass: .administration)) { _ in
            let caller = try await caller(context)
            return try await BlockingPool.shared.run { try self.administration.pendingChanges() }.filter { $0.isVisible(to: caller) }
        }
    }

    /// Carries out a change another admin asked for (dual control). The approver must be an admin
    /// without a tenant limit, neither the one who asked nor the principal the change is about;
    /// the request and the approval are both in the log (`pending-approval=ID`, then
    /// `approved=ID`, or for a prune `pruned-before=N approved=ID`). A prune is checked again
    /// against the log's minimum retention when it is approved.
    /// - Parameters:
    ///   - changeID: The pending change (``pendingChanges(context:)``).
    ///   - context: The approving admin's context (purpose administration).
    /// - Returns: The change carried out and, for a prune, how many records it deleted.
    /// - Throws: `CofferError` `accessDenied` (the requester, the principal concerned, a
    ///   tenant-limited admin), `notFound` (no such change, or its principal is gone),
    ///   `alreadyExists`, `invalidArgument` (unrecorded) for a prune now inside the minimum retention.
    @discardableResult
    public func approveChange(_ changeID: String, context: AccessContext) async throws -> ApprovedChange {
        try IdentifierRules.validateReference(changeID, as: "change id")
        let change = try await BlockingPool.shared.run { try self.administration.pendingChange(changeID) }
        if let change, change.kind == .auditPrune, let before = change.pruneBefore {
            let pruned = try await prune(before: before, context: context, approving: change)
            return ApprovedChange(change: change, prunedRecords: pruned.doneValue)
        }
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: change?.principal?.rawValue,
                                    reason: "approved=\(changeID)")
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed, let change, let caller = try await caller(context) else { return }
            if let refusal = change.refusal(approver: caller) { access.refuse(refusal) }
        }) { _ in
            guard change != nil else { throw CofferError(.notFound, "no pending change \(changeID)") }
            return ApprovedChange(change: try await administration.applyPending(changeID, by: context.actor), prunedRecords: nil)
        }
    }
}
