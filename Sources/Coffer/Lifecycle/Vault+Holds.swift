import CofferCrypto
import Foundation

extension Vault {
    /// Places a legal hold on a tenant, or on one of its subjects: while it is in force nothing it
    /// covers is purged or erased. A privacy officer's act, for the purpose `legal`.
    /// - Parameters:
    ///   - tenant: The tenant held (or the subject's tenant).
    ///   - subject: One subject of that tenant; nil holds the whole tenant.
    ///   - reason: Why: a matter or case reference, 1-1024 characters, no control characters and
    ///     no card number (it is kept in the control file and the log).
    ///   - context: Who places it.
    /// - Returns: The hold.
    /// - Throws: `CofferError` `invalidArgument` or `cardNumberRefused` (unrecorded) for the
    ///   reason, `notFound` for a subject not of that tenant, `unknownTenant`, `accessDenied`.
    @discardableResult
    public func placeHold(tenant: TenantID, subject: SubjectID? = nil, reason: String, context: AccessContext) async throws -> LegalHold {
        try tenant.validate()
        if let subject { try IdentifierRules.validateReference(subject.rawValue, as: "subject id") }
        let reason = try Self.checkedReason(reason)
        let hold = LegalHold(id: try makeIdentifier("hold"), tenant: tenant, subject: subject, reason: reason, placedBy: context.actor,
                             placedAt: nowMilliseconds(), liftedBy: nil, liftedAt: nil)
        let request = AccessRequest(action: .hold, dataClass: .administration, tenant: tenant, subject: subject, objectID: hold.id,
                                    reason: "hold-placed")
        return try await guarded(context, request) { _ in
            try await BlockingPool.shared.run {
                _ = try self.requireLifecycle(tenant)
                if let subject, try self.people.state(of: subject)?.tenant != tenant {
                    throw CofferError(.notFound, "tenant '\(tenant)' has no subject \(subject)")
                }
                try self.lifecycle.insertHold(hold)
            }
            return hold
        }
    }

    /// Lifts a legal hold in force.
    /// - Parameters:
    ///   - id: The hold's id.
    ///   - context: Who lifts it (a privacy officer, purpose `legal`).
    /// - Returns: The hold as lifted.
    /// - Throws: `CofferError` `notFound` for no such hold in force, `accessDenied`.
    @discardableResult
    public func liftHold(_ id: String, context: AccessContext) async throws -> LegalHold {
        try IdentifierRules.validateReference(id, as: "hold id")
        let found = try await BlockingPool.shared.run { try self.lifecycle.hold(id) }
        let request = AccessRequest(action: .hold, dataClass: .administration, tenant: found?.tenant, subject: found?.subject, objectID: id,
                                    reason: "hold-lifted")
        return try await guarded(context, request) { _ in
            guard let lifted = try await BlockingPool.shared.run({ try self.lifecycle.liftHold(id, by: context.actor, at: nowMilliseconds()) }) else {
                throw CofferError(.notFound, "no legal hold \(id) in force")
            }
            return lifted
        }
    }

    /// Legal holds of a tenant, or of every tenant the caller may see.
    /// - Parameters:
    ///   - tenant: One tenant, or nil.
    ///   - includeLifted: Also the holds lifted since.
    ///   - context: Who asks (a privacy officer, an admin or an auditor).
    /// - Returns: The holds, oldest first.
    public func holds(tenant: TenantID? = nil, includeLifted: Bool = false, context: AccessContext) async throws -> [LegalHold] {
        if let tenant { try tenant.validate() }
        return try await guarded(context, AccessRequest(action: .list, dataClass: .administration, tenant: tenant)) { _ in
            let scope = try await callerScope(context)
            return try await BlockingPool.shared.run { try self.lifecycle.holds(tenant: tenant, includeLifted: includeLifted) }
                .filter { scope?.contains($0.tenant) ?? true }
        }
    }

    /// A hold's or an erasure request's reason, checked like a justification.
    static func checkedReason(_ text: String) throws -> String {
        let reason = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw CofferError(.invalidArgument, "a legal hold needs a reason (a matter or case reference)") }
        try IdentifierRules.validateLabel(reason, as: "reason", maximumLength: AccessContext.maximumJustificationLength)
        try PIIValidation.refuseCardNumbers(reason, field: "reason")
        return reason
    }
}
