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
    /// - Throws: `CofferError` `accessDenied`, `alreadyExists`, `invalidArgument`.
    public func addPrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]? = nil, context: AccessContext) async throws {
        try IdentifierRules.validatePrincipal(id.rawValue)
        guard !roles.isEmpty else { throw CofferError(.invalidArgument, "a principal needs at least one role") }
        for tenant in tenants ?? [] { try tenant.validate() }
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, subject: nil, objectID: id.rawValue)
        try await guarded(context, request) { _ in
            try await administration.addPrincipal(id, roles: roles, tenants: tenants, by: context.actor)
        }
    }

    /// Removes a principal (not yourself).
    /// - Throws: `CofferError` `invalidArgument` for a malformed id (unrecorded),
    ///   `accessDenied`, `notFound`.
    public func removePrincipal(_ id: PrincipalID, context: AccessContext) async throws {
        try IdentifierRules.validatePrincipal(id.rawValue)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: id.rawValue)
        try await guarded(context, request) { _ in
            try await administration.removePrincipal(id, by: context.actor)
        }
    }

    /// Every principal, by id.
    public func principals(context: AccessContext) async throws -> [Principal] {
        try await guarded(context, AccessRequest(action: .list, dataClass: .administration)) { _ in
            try await administration.principals()
        }
    }
}
