import CofferCrypto
import Foundation
import CofferSQL
import GRDB

/// Access administration: who the principals are, which grants are in force, and which tenants
/// are registered (`control.sqlite`, through ``AccessStore`` and ``TenantStore``). The access
/// gate asks it for the principal behind a request; the content store and the PII vault ask it
/// whether a tenant exists instead of unwrapping a key to find out.
final class AccessAdministration: Sendable {
    /// Principals and grants.
    let store: AccessStore
    /// The tenant registry.
    let tenants: TenantStore
    /// What grants take as now (tests move it forward instead of sleeping).
    let clock = VaultClock()

    /// The principals decisions read, on the embedded engine (nil: every decision reads).
    let principalCache: PrincipalCache?

    /// - Parameter principalStamp: Where every process announces changes to the principals
    ///   (the embedded engine); with it, decisions read a principal only after a change.
    init(pool: any SQLDatabase, principalStamp: PrincipalStamp? = nil) {
        store = AccessStore(pool: pool)
        tenants = TenantStore(pool: pool)
        principalCache = principalStamp.map(PrincipalCache.init(stamp:))
    }

    // MARK: Tenants

    /// True when `tenant` is registered.
    func tenantExists(_ tenant: TenantID) throws -> Bool {
        try tenants.exists(tenant)
    }

    /// Throws `unknownTenant` unless `tenant` is registered (asked of the tenant registry, not
    /// learned by unwrapping a content key).
    func requireTenant(_ tenant: TenantID) throws {
        guard try tenants.exists(tenant) else {
            throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'; register it with `coffer tenant add \(tenant)`")
        }
    }

    /// Every registered tenant, sorted by id.
    func allTenants() async throws -> [TenantID] {
        try await tenants.all()
    }

    // MARK: Principals

    /// The principal `id`, or nil when it is not registered.
    func principal(id: PrincipalID) throws -> Principal? {
        guard let principalCache else { return try store.principal(id: id) }
        return try principalCache.principal(id: id, read: store.principal(id:))
    }

    /// Every principal, by id.
    func principals() async throws -> [Principal] {
        try await store.principals()
    }

    /// Registers a principal on behalf of `actor`.
    /// - Throws: ``CofferError`` `alreadyExists`.
    func addPrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]?, by actor: PrincipalID) async throws {
        try await store.insertPrincipal(id, roles: roles, tenants: tenants, createdBy: actor, at: nowMilliseconds())
    }

    /// Gives principal `id` the roles and tenants of `entitlement` on behalf of `actor`.
    /// - Throws: ``CofferError`` `notFound`.
    func updatePrincipal(_ id: PrincipalID, to entitlement: Entitlement, by actor: PrincipalID) async throws {
        guard try await store.updatePrincipal(id, to: entitlement, by: actor, at: nowMilliseconds()) else {
            throw CofferError(.notFound, "no principal '\(id)'")
        }
    }

    /// Removes a principal on behalf of `actor` (never `actor` itself), revoking its grants.
    /// - Throws: ``CofferError`` `invalidArgument` for `actor` itself, `notFound`.
    func removePrincipal(_ id: PrincipalID, by actor: PrincipalID) async throws {
        guard id != actor else { throw CofferError(.invalidArgument, "a principal cannot remove itself") }
        let removed = try await store.deletePrincipal(id, by: actor, at: nowMilliseconds())
        guard removed else { throw CofferError(.notFound, "no principal '\(id)'") }
    }

    // MARK: Grants

    /// Purposes a grant may be issued for.
    static let grantablePurposes: [Purpose] = [.support, .customerRequest, .securityInvestigation, .legal, .subjectRequest]

    /// Why a grant to `grantee` issued by `issuer` at `now` must be refused, or nil when it may
    /// be issued.
    func grantRefusal(to grantee: PrincipalID, tenant: TenantID, purpose: Purpose, expiresAt: Int64, reason: String,
                      issuer: PrincipalID, now: Int64) throws -> CofferError? {
        if !Self.grantablePurposes.contains(purpose) {
            return CofferError(.invalidArgument, "a grant is for support, customer-request, security-investigation, legal or subject-request, not \(purpose)")
        } else if grantee == issuer {
            return CofferError(.accessDenied, "nobody may grant access to themselves")
        } else if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return CofferError(.purposeMissing, "a grant needs a reason")
        } else if expiresAt <= now || expiresAt > now + 90 * 86_400_000 {
            return CofferError(.invalidArgument, "a grant must expire in the future and within 90 days")
        } else if try !tenants.exists(tenant) {
            return CofferError(.unknownTenant, "unknown tenant '\(tenant)'")
        } else if let found = try principal(id: grantee), !found.covers(tenant: tenant) {
            // A grant never reaches beyond the grantee's own tenant limit.
            return CofferError(.accessDenied, "'\(grantee)' may not act on tenant '\(tenant)': a grant cannot widen a principal's tenants")
        } else if try principal(id: grantee) == nil {
            return CofferError(.notFound, "no principal '\(grantee)' to grant to")
        }
        return nil
    }

    /// Stores a new grant.
    func insertGrant(_ grant: Grant) async throws {
        try await store.insertGrant(grant)
    }

    /// The grant `id`, or nil.
    func grant(id: GrantID) async throws -> Grant? {
        try await store.grant(id: id)
    }

    /// Revokes `grant` (found as `id`, or nil) on behalf of `actor`, now.
    /// - Throws: ``CofferError`` `notFound` when there was no grant, `invalidArgument` when it is
    ///   already revoked.
    func revoke(_ grant: Grant?, id: GrantID, by actor: PrincipalID) async throws {
        guard let grant else { throw CofferError(.notFound, "no grant \(id)") }
        guard grant.revokedAt == nil else { throw CofferError(.invalidArgument, "grant \(id) is already revoked") }
        try await store.revokeGrant(id, by: actor, at: clock.now())
    }

    /// Grants, newest first, optionally only those of one grantee or tenant.
    func grants(grantee: PrincipalID?, tenant: TenantID?) async throws -> [Grant] {
        try await store.grants(grantee: grantee, tenant: tenant)
    }

    /// The grant in force that lets `grantee` access `subject` of `tenant` for `purpose`, if any.
    func activeGrant(grantee: PrincipalID, tenant: TenantID, subject: SubjectID?, purpose: Purpose) throws -> Grant? {
        try store.grantsInForce(grantee: grantee, tenant: tenant, at: clock.now())
            .first { $0.covers(tenant: tenant, subject: subject, purpose: purpose) }
    }
}
