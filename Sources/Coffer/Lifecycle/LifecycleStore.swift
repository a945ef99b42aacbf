import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// A tenant's lifecycle as stored: plan, registration and closure times.
struct TenantLifecycle: Sendable, Equatable {
    let id: TenantID
    let plan: Plan
    let createdAt: Int64
    let closedAt: Int64?
    /// When the whole tenant was erased.
    var erasedAt: Int64? = nil

    var status: TenantStatus { erasedAt != nil ? .erased : closedAt == nil ? .active : .closed }
}

/// Persistence of the lifecycle: the plan and closure columns of `tenant`, `retention_setting`
/// and `legal_hold` in `control.sqlite`. The only code that knows their SQL.
struct LifecycleStore: Sendable {
    let pool: any SQLDatabase

    // MARK: Tenants

    /// A tenant's lifecycle, or nil when it is not registered.
    func tenant(_ id: TenantID) throws -> TenantLifecycle? {
        try read { db in try db.fetchOne(sql: "SELECT id, plan, created_at, closed_at, erased_at FROM tenant WHERE id = ?", arguments: [id]).map(Self.lifecycle) }
    }

    /// Changes a tenant's plan.
    func setPlan(_ id: TenantID, _ plan: Plan) throws {
        try write { db in try db.execute(sql: "UPDATE tenant SET plan = ? WHERE id = ?", arguments: [plan.rawValue, id]) }
    }

    /// Records that a tenant's account closed at `time`.
    /// - Throws: `CofferError` `alreadyExists` when it was closed before.
    func close(_ id: TenantID, at time: Int64) throws {
        try write { db in
            guard try db.execute(sql: "UPDATE tenant SET closed_at = ? WHERE id = ? AND closed_at IS NULL", arguments: [time, id]) == 1 else { throw CofferError(.alreadyExists, "tenant '\(id)' was closed already") }
        }
    }

    // MARK: Retention settings

    /// A tenant's retention settings by class.
    func retentionSettings(_ id: TenantID) throws -> [RetentionClass: Int] {
        try read { db in
            var settings: [RetentionClass: Int] = [:]
            for row in try db.fetchAll(sql: "SELECT data_class, days FROM retention_setting WHERE tenant_id = ?", arguments: [id]) {
                let code: String = try row.stored("data_class", in: "retention_setting")
                guard let dataClass = try? RetentionClass(parsing: code) else {
                    throw CofferError(.tamperDetected, "retention_setting holds an unknown data class; the control file was changed outside Coffer")
                }
                settings[dataClass] = try row.stored("days", in: "retention_setting")
            }
            return settings
        }
    }

    /// Sets (or replaces) one retention setting of a tenant.
    func setRetention(_ id: TenantID, _ dataClass: RetentionClass, days: Int, by actor: PrincipalID, at time: Int64) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO retention_setting (tenant_id, data_class, days, set_by, set_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, data_class) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, set_at = excluded.set_at
                """, arguments: [id, dataClass.code, days, actor, time])
        }
    }

    // MARK: Legal holds

    /// Stores a new hold.
    func insertHold(_ hold: LegalHold) throws {
        try write { db in
            try db.execute(sql: "INSERT INTO legal_hold (id, tenant_id, subject_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [hold.id, hold.tenant, hold.subject, hold.reason, hold.placedBy, hold.placedAt])
        }
    }

    /// Lifts a hold in force.
    /// - Returns: The hold as lifted, or nil when there is no such hold in force.
    func liftHold(_ id: String, by actor: PrincipalID, at time: Int64) throws -> LegalHold? {
        try write { db in
            let lifted = try db.execute(sql: "UPDATE legal_hold SET lifted_by = ?, lifted_at = ? WHERE id = ? AND lifted_at IS NULL",
                                        arguments: [actor, time, id])
            guard lifted == 1 else { return nil }
            return try db.fetchOne(sql: "SELECT * FROM legal_hold WHERE id = ?", arguments: [id]).map(Self.hold)
        }
    }

    /// One hold, in force or lifted.
    func hold(_ id: String) throws -> LegalHold? {
        try read { db in try db.fetchOne(sql: "SELECT * FROM legal_hold WHERE id = ?", arguments: [id]).map(Self.hold) }
    }

    /// Holds of `tenant` (every tenant when nil), oldest first; only those in force unless
    /// `includeLifted`.
    func holds(tenant: TenantID?, includeLifted: Bool) throws -> [LegalHold] {
        try read { db in
            try db.fetchAll(sql: """
                SELECT * FROM legal_hold WHERE (CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1) AND (?2 = 1 OR lifted_at IS NULL) ORDER BY placed_at, id
                """, arguments: [tenant, includeLifted]).map(Self.hold)
        }
    }

    // MARK: Rows

    private static func lifecycle(_ row: SQLRow) throws -> TenantLifecycle {
        let code: String = try row.stored("plan", in: "tenant")
        guard let plan = Plan(rawValue: code) else {
            throw CofferError(.tamperDetected, "a tenant row has an unknown plan; the control file was changed outside Coffer")
        }
        return TenantLifecycle(id: try row.stored("id", in: "tenant"), plan: plan, createdAt: try row.stored("created_at", in: "tenant"),
                               closedAt: try row.storedIfPresent("closed_at", in: "tenant"), erasedAt: try row.storedIfPresent("erased_at", in: "tenant"))
    }

    private static func hold(_ row: SQLRow) throws -> LegalHold {
        let t = "legal_hold"
        return LegalHold(id: try row.stored("id", in: t), tenant: try row.stored("tenant_id", in: t), subject: try row.storedIfPresent("subject_id", in: t),
                         reason: try row.stored("reason", in: t), placedBy: try row.stored("placed_by", in: t),
                         placedAt: try row.stored("placed_at", in: t), liftedBy: try row.storedIfPresent("lifted_by", in: t),
                         liftedAt: try row.storedIfPresent("lifted_at", in: t))
    }

    private func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.read(body) }
    }

    @discardableResult

    private func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.write(body) }
    }
}

extension LifecycleStore {
    // MARK: Erasure requests

    /// Stores a new erasure request.
    func insertErasure(_ request: ErasureRequest) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO erasure_request (id, tenant_id, subject_id, reason, requested_by, requested_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [request.id, request.tenant, request.subject, request.reason, request.requestedBy, request.requestedAt,
                                 request.deadline])
        }
    }

    /// Erasure requests, oldest first: the open ones, or all.
    func erasures(includeCompleted: Bool) throws -> [ErasureRequest] {
        try read { db in
            try db.fetchAll(sql: "SELECT * FROM erasure_request WHERE ?1 = 1 OR completed_at IS NULL ORDER BY requested_at, id",
                             arguments: [includeCompleted]).map(Self.erasure)
        }
    }

    /// One request and its signed receipt (nil while it is open).
    func erasure(_ id: String) throws -> (request: ErasureRequest, receipt: String?)? {
        try read { db in
            try db.fetchOne(sql: "SELECT * FROM erasure_request WHERE id = ?", arguments: [id]).map { row in
                (try Self.erasure(row), try row.storedIfPresent("receipt", in: "erasure_request"))
            }
        }
    }

    /// Marks a request carried out, with its receipt.
    func completeErasure(_ id: String, at time: Int64, receipt: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE erasure_request SET completed_at = ?, receipt = ? WHERE id = ? AND completed_at IS NULL",
                           arguments: [time, receipt, id])
        }
    }

    /// Whether a legal hold in force covers `subject` of `tenant` (or the whole tenant).
    /// Whether any hold (on the tenant or on one of its subjects) is in force.
    func isHeldAnywhere(tenant: TenantID) throws -> Bool {
        try read { db in try db.fetchOne(Bool.self, sql: "SELECT 1 FROM legal_hold WHERE tenant_id = ? AND lifted_at IS NULL", arguments: [tenant]) ?? false }
    }

    /// Records that `id` was erased whole at `time` (closing it if it was open): no key, object
    /// or subject is made for it again.
    /// - Returns: When it was erased: `time`, or the time recorded by an earlier run of the erasure.
    func markErased(_ id: TenantID, at time: Int64) throws -> Int64 {
        try write { db in
            try db.execute(sql: "UPDATE tenant SET erased_at = coalesce(erased_at, ?1), closed_at = coalesce(closed_at, ?1) WHERE id = ?2",
                           arguments: [time, id])
            return try db.fetchOne(Int64.self, sql: "SELECT erased_at FROM tenant WHERE id = ?", arguments: [id]) ?? time
        }
    }

    func isHeld(tenant: TenantID, subject: SubjectID?) throws -> Bool {
        try read { db in
            try db.fetchOne(Bool.self, sql: """
                SELECT 1 FROM legal_hold WHERE tenant_id = ? AND lifted_at IS NULL AND (subject_id IS NULL OR subject_id = ?)
                """, arguments: [tenant, subject]) ?? false
        }
    }

    private static func erasure(_ row: SQLRow) throws -> ErasureRequest {
        let t = "erasure_request"
        return ErasureRequest(id: try row.stored("id", in: t), tenant: try row.stored("tenant_id", in: t), subject: try row.storedIfPresent("subject_id", in: t),
                              reason: try row.stored("reason", in: t), requestedBy: try row.stored("requested_by", in: t),
                              requestedAt: try row.stored("requested_at", in: t), deadline: try row.stored("deadline", in: t),
                              completedAt: try row.storedIfPresent("completed_at", in: t))
    }
}
