import CofferCrypto
import Foundation

extension Vault {
    /// Opens a committed version for reading as an `AsyncSequence` of plaintext chunks.
    ///
    /// The access is decided and recorded before the stream is returned (with the version and
    /// the byte count it will serve); nothing is read until the consumer asks for a chunk, and
    /// each chunk is read in its own short transaction, so a consumer may take as long as it
    /// likes without holding up writers, other readers or threads (``ObjectReadStream``).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: The version (default: the newest when the stream is made; later puts do not
    ///     change what the stream reads).
    ///   - range: Plaintext byte offsets, both ends inclusive, clamped to the object's size; it
    ///     must start inside the object.
    ///   - context: Who reads and why.
    /// - Returns: The stream, with the version's details.
    /// - Throws: `CofferError` `invalidArgument` for a bad range (before anything is recorded),
    ///   `accessDenied`, `notFound`, `unknownTenant`, `auditUnavailable`; while streaming,
    ///   `tamperDetected` and `notFound` (deleted meanwhile).
    public func stream(tenant: TenantID, objectID: ObjectID, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                       context: AccessContext) async throws -> ObjectReadStream {
        try tenant.validate()
        try IdentifierRules.validateReference(objectID.rawValue, as: "object id")
        if let range, range.lowerBound < 0 { throw CofferError(.invalidArgument, "a range must start at 0 or later") }
        let store = contentStore
        let request = AccessRequest(action: .read, dataClass: .content, tenant: tenant, objectID: objectID.rawValue, objectVersion: version)
        // Durable before a byte leaves: a refusal, or a log that cannot be written, ends here.
        // The version is pinned (a small one read) in the decision's trip to the blocking pool.
        return try await guarded(context, request, prepare: { access -> ContentStore.PreparedRead? in
            guard access.isAllowed else { return nil }
            // Checked against the version before anything is recorded: the record holds exactly
            // the bytes the stream serves. No version: recorded as allowed, then not-found.
            guard let prepared = try store.prepareRead(tenant: tenant, objectID: objectID, version: version, range: range) else { return nil }
            access.request.objectKind = prepared.pinned.kind.code
            access.request.objectVersion = prepared.pinned.info.version
            access.request.bytes = prepared.range.upperBound - prepared.range.lowerBound
            return prepared
        }) { recorded, prepared in
            guard let prepared else {
                throw try await store.missingVersion(tenant: tenant, objectID: objectID, version: version)
            }
            let plan = try store.readPlan(tenant: tenant, objectID: objectID, prepared: prepared,
                                          onFailure: laterFailure(context, recorded))
            return ObjectReadStream(info: prepared.pinned.info, range: prepared.range, plan: plan)
        }
    }
}
