import CofferCrypto
import Foundation
import GRDB

/// An object as the catalog keeps it: its name still sealed.
struct SealedObject: Sendable {
    let id: ObjectID
    let kind: ObjectKind
    let nameSealed: [UInt8]
    /// The data key that sealed the name (nil: the class's index key).
    let nameKeyID: String?
    let latestVersion: Int
    let createdAt: Int64
    let updatedAt: Int64
    /// The committed versions, oldest first.
    let versions: [ObjectVersionInfo]
}

/// A listing cursor: the last object of the previous page.
struct CatalogCursor: Sendable {
    let updatedAt: Int64
    let id: ObjectID
}

/// Persistence of the content catalog: objects and versions in `content.sqlite` (the segments
/// are `SegmentStore`'s). The only code that knows the SQL of `object` and `version` outside
/// the writer's commit; a second engine keeps the same rows in PostgreSQL.
struct CatalogStore: Sendable {
    let pool: DatabasePool

    /// A committed object of `tenant`, or nil (another tenant's object is nil too).
    func object(tenant: TenantID, id: ObjectID) async throws -> SealedObject? {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in try Self.object(db, tenant: tenant, id: id) }
        }
    }

    /// One page of `tenant`'s committed objects, most recently updated first, read in one
    /// transaction; `more` is true when another page follows.
    func page(tenant: TenantID, kind: ObjectKind?, after cursor: CatalogCursor?, limit: Int) async throws -> (objects: [SealedObject], more: Bool) {
        var sql = "SELECT id FROM object WHERE tenant_id = ? AND latest_version > 0"
        var arguments: StatementArguments = [tenant]
        if let kind {
            sql += " AND kind = ?"
            arguments += [kind.code]
        }
        if let cursor {
            sql += " AND (updated_at < ? OR (updated_at = ? AND id < ?))"
            arguments += [cursor.updatedAt, cursor.updatedAt, cursor.id]
        }
        sql += " ORDER BY updated_at DESC, id DESC LIMIT ?"
        arguments += [limit + 1]
        let (query, queryArguments) = (sql, arguments)
        return try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                let ids = try ObjectID.fetchAll(db, sql: query, arguments: queryArguments)
                let objects = try ids.prefix(limit).compactMap { try Self.object(db, tenant: tenant, id: $0) }
                return (objects, ids.count > limit)
            }
        }
    }

    /// Deletes one committed version, or the object with all its versions (and, by cascade,
    /// segments) when `version` is nil, in one transaction.
    /// - Returns: False when there was no such object or version.
    func delete(tenant: TenantID, objectID: ObjectID, version: Int?) async throws -> Bool {
        try await VaultDatabase.guarded { try await pool.write { db -> Bool in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM object WHERE id = ? AND tenant_id = ? AND latest_version > 0",
                                    arguments: [objectID, tenant]) == true else { return false }
            guard let version else {
                try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
                CrashPoint.hit("delete.after-rows")
                return true
            }
            try db.execute(sql: "DELETE FROM version WHERE object_id = ? AND version = ? AND state = 1", arguments: [objectID, version])
            guard db.changesCount == 1 else { return false }
            let newest = try Int.fetchOne(db, sql: "SELECT max(version) FROM version WHERE object_id = ? AND state = 1", arguments: [objectID])
            if let newest {
                try db.execute(sql: "UPDATE object SET latest_version = ? WHERE id = ?", arguments: [newest, objectID])
            } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE object_id = ?", arguments: [objectID]) != true {
                try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
            } else {
                try db.execute(sql: "UPDATE object SET latest_version = 0 WHERE id = ?", arguments: [objectID])
            }
            return true
        } }
    }

    /// Finds the object (tenant, kind, name MAC) or creates it with `newID` and `sealedName`,
    /// and inserts a pending version row for `writer`, in one transaction.
    /// - Returns: The object id, the version number and the version's row.
    func reserveVersion(tenant: TenantID, kind: ObjectKind, nameMAC: [UInt8], newID: ObjectID, sealName: @Sendable (ObjectID) throws -> [UInt8],
                        writer: String, dataKeyID: String, segmentSize: Int, at time: Int64) async throws -> (objectID: ObjectID, version: Int, row: Int64) {
        try await VaultDatabase.guarded { try await pool.write { db in
            var objectID = newID
            var version = 1
            if let row = try Row.fetchOne(db, sql: "SELECT id, next_version FROM object WHERE tenant_id = ? AND kind = ? AND name_mac = ?",
                                          arguments: [tenant, kind.code, Data(nameMAC)]) {
                objectID = try row.stored("id", in: "object")
                version = try row.stored("next_version", in: "object")
                // The name moves to the current period's key, so an older period's key is not
                // kept alive by the name of an object that outlived that period's versions.
                try db.execute(sql: "UPDATE object SET next_version = next_version + 1, name_sealed = ?, name_key_id = ? WHERE id = ?",
                               arguments: [Data(try sealName(objectID)), dataKeyID, objectID])
            } else {
                let sealedName = try sealName(newID)
                try db.execute(sql: """
                    INSERT INTO object (id, tenant_id, kind, name_mac, name_sealed, name_key_id, latest_version, next_version, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, 2, ?, ?)
                    """, arguments: [objectID, tenant, kind.code, Data(nameMAC), Data(sealedName), dataKeyID, time, time])
            }
            try db.execute(sql: """
                INSERT INTO version (object_id, version, state, writer, data_key_id, segment_size, created_at)
                VALUES (?, ?, 0, ?, ?, ?, ?)
                """, arguments: [objectID, version, writer, dataKeyID, segmentSize, time])
            return (objectID, version, db.lastInsertedRowID)
        } }
    }

    /// Deletes a pending version's rows, and its object if nothing else was ever committed. With
    /// `releasingNumber` (a reservation undone because its decision could not be recorded), the
    /// object's `next_version` is also given back if no other put took a number since.
    func deletePendingVersion(row: Int64, objectID: ObjectID, releasingNumber: Int? = nil) throws {
        try VaultDatabase.guardedSync { try pool.write { db in
            try db.execute(sql: "DELETE FROM version WHERE id = ? AND state = 0", arguments: [row])
            if let number = releasingNumber {
                try db.execute(sql: "UPDATE object SET next_version = ? WHERE id = ? AND next_version = ?",
                               arguments: [number, objectID, number + 1])
            }
            try db.execute(sql: "DELETE FROM object WHERE id = ? AND latest_version = 0 AND NOT EXISTS (SELECT 1 FROM version WHERE object_id = ?)",
                           arguments: [objectID, objectID])
        } }
    }

    /// Every pending version with its writer's token.
    func pendingVersions() throws -> [(row: Int64, objectID: ObjectID, writer: String?)] {
        try VaultDatabase.guardedSync { try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, object_id, writer FROM version WHERE state = 0").map { row in
                (row: try row.stored("id", in: "version"), objectID: try row.stored("object_id", in: "version"),
                 writer: try row.storedIfPresent("writer", in: "version"))
            }
        } }
    }

    private static func object(_ db: Database, tenant: TenantID, id: ObjectID) throws -> SealedObject? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT kind, name_sealed, name_key_id, latest_version, created_at, updated_at FROM object
            WHERE id = ? AND tenant_id = ? AND latest_version > 0
            """, arguments: [id, tenant]) else { return nil }
        let versions = try Row.fetchAll(db, sql: """
            SELECT version, plaintext_size, ciphertext_size, segment_size, digest, committed_at FROM version
            WHERE object_id = ? AND state = 1 ORDER BY version
            """, arguments: [id]).map { v in try Self.versionInfo(v, number: v.stored("version", in: "version")) }
        return SealedObject(id: id, kind: try Self.storedKind(row), nameSealed: try row.storedBytes("name_sealed", in: "object"),
                            nameKeyID: try row.storedIfPresent("name_key_id", in: "object"),
                            latestVersion: try row.stored("latest_version", in: "object"), createdAt: try row.stored("created_at", in: "object"),
                            updatedAt: try row.stored("updated_at", in: "object"), versions: versions)
    }

    /// A committed version's details from its `version` row.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL, malformed or negative column.
    private static func versionInfo(_ row: Row, number: Int) throws -> ObjectVersionInfo {
        let info = ObjectVersionInfo(version: number, size: try row.stored("plaintext_size", in: "version"),
                                     storedSize: try row.stored("ciphertext_size", in: "version"),
                                     segmentSize: try row.stored("segment_size", in: "version"),
                                     digest: try row.storedBytes("digest", in: "version").hexString,
                                     createdAt: try row.stored("committed_at", in: "version"))
        guard info.size >= 0, info.storedSize >= 0 else {
            throw CofferError(.tamperDetected, "a version row records a negative size: the vault file was changed outside Coffer")
        }
        return info
    }

    /// The kind of an `object` row.
    /// - Throws: ``CofferError`` `tamperDetected` when it is NULL or not a kind Coffer knows.
    private static func storedKind(_ row: Row) throws -> ObjectKind {
        do { return try ObjectKind(parsing: row.stored("kind", in: "object")) } catch let error as CofferError where error.code == .invalidArgument {
            throw CofferError(.tamperDetected, "an object row has an unknown kind: the vault file was changed outside Coffer")
        }
    }
}

extension CatalogStore {
    /// What `tenant` stores per object kind: objects, committed versions and their plaintext
    /// bytes (kinds with nothing stored left out).
    func usage(tenant: TenantID) async throws -> [TenantInfo.ClassUsage] {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                try Row.fetchAll(db, sql: """
                    SELECT o.kind, count(DISTINCT o.id) AS objects, count(v.id) AS versions, coalesce(sum(v.plaintext_size), 0) AS bytes
                    FROM object o JOIN version v ON v.object_id = o.id AND v.state = 1
                    WHERE o.tenant_id = ? GROUP BY o.kind ORDER BY o.kind
                    """, arguments: [tenant]).map { row in
                    TenantInfo.ClassUsage(dataClass: try row.stored("kind", in: "object"), objects: try row.stored("objects", in: "object"),
                                          versions: try row.stored("versions", in: "version"), bytes: try row.stored("bytes", in: "version"))
                }
            }
        }
    }
}

/// A committed version as the retention run sees it.
struct VersionAge: Sendable {
    let objectID: ObjectID
    let version: Int
    let createdAt: Int64
}

extension CatalogStore {
    /// The committed versions of `tenant`'s `kind` made at or before `createdBefore` (all of
    /// them when nil), by object and version.
    func versions(tenant: TenantID, kind: ObjectKind, createdBefore: Int64?) async throws -> [VersionAge] {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                try Row.fetchAll(db, sql: """
                    SELECT v.object_id, v.version, v.created_at FROM version v JOIN object o ON o.id = v.object_id
                    WHERE o.tenant_id = ? AND o.kind = ? AND v.state = 1 AND (?3 IS NULL OR v.created_at <= ?3) ORDER BY v.object_id, v.version
                    """, arguments: [tenant, kind.code, createdBefore]).map { row in
                    VersionAge(objectID: try row.stored("object_id", in: "version"), version: try row.stored("version", in: "version"),
                               createdAt: try row.stored("created_at", in: "version"))
                }
            }
        }
    }

    /// How many objects `tenant` has, pending ones too.
    func objectCount(tenant: TenantID) async throws -> Int {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM object WHERE tenant_id = ?", arguments: [tenant]) ?? 0 }
        }
    }

    /// Deletes up to `limit` objects of `tenant` with every version (pending ones too) and
    /// segment, in one transaction.
    /// - Returns: How many objects were deleted.
    func deleteObjects(tenant: TenantID, limit: Int) async throws -> Int {
        try await VaultDatabase.guarded { try await pool.write { db -> Int in
            try db.execute(sql: "DELETE FROM object WHERE id IN (SELECT id FROM object WHERE tenant_id = ? LIMIT ?)", arguments: [tenant, limit])
            return db.changesCount
        } }
    }

    /// Which of `keyIDs` a version or an object name still uses.
    func keysInUse(_ keyIDs: [String]) async throws -> Set<String> {
        try await VaultDatabase.guarded {
            try await pool.readReleasingEarly { db in
                var used = Set<String>()
                for id in keyIDs where try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM version WHERE data_key_id = ?1) OR EXISTS (SELECT 1 FROM object WHERE name_key_id = ?1)
                    """, arguments: [id]) == true {
                    used.insert(id)
                }
                return used
            }
        }
    }

    /// Deletes committed versions of one object in one transaction, and the object when none is
    /// left: a crash leaves every version whole or gone.
    /// - Returns: How many versions were deleted.
    func deleteVersions(tenant: TenantID, objectID: ObjectID, versions: [Int]) async throws -> Int {
        try await VaultDatabase.guarded { try await pool.write { db -> Int in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM object WHERE id = ? AND tenant_id = ?", arguments: [objectID, tenant]) == true else { return 0 }
            var deleted = 0
            for version in versions {
                try db.execute(sql: "DELETE FROM version WHERE object_id = ? AND version = ? AND state = 1", arguments: [objectID, version])
                deleted += db.changesCount
            }
            CrashPoint.hit("retention.after-rows")
            if let newest = try Int.fetchOne(db, sql: "SELECT max(version) FROM version WHERE object_id = ? AND state = 1", arguments: [objectID]) {
                try db.execute(sql: "UPDATE object SET latest_version = ? WHERE id = ?", arguments: [newest, objectID])
            } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM version WHERE object_id = ?", arguments: [objectID]) != true {
                try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
            } else {
                try db.execute(sql: "UPDATE object SET latest_version = 0 WHERE id = ?", arguments: [objectID])
            }
            return deleted
        } }
    }
}
