import CofferCrypto
import Foundation
import GRDB

/// A principal waiting for a second admin's approval (dual control): one with the role `admin`,
/// `privacy-officer` or `auditor`, requested while the vault has two or more admins without a
/// tenant limit. ``Vault/approvePrincipal(_:context:)`` registers it.
public struct PendingPrincipal: Sendable, Codable, Hashable {
    /// The change's id (`change_` and 32 hex digits), what the approver names.
    public let changeID: String
    /// The principal to register.
    public let id: PrincipalID
    /// Its roles.
    public let roles: [Role]
    /// Its tenants, or nil for every tenant.
    public let tenants: [TenantID]?
    /// The admin who asked.
    public let requestedBy: PrincipalID
    /// When (Unix milliseconds).
    public let requestedAt: Int64

    /// The roles that need a second admin: they open PII, erase evidence or approve others.
    public static let dualControlRoles: Set<Role> = [.admin, .privacyOfficer, .auditor]
}

extension AccessStore {
    /// Stores a pending principal.
    func insertPending(_ pending: PendingPrincipal) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO pending_principal (change_id, id, roles, tenants, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [pending.changeID, pending.id, pending.roles.map(\.code).sorted().joined(separator: ","),
                                     pending.tenants?.map(\.rawValue).joined(separator: ","), pending.requestedBy, pending.requestedAt])
            }
        }
    }

    /// Every pending principal, oldest first.
    func pendingPrincipals() throws -> [PendingPrincipal] {
        try VaultDatabase.guardedSync {
            try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pending_principal ORDER BY requested_at, change_id").map(Self.pending) }
        }
    }

    /// Registers the pending principal `changeID` and removes it from the queue, in one transaction.
    /// - Throws: `CofferError` `notFound`, `alreadyExists` when the id was registered meanwhile.
    func approvePending(_ changeID: String, by actor: PrincipalID, at time: Int64) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM pending_principal WHERE change_id = ?", arguments: [changeID]) else {
                    throw CofferError(.notFound, "no pending change \(changeID)")
                }
                let pending = try Self.pending(row)
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM principal WHERE id = ?", arguments: [pending.id]) == true {
                    throw CofferError(.alreadyExists, "principal '\(pending.id)' already exists")
                }
                try Self.insertPrincipal(db, pending.id, roles: pending.roles, tenants: pending.tenants, createdBy: pending.requestedBy, at: time)
                try db.execute(sql: "DELETE FROM pending_principal WHERE change_id = ?", arguments: [changeID])
            }
        }
    }

    /// A pending principal from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column.
    static func pending(_ row: Row) throws -> PendingPrincipal {
        let t = "pending_principal"
        let roles = try row.stored("roles", in: t, as: String.self).split(separator: ",").map { try Role(parsing: String($0)) }
        let tenants = try row.storedIfPresent("tenants", in: t, as: String.self).map { $0.split(separator: ",").map { TenantID(String($0)) } }
        return PendingPrincipal(changeID: try row.stored("change_id", in: t), id: try row.stored("id", in: t), roles: roles.sorted(),
                                tenants: tenants, requestedBy: try row.stored("requested_by", in: t),
                                requestedAt: try row.stored("requested_at", in: t))
    }
}
