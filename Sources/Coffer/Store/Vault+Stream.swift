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
    /// - Throws: ``CofferError`` `invalidArgument` for a bad range (before anything is recorded),
    ///   `accessDenied`, `notFound`, `unknownTenant`, `auditUnavailable`; while streaming,
    ///   `tamperDetected` and `notFound` (deleted meanwhile).
    public func stream(tenant: TenantID, objectID: ObjectID, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                       context: AccessContext) async throws -> ObjectReadStream {
        try tenant.validate()
        try IdentifierRules.validateReference(objectID.rawValue, as: "object id")
        if let range, range.lowerBound < 0 { throw CofferError(.invalidArgument, "a range must start at 0 or later") }
        let store = SQLiteSegmentStore(pool: content)
        var pinned: PinnedVersion?
        var served: Range<Int64>?
        let request = AccessRequest(action: .read, dataClass: .content, tenant: tenant, objectID: objectID.rawValue, objectVersion: version)
        // Durable before a byte leaves: a refusal, or a log that cannot be written, ends here.
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed else { return }
            pinned = try await BlockingPool.shared.run { try store.pinnedVersion(tenant: tenant, objectID: objectID, version: version) }
            guard let pinned else { return }  // recorded as allowed, then not-found
            // Checked against the version before anything is recorded: the record holds exactly
            // the bytes the stream serves.
            let range = try Self.plaintextRange(range, size: pinned.info.size)
            served = range
            access.request.objectKind = pinned.kind.code
            access.request.objectVersion = pinned.info.version
            access.request.bytes = range.upperBound - range.lowerBound
        }) { recorded in
            guard let pinned, let served else {
                if let version, try await BlockingPool.shared.run({ try store.pinnedVersion(tenant: tenant, objectID: objectID, version: nil) }) != nil {
                    throw CofferError(.notFound, "object \(objectID) has no version \(version)")
                }
                throw try notFound(tenant: tenant, objectID: objectID)
            }
            let keys = try classKeys(tenant: tenant, kind: pinned.kind)
            let plan = try ReadPlan(store: store, versionRow: pinned.row, objectID: objectID, info: pinned.info,
                                    aead: try StreamingAEAD(key: keys.stream, segmentSize: pinned.info.segmentSize),
                                    aad: Self.contentAAD(tenant: tenant, objectID: objectID, version: pinned.info.version),
                                    range: served, onFailure: laterFailure(context, recorded))
            return ObjectReadStream(info: pinned.info, range: served, plan: plan)
        }
    }

    /// The half-open plaintext range a read of `range` serves from an object of `size` bytes.
    /// - Throws: ``CofferError`` `invalidArgument` for a range that starts past the end.
    static func plaintextRange(_ range: ClosedRange<Int64>?, size: Int64) throws -> Range<Int64> {
        guard size >= 0 else { throw CofferError(.tamperDetected, "a version records a negative size") }
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0 else { throw CofferError(.invalidArgument, "a range starts at offset 0 or later") }
        guard range.lowerBound < max(size, 1) else {
            throw CofferError(.invalidArgument, "range starts at \(range.lowerBound), past the end of the object (\(size) bytes)")
        }
        let end = range.upperBound >= size ? size : range.upperBound + 1
        return range.lowerBound..<end
    }
}
