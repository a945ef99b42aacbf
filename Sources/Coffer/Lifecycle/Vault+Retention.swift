import CofferCrypto
import Foundation

extension Vault {
    /// The retention in force for a tenant, one rule per data class: the policies' defaults,
    /// the plan's telemetry period, the tenant's settings where the policies allow them, and the
    /// access log's own retention.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - context: Who asks (an admin, the platform's service, an auditor or a privacy officer).
    /// - Returns: The rules, content classes first.
    /// - Throws: `CofferError` `unknownTenant`, `accessDenied`.
    public func retention(tenant: TenantID, context: AccessContext) async throws -> [RetentionRule] {
        try tenant.validate()
        return try await guarded(context, AccessRequest(action: .stat, dataClass: .administration, tenant: tenant)) { _ in
            let (state, settings) = try await BlockingPool.shared.run { () throws -> (TenantLifecycle, [RetentionClass: Int]) in
                (try self.requireLifecycle(tenant), try self.lifecycle.retentionSettings(tenant))
            }
            return RetentionPolicy.rules(plan: state.plan, overrides: settings, accessLogDays: try await accessLogRetentionDays())
        }
    }

    /// The policies' default rules for a tenant on `plan`, with no tenant settings: what
    /// `coffer retention show` prints without `--tenant`.
    public func defaultRetention(plan: Plan) async throws -> [RetentionRule] {
        RetentionPolicy.rules(plan: plan, overrides: [:], accessLogDays: try await accessLogRetentionDays())
    }

    /// Sets a tenant's retention for one content class. Scan results may be kept for any period
    /// (P7); other content only for less than the policies say; personal data, billing records
    /// and the access log keep the policies' and the law's periods.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - dataClass: A content class.
    ///   - days: The period, 1 to 36,500 days, counted from the class's clock.
    ///   - context: Who sets it (the platform's service or an admin).
    /// - Throws: `CofferError` `invalidArgument` (unrecorded) for a class or period the policies
    ///   do not allow, `unknownTenant`, `accessDenied`.
    public func setRetention(tenant: TenantID, dataClass: RetentionClass, days: Int, context: AccessContext) async throws {
        try tenant.validate()
        guard dataClass.objectKind != nil else { try RetentionPolicy.checkOverride(dataClass, days: days, plan: .free); return }
        let plan = try await BlockingPool.shared.run { try self.lifecycle.tenant(tenant)?.plan } ?? .free
        try RetentionPolicy.checkOverride(dataClass, days: days, plan: plan)
        let request = AccessRequest(action: .lifecycle, dataClass: .administration, tenant: tenant, objectKind: dataClass.code,
                                    reason: "retention-days=\(days)")
        try await guarded(context, request) { _ in
            try await BlockingPool.shared.run {
                _ = try self.requireLifecycle(tenant)
                try self.lifecycle.setRetention(tenant, dataClass, days: days, by: context.actor, at: nowMilliseconds())
            }
        }
    }
}
