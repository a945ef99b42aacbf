import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// One object's details and versions.
    /// - Throws: ``CofferError`` `notFound` when the tenant has no such object (another tenant's
    ///   object is reported the same way), `unknownTenant`.
    public func stat(tenant: String, objectID: String, context: AccessContext) async throws -> ObjectInfo {
        try Self.validateTenantID(tenant)
        try IdentifierRules.validateReference(objectID, as: "object id")
        let request = AccessRequest(action: .stat, dataClass: .metadata, tenant: tenant, objectID: objectID)
        try await authorize(context, request)
        return try await performing(context, request) {
            let info = try await VaultDatabase.guarded {
                try await content.readReleasingEarly { db in try self.objectInfo(db, tenant: tenant, objectID: objectID) }
            }
            guard let info else { throw try notFound(tenant: tenant, objectID: objectID) }
            return info
        }
    }

    /// A page of the tenant's objects, most recently updated first.
    public func list(tenant: String, filter: ObjectFilter = ObjectFilter(), context: AccessContext) async throws -> ObjectPage {
        try Self.validateTenantID(tenant)
        guard (1...1000).contains(filter.limit) else { throw CofferError(.invalidArgument, "limit must be 1 to 1000") }
        let request = AccessRequest(action: .list, dataClass: .metadata, tenant: tenant, objectKind: filter.kind?.code)
        try await authorize(context, request)
        return try await performing(context, request) {
            _ = try classKeys(tenant: tenant, kind: filter.kind ?? .testScript)  // unknown tenant fails here
            var sql = "SELECT id FROM object WHERE tenant_id = ? AND latest_version > 0"
            var arguments: StatementArguments = [tenant]
            if let kind = filter.kind {
                sql += " AND kind = ?"
                arguments += [kind.code]
            }
            if let cursor = filter.cursor {
                let parts = cursor.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let time = Int64(parts[0]) else { throw CofferError(.invalidArgument, "malformed cursor") }
                sql += " AND (updated_at < ? OR (updated_at = ? AND id < ?))"
                arguments += [time, time, String(parts[1])]
            }
            sql += " ORDER BY updated_at DESC, id DESC LIMIT ?"
            arguments += [filter.limit + 1]
            let query = sql, queryArguments = arguments
            let (objects, more) = try await VaultDatabase.guarded { try await content.readReleasingEarly { db -> ([ObjectInfo], Bool) in
                let ids = try String.fetchAll(db, sql: query, arguments: queryArguments)
                let page = try ids.prefix(filter.limit).compactMap { try self.objectInfo(db, tenant: tenant, objectID: $0) }
                return (page, ids.count > filter.limit)
            } }
            let next = more ? objects.last.map { "\($0.updatedAt):\($0.id)" } : nil
            return ObjectPage(objects: objects, nextCursor: next)
        }
    }

    /// Deletes one version, or the whole object when `version` is nil. Freed pages are zeroed
    /// (`secure_delete`), and the WAL is checkpointed and truncated so that the zeroed pages
    /// replace the old ones in the database file and the WAL keeps no copy. That checkpoint
    /// waits a quarter of a second for readers; if one is in the way, the result says so and the
    /// vault retries (``VaultMaintenance``, the next delete, ``close()``, the next open).
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: One version, or nil for the whole object.
    ///   - context: Who deletes and why.
    /// - Returns: Whether the old ciphertext is already gone from the files.
    /// - Throws: ``CofferError`` `notFound`, `accessDenied`, `storage`.
    @discardableResult
    public func delete(tenant: String, objectID: String, version: Int? = nil, context: AccessContext) async throws -> DeletionOutcome {
        try Self.validateTenantID(tenant)
        try IdentifierRules.validateReference(objectID, as: "object id")
        let request = AccessRequest(action: .delete, dataClass: .content, tenant: tenant, objectID: objectID, objectVersion: version)
        try await authorize(context, request)
        return try await performing(context, request) {
            let deleted = try await VaultDatabase.guarded { try await content.write { db -> Bool in
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM object WHERE id = ? AND tenant_id = ? AND latest_version > 0",
                                        arguments: [objectID, tenant]) == true else { return false }
                guard let version else {
                    try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
                    CrashPoint.hit("delete.after-rows")
                    return true
                }
                try db.execute(sql: "DELETE FROM version WHERE object_id = ? AND version = ? AND state = 1", arguments: [objectID, version])
                guard db.changesCount == 1 else { return false }
                let newest = try Int.fetchOne(db, sql: "SELECT max(version) FROM version WHERE object_id = ? AND state = 1",
                                              arguments: [objectID])
                if let newest {
                    try db.execute(sql: "UPDATE object SET latest_version = ? WHERE id = ?", arguments: [newest, objectID])
                } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE object_id = ?", arguments: [objectID]) != true {
                    try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
                } else {
                    try db.execute(sql: "UPDATE object SET latest_version = 0 WHERE id = ?", arguments: [objectID])
                }
                return true
            } }
            guard deleted else {
                if version != nil { throw CofferError(.notFound, "object \(objectID) has no version \(version!)") }
                throw try notFound(tenant: tenant, objectID: objectID)
            }
            CrashPoint.hit("delete.before-wal-truncate")
            return DeletionOutcome(ciphertextCleared: await janitor.truncate(.content))
        }
    }

    func notFound(tenant: String, objectID: String) throws -> CofferError {
        _ = try classKeys(tenant: tenant, kind: .testScript)  // an unknown tenant is reported as such
        return CofferError(.notFound, "tenant '\(tenant)' has no object \(objectID)")
    }

    /// The committed details of an object, with its name decrypted.
    func objectInfo(_ db: Database, tenant: String, objectID: String) throws -> ObjectInfo? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT kind, name_sealed, latest_version, created_at, updated_at FROM object
            WHERE id = ? AND tenant_id = ? AND latest_version > 0
            """, arguments: [objectID, tenant]) else { return nil }
        let kind = try Self.storedKind(row)
        let keys = try classKeys(tenant: tenant, kind: kind)
        let name: String
        do {
            let plain = try AESGCM.open(try row.storedBytes("name_sealed", in: "object"), key: keys.name,
                                        aad: Self.nameAAD(tenant: tenant, objectID: objectID))
            name = String(decoding: plain, as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "object \(objectID): its stored name failed authentication")
        }
        let versions = try Row.fetchAll(db, sql: """
            SELECT version, plaintext_size, ciphertext_size, segment_size, digest, committed_at FROM version
            WHERE object_id = ? AND state = 1 ORDER BY version
            """, arguments: [objectID]).map { v in
            try Self.versionInfo(v, number: v.stored("version", in: "version"))
        }
        return ObjectInfo(id: objectID, tenant: tenant, kind: kind, name: name, latestVersion: try row.stored("latest_version", in: "object"),
                          createdAt: try row.stored("created_at", in: "object"), updatedAt: try row.stored("updated_at", in: "object"),
                          versions: versions)
    }
}

/// Where a deleted object's ciphertext is once ``Vault/delete(tenant:objectID:version:context:)``
/// returns.
public struct DeletionOutcome: Sendable, Hashable, Codable {
    /// True when the WAL was checkpointed and truncated: the ciphertext is in neither the
    /// database file nor its WAL. False while a reader holds the WAL: until the vault's retry
    /// succeeds, the old pages are still in `content.sqlite` and its WAL.
    public let ciphertextCleared: Bool
}
