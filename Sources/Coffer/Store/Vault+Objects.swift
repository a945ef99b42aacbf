import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Associated data of a version's stream: a segment moved to another tenant, object or
    /// version is opened under another key and fails.
    static func contentAAD(tenant: String, objectID: String, version: Int) -> [UInt8] {
        Array("coffer/content/v1\u{0}\(tenant)\u{0}\(objectID)\u{0}\(version)".utf8)
    }

    static func nameAAD(tenant: String, objectID: String) -> [UInt8] {
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
    public func makeWriter(tenant: String, kind: ObjectKind, name: String, context: AccessContext) async throws -> ObjectWriter {
        try Self.validateTenantID(tenant)
        try Self.validateName(name)
        var request = AccessRequest(action: .write, dataClass: .content, tenant: tenant, objectKind: kind.code)
        let decision = try decide(context, request)
        if case .failure = decision { try await record(context, request, decision: decision) }
        let keys: ClassKeys
        do { keys = try classKeys(tenant: tenant, kind: kind) } catch {
            try await record(context, request, decision: decision)
            await recordFailure(context, request, error)
            throw error
        }
        let nameMAC = try HMACSHA256.authenticate(Array("\(kind.code)\u{0}\(name)".utf8), key: keys.nameIndex)
        let newID = try makeIdentifier("obj")
        let sealedName = try AESGCM.seal(Array(name.utf8), key: keys.name, aad: Self.nameAAD(tenant: tenant, objectID: newID))
        let lock = try WriterLock(directory: directory.appendingPathComponent(FileName.writers))
        let now = nowMilliseconds()
        let segmentSize = self.segmentSize
        do {
            let (objectID, version, rowID) = try await content.write { db -> (String, Int, Int64) in
                var objectID = newID
                var version = 1
                if let row = try Row.fetchOne(db, sql: "SELECT id, next_version FROM object WHERE tenant_id = ? AND kind = ? AND name_mac = ?",
                                              arguments: [tenant, kind.code, Data(nameMAC)]) {
                    objectID = try row.stored("id", in: "object")
                    version = try row.stored("next_version", in: "object")
                    try db.execute(sql: "UPDATE object SET next_version = next_version + 1 WHERE id = ?", arguments: [objectID])
                } else {
                    try db.execute(sql: """
                        INSERT INTO object (id, tenant_id, kind, name_mac, name_sealed, latest_version, next_version, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, 0, 2, ?, ?)
                        """, arguments: [objectID, tenant, kind.code, Data(nameMAC), Data(sealedName), now, now])
                }
                try db.execute(sql: """
                    INSERT INTO version (object_id, version, state, writer, data_key_id, segment_size, created_at)
                    VALUES (?, ?, 0, ?, ?, ?, ?)
                    """, arguments: [objectID, version, lock.token, keys.id, segmentSize, now])
                return (objectID, version, db.lastInsertedRowID)
            }
            // The decision is recorded with the reserved ids before any content is written; if it
            // cannot be recorded, the reservation is undone and nothing is written.
            request.objectID = objectID
            request.objectVersion = version
            do {
                try await record(context, request, decision: decision)
            } catch {
                try? deletePendingVersion(rowID: rowID, objectID: objectID, releasingNumber: version)
                throw error
            }
            let recorded = request
            return try ObjectWriter(vault: self, objectID: objectID, version: version, versionRowID: rowID, keys: keys,
                                    aad: Self.contentAAD(tenant: tenant, objectID: objectID, version: version),
                                    writerLock: lock, onFailure: { error in await self.recordFailure(context, recorded, error) })
        } catch {
            lock.release()
            throw VaultDatabase.translate(error)
        }
    }

    /// Stores `bytes` as a new version of `name` in one call.
    /// - Returns: The object id and the committed version.
    @discardableResult
    public func put(tenant: String, kind: ObjectKind, name: String, bytes: some ContiguousBytes & Sendable,
                    context: AccessContext) async throws -> (objectID: String, version: ObjectVersionInfo) {
        let writer = try await makeWriter(tenant: tenant, kind: kind, name: name, context: context)
        return (writer.objectID, try await writer.writeAndCommit(bytes))
    }

    /// Stores every buffer of `sequence` as a new version of `name`, with bounded memory.
    @discardableResult
    public func put<S: AsyncSequence>(tenant: String, kind: ObjectKind, name: String, contentsOf sequence: S,
                                      context: AccessContext) async throws -> (objectID: String, version: ObjectVersionInfo)
    where S.Element: ContiguousBytes & Sendable {
        let writer = try await makeWriter(tenant: tenant, kind: kind, name: name, context: context)
        try await writer.write(contentsOf: sequence)
        return (writer.objectID, try await writer.commit())
    }

    /// Deletes a pending version's rows, and its object if nothing else was ever committed.
    /// With `releasingNumber` (a reservation undone because its decision could not be recorded),
    /// the object's `next_version` is also given back if no other put took a number since, so
    /// an access the log did not record leaves the content file as it was.
    func deletePendingVersion(rowID: Int64, objectID: String, releasingNumber: Int? = nil) throws {
        try content.write { db in
            try db.execute(sql: "DELETE FROM version WHERE id = ? AND state = 0", arguments: [rowID])
            if let number = releasingNumber {
                try db.execute(sql: "UPDATE object SET next_version = ? WHERE id = ? AND next_version = ?",
                               arguments: [number, objectID, number + 1])
            }
            try db.execute(sql: "DELETE FROM object WHERE id = ? AND latest_version = 0 AND NOT EXISTS (SELECT 1 FROM version WHERE object_id = ?)",
                           arguments: [objectID, objectID])
        }
    }

    /// Removes the pending versions of writers that no longer run (crashed or killed).
    /// - Returns: How many pending versions were removed.
    @discardableResult
    func removeAbandonedWrites() throws -> Int {
        let writers = directory.appendingPathComponent(FileName.writers)
        let pending = try content.read { db in
            try Row.fetchAll(db, sql: "SELECT id, object_id, writer FROM version WHERE state = 0")
        }
        var removed = 0
        for row in pending {
            let token: String? = try row.storedIfPresent("writer", in: "version")
            guard token.map({ WriterLock.isAbandoned(token: $0, directory: writers) }) ?? true else { continue }
            try deletePendingVersion(rowID: row.stored("id", in: "version"), objectID: row.stored("object_id", in: "version"))
            removed += 1
        }
        if removed > 0 {
            _ = try? content.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            logger.debug("removed abandoned writes", metadata: ["count": "\(removed)"])
        }
        return removed
    }
}
