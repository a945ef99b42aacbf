import CofferCrypto
import Foundation

extension Vault {
    /// Issues a temporary grant to access personal data. Only a privacy officer may, and never to
    /// themselves.
    /// - Parameters:
    ///   - grantee: The principal who may access.
    ///   - tenant: The tenant whose data.
    ///   - subject: One subject, or nil for the whole tenant.
    ///   - purpose: The one purpose the grant allows.
    ///   - expiresAt: Until when (Unix milliseconds), at most 90 days ahead.
    ///   - reason: Why (required).
    ///   - context: The privacy officer's context.
    /// - Returns: The grant.
    /// - Throws: `CofferError` `accessDenied`, `invalidArgument`, `notFound`.
    public func issueGrant(to grantee: PrincipalID, tenant: TenantID, subject: SubjectID? = nil, purpose: Purpose,
                           expiresAt: Int64, reason: String, context: AccessContext) async throws -> Grant {
        try tenant.validate()
        try IdentifierRules.validatePrincipal(grantee.rawValue, as: "grantee")
        if let subject { try IdentifierRules.validateReference(subject.rawValue, as: "subject id") }
        let now = administration.clock.now()
        let id = GrantID(try makeIdentifier("grant"))
        let request = AccessRequest(action: .grant, dataClass: .administration, tenant: tenant, subject: subject, objectID: grantee.rawValue,
                                    grantID: id)
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed else { return }
            if let refusal = try administration.grantRefusal(to: grantee, tenant: tenant, purpose: purpose, expiresAt: expiresAt,
                                                             reason: reason, issuer: context.actor, now: now) {
                access.refuse(refusal)
            } else if let subject, try await BlockingPool.shared.run({ try self.people.state(of: subject)?.tenant }) != tenant {
                // A grant for a subject names one of the tenant's people, never someone else's.
                access.refuse(CofferError(.notFound, "tenant '\(tenant)' has no subject \(subject)"))
            }
        }) { _ in
            let grant = Grant(id: id, grantee: grantee, tenant: tenant, subject: subject, purpose: purpose, reason: reason,
                              issuedBy: context.actor, issuedAt: now, expiresAt: expiresAt, revokedAt: nil, revokedBy: nil)
            try await administration.insertGrant(grant)
            return grant
        }
    }

    /// Revokes a grant at once.
    /// - Throws: `CofferError` `invalidArgument` for a malformed id (unrecorded),
    ///   `accessDenied`, `notFound`.
    public func revokeGrant(_ id: GrantID, context: AccessContext) async throws {
        try IdentifierRules.validateReference(id.rawValue, as: "grant id")
        var existing: Grant?
        let request = AccessRequest(action: .revoke, dataClass: .administration, grantID: id)
        try await guarded(context, request, resolve: { request in
            existing = try await administration.grant(id: id)
            (request.tenant, request.subject, request.objectID) = (existing?.tenant, existing?.subject, existing?.grantee.rawValue)
        }) { _ in
            try await administration.revoke(existing, id: id, by: context.actor)
        }
    }

    /// Grants, newest first, optionally only those of one grantee or tenant; a tenant-limited
    /// caller sees only those on its tenants.
    /// - Throws: `CofferError` `invalidArgument` for a malformed grantee or tenant filter
    ///   (unrecorded), `accessDenied`.
    public func grants(grantee: PrincipalID? = nil, tenant: TenantID? = nil, context: AccessContext) async throws -> [Grant] {
        if let grantee { try IdentifierRules.validatePrincipal(grantee.rawValue, as: "grantee") }
        if let tenant { try tenant.validate() }
        return try await guarded(context, AccessRequest(action: .list, dataClass: .administration, tenant: tenant)) { _ in
            let scope = try await callerScope(context)
            return try await administration.grants(grantee: grantee, tenant: tenant).filter { scope?.contains($0.tenant) ?? true }
        }
    }
}
