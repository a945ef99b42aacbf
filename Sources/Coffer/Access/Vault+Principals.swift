import CofferCrypto
import Foundation

extension Vault {
    /// Registers a principal.
    /// - Parameters:
    ///   - id: Its id (``IdentifierRules/validatePrincipal(_:as:)``: 1-128 characters without
    ///     commas, tabs, line breaks or control characters).
    ///   - roles: At least one role.
    ///   - tenants: The tenants it may act on; nil for all.
    ///   - context: Who asks (an admin) and why. A tenant-limited admin gives only roles it holds
    ///     and only tenants of its own.
    /// - Returns: nil when the principal is registered; the pending change when it needs a second
    ///   admin's approval (a role in ``PendingChange/dualControlRoles`` while the vault has two
    ///   or more admins without a tenant limit): ``approveChange(_:context:)`` registers it.
    /// - Throws: `CofferError` `accessDenied`, `alreadyExists`, `invalidArgument`.
    @discardableResult
    public func addPrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]? = nil,
                             context: AccessContext) async throws -> PendingChange? {
        let after = try Self.entitlement(id, roles: roles, tenants: tenants)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, subject: nil, objectID: id.rawValue)
        return try await guardedChange(context, request, refine: { caller, access in
            try await principalChange(id, existing: false, to: after, by: caller, &access)
        }) { _ in
            try await administration.addPrincipal(id, roles: roles, tenants: tenants, by: context.actor)
        }.pending
    }

    /// Gives a principal other roles or tenants. Nobody gives more than they hold: a
    /// tenant-limited admin changes only principals within its tenants, adds only roles it holds
    /// and gives only tenants of its own.
    /// - Parameters:
    ///   - id: The principal.
    ///   - roles: All the roles it will hold (at least one).
    ///   - tenants: All the tenants it will be limited to; nil for every tenant. Grants it holds
    ///     on other tenants are revoked.
    ///   - context: Who asks (an admin) and why.
    /// - Returns: nil when the change is made; the pending change when it needs a second admin's
    ///   approval (``approveChange(_:context:)`` makes it): while the vault has two or more admins
    ///   without a tenant limit, a change that adds a role in ``PendingChange/dualControlRoles``,
    ///   widens the tenants (to no limit included), or leaves fewer than two such admins.
    /// - Throws: `CofferError` `accessDenied`, `notFound`, `invalidArgument`.
    @discardableResult
    public func updatePrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]?,
                                context: AccessContext) async throws -> PendingChange? {
        let after = try Self.entitlement(id, roles: roles, tenants: tenants)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: id.rawValue)
        return try await guardedChange(context, request, refine: { caller, access in
            try await principalChange(id, existing: true, to: after, by: caller, &access)
        }) { _ in
            try await administration.updatePrincipal(id, to: after, by: context.actor)
        }.pending
    }

    /// Removes a principal (not yourself), revoking its grants.
    /// - Parameters:
    ///   - id: The principal.
    ///   - context: Who asks (an admin) and why. A tenant-limited admin removes only principals
    ///     within its tenants.
    /// - Returns: nil when it is removed; the pending change when removing it would leave the
    ///   vault with fewer than two admins without a tenant limit while it has two or more now
    ///   (``approveChange(_:context:)`` removes it).
    /// - Throws: `CofferError` `invalidArgument` for a malformed id (unrecorded) or yourself,
    ///   `accessDenied`, `notFound`.
    @discardableResult
    public func removePrincipal(_ id: PrincipalID, context: AccessContext) async throws -> PendingChange? {
        try IdentifierRules.validatePrincipal(id.rawValue)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: id.rawValue)
        return try await guardedChange(context, request, refine: { caller, access in
            try await principalChange(id, existing: true, to: nil, by: caller, &access)
        }) { _ in
            try await administration.removePrincipal(id, by: context.actor)
        }.pending
    }

    /// The refine step of registering (`existing` false), changing or removing (`after` nil)
    /// principal `id`: refuses what `caller` may not give, and returns the change to queue when
    /// it needs a second admin.
    private func principalChange(_ id: PrincipalID, existing: Bool, to after: Entitlement?, by caller: Principal,
                                 _ access: inout PendingAccess) async throws -> PendingChange? {
        let target = existing ? try await BlockingPool.shared.run({ try self.administration.principal(id: id) }) : nil
        // An unknown principal, or removing yourself, is the body's error.
        guard target != nil || !existing, after != nil || id != caller.id else { return nil }
        if let refusal = caller.refusal(toChange: target, to: after) {
            access.refuse(refusal)
            return nil
        }
        guard try await needsApproval(id, from: target, to: after) else { return nil }
        return try PendingChange(principal: id, existing: existing, to: after, requestedBy: caller.id)
    }

    /// What a principal registered or changed with `roles` and `tenants` holds.
    /// - Throws: `CofferError` `invalidArgument` (unrecorded) for a malformed id or tenant, or no role.
    private static func entitlement(_ id: PrincipalID, roles: [Role], tenants: [TenantID]?) throws -> Entitlement {
        try IdentifierRules.validatePrincipal(id.rawValue)
        guard !roles.isEmpty else { throw CofferError(.invalidArgument, "a principal needs at least one role") }
        for tenant in tenants ?? [] { try tenant.validate() }
        return Entitlement(roles: roles, tenants: tenants)
    }

    /// Every principal, by id.
    public func principals(context: AccessContext) async throws -> [Principal] {
        try await guarded(context, AccessRequest(action: .list, dataClass: .administration)) { _ in
            let caller = try await caller(context)
            // A tenant-limited caller sees the principals within its tenants, and itself.
            return try await administration.principals().filter { $0.id == context.actor || caller?.covers(scope: $0.tenants) ?? false }
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
