import Coffer
import CofferCrypto
import CofferObjectStore
import CofferSQL
import Foundation
import Logging
import Synchronization

/// Moves an embedded vault to PostgreSQL + S3 (`coffer migrate --to`): every row of its control,
/// PII and log files, its catalog, and each committed version's segments into groups in the
/// object store, the ciphertext byte for byte (nothing is decrypted: a segment's associated data
/// names its tenant, object and version, never where it is stored).
///
/// Resumable: rows go in with `ON CONFLICT DO NOTHING`, a version whose segments were not all
/// uploaded is redone, and `vault_info` (what makes the target a vault) goes last, so a target
/// interrupted half-way does not open. Verified before that last step: every table's row count,
/// and every segment read back from the object store and compared with the source's bytes; after
/// it, the target's access log verifies.
public enum ScaleOutMigration {
    /// Test hook: runs before each version's commit with the number of versions moved so far in
    /// this run; throwing leaves that version half moved, as a killed migration would.
    static let beforeVersionCommit = Mutex<(@Sendable (Int) throws -> Void)?>(nil)

    /// What a migration moved and checked.
    public struct Report: Codable, Sendable {
        /// Rows in the target per table (as many as the source's: checked).
        public var tables: [String: Int] = [:]
        /// Committed versions moved now, and found already moved (a resumed run).
        public var versionsMoved = 0
        public var versionsAlreadyThere = 0
        /// Versions whose earlier, unfinished move was redone.
        public var versionsRedone = 0
        /// Segments moved and bytes of ciphertext.
        public var segments = 0
        public var ciphertextBytes: Int64 = 0
        /// Segments read back from the object store and compared with the source's bytes.
        public var segmentsCompared = 0
        /// The target's access log: its size and whether it verifies.
        public var logSize: Int64 = 0
        public var logVerified = false
    }

    /// Moves `source` to the vault `configuration` names.
    /// - Parameters:
    ///   - source: An embedded vault, opened; nothing else may write to it meanwhile.
    ///   - configuration: Where it goes; the databases may be empty or hold an interrupted
    ///     migration of the same vault.
    ///   - keyringFile: The source's keyring file, to open and verify the target with.
    ///   - context: An auditor's (or an admin's) context with purpose `audit`: the source's log is
    ///     verified under it before anything moves (a log that does not verify is not moved), and
    ///     the target's after; both checks are recorded.
    /// - Throws: `CofferError` `invalidArgument` (not an embedded vault), `alreadyExists` (the
    ///   target already is a vault), `tamperDetected` (a check failed; the target is left
    ///   unopenable), `storage`.
    public static func run(from source: Vault, to configuration: ScaleOutConfiguration, keyringFile: KeyringFile, context: AccessContext,
                           allowDevelopmentKeyring: Bool = false, logger: Logger = Logger(label: "coffer.migrate")) async throws -> Report {
        guard source.storage.files != nil else {
            throw CofferError(.invalidArgument, "migrate moves an embedded vault (a directory); this one is on PostgreSQL already")
        }
        let before = try await source.verifyAuditLog(context: context)
        guard before.ok else {
            throw CofferError(.tamperDetected, "the source's access log does not verify (\(before.problem ?? "")): nothing was moved")
        }
        // Small puts' records still waiting in content.sqlite go into the log that moves.
        try await BlockingPool.shared.run { try source.accessLog.drainNow() }
        let databases = try await PostgresVaultDatabases.open(main: configuration.database, pii: configuration.piiDatabase,
                                                              connections: configuration.connectionsPerDatabase, logger: logger)
        defer { databases.close() }
        guard try await databases.control.read({ db in try db.fetchOne(Bool.self, sql: "SELECT 1 FROM vault_info WHERE name = 'format'") }) == nil else {
            throw CofferError(.alreadyExists, "the target already holds a vault (a finished migration, or another vault): nothing was changed")
        }
        var stores: [String: S3ObjectStore] = [:]
        for (name, location) in configuration.locations {
            let store = try S3ObjectStore(location: location, credentials: configuration.credentials, retry: configuration.retry)
            try await store.createBucket()
            stores[name] = store
        }
        // An embedded vault's tenants all live in `default`.
        let segments = S3SegmentStore(catalog: databases.content, locations: stores, location: { _ in "default" })
        let mover = Mover(source: source.storage, sourceLog: source.accessLog.log.pool, target: databases, segments: segments)
        var report = try await BlockingPool.shared.run { try mover.moveAll() }

        let target = try await Vault.open(configuration, keyringFile: keyringFile, allowDevelopmentKeyring: allowDevelopmentKeyring, logger: logger)
        defer { try? target.close() }
        let verification = try await target.verifyAuditLog(context: context)
        report.logSize = verification.treeSize
        report.logVerified = verification.ok
        guard verification.ok else {
            throw CofferError(.tamperDetected, "the moved access log does not verify: \(verification.problem ?? "")")
        }
        return report
    }
}

/// The copying, on a blocking thread.
private struct Mover: Sendable {
    let source: VaultStorage
    let sourceLog: any SQLDatabase
    let target: PostgresVaultDatabases
    let segments: S3SegmentStore

    /// Tables copied as rows, parents first; `vault_info` is last of all, on its own.
    static let control = ["tenant", "principal", "access_grant", "pending_change", "legacy_subject_key", "subject_key", "retention_setting",
                          "legal_hold", "data_key", "erasure_request", "erasure_ledger", "backup_location"]
    static let pii = ["subject", "field", "consent", "identifier", "lookup", "retained"]
    static let audit = ["record", "leaf", "checkpoint", "log_state"]

    func moveAll() throws -> ScaleOutMigration.Report {
        var report = ScaleOutMigration.Report()
        try requireKnownTables(source.control, Self.control + ["vault_info"])
        try requireKnownTables(source.pii, Self.pii)
        // The outbox's rows were taken into the log above (what is left is drained, not moved).
        try requireKnownTables(source.content, ["object", "version", "segment", "audit_outbox"])
        try requireKnownTables(sourceLog, Self.audit)
        for table in Self.control { report.tables[table] = try copy(table, from: source.control, to: target.control) }
        for table in Self.pii { report.tables[table] = try copy(table, from: source.pii, to: target.pii) }
        for table in Self.audit { report.tables[table] = try copy(table, from: sourceLog, to: target.audit, replacing: table == "log_state") }
        report.tables["object"] = try copy("object", from: source.content, to: target.content)
        try moveVersions(&report)
        try target.content.write { db in
            _ = try db.execute(sql: "SELECT setval(pg_get_serial_sequence('version', 'id'), coalesce((SELECT max(id) FROM version), 1))")
        }
        // Last: with its rows the target is a vault.
        report.tables["vault_info"] = try copy("vault_info", from: source.control, to: target.control)
        return report
    }

    /// Refuses a source with a table this version of Coffer does not know how to move.
    private func requireKnownTables(_ database: any SQLDatabase, _ known: [String]) throws {
        let tables = try database.read { db in
            try db.fetchAll(String.self, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
        }
        let unknown = Set(tables).subtracting(known)
        guard unknown.isEmpty else {
            throw CofferError(.invalidArgument, "the source vault has tables this Coffer cannot move: \(unknown.sorted().joined(separator: ", "))")
        }
    }

    /// Copies every row of `table` (keeping rows the target has already), then checks both hold
    /// as many. With `replacing`, the target's rows are replaced (the log's state row, which the
    /// target made empty when it was created).
    /// - Returns: The target's row count.
    private func copy(_ table: String, from: any SQLDatabase, to: any SQLDatabase, replacing: Bool = false) throws -> Int {
        if replacing { try to.write { db in try db.execute(sql: "DELETE FROM \(table)") } }
        try from.read { db in
            let cursor = try db.cursor(sql: "SELECT * FROM \(table)", arguments: [])
            var batch: [SQLRow] = []
            while let row = try cursor.next() {
                batch.append(row)
                if batch.count == 500 { try insert(batch, into: table, to); batch.removeAll(keepingCapacity: true) }
            }
            if !batch.isEmpty { try insert(batch, into: table, to) }
        }
        let count = "SELECT count(*) FROM \(table)"
        let (sourceRows, targetRows) = (try from.read { db in try db.fetchOne(Int.self, sql: count) ?? 0 },
                                        try to.read { db in try db.fetchOne(Int.self, sql: count) ?? 0 })
        guard sourceRows == targetRows else {
            throw CofferError(.tamperDetected, "\(table): the source has \(sourceRows) rows, the target \(targetRows) after the copy")
        }
        return targetRows
    }

    private func insert(_ rows: [SQLRow], into table: String, _ database: any SQLDatabase) throws {
        let names = rows[0].columns.names
        let sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", "))) ON CONFLICT DO NOTHING"
        try database.write { db in
            for row in rows { try db.execute(sql: sql, arguments: SQLArguments(row.values)) }
        }
    }

    /// Each committed version: its row (pending at first), its segments into groups, then its
    /// commit with the source's totals; finally every object's latest version and time as the
    /// source has them.
    private func moveVersions(_ report: inout ScaleOutMigration.Report) throws {
        let versions = try source.content.read { db in
            try db.fetchAll(sql: """
                SELECT v.*, o.tenant_id FROM version v JOIN object o ON o.id = v.object_id WHERE v.state = 1 ORDER BY v.id
                """)
        }
        for row in versions {
            let id: Int64 = try row.stored("id", in: "version")
            let state = try target.content.read { db in try db.fetchOne(Int.self, sql: "SELECT state FROM version WHERE id = ?", arguments: [id]) }
            if state == 1 {
                report.versionsAlreadyThere += 1
                continue
            }
            if state != nil {
                // An earlier run stopped part-way: its groups go to the collector with the row.
                try target.content.write { db in try db.execute(sql: "DELETE FROM version WHERE id = ?", arguments: [id]) }
                report.versionsRedone += 1
            }
            try moveVersion(row, id: id, report: &report)
            report.versionsMoved += 1
        }
        let objects = try source.content.read { db in try db.fetchAll(sql: "SELECT id, latest_version, updated_at FROM object") }
        try target.content.write { db in
            for object in objects {
                try db.execute(sql: "UPDATE object SET latest_version = ?, updated_at = ? WHERE id = ?",
                               arguments: [object.values[1], object.values[2], object.values[0]])
            }
        }
        let count = "SELECT count(*) FROM version WHERE state = 1"
        let (sourceVersions, targetVersions) = (try source.content.read { db in try db.fetchOne(Int.self, sql: count) ?? 0 },
                                                try target.content.read { db in try db.fetchOne(Int.self, sql: count) ?? 0 })
        guard sourceVersions == targetVersions else {
            throw CofferError(.tamperDetected, "version: the source has \(sourceVersions) committed, the target \(targetVersions)")
        }
        report.tables["version"] = targetVersions
    }

    private func moveVersion(_ row: SQLRow, id: Int64, report: inout ScaleOutMigration.Report) throws {
        let names = row.columns.names.filter { $0 != "tenant_id" }
        var values = names.map { row.values[row.columns.index(of: $0)!] }
        // Pending until its segments are all up, with a heartbeat so no collector takes it meanwhile.
        values[names.firstIndex(of: "state")!] = 0.databaseValue
        try target.content.write { db in
            try db.execute(sql: "INSERT INTO version (\(names.joined(separator: ", ")), heartbeat_at) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")), ?)",
                           arguments: SQLArguments(values) + [nowMilliseconds()])
        }
        let tenant = TenantID(try row.stored("tenant_id", in: "object") as String)
        let objectID = ObjectID(try row.stored("object_id", in: "version") as String)
        let number: Int = try row.stored("version", in: "version")
        let expected: Int = try row.stored("segment_count", in: "version")
        let sink = try segments.sink(version: id, tenant: tenant, objectID: objectID, number: number)
        var moved = 0
        var bytes: Int64 = 0
        try source.segments.withSegments(version: id, in: 0...max(0, expected - 1)) { index, data in
            guard index == moved else { throw CofferError(.tamperDetected, "version row \(id) lacks segment \(moved) in the source") }
            try sink.append(CiphertextSegments(stored: data, index: index, isFinal: index == expected - 1))
            moved += 1
            bytes += Int64(data.count)
        }
        guard moved == expected else { throw CofferError(.tamperDetected, "version row \(id) has \(moved) of its \(expected) segments in the source") }
        let totals = VersionTotals(plaintext: try row.stored("plaintext_size", in: "version"), ciphertext: try row.stored("ciphertext_size", in: "version"),
                                   segments: expected)
        let digest = try row.storedBytes("digest", in: "version")
        try ScaleOutMigration.beforeVersionCommit.withLock { $0 }?(report.versionsMoved)
        try sink.commit(digest: digest, at: try row.stored("committed_at", in: "version"), final: { _ in totals }, beforeCommit: {})
        try compare(version: id, segments: expected, report: &report)
        report.segments += moved
        report.ciphertextBytes += bytes
    }

    /// Reads the version's segments back from the object store and compares them with the source's.
    private func compare(version id: Int64, segments expected: Int, report: inout ScaleOutMigration.Report) throws {
        var sourceDigests: [[UInt8]] = []
        try source.segments.withSegments(version: id, in: 0...max(0, expected - 1)) { _, data in sourceDigests.append(try SHA256.hash(data)) }
        var index = 0
        try segments.withSegments(version: id, in: 0...max(0, expected - 1)) { i, data in
            guard i == index, i < sourceDigests.count, try SHA256.hash(data) == sourceDigests[i] else {
                throw CofferError(.tamperDetected, "segment \(i) of version row \(id) reads back from the object store other than it was in the source")
            }
            index += 1
        }
        guard index == expected else { throw CofferError(.tamperDetected, "version row \(id): \(index) of \(expected) segments read back") }
        report.segmentsCompared += index
    }
}
