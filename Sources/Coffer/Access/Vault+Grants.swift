import CofferCrypto
import Foundation
import GRDB

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
        let now = clock.now()
        let id = GrantID(try makeIdentifier("grant"))
        let request = AccessRequest(action: .grant, dataClass: .administration, tenant: tenant, subject: subject, objectID: grantee.rawValue,
                                    grantID: id)
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed else { return }
            if ![Purpose.support, .customerRequest, .securityInvestigation, .legal, .subjectRequest].contains(purpose) {
                access.refuse(CofferError(.invalidArgument, "a grant is for support, customer-request, security-investigation, legal or subject-request, not \(purpose)"))
            } else if grantee == context.actor {
                access.refuse(CofferError(.accessDenied, "nobody may grant access to themselves"))
            } else if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                access.refuse(CofferError(.purposeMissing, "a grant needs a reason"))
            } else if expiresAt <= now || expiresAt > now + 90 * 86_400_000 {
                access.refuse(CofferError(.invalidArgument, "a grant must expire in the future and within 90 days"))
            } else if try !tenantStore.exists(tenant) {
                access.refuse(CofferError(.unknownTenant, "unknown tenant '\(tenant)'"))
            } else if try principal(id: grantee) == nil {
                access.refuse(CofferError(.notFound, "no principal '\(grantee)' to grant to"))
            }
        }) { _ in
            let grant = Grant(id: id, grantee: grantee, tenant: tenant, subject: subject, purpose: purpose, reason: reason,
                              issuedBy: context.actor, issuedAt: now, expiresAt: expiresAt, revokedAt: nil, revokedBy: nil)
            try await accessStore.insertGrant(grant)
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
            existing = try await accessStore.grant(id: id)
            (request.tenant, request.subject, request.objectID) = (existing?.tenant, existing?.subject, existing?.grantee.rawValue)
        }) { _ in
            guard let existing else { throw CofferError(.notFound, "no grant \(id)") }
            guard existing.revokedAt == nil else { throw CofferError(.invalidArgument, "grant \(id) is already revoked") }
            try await accessStore.revokeGrant(id, by: context.actor, at: clock.now())
        }
    }

    /// Grants, newest first, optionally only those of one grantee or tenant.
    /// - Throws: `CofferError` `invalidArgument` for a malformed grantee or tenant filter
    ///   (unrecorded), `accessDenied`.
    public func grants(grantee: PrincipalID? = nil, tenant: TenantID? = nil, context: AccessContext) async throws -> [Grant] {
        if let grantee { try IdentifierRules.validatePrincipal(grantee.rawValue, as: "grantee") }
        if let tenant { try tenant.validate() }
        return try await guarded(context, AccessRequest(action: .list, dataClass: .administration, tenant: tenant)) { _ in
            try await accessStore.grants(grantee: grantee, tenant: tenant)
        }
    }

    /// The grant in force that lets `grantee` access `subject` of `tenant` for `purpose`, if any.
    func activeGrant(grantee: PrincipalID, tenant: TenantID, subject: SubjectID?, purpose: Purpose) throws -> Grant? {
        try accessStore.grantsInForce(grantee: grantee, tenant: tenant, at: clock.now())
            .first { $0.covers(tenant: tenant, subject: subject, purpose: purpose) }
    }
}
