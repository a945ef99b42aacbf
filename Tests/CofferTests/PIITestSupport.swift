import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferSQL

// Helpers of the PII vault tests (PII*Tests.swift, PasswordPolicyTests.swift). Names carry a
// `pii` prefix so they do not collide with other test helpers of this module.

/// The principals the PII tests add beside the vault creator ("store-tests": admin, auditor, service).
enum PIIPrincipal {
    /// A privacy officer.
    static let officer: PrincipalID = "pii-officer"
    /// Support staff (PII only with a grant).
    static let support: PrincipalID = "pii-support"
}

extension AccessContext {
    /// The backend (the creator's service role) doing its work, with a justification.
    static let piiService = try! AccessContext(actor: "store-tests", purpose: .serviceOperation, justification: "pii test: backend work")
    /// The privacy officer handling a subject request.
    static let piiOfficer = try! AccessContext(actor: PIIPrincipal.officer, purpose: .subjectRequest,
                                               justification: "pii test: subject access request")
    /// The privacy officer acting on a legal obligation.
    static let piiOfficerLegal = try! AccessContext(actor: PIIPrincipal.officer, purpose: .legal, justification: "pii test: court order")
    /// The creator's admin role investigating an incident.
    static let piiInvestigator = try! AccessContext(actor: "store-tests", purpose: .securityInvestigation,
                                                    justification: "pii test: incident 17")
    /// The creator's auditor role reading the log.
    static let piiAuditor = try! AccessContext(actor: "store-tests", purpose: .audit)
    /// Support staff helping a customer.
    static let piiSupport = try! AccessContext(actor: PIIPrincipal.support, purpose: .support, justification: "pii test: ticket 4711")
}

extension PasswordHashParameters {
    /// Cheap scrypt parameters for tests (N = 2^10): a hash takes about a millisecond.
    static let piiTestFast = PasswordHashParameters(logN: 10, r: 8, p: 1)
}

/// The repository's sample breached-password list.
let piiSampleBreachedListPath: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("data/breached-passwords-sample.txt").path

/// A test vault (tenants `tenants`) with fast password hashing, the privacy officer and the
/// support principal registered.
func withPIIVault<R>(tenants: [TenantID] = ["acme"], breached: BreachedPasswordList = BreachedPasswordList(),
                     _ body: (TestVault) async throws -> R) async throws -> R {
    try await withTestVault(tenants: tenants) { t in
        t.vault.configurePII(PIISettings(passwordPolicy: PasswordPolicy(breached: breached), passwordHashing: .piiTestFast))
        try await t.vault.addPrincipal(PIIPrincipal.officer, roles: [.privacyOfficer], context: .admin)
        try await t.vault.addPrincipal(PIIPrincipal.support, roles: [.support], context: .admin)
        return try await body(t)
    }
}

extension Vault {
    /// The stored (decrypted) value of one field, read through the internals: nil when absent.
    func piiStoredField(_ subject: SubjectID, tenant: TenantID, _ field: SubjectField) async throws -> String? {
        guard let found = try await people.store.sealedField(subject, name: field.rawValue), let sealed = found.value else { return nil }
        #expect(found.row.tenant == tenant)
        return try people.open(sealed, row: found.row, field: field.rawValue, key: people.fieldKey(for: found.row))
    }

    /// A count from the PII file.
    func piiCount(_ sql: String, _ arguments: SQLArguments = []) async throws -> Int {
        try await storage.pii.read { db in try db.fetchOne(Int.self, sql: sql, arguments: arguments) ?? -1 }
    }

    /// Every access-log record of `query`, oldest first, read as the creator's auditor.
    func piiAuditRecords(_ query: AuditQuery) async throws -> [AuditRecord] {
        Array(try await auditRecords(query, context: .piiAuditor).reversed())
    }
}

/// The paths (relative to `directory`) of every regular file under `directory` whose bytes contain `needle`.
func piiFiles(under directory: URL, containing needle: [UInt8]) throws -> [String] {
    precondition(!needle.isEmpty)
    return try fileContents(under: directory).filter { $0.value.range(of: Data(needle)) != nil }.keys.sorted()
}

/// Every regular file under `directory` (its path relative to `directory`) and its bytes; equal
/// before and after a command when the command wrote nothing.
func fileContents(under directory: URL) throws -> [String: Data] {
    let enumerator = try #require(FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]))
    var contents: [String: Data] = [:]
    for case let url as URL in enumerator where try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true {
        contents[String(url.path.dropFirst(directory.path.count))] = try Data(contentsOf: url)
    }
    return contents
}

/// The names of the tables of one database, sorted.
func piiTableNames(_ db: Database) throws -> [String] {
    try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
}

extension TestVault {
    /// Registers a subject row of `tenant` directly in `pii.sqlite` (tagged, with no key and no
    /// fields) and no log record: for tests about grants that only need the subject to exist where it claims to.
    func insertBareSubject(_ id: SubjectID, tenant: TenantID) throws {
        let row = SubjectRow(id: id, tenant: tenant, status: SubjectStatus.active.rawValue, keyID: "sk_bare", createdAt: 0, updatedAt: 0,
                             fields: [], consentCount: 0, consentHead: nil, tag: nil)
        let tag = try vault.people.integrity.tag(row)
        try vault.pii.write { db in
            try db.execute(sql: """
                INSERT INTO subject (id, tenant_id, status, key_id, tag, created_at, updated_at) VALUES (?, ?, 'active', ?, ?, 0, 0)
                """, arguments: [id, tenant, row.keyID, tag])
        }
    }
}

extension TestVault {
    /// Puts `copy`'s `pii.sqlite` (with its WAL) in place of the vault's (closed) one: a backup of
    /// the PII file restored on its own.
    func restorePIIFile(from copy: URL) throws {
        for suffix in ["", "-wal", "-shm"] {
            let name = Vault.FileName.pii + suffix
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            if FileManager.default.fileExists(atPath: copy.appendingPathComponent(name).path) {
                try FileManager.default.copyItem(at: copy.appendingPathComponent(name), to: directory.appendingPathComponent(name))
            }
        }
    }
}
