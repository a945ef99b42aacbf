import CofferCrypto
import CofferSQL
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
package struct CatalogStore: Sendable {
    let pool: any SQLDatabase

    /// A committed object of `tenant`, or nil (another tenant's object is nil too).
    func object(tenant: TenantID, id: ObjectID) async throws -> SealedObject? {
        try await VaultDatabase.guarded {
            try await pool.read { db in try Self.object(db, tenant: tenant, id: id) }
        }
    }

    /// One page of `tenant`'s committed objects, most recently updated first, read in one
    /// transaction; `more` is true when another page follows.
    func page(tenant: TenantID, kind: ObjectKind?, after cursor: CatalogCursor?, limit: Int) async throws -> (objects: [SealedObject], more: Bool) {
        var sql = "SELECT id FROM object WHERE tenant_id = ? AND latest_version > 0"
        var arguments: SQLArguments = [tenant]
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
            try await pool.read { db in
                let ids = try db.fetchAll(ObjectID.self, sql: query, arguments: queryArguments)
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
            guard try db.fetchOne(Bool.self, sql: "SELECT 1 FROM object WHERE id = ? AND tenant_id = ? AND latest_version > 0",
                                    arguments: [objectID, tenant]) == true else { return false }
            guard let version else {
                try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
                CrashPoint.hit("delete.after-rows")
                return true
            }
            guard try db.execute(sql: "DELETE FROM version WHERE object_id = ? AND version = ? AND state = 1", arguments: [objectID, version]) == 1 else { return false }
            let newest = try db.fetchOne(Int.self, sql: "SELECT max(version) FROM version WHERE object_id = ? AND state = 1", arguments: [objectID])
            if let newest {
                try db.execute(sql: "UPDATE object SET latest_version = ? WHERE id = ?", arguments: [newest, objectID])
            } else if try db.fetchOne(Bool.self, sql: "SELECT 1 FROM version WHERE object_id = ?", arguments: [objectID]) != true {
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
    func reserveVersion(tenant: TenantID, kind: ObjectKind, nameMAC: [UInt8], newID: ObjectID, sealName: @escaping @Sendable (ObjectID) throws -> [UInt8],
                        writer: String, dataKeyID: String, segmentSize: Int, at time: Int64) async throws -> (objectID: ObjectID, version: Int, row: Int64) {
        // Not waited for on disk: the put's commit, which makes the version visible, syncs it
        // with its own (one sync per put fewer). A machine crash in between loses only this
        // pending row, which nothing reads; the version number may then be given again.
        try await VaultDatabase.guarded { try await pool.writeDeferringDurability { db in
            try Self.reserveVersion(db, tenant: tenant, kind: kind, nameMAC: nameMAC, newID: newID, sealName: sealName,
                                    writer: writer, dataKeyID: dataKeyID, segmentSize: segmentSize, at: time)
        } }
    }

    /// Finds or creates the object and inserts a pending version row, inside `db`'s write
    /// transaction (a writer's reservation, or a small put's whole transaction). With
    /// `committed`, the version is inserted committed with those totals and digest and becomes
    /// the object's newest at once (a small put, whose content is sealed in the same
    /// transaction): one index page fewer than pending and then committed.
    static func reserveVersion(_ db: any SQLSession, tenant: TenantID, kind: ObjectKind, nameMAC: [UInt8], newID: ObjectID,
                               sealName: (ObjectID) throws -> [UInt8], writer: String?, dataKeyID: String, segmentSize: Int,
                               at time: Int64, committed: (totals: VersionTotals, digest: [UInt8])? = nil) throws -> (objectID: ObjectID, version: Int, row: Int64) {
        var objectID = newID
        var version = 1
        if let row = try db.fetchOne(sql: "SELECT id, next_version FROM object WHERE tenant_id = ? AND kind = ? AND name_mac = ?",
                                      arguments: [tenant, kind.code, Data(nameMAC)]) {
            objectID = try row.stored("id", in: "object")
            version = try row.stored("next_version", in: "object")
            // The name moves to the current period's key, so an older period's key is not
            // kept alive by the name of an object that outlived that period's versions.
            if committed != nil {
                try db.execute(sql: """
                    UPDATE object SET next_version = next_version + 1, name_sealed = ?, name_key_id = ?,
                           latest_version = CASE WHEN latest_version > ? THEN latest_version ELSE ? END, updated_at = ? WHERE id = ?
                    """, arguments: [Data(try sealName(objectID)), dataKeyID, version, version, time, objectID])
            } else {
                try db.execute(sql: "UPDATE object SET next_version = next_version + 1, name_sealed = ?, name_key_id = ? WHERE id = ?",
                               arguments: [Data(try sealName(objectID)), dataKeyID, objectID])
            }
        } else {
            let sealedName = try sealName(newID)
            try db.execute(sql: """
                INSERT INTO object (id, tenant_id, kind, name_mac, name_sealed, name_key_id, latest_version, next_version, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 2, ?, ?)
                """, arguments: [objectID, tenant, kind.code, Data(nameMAC), Data(sealedName), dataKeyID, committed == nil ? 0 : 1, time, time])
        }
        let row: Int64?
        if let committed {
            row = try db.fetchOne(Int64.self, sql: """
                INSERT INTO version (object_id, version, state, writer, data_key_id, segment_size, plaintext_size, ciphertext_size,
                    segment_count, digest, created_at, committed_at)
                VALUES (?, ?, 1, NULL, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, arguments: [objectID, version, dataKeyID, segmentSize, committed.totals.plaintext, committed.totals.ciphertext,
                                 committed.totals.segments, Data(committed.digest), time, time])
        } else {
            row = try db.fetchOne(Int64.self, sql: """
                INSERT INTO version (object_id, version, state, writer, data_key_id, segment_size, created_at)
                VALUES (?, ?, 0, ?, ?, ?, ?) RETURNING id
                """, arguments: [objectID, version, writer, dataKeyID, segmentSize, time])
        }
        guard let row else { throw CofferError(.storage, "a new version row of \(objectID) has no id") }
        return (objectID, version, row)
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
            try db.fetchAll(sql: "SELECT id, object_id, writer FROM version WHERE state = 0").map { row in
                (row: try row.stored("id", in: "version"), objectID: try row.stored("object_id", in: "version"),
                 writer: try row.storedIfPresent("writer", in: "version"))
            }
        } }
    }

    private static func object(_ db: any SQLSession, tenant: TenantID, id: ObjectID) throws -> SealedObject? {
        guard let row = try db.fetchOne(sql: """
            SELECT kind, name_sealed, name_key_id, latest_version, created_at, updated_at FROM object
            WHERE id = ? AND tenant_id = ? AND latest_version > 0
            """, arguments: [id, tenant]) else { return nil }
        let versions = try db.fetchAll(sql: """
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
    private static func versionInfo(_ row: SQLRow, number: Int) throws -> ObjectVersionInfo {
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
    private static func storedKind(_ row: SQLRow) throws -> ObjectKind {
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
            try await pool.read { db in
                try db.fetchAll(sql: """
                    SELECT o.kind, count(DISTINCT o.id) AS objects, count(v.id) AS versions, CAST(coalesce(sum(v.plaintext_size), 0) AS BIGINT) AS bytes
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
            try await pool.read { db in
                try db.fetchAll(sql: """
                    SELECT v.object_id, v.version, v.created_at FROM version v JOIN object o ON o.id = v.object_id
                    WHERE o.tenant_id = ? AND o.kind = ? AND v.state = 1 AND (CAST(?3 AS BIGINT) IS NULL OR v.created_at <= ?3) ORDER BY v.object_id, v.version
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
            try await pool.read { db in try db.fetchOne(Int.self, sql: "SELECT count(*) FROM object WHERE tenant_id = ?", arguments: [tenant]) ?? 0 }
        }
    }

    /// Deletes up to `limit` objects of `tenant` with every version (pending ones too) and
    /// segment, in one transaction.
    /// - Returns: How many objects were deleted.
    func deleteObjects(tenant: TenantID, limit: Int) async throws -> Int {
        try await VaultDatabase.guarded { try await pool.write { db -> Int in
            return try db.execute(sql: "DELETE FROM object WHERE id IN (SELECT id FROM object WHERE tenant_id = ? LIMIT ?)", arguments: [tenant, limit])
        } }
    }

    /// Which of `keyIDs` a version or an object name still uses.
    func keysInUse(_ keyIDs: [String]) async throws -> Set<String> {
        try await VaultDatabase.guarded {
            try await pool.read { db in
                var used = Set<String>()
                for id in keyIDs where try db.fetchOne(Bool.self, sql: """
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
            guard try db.fetchOne(Bool.self, sql: "SELECT 1 FROM object WHERE id = ? AND tenant_id = ?", arguments: [objectID, tenant]) == true else { return 0 }
            var deleted = 0
            for version in versions {
                deleted += try db.execute(sql: "DELETE FROM version WHERE object_id = ? AND version = ? AND state = 1", arguments: [objectID, version])
            }
            CrashPoint.hit("retention.after-rows")
            if let newest = try db.fetchOne(Int.self, sql: "SELECT max(version) FROM version WHERE object_id = ? AND state = 1", arguments: [objectID]) {
                try db.execute(sql: "UPDATE object SET latest_version = ? WHERE id = ?", arguments: [newest, objectID])
            } else if try db.fetchOne(Bool.self, sql: "SELECT 1 FROM version WHERE object_id = ?", arguments: [objectID]) != true {
                try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [objectID])
            } else {
                try db.execute(sql: "UPDATE object SET latest_version = 0 WHERE id = ?", arguments: [objectID])
            }
            return deleted
        } }
    }
}

extension CatalogStore {
    /// Makes pending version row `version` (version `number` of `objectID`) visible with its
    /// totals, and moves the object's newest version on, inside the caller's transaction.
    /// - Throws: `CofferError` `notFound` when the pending version was removed meanwhile.
    package static func commitVersion(_ db: any SQLSession, version: Int64, objectID: ObjectID, number: Int, digest: [UInt8], at time: Int64,
                                      totals: VersionTotals) throws {
        let committed = try db.execute(sql: """
            UPDATE version SET state = 1, writer = NULL, plaintext_size = ?, ciphertext_size = ?,
                   segment_count = ?, digest = ?, committed_at = ? WHERE id = ? AND state = 0
            """, arguments: [totals.plaintext, totals.ciphertext, totals.segments, Data(digest), time, version])
        guard committed == 1 else {
            throw CofferError(.notFound, "the pending version was removed while it was being written")
        }
        try db.execute(sql: """
            UPDATE object SET latest_version = CASE WHEN latest_version > ? THEN latest_version ELSE ? END, updated_at = ? WHERE id = ?
            """, arguments: [number, number, time, objectID])
    }

    /// The committed version `version` (nil: the newest) of `objectID` in `tenant`, or nil.
    /// - Throws: `CofferError` `tamperDetected` for a malformed row.
    package static func pinnedVersion(_ db: any SQLSession, tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion? {
        guard let row = try db.fetchOne(sql: """
            SELECT v.id, o.kind, v.version, v.plaintext_size, v.ciphertext_size, v.segment_size, v.digest, v.committed_at, v.data_key_id
            FROM object o JOIN version v ON v.object_id = o.id
            WHERE o.id = ? AND o.tenant_id = ? AND o.latest_version > 0 AND v.state = 1 AND v.version = coalesce(CAST(? AS BIGINT), o.latest_version)
            """, arguments: [objectID, tenant, version]) else { return nil }
        do {
            let t = "version"
            let info = ObjectVersionInfo(version: try row.stored(at: 2, in: t), size: try row.stored(at: 3, in: t),
                                         storedSize: try row.stored(at: 4, in: t), segmentSize: try row.stored(at: 5, in: t),
                                         digest: [UInt8](try row.stored(at: 6, in: t, as: Data.self)).hexString,
                                         createdAt: try row.stored(at: 7, in: t))
            return PinnedVersion(row: try row.stored(at: 0, in: t), kind: try ObjectKind(parsing: try row.stored(at: 1, in: t)),
                                 dataKeyID: try row.stored(at: 8, in: t), info: info)
        } catch {
            throw CofferError(.tamperDetected, "object \(objectID): its version row is incomplete or malformed; the content database was changed outside Coffer")
        }
    }

    /// True when version row `version` is committed.
    package static func isCommitted(_ db: any SQLSession, version: Int64) throws -> Bool {
        try db.fetchOne(Bool.self, sql: "SELECT 1 FROM version WHERE id = ? AND state = 1", arguments: [version]) ?? false
    }
}
