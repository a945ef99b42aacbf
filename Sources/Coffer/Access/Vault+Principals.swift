import CofferCrypto
import Foundation

extension Vault {
    /// Registers a principal.
    /// - Parameters:
    ///   - id: Its id (``IdentifierRules/validatePrincipal(_:as:)``: 1-128 characters without
    ///     commas, tabs, line breaks or control characters).
    ///   - roles: At least one role.
    ///   - tenants: The tenants it may act on; nil for all.
    ///   - context: Who asks (an admin) and why.
    /// - Returns: nil when the principal is registered; the pending change when it needs a second
    ///   admin's approval (a role in ``PendingPrincipal/dualControlRoles`` while the vault has two
    ///   or more admins without a tenant limit): ``approvePrincipal(_:context:)`` registers it.
    /// - Throws: `CofferError` `accessDenied`, `alreadyExists`, `invalidArgument`.
    @discardableResult
    public func addPrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]? = nil,
                             context: AccessContext) async throws -> PendingPrincipal? {
        try IdentifierRules.validatePrincipal(id.rawValue)
        guard !roles.isEmpty else { throw CofferError(.invalidArgument, "a principal needs at least one role") }
        for tenant in tenants ?? [] { try tenant.validate() }
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, subject: nil, objectID: id.rawValue)
        var pending: PendingPrincipal?
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed, let caller = try await caller(context) else { return }
            // A tenant-limited admin makes no principal with a role or a scope it does not hold
            // itself. (The vault's unlimited admins may still give any role alone: dual control
            // for admin, privacy-officer and auditor is not built yet.)
            if caller.tenants != nil, let missing = Set(roles).subtracting(caller.roles).sorted().first {
                access.refuse(CofferError(.accessDenied, "'\(caller.id)' does not hold the role \(missing) and cannot give it"))
            } else if !caller.covers(scope: tenants) {
                access.refuse(CofferError(.accessDenied, "'\(caller.id)' may not register a principal beyond its own tenants"))
            } else if try await BlockingPool.shared.run({ try self.administration.needsApproval(roles) }) {
                let change = "change_" + (try makeIdentifier("x").dropFirst(2))
                pending = PendingPrincipal(changeID: change, id: id, roles: roles.sorted(), tenants: tenants,
                                           requestedBy: context.actor, requestedAt: nowMilliseconds())
                access.request.reason = "pending-approval=\(change)"
            }
        }) { _ -> PendingPrincipal? in
            if let pending {
                try await administration.requestPrincipal(pending)
                return pending
            }
            try await administration.addPrincipal(id, roles: roles, tenants: tenants, by: context.actor)
            return nil
        }
    }

    /// Removes a principal (not yourself).
    /// - Throws: `CofferError` `invalidArgument` for a malformed id (unrecorded),
    ///   `accessDenied`, `notFound`.
    public func removePrincipal(_ id: PrincipalID, context: AccessContext) async throws {
        try IdentifierRules.validatePrincipal(id.rawValue)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: id.rawValue)
        try await guarded(context, request, refine: { access in
            guard access.isAllowed, let caller = try await caller(context) else { return }
            let target = try await BlockingPool.shared.run { try self.administration.principal(id: id) }
            if let target, !caller.covers(scope: target.tenants) {
                access.refuse(CofferError(.accessDenied, "'\(caller.id)' may not remove a principal whose scope reaches beyond its own tenants"))
            }
        }) { _ in
            try await administration.removePrincipal(id, by: context.actor)
        }
    }

    /// Every principal, by id.
    public func principals(context: AccessContext) async throws -> [Principal] {
        try await guarded(context, AccessRequest(action: .list, dataClass: .administration)) { _ in
            let caller = try await caller(context)
            // A tenant-limited caller sees the principals within its tenants, and itself.
            return try await administration.principals().filter { $0.id == context.actor || caller?.covers(scope: $0.tenants) ?? false }
        }
    }

    /// Registers a principal another admin asked for (dual control): the approver must be an
    /// admin without a tenant limit and not the one who asked; both steps are in the log.
    /// - Parameters:
    ///   - changeID: The pending change (``pendingPrincipals(context:)``).
    ///   - context: The approving admin's context.
    /// - Throws: `CofferError` `accessDenied` (the requester itself, a tenant-limited admin),
    ///   `notFound`, `alreadyExists`.
    public func approvePrincipal(_ changeID: String, context: AccessContext) async throws {
        try IdentifierRules.validateReference(changeID, as: "change id")
        let waiting = try await BlockingPool.shared.run { try self.administration.pendingPrincipals() }
        let change = waiting.first { $0.changeID == changeID }
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: change?.id.rawValue,
                                    reason: "approved=\(changeID)")
        try await guarded(context, request, refine: { access in
            guard access.isAllowed, let caller = try await caller(context) else { return }
            if let change, change.requestedBy == caller.id {
                access.refuse(CofferError(.accessDenied, "a second, different admin must approve \(changeID)"))
            } else if caller.tenants != nil {
                access.refuse(CofferError(.accessDenied, "only an admin without a tenant limit approves principals"))
            }
        }) { _ in
            guard change != nil else { throw CofferError(.notFound, "no pending change \(changeID)") }
            try await administration.approvePending(changeID, by: context.actor)
        }
    }

    /// The principals waiting for a second admin's approval, oldest first.
    /// - Parameter context: An admin's context.
    /// - Returns: The pending changes.
    /// - Throws: `CofferError` `accessDenied`.
    public func pendingPrincipals(context: AccessContext) async throws -> [PendingPrincipal] {
        try await guarded(context, AccessRequest(action: .principalAdmin, dataClass: .administration)) { _ in
            try await BlockingPool.shared.run { try self.administration.pendingPrincipals() }
        }
    }

    /// The caller's principal (nil when not registered), read on the blocking pool.
    func caller(_ context: AccessContext) async throws -> Principal? {
        try await BlockingPool.shared.run { try self.administration.principal(id: context.actor) }
    }

    /// The tenants `context`'s caller may see, nil for every tenant.
    func callerScope(_ context: AccessContext) async throws -> [TenantID]? {
        try await caller(context)?.tenants ?? nil
    }
}
