import CofferCrypto
import Foundation

extension Vault {
    /// Starts a new version of the object `name` (creating the object if it is new).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - kind: The object's kind (its data class).
    ///   - name: The object's name within the tenant and kind.
    ///   - context: Who writes and why.
    /// - Returns: A writer; call ``ObjectWriter/commit()`` to make the version visible.
    /// - Throws: `CofferError` `unknownTenant`, `invalidArgument`, `storage`.
    public func makeWriter(tenant: TenantID, kind: ObjectKind, name: String, context: AccessContext) async throws -> ObjectWriter {
        try await makeWriter(tenant: tenant, kind: kind, name: name, context: context, expectedBytes: nil)
    }

    /// ``makeWriter(tenant:kind:name:context:)`` for a caller that knows how many bytes it will
    /// write (`put`): the writer's batch buffer, and its share of the writer budget, is then
    /// the size of that stream rather than a whole batch.
    func makeWriter(tenant: TenantID, kind: ObjectKind, name: String, context: AccessContext,
                    expectedBytes: Int?) async throws -> ObjectWriter {
        try tenant.validate()
        try ContentStore.validateName(name)
        // Memory first: a writer waits here, before anything is decided or recorded, while the
        // vault's other writers hold the whole budget.
        let memory = try await writerMemory(expectedBytes: expectedBytes)
        let store = contentStore
        var reservation: Result<ContentStore.Reservation, any Error>?
        let request = AccessRequest(action: .write, dataClass: .content, tenant: tenant, objectKind: kind.code)
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed else { return }
            // The version is reserved before the decision is recorded, so the record names it; if
            // the record cannot be written, the reservation is undone and nothing is written.
            // A failure here is the allowed access failing: recorded as an error by the body.
            do {
                let reserved = try await store.reserveVersion(tenant: tenant, kind: kind, name: name)
                reservation = .success(reserved)
                access.request.objectID = reserved.objectID.rawValue
                access.request.objectVersion = reserved.version
                access.undo = {
                    try? store.deletePendingVersion(rowID: reserved.rowID, objectID: reserved.objectID, releasingNumber: reserved.version)
                    reserved.lock.release()
                }
            } catch {
                reservation = .failure(error)
            }
        }) { recorded in
            guard let reservation else { throw CofferError(.storage, "no version was reserved") }
            let reserved = try reservation.get()
            do {
                return try ObjectWriter(vault: self, tenant: tenant, objectID: reserved.objectID, version: reserved.version, versionRowID: reserved.rowID,
                                        streamKey: reserved.streamKey, digestKey: reserved.digestKey,
                                        aad: ContentStore.contentAAD(tenant: tenant, objectID: reserved.objectID, version: reserved.version),
                                        writerLock: reserved.lock, memory: memory, expectedBytes: expectedBytes,
                                        onFailure: laterFailure(context, recorded))
            } catch {
                try? store.deletePendingVersion(rowID: reserved.rowID, objectID: reserved.objectID)
                reserved.lock.release()
                throw error
            }
        }
    }

    /// Stores `bytes` as a new version of `name` in one call (one trip to the blocking pool).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - kind: The object's kind.
    ///   - name: The object's name within the tenant and kind.
    ///   - bytes: The content.
    ///   - context: Who writes and why.
    /// - Returns: The object id and the committed version.
    /// - Throws: The errors of ``makeWriter(tenant:kind:name:context:)`` and of the write.
    @discardableResult
    public func put(tenant: TenantID, kind: ObjectKind, name: String, bytes: some ContiguousBytes & Sendable,
                    context: AccessContext) async throws -> (objectID: ObjectID, version: ObjectVersionInfo) {
        if let put = try await putInOneTransaction(tenant: tenant, kind: kind, name: name, bytes: bytes, context: context) { return put }
        let count = bytes.withUnsafeBytes { $0.count }
        let writer = try await makeWriter(tenant: tenant, kind: kind, name: name, context: context, expectedBytes: count)
        return (writer.objectID, try await writer.writeAndCommit(bytes))
    }

    /// Stores every buffer of `sequence` as a new version of `name`, with bounded memory.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - kind: The object's kind.
    ///   - name: The object's name within the tenant and kind.
    ///   - sequence: The content, in pieces of any size.
    ///   - context: Who writes and why.
    /// - Returns: The object id and the committed version.
    /// - Throws: What `sequence` throws, and the errors of ``makeWriter(tenant:kind:name:context:)``
    ///   and of the write; the version is then abandoned and the failure recorded.
    @discardableResult
    public func put<S: AsyncSequence>(tenant: TenantID, kind: ObjectKind, name: String, contentsOf sequence: S,
                                      context: AccessContext) async throws -> (objectID: ObjectID, version: ObjectVersionInfo)
    where S.Element: ContiguousBytes & Sendable {
        let writer = try await makeWriter(tenant: tenant, kind: kind, name: name, context: context)
        try await writer.write(contentsOf: sequence)
        return (writer.objectID, try await writer.commit())
    }
}
