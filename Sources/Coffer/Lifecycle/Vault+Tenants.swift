import CofferCrypto
import Foundation

extension Vault {
    /// A tenant's plan, lifecycle, retention in force, legal holds and how much it stores.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - context: Who asks (an admin, the platform's service, an auditor or a privacy officer).
    /// - Returns: What `coffer tenant show` prints.
    /// - Throws: `CofferError` `unknownTenant`, `accessDenied`.
    public func tenantInfo(_ tenant: TenantID, context: AccessContext) async throws -> TenantInfo {
        try tenant.validate()
        return try await guarded(context, AccessRequest(action: .stat, dataClass: .administration, tenant: tenant)) { _ in
            let (state, settings, holds) = try await BlockingPool.shared.run { () throws -> (TenantLifecycle, [RetentionClass: Int], [LegalHold]) in
                let state = try self.requireLifecycle(tenant)
                return (state, try self.lifecycle.retentionSettings(tenant), try self.lifecycle.holds(tenant: tenant, includeLifted: false))
            }
            let usage = try await contentStore.catalog.usage(tenant: tenant)
            let subjects = try await people.store.subjectCount(tenant: tenant)
            let rules = RetentionPolicy.rules(plan: state.plan, overrides: settings, accessLogDays: try await accessLogRetentionDays())
            var info = TenantInfo(id: tenant, plan: state.plan, status: state.status, createdAt: state.createdAt, closedAt: state.closedAt,
                                  retention: rules, holds: holds, content: usage, subjects: subjects)
            info.erasedAt = state.erasedAt
            return info
        }
    }

    /// Records that a tenant's account closed: the retention clocks that start at closure (test
    /// scripts and results, account data, billing records) run from `time`. Closing is final.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - time: When the account closed (Unix milliseconds); now unless told, never later.
    ///   - context: Who records it (the platform's service or an admin).
    /// - Returns: The closure time recorded.
    /// - Throws: `CofferError` `invalidArgument` for a time in the future, `alreadyExists` when
    ///   it was closed before, `unknownTenant`, `accessDenied`.
    @discardableResult
    public func closeTenant(_ tenant: TenantID, at time: Int64? = nil, context: AccessContext) async throws -> Int64 {
        try tenant.validate()
        let now = administration.clock.now()
        let closedAt = time ?? now
        guard closedAt <= now else {
            throw CofferError(.invalidArgument, "an account closes now or was closed in the past; \(Timestamp(milliseconds: closedAt).rfc3339) is in the future")
        }
        let request = AccessRequest(action: .lifecycle, dataClass: .administration, tenant: tenant, reason: "closed-at=\(closedAt)")
        return try await guarded(context, request) { _ in
            try await BlockingPool.shared.run {
                _ = try self.requireLifecycle(tenant)
                try self.lifecycle.close(tenant, at: closedAt)
            }
            return closedAt
        }
    }

    /// Moves a tenant to another plan; run telemetry's retention follows the plan at once.
    /// - Throws: `CofferError` `unknownTenant`, `accessDenied`.
    public func setPlan(_ plan: Plan, tenant: TenantID, context: AccessContext) async throws {
        try tenant.validate()
        let request = AccessRequest(action: .lifecycle, dataClass: .administration, tenant: tenant, reason: "plan=\(plan)")
        try await guarded(context, request) { _ in
            try await BlockingPool.shared.run {
                _ = try self.requireLifecycle(tenant)
                try self.lifecycle.setPlan(tenant, plan)
            }
        }
    }

    /// The tenant's lifecycle; blocks.
    /// - Throws: `CofferError` `unknownTenant`.
    func requireLifecycle(_ tenant: TenantID) throws -> TenantLifecycle {
        guard let state = try lifecycle.tenant(tenant) else {
            throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'; register it with `coffer tenant add \(tenant)`")
        }
        return state
    }

    /// The access log's retention: seven years, or its minimum retention if that was raised
    /// beyond.
    func accessLogRetentionDays() async throws -> Int {
        max(RetentionPolicy.sevenYears, try await accessLog.run { try $0.retentionDays() })
    }
}
