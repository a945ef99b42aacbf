import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

extension AccessContext {
    /// The vault creator ("store-tests") reading the access log with its auditor role.
    static let testAuditor = try! AccessContext(actor: "store-tests", purpose: .audit)
}

/// A context for `actor` acting for `purpose`.
func accessContext(_ actor: PrincipalID, _ purpose: Purpose, justification: String? = nil, requestID: String? = nil,
                   client: String? = nil) -> AccessContext {
    try! AccessContext(actor: actor, purpose: purpose, justification: justification, requestID: requestID, client: client)
}

/// The column list of the `record` table after `seq`, in `AuditLog.arguments` order.
let auditRecordColumns = ["time", "actor", "role", "tenant", "subject", "object_id", "object_version", "object_kind", "action",
                          "data_class", "purpose", "justification", "outcome", "error_code", "bytes", "request_id", "client",
                          "grant_id", "reason"]

extension TestVault {
    /// The access log file.
    var auditURL: URL { directory.appendingPathComponent(Vault.FileName.audit) }

    /// Every record row of the log, oldest first, read straight from its database (this records
    /// nothing), on either engine. Like every helper here that reads or edits the log's file, it
    /// first moves the records small puts left in the outbox into the log.
    func auditLogRecords() throws -> [AuditRecord] {
        try vault.accessLog.drainNow()
        return try vault.accessLog.log.pool.read { db in try db.fetchAll(sql: "SELECT * FROM record ORDER BY seq").map(AuditLog.record) }
    }

    /// The records with a sequence number above `sequence`, oldest first.
    func auditRecords(after sequence: Int64) throws -> [AuditRecord] {
        try vault.accessLog.drainNow()
        return try vault.accessLog.log.pool.read { db in
            try db.fetchAll(sql: "SELECT * FROM record WHERE seq > ? ORDER BY seq", arguments: [sequence]).map(AuditLog.record)
        }
    }

    /// One record row, or nil.
    func auditRecord(_ sequence: Int64) throws -> AuditRecord? {
        try vault.accessLog.drainNow()
        return try vault.accessLog.log.pool.read { db in
            try db.fetchOne(sql: "SELECT * FROM record WHERE seq = ?", arguments: [sequence]).map(AuditLog.record)
        }
    }

    /// The log's size as its state row says (records appended so far).
    func auditLogSize() throws -> Int64 {
        try vault.accessLog.drainNow()
        return try vault.accessLog.log.pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT tree_size FROM log_state WHERE id = 1") ?? -1 }
    }

    /// Every leaf hash, in order.
    func leafHashes() throws -> [[UInt8]] {
        try vault.accessLog.drainNow()
        return try vault.accessLog.log.pool.read { db in try db.fetchAll(Data.self, sql: "SELECT hash FROM leaf ORDER BY seq").map { [UInt8]($0) } }
    }

    /// The stored checkpoints' sizes.
    func storedCheckpointSizes() throws -> [Int64] {
        try vault.accessLog.log.pool.read { db in try db.fetchAll(Int64.self, sql: "SELECT tree_size FROM checkpoint ORDER BY tree_size") }
    }

    /// Edits the access log file directly, as someone with write access to it would.
    func tamper(_ body: (any SQLSession) throws -> Void) throws {
        try vault.accessLog.drainNow()
        try vault.accessLog.log.pool.write { db in try body(db) }
    }

    /// Runs `body` and returns the records it added to the log, oldest first.
    func recordsAdded(by body: () async throws -> Void) async throws -> [AuditRecord] {
        let before = try auditLogSize()
        try await body()
        return try auditRecords(after: before)
    }

    /// Appends allowed records (tenant listings by the administrator) until the log holds `size`.
    func growAuditLog(to size: Int64) async throws {
        while try auditLogSize() < size { _ = try await vault.tenants(context: .admin) }
        #expect(try auditLogSize() == size)
    }

    /// `verifyAuditLog` through the public API, as the creator's auditor role. The call records
    /// itself first, so the log it checks is one record longer than before the call.
    func verifyLog(extending checkpoint: AuditCheckpoint? = nil) async throws -> AuditVerification {
        try await vault.verifyAuditLog(extending: checkpoint, context: .testAuditor)
    }

    /// The bytes of the access log's files (database, WAL), concatenated.
    func auditFileBytes() throws -> Data {
        var out = Data()
        for suffix in ["", "-wal", "-journal"] {
            let url = URL(fileURLWithPath: auditURL.path + suffix)
            if FileManager.default.fileExists(atPath: url.path) { out += try Data(contentsOf: url) }
        }
        return out
    }

    /// Changes the access log file's mode bits.
    func setAuditFileMode(_ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: auditURL.path)
    }
}

// MARK: - Editing the log as an attacker would

/// Rewinds the log's state row to `size` records, consistently with the leaves that remain
/// (tree size, last MAC, Merkle frontier), as someone hiding deleted records from the end would.
func rewindLogState(_ db: any SQLSession, to size: Int64) throws {
    let leaves = try db.fetchAll(sql: "SELECT hash, mac FROM leaf WHERE seq <= ? ORDER BY seq", arguments: [size])
    var frontier = MerkleFrontier()
    for leaf in leaves { frontier.append(try leaf.storedBytes("hash", in: "leaf")) }
    let lastMAC = try leaves.last.map { try $0.stored("mac", in: "leaf", as: Data.self) } ?? Data(count: 32)
    try db.execute(sql: "UPDATE log_state SET tree_size = ?, last_mac = ?, frontier = ? WHERE id = 1",
                   arguments: [size, lastMAC, Data(frontier.encoded)])
}

/// Deletes records and leaves from `sequence` on.
func deleteRecords(_ db: any SQLSession, from sequence: Int64) throws {
    try db.execute(sql: "DELETE FROM record WHERE seq >= ?", arguments: [sequence])
    try db.execute(sql: "DELETE FROM leaf WHERE seq >= ?", arguments: [sequence])
}

/// Cuts the newest `count` records as an attacker with write access to the log file would:
/// rows, leaves and the checkpoints covering them gone, the state row rewound to match.
func cutAuditTail(_ db: any SQLSession, last count: Int64) throws {
    let keep = (try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state WHERE id = 1") ?? 0) - count
    try deleteRecords(db, from: keep + 1)
    try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size > ?", arguments: [keep])
    try rewindLogState(db, to: keep)
}

/// Recomputes the leaf hash of record `sequence` from its (edited) row.
func recomputeLeaf(_ db: any SQLSession, _ sequence: Int64) throws {
    let row = try #require(try db.fetchOne(sql: "SELECT * FROM record WHERE seq = ?", arguments: [sequence]))
    let leaf = MerkleTree.leafHash(try AuditLog.record(row).canonicalBytes)
    try db.execute(sql: "UPDATE leaf SET hash = ? WHERE seq = ?", arguments: [Data(leaf), sequence])
}

/// Recomputes every MAC from `sequence` on and the state row, with the log's own MAC key: what an
/// insider holding the keyring could do. Only a checkpoint kept elsewhere catches it.
func rechainMACs(_ db: any SQLSession, log: AuditLog, from sequence: Int64) throws {
    var previous = try Data.fetchOne(db, sql: "SELECT mac FROM leaf WHERE seq = ?", arguments: [sequence - 1]).map { [UInt8]($0) }
        ?? [UInt8](repeating: 0, count: 32)
    let leaves = try db.fetchAll(sql: "SELECT seq, hash FROM leaf WHERE seq >= ? ORDER BY seq", arguments: [sequence])
    for leaf in leaves {
        let seq = try leaf.stored("seq", in: "leaf", as: Int64.self)
        let mac = try log.chainMAC(sequence: seq, leaf: try leaf.storedBytes("hash", in: "leaf"), previous: previous)
        try db.execute(sql: "UPDATE leaf SET mac = ? WHERE seq = ?", arguments: [Data(mac), seq])
        previous = mac
    }
    let size = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM leaf") ?? 0
    try rewindLogState(db, to: size)
}

/// Inserts `record` as a row of the `record` table (with no leaf).
func insertRecordRow(_ db: any SQLSession, _ record: AuditRecord) throws {
    let columns = ["seq"] + auditRecordColumns
    try db.execute(sql: "INSERT INTO record (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))",
                   arguments: AuditLog.arguments(record))
}

/// A copy of `record` with another sequence number (and optionally another actor and time).
func copy(_ r: AuditRecord, sequence: Int64, actor: PrincipalID? = nil, time: Int64? = nil) -> AuditRecord {
    AuditRecord(sequence: sequence, time: time ?? r.time, actor: actor ?? r.actor, role: r.role, tenant: r.tenant, subject: r.subject,
                objectID: r.objectID, objectVersion: r.objectVersion, objectKind: r.objectKind, action: r.action,
                dataClass: r.dataClass, purpose: r.purpose, justification: r.justification, outcome: r.outcome,
                errorCode: r.errorCode, bytes: r.bytes, requestID: r.requestID, client: r.client, grantID: r.grantID,
                reason: r.reason)
}

// MARK: - Denials

/// Runs `body`, which must throw a ``CofferError`` `code` (a refusal), and checks that the refusal
/// is the one record it added to the log: outcome `denied` with the actor, action, data class,
/// purpose and tenant given, no role and no bytes.
@discardableResult
func expectDenied(_ t: TestVault, actor: PrincipalID, action: AccessAction, dataClass: DataClass, purpose: Purpose,
                  tenant: TenantID? = nil, code: CofferError.Code = .accessDenied,
                  sourceLocation: SourceLocation = #_sourceLocation,
                  _ body: () async throws -> Void) async throws -> AuditRecord? {
    let before = try t.auditLogSize()
    await expectCofferError(code, sourceLocation: sourceLocation, body)
    let added = try t.auditRecords(after: before)
    #expect(added.count == 1, "a refusal adds exactly one record, got \(added.count)", sourceLocation: sourceLocation)
    guard let record = added.first else { return nil }
    #expect(record.sequence == before + 1, sourceLocation: sourceLocation)
    #expect(record.outcome == .denied, sourceLocation: sourceLocation)
    #expect(record.actor == actor, sourceLocation: sourceLocation)
    #expect(record.action == action.code, sourceLocation: sourceLocation)
    #expect(record.dataClass == dataClass.code, sourceLocation: sourceLocation)
    #expect(record.purpose == purpose.code, sourceLocation: sourceLocation)
    #expect(record.tenant == tenant, sourceLocation: sourceLocation)
    #expect(record.errorCode == code.description, sourceLocation: sourceLocation)
    #expect(record.role == nil, sourceLocation: sourceLocation)
    #expect(record.bytes == nil, sourceLocation: sourceLocation)
    #expect(record.reason?.isEmpty == false, sourceLocation: sourceLocation)
    return record
}

// MARK: - The CLI

/// A fresh CLI vault (operator `cli-test`, tenant `acme`) in a temporary directory.
func withAuditCLI(_ body: (CofferCLI) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-audit-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let keyring = dir.appendingPathComponent("keyring.json").path
    try Keyring.generate().write(to: keyring)
    let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: keyring)
    try #require(try cli.spawn(["init", "--segment-size", "65536"]).status == 0)
    try #require(try cli.spawn(["tenant", "add", "acme"]).status == 0)
    try await body(cli)
}

extension CofferCLI {
    /// The vault's access log file.
    var auditPath: String { vault.appendingPathComponent("audit.sqlite").path }

    /// Opens the access log file directly (no `coffer` process may be running).
    func auditDatabase() throws -> DatabaseQueue { try DatabaseQueue(path: auditPath) }
}

/// A UTC calendar date `days` from today, as `YYYY-MM-DD`.
func utcDate(daysFromToday days: Int) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd"
    return formatter.string(from: Date().addingTimeInterval(Double(days) * 86_400))
}
