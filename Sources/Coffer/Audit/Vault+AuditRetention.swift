import CofferCrypto
import CofferSQL
import Foundation
import GRDB

extension Vault {
    /// The access log's minimum retention when none was raised: longer than a year, so the
    /// quarterly access review always has the year before it.
    public static let defaultAuditRetentionDays = 400

    /// The longest minimum retention that can be set (100 years).
    public static let maximumAuditRetentionDays = 36_500

    /// How long the access log keeps every record at least, in days: what `pruneAuditLog`
    /// respects. The setting lives in the log itself (the newest `configure` record), so it is
    /// covered by the log's MAC chain and signed checkpoints like any record.
    /// - Parameter context: An auditor's or an admin's context.
    /// - Returns: The days.
    /// - Throws: `CofferError` `accessDenied`.
    public func auditRetentionDays(context: AccessContext) async throws -> Int {
        try await guarded(context, auditRequest()) { _ in try await accessLog.run { try $0.retentionDays() } }
    }

    /// Raises the access log's minimum retention; it can never be lowered.
    /// - Parameters:
    ///   - days: The new minimum, at least the current one, at most 36,500.
    ///   - context: An admin's context (purpose administration).
    /// - Throws: `CofferError` `invalidArgument` (unrecorded) for a lower or out-of-range value,
    ///   `accessDenied`.
    public func raiseAuditRetention(toDays days: Int, context: AccessContext) async throws {
        let current = try await accessLog.run { try $0.retentionDays() }
        guard days >= current, days <= Self.maximumAuditRetentionDays else {
            throw CofferError(.invalidArgument, "the access log's retention can only be raised: it is \(current) days; give \(current) to \(Self.maximumAuditRetentionDays)")
        }
        let request = AccessRequest(action: .configure, dataClass: .auditLog, reason: "\(AuditLog.retentionPrefix)\(days)")
        try await guarded(context, request) { _ in }
    }

    /// Refuses a prune boundary inside the minimum retention (and so any in the future).
    func checkOutsideRetention(_ time: Int64) async throws {
        let days = try await accessLog.run { try $0.retentionDays() }
        let latest = administration.clock.now() - Int64(days) * 86_400_000
        guard time <= latest else {
            throw CofferError(.invalidArgument, "the access log keeps every record for at least \(days) days: prune before \(Timestamp(milliseconds: latest).rfc3339) at the latest")
        }
    }
}

extension AuditLog {
    /// What a `configure` record's reason starts with when it sets the minimum retention.
    static let retentionPrefix = "retention-days="

    /// The minimum retention in force: the largest value any allowed `configure` record of the
    /// log set, and never less than the default.
    func retentionDays() throws -> Int {
        let reasons = try pool.read { db in
            try db.fetchAll(String.self, sql: """
                SELECT reason FROM record WHERE action = 'configure' AND data_class = 'audit-log' AND outcome = 'allowed'
                AND reason LIKE 'retention-days=%'
                """)
        }
        return reasons.compactMap { Int($0.dropFirst(Self.retentionPrefix.count)) }
            .reduce(Vault.defaultAuditRetentionDays) { max($0, min($1, Vault.maximumAuditRetentionDays)) }
    }
}
