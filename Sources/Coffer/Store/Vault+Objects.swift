import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Associated data of a version's stream: a segment moved to another tenant, object or
    /// version is opened under another key and fails.
    static func contentAAD(tenant: TenantID, objectID: ObjectID, version: Int) -> [UInt8] {
        Array("coffer/content/v1\u{0}\(tenant)\u{0}\(objectID)\u{0}\(version)".utf8)
    }

    static func nameAAD(tenant: TenantID, objectID: ObjectID) -> [UInt8] {
        Array("coffer/name/v1\u{0}\(tenant)\u{0}\(objectID)".utf8)
    }

    /// The longest object name, in UTF-8 bytes.
    static let maximumNameBytes = 1024

    /// Refuses an empty or overlong name, and names holding U+FFFD (what undecodable bytes turn
    /// into, so two different byte strings would become one name), control characters (C0
    /// including tab and line feed, DEL, C1) or line and paragraph separators (U+2028, U+2029).
    static func validateName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maximumNameBytes,
              !name.unicodeScalars.contains(where: { $0 == "\u{FFFD}" || $0.value < 0x20 || (0x7F...0x9F).contains($0.value)
                                                     || $0 == "\u{2028}" || $0 == "\u{2029}" }) else {
            throw CofferError(.invalidArgument,
                              "object name must be 1 to \(maximumNameBytes) bytes of valid UTF-8 text without control characters (tabs and line breaks included), line separators or U+FFFD")
        }
    }

    /// Starts a new version of the object `name` (creating the object if it is new).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - kind: The object's kind (its data class).
    ///   - name: The object's name within the tenant and kind.
    ///   - context: Who writes and why.
    /// - Returns: A writer; call ``ObjectWriter/commit()`` to make the version visible.
    /// - Throws: ``CofferError`` `unknownTenant`, `invalidArgument`, `storage`.
    public func makeWriter(tenant: TenantID, kind: ObjectKind, name: String, context: AccessContext) async throws -> ObjectWriter {
        try tenant.validate()
        try Self.validateName(name)
        /// The version reserved for the writer, once the access is allowed.
        struct Reservation: Sendable {
            let keys: ClassKeys, objectID: ObjectID, version: Int, rowID: Int64, lock: WriterLock
        }
        var reservation: Result<Reservation, any Error>?
        let request = AccessRequest(action: .write, dataClass: .content, tenant: tenant, objectKind: kind.code)
        return try await guarded(context, request, refine: { access in
            guard access.isAllowed else { return }
            // The version is reserved before the decision is recorded, so the record names it; if
            // the record cannot be written, the reservation is undone and nothing is written.
            // A failure here is the allowed access failing: recorded as an error by the body.
            do {
                let reserved = try await reserveVersion(tenant: tenant, kind: kind, name: name)
                reservation = .success(reserved)
                access.request.objectID = reserved.objectID.rawValue
                access.request.objectVersion = reserved.version
                access.undo = { [self] in
                    try? deletePendingVersion(rowID: reserved.rowID, objectID: reserved.objectID, releasingNumber: reserved.version)
                    reserved.lock.release()
                }
            } catch {
                reservation = .failure(error)
            }
        }) { recorded in
            guard let reservation else { throw CofferError(.storage, "no version was reserved") }
            let reserved = try reservation.get()
            do {
                return try ObjectWriter(vault: self, objectID: reserved.objectID, version: reserved.version, versionRowID: reserved.rowID,
                                        keys: reserved.keys,
                                        aad: Self.contentAAD(tenant: tenant, objectID: reserved.objectID, version: reserved.version),
                                        writerLock: reserved.lock, onFailure: laterFailure(context, recorded))
            } catch {
                try? deletePendingVersion(rowID: reserved.rowID, objectID: reserved.objectID)
                reserved.lock.release()
                throw error
            }
        }

        /// Finds or creates the object and inserts a pending version row under a fresh writer lock.
        func reserveVersion(tenant: TenantID, kind: ObjectKind, name: String) async throws -> Reservation {
            let keys = try classKeys(tenant: tenant, kind: kind)
            let nameMAC = try HMACSHA256.authenticate(Array("\(kind.code)\u{0}\(name)".utf8), key: keys.nameIndex)
            let newID = ObjectID(try makeIdentifier("obj"))
            let sealedName = try AESGCM.seal(Array(name.utf8), key: keys.name, aad: Self.nameAAD(tenant: tenant, objectID: newID))
            let lock = try WriterLock(directory: directory.appendingPathComponent(FileName.writers))
            let now = nowMilliseconds()
            let segmentSize = self.segmentSize
            do {
                let (objectID, version, rowID) = try await catalog.reserveVersion(
                    tenant: tenant, kind: kind, nameMAC: nameMAC, newID: newID, sealedName: sealedName, writer: lock.token,
                    dataKeyID: keys.id, segmentSize: segmentSize, at: now)
                return Reservation(keys: keys, objectID: objectID, version: version, rowID: rowID, lock: lock)
            } catch {
                lock.release()
                throw VaultDatabase.translate(error)
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
        let writer = try await makeWriter(tenant: tenant, kind: kind, name: name, context: context)
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

    /// Deletes a pending version's rows, and its object if nothing else was ever committed
    /// (``CatalogStore/deletePendingVersion(row:objectID:releasingNumber:)``).
    func deletePendingVersion(rowID: Int64, objectID: ObjectID, releasingNumber: Int? = nil) throws {
        try catalog.deletePendingVersion(row: rowID, objectID: objectID, releasingNumber: releasingNumber)
    }

    /// Removes the pending versions of writers that no longer run (crashed or killed).
    /// - Returns: How many pending versions were removed.
    @discardableResult
    func removeAbandonedWrites() throws -> Int {
        let writers = directory.appendingPathComponent(FileName.writers)
        var removed = 0
        for pending in try catalog.pendingVersions() {
            guard pending.writer.map({ WriterLock.isAbandoned(token: $0, directory: writers) }) ?? true else { continue }
            try deletePendingVersion(rowID: pending.row, objectID: pending.objectID)
            removed += 1
        }
        if removed > 0 {
            janitor.markPending(.content)
            janitor.retryPendingNow()
            logger.debug("removed abandoned writes", metadata: ["count": "\(removed)"])
        }
        return removed
    }
}
