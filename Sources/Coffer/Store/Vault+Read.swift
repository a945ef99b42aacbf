import CofferCrypto
import Foundation

extension Vault {
    /// Reads a committed version, checking every segment before any of its bytes reach `sink`.
    ///
    /// The read is ``stream(tenant:objectID:version:range:context:)`` handed to a sink: batches of
    /// about 1 MiB, each in its own short transaction against the version pinned at the start, so
    /// it holds no snapshot while the sink works and memory is one batch; a range read touches only
    /// the segments the range needs.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: The version (default: the newest).
    ///   - range: Plaintext byte offsets, both ends inclusive: it must start at 0 or later and
    ///     before the end of the version (at 0 for an empty one); its end is clamped to the size.
    ///   - context: Who reads and why.
    ///   - sink: Receives the plaintext in order.
    /// - Returns: The version read.
    /// - Throws: `CofferError` `invalidArgument` for a malformed tenant or object id or a range
    ///   outside the version (refused before anything is recorded), `notFound`, `unknownTenant`,
    ///   `tamperDetected` when stored
    ///   ciphertext fails authentication (the sink has then received only authenticated bytes).
    @discardableResult
    public func read(tenant: TenantID, objectID: ObjectID, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                     context: AccessContext, to sink: (UnsafeRawBufferPointer) throws -> Void) async throws -> ObjectVersionInfo {
        let stream = try await stream(tenant: tenant, objectID: objectID, version: version, range: range, context: context)
        for try await chunk in stream { try chunk.withUnsafeBytes(sink) }
        return stream.info
    }

    /// Reads a whole version into memory. For small objects; use ``stream(tenant:objectID:version:range:context:)``
    /// for large ones.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: The version (default: the newest).
    ///   - context: Who reads and why.
    /// - Returns: The plaintext.
    /// - Throws: The errors of ``read(tenant:objectID:version:range:context:to:)``.
    public func readAll(tenant: TenantID, objectID: ObjectID, version: Int? = nil, context: AccessContext) async throws -> [UInt8] {
        let stream = try await stream(tenant: tenant, objectID: objectID, version: version, context: context)
        var out: [UInt8] = []
        out.reserveCapacity(Int(clamping: stream.range.count))
        for try await chunk in stream { out.append(contentsOf: chunk) }
        return out
    }
}
