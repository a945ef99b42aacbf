import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// Persistence of access administration: principals, grants and changes waiting for a second
/// admin in `control.sqlite`. The only code that knows the SQL of the `principal`,
/// `access_grant` and `pending_change` tables; a second engine implements the same calls.
struct AccessStore: Sendable {
    let pool: any SQLDatabase

    // MARK: Principals

    /// The principal `id`, or nil when it is not registered.
    func principal(id: PrincipalID) throws -> Principal? {
        try VaultDatabase.guardedSync {
            try pool.read { db in try db.fetchOne(sql: "SELECT * FROM principal WHERE id = ?", arguments: [id]) }
        }.map(Self.principal)
    }

    /// Every principal, by id, read on the caller's thread (for work already on the pool).
    func allPrincipals() throws -> [Principal] {
        try VaultDatabase.guardedSync {
            try pool.read { db in try db.fetchAll(sql: "SELECT * FROM principal ORDER BY id").map(Self.principal) }
        }
    }

    /// Every principal, by id.
    func principals() async throws -> [Principal] {
        try await VaultDatabase.guarded {
            try await pool.read { db in try db.fetchAll(sql: "SELECT * FROM principal ORDER BY id").map(Self.principal) }
        }
    }

    /// Registers a principal.
    /// - Throws: `CofferError` `alreadyExists`.
    func insertPrincipal(_ id: PrincipalID, roles: [Role], tenants: [TenantID]?, createdBy: PrincipalID, at time: Int64) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                if try db.fetchOne(Bool.self, sql: "SELECT 1 FROM principal WHERE id = ?", arguments: [id]) == true {
                    throw CofferError(.alreadyExists, "principal '\(id)' already exists")
                }
                try Self.insertPrincipal(db, id, roles: roles, tenants: tenants, createdBy: createdBy, at: time)
            }
        }
    }

    /// Inserts a principal row inside the caller's transaction `db` (also the vault's first
    /// administrator, written with the vault's first rows).
    static func insertPrincipal(_ db: any SQLSession, _ id: PrincipalID, roles: [Role], tenants: [TenantID]?, createdBy: PrincipalID,
                                at time: Int64) throws {
        try db.execute(sql: "INSERT INTO principal (id, roles, tenants, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                       arguments: [id, rolesColumn(roles), tenants.map(tenantsColumn), time, createdBy])
    }

    /// Gives principal `id` the roles and tenants of `entitlement`, revoking its grants on
    /// tenants outside them (so widening it again later does not bring them back). A change made
    /// alone: refused if it would end dual control (``keepingDualControl(_:_:)``).
    /// - Returns: False when there is no such principal.
    /// - Throws: `CofferError` `accessDenied` when it would leave fewer than two admins without a
    ///   tenant limit where there were two or more.
    func updatePrincipal(_ id: PrincipalID, to entitlement: Entitlement, by actor: PrincipalID, at time: Int64) async throws -> Bool {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try Self.keepingDualControl(db) { try Self.updatePrincipal(db, id, to: entitlement, by: actor, at: time) }
            }
        }
    }

    /// Runs `change` inside the caller's transaction `db` and refuses it (rolling it back) when
    /// it takes the vault from two or more admins without a tenant limit to fewer. The caller
    /// decided that the change needs no second admin; two such changes made at the same moment
    /// (removing two of three admins at once) could each have seen the other's admin still there.
    static func keepingDualControl<T>(_ db: any SQLSession, _ change: () throws -> T) throws -> T {
        let count = { try db.fetchAll(sql: "SELECT * FROM principal").map(Self.principal).filter(\.entitlement.isUnlimitedAdmin).count }
        let before = try count()
        let result = try change()
        if before >= 2, try count() < 2 {
            throw CofferError(.accessDenied, "the vault's admins changed meanwhile: this change would now leave fewer than two admins without a tenant limit; ask again (it will wait for a second admin)")
        }
        return result
    }

    /// ``updatePrincipal(_:to:by:at:)`` inside the caller's transaction `db`.
    static func updatePrincipal(_ db: any SQLSession, _ id: PrincipalID, to entitlement: Entitlement, by actor: PrincipalID,
                                at time: Int64) throws -> Bool {
        let updated = try db.execute(sql: "UPDATE principal SET roles = ?, tenants = ? WHERE id = ?",
                                     arguments: [rolesColumn(Array(entitlement.roles)), entitlement.tenants.map(tenantsColumn), id])
        guard updated == 1 else { return false }
        if let tenants = entitlement.tenants {
            var arguments: SQLArguments = [time, actor, id]
            arguments += SQLArguments(tenants)
            let placeholders = Array(repeating: "?", count: tenants.count).joined(separator: ", ")
            try db.execute(sql: """
                UPDATE access_grant SET revoked_at = ?, revoked_by = ? WHERE grantee = ? AND revoked_at IS NULL
                AND tenant NOT IN (\(placeholders))
                """, arguments: arguments)
        }
        return true
    }

    /// The `roles` column of a principal or pending change: sorted codes, comma-separated.
    static func rolesColumn(_ roles: [Role]) -> String {
        Set(roles).map(\.code).sorted().joined(separator: ",")
    }

    /// The `tenants` column of a principal or pending change: ids, comma-separated.
    static func tenantsColumn(_ tenants: [TenantID]) -> String {
        tenants.map(\.rawValue).joined(separator: ",")
    }

    /// The tenants of a `tenants` column.
    static func tenants(_ column: String) -> [TenantID] {
        column.split(separator: ",").map { TenantID(String($0)) }
    }

    /// Removes a principal and revokes its grants in the same transaction; a change made alone,
    /// refused if it would end dual control (``keepingDualControl(_:_:)``).
    /// - Returns: False when there was no such principal.
    /// - Throws: `CofferError` `accessDenied` when it would leave fewer than two admins without a
    ///   tenant limit where there were two or more.
    func deletePrincipal(_ id: PrincipalID, by actor: PrincipalID, at time: Int64) async throws -> Bool {
        try await VaultDatabase.guarded {
            try await pool.write { db in try Self.keepingDualControl(db) { try Self.deletePrincipal(db, id, by: actor, at: time) } }
        }
    }

    /// ``deletePrincipal(_:by:at:)`` inside the caller's transaction `db`.
    static func deletePrincipal(_ db: any SQLSession, _ id: PrincipalID, by actor: PrincipalID, at time: Int64) throws -> Bool {
        let removed = try db.execute(sql: "DELETE FROM principal WHERE id = ?", arguments: [id])
        // A removed principal's grants end with it.
        try db.execute(sql: "UPDATE access_grant SET revoked_at = ?, revoked_by = ? WHERE grantee = ? AND revoked_at IS NULL",
                       arguments: [time, actor, id])
        return removed == 1
    }

    /// A principal from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column.
    static func principal(_ row: SQLRow) throws -> Principal {
        let roles = try row.stored("roles", in: "principal", as: String.self).split(separator: ",").compactMap { try? Role(parsing: String($0)) }
        let tenants = try row.storedIfPresent("tenants", in: "principal", as: String.self).map(Self.tenants)
        return Principal(id: try row.stored("id", in: "principal"), roles: roles.sorted(), tenants: tenants,
                         createdAt: try row.stored("created_at", in: "principal"), createdBy: try row.stored("created_by", in: "principal"))
    }

    // MARK: Grants

    /// Stores a new grant.
    func insertGrant(_ grant: Grant) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO access_grant (id, grantee, tenant, subject, purpose, reason, issued_by, issued_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [grant.id, grant.grantee, grant.tenant, grant.subject, grant.purpose.code, grant.reason,
                                     grant.issuedBy, grant.issuedAt, grant.expiresAt])
            }
        }
    }

    /// The grant `id`, or nil.
    func grant(id: GrantID) async throws -> Grant? {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchOne(sql: "SELECT * FROM access_grant WHERE id = ?", arguments: [id]).map(Self.grant)
            }
        }
    }

    /// Marks grant `id` revoked.
    func revokeGrant(_ id: GrantID, by actor: PrincipalID, at time: Int64) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try db.execute(sql: "UPDATE access_grant SET revoked_at = ?, revoked_by = ? WHERE id = ?", arguments: [time, actor, id])
            }
        }
    }

    /// Grants, newest first, optionally only those of one grantee or tenant.
    func grants(grantee: PrincipalID?, tenant: TenantID?) async throws -> [Grant] {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                try db.fetchAll(sql: """
                    SELECT * FROM access_grant WHERE (CAST(?1 AS TEXT) IS NULL OR grantee = ?1) AND (CAST(?2 AS TEXT) IS NULL OR tenant = ?2)
                    ORDER BY issued_at DESC, id
                    """, arguments: [grantee, tenant]).map(Self.grant)
            }
        }
    }

    /// The grants of `grantee` on `tenant` in force at `time`, latest expiry first.
    func grantsInForce(grantee: PrincipalID, tenant: TenantID, at time: Int64) throws -> [Grant] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchAll(sql: """
                    SELECT * FROM access_grant WHERE grantee = ? AND tenant = ? AND revoked_at IS NULL AND expires_at > ?
                    ORDER BY expires_at DESC
                    """, arguments: [grantee, tenant, time]).map(Self.grant)
            }
        }
    }

    /// A grant from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column or an unknown
    ///   purpose (a grant is never widened to a purpose it was not issued for).
    static func grant(_ row: SQLRow) throws -> Grant {
        let t = "access_grant"
        guard let purpose = try? Purpose(parsing: row.stored("purpose", in: t)) else {
            throw CofferError(.tamperDetected, "an access_grant row has an unknown purpose: the vault file was changed outside Coffer")
        }
        return Grant(id: try row.stored("id", in: t), grantee: try row.stored("grantee", in: t), tenant: try row.stored("tenant", in: t),
                     subject: try row.storedIfPresent("subject", in: t), purpose: purpose, reason: try row.stored("reason", in: t),
                     issuedBy: try row.stored("issued_by", in: t), issuedAt: try row.stored("issued_at", in: t),
                     expiresAt: try row.stored("expires_at", in: t), revokedAt: try row.storedIfPresent("revoked_at", in: t),
                     revokedBy: try row.storedIfPresent("revoked_by", in: t))
    }
}

/// The registry of tenants in `control.sqlite` (registering one, with its data keys, is the
/// key manager's `KeyStore.insertTenant`): what other subsystems ask instead of unwrapping a
/// content key to learn whether a tenant exists.
struct TenantStore: Sendable {
    let pool: any SQLDatabase

    /// True when `tenant` is registered.
    func exists(_ tenant: TenantID) throws -> Bool {
        try VaultDatabase.guardedSync {
            try pool.read { db in try db.fetchOne(Bool.self, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) ?? false }
        }
    }

    /// Every tenant id, sorted.
    func all() async throws -> [TenantID] {
        try await VaultDatabase.guarded {
            try await pool.read { db in try db.fetchAll(TenantID.self, sql: "SELECT id FROM tenant ORDER BY id") }
        }
    }
}
