import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// The principal `id`, or nil when it is not registered.
    func principal(id: String) throws -> Principal? {
        try VaultDatabase.guardedSync {
            try control.read { db in try Row.fetchOne(db, sql: "SELECT * FROM principal WHERE id = ?", arguments: [id]) }
        }.map(Self.principal)
    }

    /// A principal from its row.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL or malformed column.
    static func principal(_ row: Row) throws -> Principal {
        let roles = try row.stored("roles", in: "principal", as: String.self).split(separator: ",").compactMap { try? Role(parsing: String($0)) }
        let tenants = try row.storedIfPresent("tenants", in: "principal", as: String.self).map { $0.split(separator: ",").map(String.init) }
        return Principal(id: try row.stored("id", in: "principal"), roles: roles.sorted(), tenants: tenants,
                         createdAt: try row.stored("created_at", in: "principal"), createdBy: try row.stored("created_by", in: "principal"))
    }

    /// Registers a principal.
    /// - Parameters:
    ///   - id: Its id (``IdentifierRules/validatePrincipal(_:as:)``: 1-128 characters without
    ///     commas, tabs, line breaks or control characters).
    ///   - roles: At least one role.
    ///   - tenants: The tenants it may act on; nil for all.
    ///   - context: Who asks (an admin) and why.
    /// - Throws: ``CofferError`` `accessDenied`, `alreadyExists`, `invalidArgument`.
    public func addPrincipal(_ id: String, roles: [Role], tenants: [String]? = nil, context: AccessContext) async throws {
        try IdentifierRules.validatePrincipal(id)
        guard !roles.isEmpty else { throw CofferError(.invalidArgument, "a principal needs at least one role") }
        for tenant in tenants ?? [] { try Self.validateTenantID(tenant) }
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, subject: nil, objectID: id)
        try await authorize(context, request)
        try await performing(context, request) {
            try await VaultDatabase.guarded {
                try await control.write { db in
                    if try Bool.fetchOne(db, sql: "SELECT 1 FROM principal WHERE id = ?", arguments: [id]) == true {
                        throw CofferError(.alreadyExists, "principal '\(id)' already exists")
                    }
                    try db.execute(sql: "INSERT INTO principal (id, roles, tenants, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [id, Set(roles).map(\.code).sorted().joined(separator: ","),
                                               tenants?.joined(separator: ","), nowMilliseconds(), context.actor])
                }
            }
        }
    }

    /// Removes a principal (not yourself).
    /// - Throws: ``CofferError`` `invalidArgument` for a malformed id (unrecorded),
    ///   `accessDenied`, `notFound`.
    public func removePrincipal(_ id: String, context: AccessContext) async throws {
        try IdentifierRules.validatePrincipal(id)
        let request = AccessRequest(action: .principalAdmin, dataClass: .administration, objectID: id)
        try await authorize(context, request)
        try await performing(context, request) {
            guard id != context.actor else { throw CofferError(.invalidArgument, "a principal cannot remove itself") }
            let removed = try await VaultDatabase.guarded {
                try await control.write { db in
                    try db.execute(sql: "DELETE FROM principal WHERE id = ?", arguments: [id])
                    let removed = db.changesCount
                    // A removed principal's grants end with it.
                    try db.execute(sql: "UPDATE access_grant SET revoked_at = ?, revoked_by = ? WHERE grantee = ? AND revoked_at IS NULL",
                                   arguments: [nowMilliseconds(), context.actor, id])
                    return removed
                }
            }
            guard removed == 1 else { throw CofferError(.notFound, "no principal '\(id)'") }
        }
    }

    /// Every principal, by id.
    public func principals(context: AccessContext) async throws -> [Principal] {
        try await authorize(context, AccessRequest(action: .list, dataClass: .administration))
        return try await VaultDatabase.guarded {
            try await control.readReleasingEarly { db in try Row.fetchAll(db, sql: "SELECT * FROM principal ORDER BY id").map(Self.principal) }
        }
    }
}
