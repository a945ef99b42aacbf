import CofferCrypto
import CofferSQL
import Foundation

extension Vault {
    /// Records a request to erase a whole tenant (P16), due within 30 days: when carried out
    /// (``runErasures(context:)``), every subject of the tenant is erased, every object deleted
    /// and every data key of the tenant destroyed, and nothing is stored for it again. A privacy
    /// officer's act, for a subject request or a legal reason, with a justification.
    /// - Parameters:
    ///   - tenant: The tenant to erase.
    ///   - reason: The request's reference (1-1024 characters, no control characters, no card
    ///     number).
    ///   - context: Who records it.
    /// - Returns: The request, with its deadline.
    /// - Throws: `CofferError` `alreadyExists` when the tenant has an open request,
    ///   `unknownTenant`, `notFound` for a tenant erased already, `accessDenied`, `purposeMissing`.
    @discardableResult
    public func requestErasure(tenant: TenantID, reason: String, context: AccessContext) async throws -> ErasureRequest {
        try tenant.validate()
        let reason = try Self.checkedReason(reason)
        let id = try makeIdentifier("erasure")
        let gate = AccessRequest(action: .erasure, dataClass: .content, tenant: tenant, reason: "erasure-requested=\(id)")
        return try await guarded(context, gate) { _ in
            let state = try await BlockingPool.shared.run { try self.requireLifecycle(tenant) }
            guard state.erasedAt == nil else { throw CofferError(.notFound, "tenant '\(tenant)' was erased") }
            let now = administration.clock.now()
            let request = ErasureRequest(id: id, tenant: tenant, subject: nil, reason: reason, requestedBy: context.actor,
                                         requestedAt: now, deadline: now + Int64(Self.erasureDeadlineDays) * 86_400_000, completedAt: nil)
            try await BlockingPool.shared.run {
                if try self.lifecycle.erasures(includeCompleted: false).contains(where: { $0.tenant == tenant && $0.subject == nil }) {
                    throw CofferError(.alreadyExists, "tenant '\(tenant)' has an open erasure request already")
                }
                try self.lifecycle.insertErasure(request)
            }
            return request
        }
    }

    /// Erases a whole tenant: marks it erased (no new keys, objects or subjects), erases each of
    /// its subjects (each its own log record; billing kept under legal retention, P11), destroys
    /// every data key of the tenant (every object left is sealed under them), deletes every
    /// object, empties the WALs and signs a receipt. Every step can be done again: an
    /// interrupted erasure is finished by the next run, and its receipt, built from the ledger
    /// entries of the request, lists what every run erased.
    func eraseTenant(_ request: ErasureRequest, context: AccessContext) async throws -> ErasureReceipt {
        let tenant = request.tenant
        let gate = AccessRequest(action: .erasure, dataClass: .content, tenant: tenant, reason: "erased=\(request.id)")
        let erasedAt = try await guarded(context, gate) { _ -> Int64 in
            // Checked just before anything goes: a hold on the tenant or on any of its subjects.
            if try await BlockingPool.shared.run({ try self.lifecycle.isHeldAnywhere(tenant: tenant) }) { throw HeldNow() }
            let now = administration.clock.now()
            return try await BlockingPool.shared.run { try self.lifecycle.markErased(tenant, at: now) }
        }
        try await eraseSubjects(of: tenant, request: request, erasedAt: erasedAt, context: context)
        // The keys go first, with the number of objects sealed under them: the ledger holds that
        // count, so a run that finishes the deletion does not have to.
        let objects = try await contentStore.catalog.objectCount(tenant: tenant)
        try await BlockingPool.shared.run { try self.keys.destroyTenantKeys(tenant.rawValue, requestID: request.id, objects: objects) }
        // A put that held the tenant's keys in memory may commit until the rows go: what it wrote
        // is sealed under destroyed keys, and goes with them.
        _ = try await deleteAllObjects(of: tenant)
        // And a subject added meanwhile (before the tenant was marked) goes too.
        try await eraseSubjects(of: tenant, request: request, erasedAt: erasedAt, context: context)
        _ = await janitor.truncate(.content)
        _ = await janitor.truncate(.pii)
        _ = await janitor.truncate(.control)
        return try await complete(request, receipt: try await receipt(of: request, erasedAt: erasedAt), at: erasedAt)
    }

    /// Erases every subject of `tenant` that is not erased yet, each its own log record, a hold
    /// checked just before each (a hold placed during the erasure stops it there); each ledger
    /// entry names `request`.
    private func eraseSubjects(of tenant: TenantID, request: ErasureRequest, erasedAt: Int64, context: AccessContext) async throws {
        let retainUntil = erasedAt + Int64(RetentionPolicy.sevenYears) * 86_400_000
        for subject in try await people.store.subjects(tenant: tenant) {
            if try await BlockingPool.shared.run({ try self.lifecycle.isHeld(tenant: tenant, subject: subject) }) { throw HeldNow() }
            try await guardedPII(context, .erasure, subject: subject, check: { access in
                if access.isAllowed { access.request.reason = "erased=\(request.id)" }
            }) { state in
                guard let state, state.tenant == tenant else { throw CofferError(.tamperDetected, "subject \(subject) is no longer of tenant \(tenant)") }
                try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: retainUntil, requestID: request.id) }
            }
        }
    }

    /// Why billing records outlive an erasure (P11).
    static let billingRetentionReason = "P11: billing records are kept 7 years as the law requires, sealed under a key of their own"

    /// Deletes every object of `tenant` (pending ones too), a batch per transaction.
    /// - Returns: How many objects were deleted.
    func deleteAllObjects(of tenant: TenantID) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await contentStore.catalog.deleteObjects(tenant: tenant, limit: 256)
            total += deleted
            CrashPoint.hit("erasure.after-object-batch")
            if deleted == 0 { return total }
        }
    }
}
