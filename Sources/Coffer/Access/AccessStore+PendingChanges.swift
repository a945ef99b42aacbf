import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// The changes waiting for a second admin (`pending_change` in `control.sqlite`).
extension AccessStore {
    /// Stores a pending change.
    func insertPending(_ change: PendingChange) async throws {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                try db.execute(sql: """
                    INSERT INTO pending_change (change_id, kind, principal, roles, tenants, prune_before, requested_by, requested_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [change.changeID, change.kind.code, change.principal, change.roles.map(Self.rolesColumn),
                                     change.tenants.map(Self.tenantsColumn), change.pruneBefore, change.requestedBy, change.requestedAt])
            }
        }
    }

    /// Every pending change, oldest first.
    func pendingChanges() throws -> [PendingChange] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchAll(sql: "SELECT * FROM pending_change ORDER BY requested_at, change_id").map(Self.pendingChange)
            }
        }
    }

    /// The pending change `changeID`, or nil.
    func pendingChange(_ changeID: String) throws -> PendingChange? {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchOne(sql: "SELECT * FROM pending_change WHERE change_id = ?", arguments: [changeID]).map(Self.pendingChange)
            }
        }
    }

    /// Carries out the principal change `changeID` (an audit prune has nothing to do here: the
    /// caller deletes the records) and removes it from the queue, in one transaction.
    /// - Returns: The change.
    /// - Throws: `CofferError` `notFound` when it is no longer pending or its principal is gone,
    ///   `alreadyExists` when a principal to register was registered meanwhile.
    func applyPending(_ changeID: String, by actor: PrincipalID, at time: Int64) async throws -> PendingChange {
        try await VaultDatabase.guarded {
            try await pool.write { db in
                guard let row = try db.fetchOne(sql: "SELECT * FROM pending_change WHERE change_id = ?", arguments: [changeID]) else {
                    throw CofferError(.notFound, "no pending change \(changeID)")
                }
                let change = try Self.pendingChange(row)
                if let id = change.principal {
                    let after = change.roles.map { Entitlement(roles: $0, tenants: change.tenants) }
                    switch change.kind {
                    case .principalAdd:
                        if try db.fetchOne(Bool.self, sql: "SELECT 1 FROM principal WHERE id = ?", arguments: [id]) == true {
                            throw CofferError(.alreadyExists, "principal '\(id)' already exists")
                        }
                        try Self.insertPrincipal(db, id, roles: change.roles ?? [], tenants: change.tenants, createdBy: change.requestedBy, at: time)
                    case .principalUpdate:
                        guard let after, try Self.updatePrincipal(db, id, to: after, by: actor, at: time) else {
                            throw CofferError(.notFound, "no principal '\(id)'")
                        }
                    default:
                        guard try Self.deletePrincipal(db, id, by: actor, at: time) else { throw CofferError(.notFound, "no principal '\(id)'") }
                    }
                }
                try db.execute(sql: "DELETE FROM pending_change WHERE change_id = ?", arguments: [changeID])
                return change
            }
        }
    }

    /// A pending change from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column, an unknown kind
    ///   or role, or a kind without the fields it needs.
    static func pendingChange(_ row: SQLRow) throws -> PendingChange {
        let t = "pending_change"
        let tampered = CofferError(.tamperDetected, "a \(t) row is malformed: the vault file was changed outside Coffer; restore it from a backup")
        guard let kind = try? PendingChange.Kind(parsing: row.stored("kind", in: t)) else { throw tampered }
        let roles = try row.storedIfPresent("roles", in: t, as: String.self).map { column in
            guard let roles = try? column.split(separator: ",").map({ try Role(parsing: String($0)) }), !roles.isEmpty else { throw tampered }
            return roles
        }
        let change = PendingChange(changeID: try row.stored("change_id", in: t), kind: kind, principal: try row.storedIfPresent("principal", in: t),
                                   roles: roles, tenants: try row.storedIfPresent("tenants", in: t, as: String.self).map(Self.tenants),
                                   pruneBefore: try row.storedIfPresent("prune_before", in: t),
                                   requestedBy: try row.stored("requested_by", in: t), requestedAt: try row.stored("requested_at", in: t))
        let complete = switch kind {
        case .auditPrune: change.pruneBefore != nil
        case .principalRemove: change.principal != nil
        default: change.principal != nil && change.roles != nil
        }
        guard complete else { throw tampered }
        return change
    }
}
