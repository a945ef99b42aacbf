import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// Aggregates per tenant (P21): what a `reporting` principal sees, counts and sizes only, never
/// one object's content, name or a person's data.
public struct UsageReport: Sendable, Codable, Hashable {
    /// One tenant's figures.
    public struct Tenant: Sendable, Codable, Hashable {
        /// The tenant.
        public let id: TenantID
        /// Its plan.
        public let plan: Plan
        /// Content stored now, per class.
        public let content: [TenantInfo.ClassUsage]
        /// Data subjects registered now.
        public let subjects: Int
        /// Allowed operations in the period, per action and data class.
        public let operations: [Operations]
    }

    /// How many allowed operations of one action on one class of data a tenant had.
    public struct Operations: Sendable, Codable, Hashable {
        /// The action's code (``AccessAction``).
        public let action: String
        /// The data class's code (``DataClass``).
        public let dataClass: String
        /// How many allowed records.
        public let count: Int
        /// Content bytes those operations moved, where the log records them.
        public let bytes: Int64
    }

    /// The start of the period of the operation counts (Unix milliseconds, inclusive).
    public let from: Int64
    /// Its end (Unix milliseconds, exclusive).
    public let to: Int64
    /// The tenants, by id.
    public let tenants: [Tenant]
}

extension AuditLog {
    /// Allowed operations per tenant, action and data class with `time` in [from, to).
    func operationCounts(from: Int64, to: Int64) throws -> [TenantID: [UsageReport.Operations]] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                var counts: [TenantID: [UsageReport.Operations]] = [:]
                for row in try db.fetchAll(sql: """
                    SELECT tenant, action, data_class, count(*) AS n, CAST(coalesce(sum(bytes), 0) AS BIGINT) AS bytes FROM record
                    WHERE time >= ? AND time < ? AND outcome = 'allowed' AND tenant IS NOT NULL
                    GROUP BY tenant, action, data_class ORDER BY tenant, action, data_class
                    """, arguments: [from, to]) {
                    let tenant: TenantID = try row.stored("tenant", in: "record")
                    counts[tenant, default: []].append(UsageReport.Operations(action: try row.stored("action", in: "record"),
                                                                              dataClass: try row.stored("data_class", in: "record"),
                                                                              count: try row.stored("n", in: "record"),
                                                                              bytes: try row.stored("bytes", in: "record")))
                }
                return counts
            }
        }
    }
}

extension Vault {
    /// The usage report (P21): per tenant, content counts and sizes per class, subjects, and the
    /// allowed operations of the period per action and class, from metadata and the log's
    /// counts only. For a `reporting` principal (purpose service-operation or audit), or an
    /// auditor; a tenant-limited one sees its tenants.
    /// - Parameters:
    ///   - tenant: One tenant, or nil for every tenant the caller may see.
    ///   - from: Start of the period of the operation counts (Unix milliseconds); the beginning
    ///     of time unless told.
    ///   - to: Its end (exclusive); now unless told.
    ///   - context: Who asks.
    /// - Throws: `CofferError` `accessDenied`, `unknownTenant`, `invalidArgument` for `from` after `to`.
    public func usageReport(tenant: TenantID? = nil, from: Int64? = nil, to: Int64? = nil, context: AccessContext) async throws -> UsageReport {
        if let tenant { try tenant.validate() }
        let start = from ?? 0, end = to ?? administration.clock.now() + 1
        guard start <= end else { throw CofferError(.invalidArgument, "the report's period starts after it ends") }
        return try await guarded(context, AccessRequest(action: .report, dataClass: .aggregate, tenant: tenant)) { _ in
            let scope = try await callerScope(context)
            let tenants: [TenantID]
            if let tenant {
                tenants = [tenant]
            } else {
                tenants = try await administration.allTenants().filter { scope?.contains($0) ?? true }
            }
            let operations = try await accessLog.run { try $0.operationCounts(from: start, to: end) }
            var rows: [UsageReport.Tenant] = []
            for id in tenants {
                let state = try await BlockingPool.shared.run { try self.requireLifecycle(id) }
                rows.append(UsageReport.Tenant(id: id, plan: state.plan, content: try await contentStore.catalog.usage(tenant: id),
                                               subjects: try await people.store.subjectCount(tenant: id), operations: operations[id] ?? []))
            }
            return UsageReport(from: start, to: end, tenants: rows)
        }
    }
}
