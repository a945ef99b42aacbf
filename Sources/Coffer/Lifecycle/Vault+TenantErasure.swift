import CofferCrypto
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
    /// its subjects (each its own log record; billing kept under legal retention, P11), deletes
    /// every object, destroys every data key of the tenant, empties the WALs and signs a
    /// receipt. Every step can be done again: an interrupted erasure is finished by the next run.
    func eraseTenant(_ request: ErasureRequest, context: AccessContext) async throws -> ErasureReceipt {
        let tenant = request.tenant
        let gate = AccessRequest(action: .erasure, dataClass: .content, tenant: tenant, reason: "erased=\(request.id)")
        let erasedAt = try await guarded(context, gate) { _ -> Int64 in
            // Checked just before anything goes: a hold on the tenant or on any of its subjects.
            if try await BlockingPool.shared.run({ try self.lifecycle.isHeldAnywhere(tenant: tenant) }) { throw HeldNow() }
            let now = administration.clock.now()
            try await BlockingPool.shared.run { try self.lifecycle.markErased(tenant, at: now) }
            return now
        }
        var erased = TenantSubjects()
        try await eraseSubjects(of: tenant, request: request, erasedAt: erasedAt, context: context, into: &erased)
        var deletedObjects = try await deleteAllObjects(of: tenant)
        let keyIDs = try await BlockingPool.shared.run { () throws -> [String] in
            let ids = try self.keys.store.dataKeyIDs(tenant: tenant.rawValue)
            try self.keys.destroyDataKeys(ids, tenant: tenant.rawValue, kind: .tenant, requestID: request.id)
            return ids
        }
        erased.destroyed += keyIDs
        // A put that held the tenant's keys in memory may have committed meanwhile: what it wrote
        // is sealed under destroyed keys; its rows go too.
        deletedObjects += try await deleteAllObjects(of: tenant)
        // And a subject added meanwhile (before the tenant was marked) goes too.
        try await eraseSubjects(of: tenant, request: request, erasedAt: erasedAt, context: context, into: &erased)
        _ = await janitor.truncate(.content)
        _ = await janitor.truncate(.pii)
        _ = await janitor.truncate(.control)
        let checkpoint = try await accessLog.run { try $0.checkpointNow() }
        var receipt = ErasureReceipt(
            requestID: request.id, tenant: tenant, subject: nil, requestedAt: request.requestedAt, deadline: request.deadline,
            erasedAt: erasedAt, destroyedKeys: erased.destroyed, deletedFields: erased.fields.sorted(), deletedConsents: erased.consents,
            deletedIdentifiers: erased.identifiers, deletedIndexEntries: erased.indexEntries, retained: erased.retained,
            checkpoint: ErasureReceipt.Checkpoint(treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash))
        receipt.deletedObjects = deletedObjects
        receipt.erasedSubjects = erased.subjects
        return try await complete(request, receipt: receipt, at: erasedAt)
    }

    /// What erasing a tenant's subjects did, for its receipt.
    struct TenantSubjects {
        var destroyed: [String] = []
        var subjects: [SubjectID] = []
        var retained: [ErasureReceipt.Retained] = []
        var fields = Set<String>()
        var consents = 0, identifiers = 0, indexEntries = 0
    }

    /// Erases every subject of `tenant` that is not erased yet, each its own log record, a hold
    /// checked just before each (a hold placed during the erasure stops it there).
    private func eraseSubjects(of tenant: TenantID, request: ErasureRequest, erasedAt: Int64, context: AccessContext,
                               into erased: inout TenantSubjects) async throws {
        let retainUntil = erasedAt + Int64(RetentionPolicy.sevenYears) * 86_400_000
        for subject in try await people.store.subjects(tenant: tenant) {
            if try await BlockingPool.shared.run({ try self.lifecycle.isHeld(tenant: tenant, subject: subject) }) { throw HeldNow() }
            let erasure = try await guardedPII(context, .erasure, subject: subject, check: { access in
                if access.isAllowed { access.request.reason = "erased=\(request.id)" }
            }) { state -> SubjectErasure in
                guard let state, state.tenant == tenant else { throw CofferError(.tamperDetected, "subject \(subject) is no longer of tenant \(tenant)") }
                return try await BlockingPool.shared.run { try self.people.erase(subject, tenant: tenant, retainUntil: retainUntil) }
            }
            erased.subjects.append(subject)
            erased.destroyed += erasure.destroyedKeys
            erased.fields.formUnion(erasure.rows.fields)
            erased.consents += erasure.rows.consents
            erased.identifiers += erasure.rows.identifiers
            erased.indexEntries += erasure.rows.indexEntries
            erased.retained += erasure.retained.map { ErasureReceipt.Retained(fields: $0.fields, until: $0.until, reason: Self.billingRetentionReason) }
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
