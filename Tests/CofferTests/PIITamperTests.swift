import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

// The PII file and the subject keys edited by someone with write access to the files but not the
// keyring. Values are sealed under the subject's key with the subject and field in the associated
// data (pii.md), subject keys wrapped with the subject and tenant in the wrap context (store.md):
// a moved value or key must fail with the documented code, never return what was moved.

/// Three subjects: Ada and Bob in acme, Cy in globex. Ada has every kind of record.
private struct PIIFixture {
    let ada: SubjectID, bob: SubjectID, cy: SubjectID
    static let adaCompany = "Analytical Engines"
    static let adaAddress = "12 Rue X, Paris"
    static let adaIP = "203.0.113.7"
}

private func makePIIFixture(_ t: TestVault) async throws -> PIIFixture {
    let v = t.vault
    let ada = try await v.addSubject(tenant: "acme", name: "Ada Lovelace", email: "ada@example.com",
                                     company: PIIFixture.adaCompany, password: "Tr1cky-Secret9", context: .piiService)
    let bob = try await v.addSubject(tenant: "acme", name: "Bob Babbage", email: "bob@example.com", company: "Difference Ltd",
                                     context: .piiService)
    let cy = try await v.addSubject(tenant: "globex", name: "Cy Young", email: "cy@example.com", company: "Globex", context: .piiService)
    try await v.setBilling(ada, last4: "4242", address: PIIFixture.adaAddress, context: .piiService)
    try await v.recordConsent(ada, kind: "marketing", granted: true, policyVersion: "2026-09", context: .piiService)
    try await v.recordConsent(ada, kind: "marketing", granted: false, policyVersion: "2026-09", context: .piiService)
    _ = try await v.addIdentifier(ada, ip: PIIFixture.adaIP, userAgent: "Mozilla/5.0", device: nil, context: .piiService)
    return PIIFixture(ada: ada, bob: bob, cy: cy)
}

/// One way to edit the files, and what reading the victim must then throw.
struct PIITamperCase: Sendable, CustomTestStringConvertible {
    let name: String
    /// The file edited.
    let file: String
    /// SQL run on it: ?A is Ada's id, ?B Bob's, ?C Cy's.
    let sql: [String]
    /// Whose record is read afterwards: "A", "B" or "C".
    let victim: String
    let expected: CofferError.Code
    var testDescription: String { name }
}

private let piiTamperCases: [PIITamperCase] = [
    PIITamperCase(name: "Ada's sealed company copied over Bob's", file: Vault.FileName.pii,
                  sql: ["UPDATE field SET value = (SELECT value FROM field WHERE subject_id = ?A AND name = 'company') WHERE subject_id = ?B AND name = 'company'"],
                  victim: "B", expected: .tamperDetected),
    PIITamperCase(name: "Ada's billing-address row moved to Bob", file: Vault.FileName.pii,
                  sql: ["UPDATE field SET subject_id = ?B WHERE subject_id = ?A AND name = 'billing-address'"],
                  victim: "B", expected: .tamperDetected),
    PIITamperCase(name: "Ada's sealed company moved into her name field", file: Vault.FileName.pii,
                  sql: ["UPDATE field SET value = (SELECT value FROM field WHERE subject_id = ?A AND name = 'company') WHERE subject_id = ?A AND name = 'name'"],
                  victim: "A", expected: .tamperDetected),
    PIITamperCase(name: "Ada's company and billing-address values swapped", file: Vault.FileName.pii,
                  sql: ["UPDATE field SET name = 'tmp' WHERE subject_id = ?A AND name = 'company'",
                        "UPDATE field SET name = 'company' WHERE subject_id = ?A AND name = 'billing-address'",
                        "UPDATE field SET name = 'billing-address' WHERE subject_id = ?A AND name = 'tmp'"],
                  victim: "A", expected: .tamperDetected),
    PIITamperCase(name: "Ada's sealed company moved to Cy in another tenant", file: Vault.FileName.pii,
                  sql: ["UPDATE field SET value = (SELECT value FROM field WHERE subject_id = ?A AND name = 'company') WHERE subject_id = ?C AND name = 'company'"],
                  victim: "C", expected: .tamperDetected),
    PIITamperCase(name: "Ada's two consent events swapped (withdrawn would read as granted)", file: Vault.FileName.pii,
                  sql: ["UPDATE consent SET seq = 100 WHERE subject_id = ?A AND seq = 1",
                        "UPDATE consent SET seq = 1 WHERE subject_id = ?A AND seq = 2",
                        "UPDATE consent SET seq = 2 WHERE subject_id = ?A AND seq = 100"],
                  victim: "A", expected: .tamperDetected),
    PIITamperCase(name: "Ada's consent events moved to Bob", file: Vault.FileName.pii,
                  sql: ["UPDATE consent SET subject_id = ?B WHERE subject_id = ?A"],
                  victim: "B", expected: .tamperDetected),
    PIITamperCase(name: "Ada's technical identifier moved to Bob", file: Vault.FileName.pii,
                  sql: ["UPDATE identifier SET subject_id = ?B WHERE subject_id = ?A"],
                  victim: "B", expected: .tamperDetected),
    PIITamperCase(name: "Ada's key row renamed to Bob's subject", file: Vault.FileName.control,
                  sql: ["UPDATE subject_key SET subject_id = ?B WHERE subject_id = ?A"],
                  victim: "A", expected: .notFound),
    PIITamperCase(name: "Ada's wrapped key copied over Bob's (same tenant)", file: Vault.FileName.control,
                  sql: ["UPDATE subject_key SET wrapped = (SELECT wrapped FROM subject_key WHERE subject_id = ?A) WHERE subject_id = ?B"],
                  victim: "B", expected: .authenticationFailed),
    PIITamperCase(name: "Ada's wrapped key copied over Cy's (another tenant)", file: Vault.FileName.control,
                  sql: ["UPDATE subject_key SET wrapped = (SELECT wrapped FROM subject_key WHERE subject_id = ?A) WHERE subject_id = ?C"],
                  victim: "C", expected: .authenticationFailed),
    // The subject row's tag covers its tenant: caught before policy decides on the wrong tenant.
    PIITamperCase(name: "Cy's key row and subject row both moved to acme", file: "both",
                  sql: ["UPDATE subject_key SET tenant_id = 'acme' WHERE subject_id = ?C",
                        "pii: UPDATE subject SET tenant_id = 'acme' WHERE id = ?C"],
                  victim: "C", expected: .tamperDetected),
    PIITamperCase(name: "Cy's subject row alone moved to acme", file: Vault.FileName.pii,
                  sql: ["UPDATE subject SET tenant_id = 'acme' WHERE id = ?C"],
                  victim: "C", expected: .tamperDetected),
    PIITamperCase(name: "Ada's billing address row deleted", file: Vault.FileName.pii,
                  sql: ["DELETE FROM field WHERE subject_id = ?A AND name = 'billing-address'"],
                  victim: "A", expected: .tamperDetected),
    PIITamperCase(name: "Ada's row names Bob's key", file: Vault.FileName.pii,
                  sql: ["UPDATE subject SET key_id = (SELECT key_id FROM subject WHERE id = ?B) WHERE id = ?A"],
                  victim: "A", expected: .tamperDetected),
    PIITamperCase(name: "Ada's row's tag removed (made to look like a row from before tags)", file: Vault.FileName.pii,
                  sql: ["UPDATE subject SET tag = NULL, key_id = NULL WHERE id = ?A"],
                  victim: "A", expected: .tamperDetected),
    // The key row moved alone no longer matches (subject, tenant): reported like a missing key.
    PIITamperCase(name: "Ada's key row moved to globex", file: Vault.FileName.control,
                  sql: ["UPDATE subject_key SET tenant_id = 'globex' WHERE subject_id = ?A"],
                  victim: "A", expected: .notFound),
]

/// Runs `sql` (with ?A, ?B, ?C replaced by quoted ids) on a vault file through its own connection,
/// as an attacker editing the closed vault's files would.
private func edit(_ t: TestVault, _ file: String, _ sql: [String], _ f: PIIFixture) throws {
    let queue = try DatabaseQueue(path: t.directory.appendingPathComponent(file).path)
    defer { try? queue.close() }
    try queue.write { db in
        for statement in sql {
            let text = statement.replacingOccurrences(of: "?A", with: "'\(f.ada)'").replacingOccurrences(of: "?B", with: "'\(f.bob)'")
                .replacingOccurrences(of: "?C", with: "'\(f.cy)'")
            try db.execute(sql: text)
            #expect(db.changesCount >= 1, "\(statement) changed nothing")
        }
    }
}

/// Opens the edited vault afresh (no cached key survives), as the next process would.
private func reopenedPII(_ t: TestVault) async throws -> Vault {
    let vault = try await t.reopen()
    vault.configurePII(PIISettings(passwordHashing: .piiTestFast))
    return vault
}

@Suite("PII tampering: moved values, consents and subject keys", .embeddedFilesOnly)
struct PIITamperTests {
    @Test("a moved value, consent, identifier or key fails with the documented code", arguments: piiTamperCases)
    func moved(_ c: PIITamperCase) async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            let victim = ["A": f.ada, "B": f.bob, "C": f.cy][c.victim]!
            // Before: every record reads.
            for id in [f.ada, f.bob, f.cy] { _ = try await t.vault.subject(id, context: .piiOfficer) }
            try t.vault.close()
            if c.file == "both" {
                try edit(t, Vault.FileName.control, c.sql.filter { !$0.hasPrefix("pii: ") }, f)
                try edit(t, Vault.FileName.pii, c.sql.filter { $0.hasPrefix("pii: ") }.map { String($0.dropFirst(5)) }, f)
            } else {
                try edit(t, c.file, c.sql, f)
            }
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            var returned: SubjectRecord?
            await expectCofferError(c.expected, "\(c.name)") { returned = try await vault.subject(victim, context: .piiOfficer) }
            #expect(returned == nil)
            // The subjects the edit did not touch still read.
            let untouched = [f.ada, f.bob, f.cy].filter { id in
                let letter = id == f.ada ? "?A" : id == f.bob ? "?B" : "?C"
                return !c.sql.joined().contains(letter)
            }
            for id in untouched {
                let record = try await vault.subject(id, context: .piiOfficer)
                #expect(record.id == id)
            }
            // The failed read is in the log as an error with the same code.
            let last = try await vault.auditRecords(AuditQuery(subject: victim, limit: 1), context: .piiAuditor).first
            #expect(last?.outcome == .error)
            #expect(last?.errorCode == c.expected.description)
        }
    }

    @Test("a moved sealed password hash fails verification with tamper-detected, not a false 'no match'")
    func movedPasswordHash() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            try t.vault.close()
            try edit(t, Vault.FileName.pii,
                     ["INSERT INTO field (subject_id, name, value, updated_at) SELECT ?B, name, value, updated_at FROM field WHERE subject_id = ?A AND name = 'password-hash'"], f)
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            await expectCofferError(.tamperDetected) { _ = try await vault.verifyPassword(f.bob, password: "Tr1cky-Secret9", context: .piiService) }
            #expect(try await vault.verifyPassword(f.ada, password: "Tr1cky-Secret9", context: .piiService))
        }
    }

    @Test("a blind-index row moved to another subject is detected; find never returns that subject")
    func movedLookupRow() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            try t.vault.close()
            try edit(t, Vault.FileName.pii, ["UPDATE lookup SET subject_id = ?B WHERE subject_id = ?A AND kind = 'email'"], f)
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            // A subject access request by Ada's email must not lead to Bob's record.
            var found: [SubjectID]?
            await expectCofferError(.tamperDetected) { found = try await vault.findSubjects(email: "ada@example.com", context: .piiOfficer) }
            #expect(found == nil)
            #expect(try await vault.findSubjects(email: "bob@example.com", context: .piiOfficer) == [f.bob])
        }
    }

    @Test("deleting the newest consent event (a withdrawal) is detected, not read as consent")
    func deletedConsentEvent() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            try t.vault.close()
            try edit(t, Vault.FileName.pii, ["DELETE FROM consent WHERE subject_id = ?A AND seq = 2"], f)
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            var record: SubjectRecord?
            await expectCofferError(.tamperDetected) { record = try await vault.subject(f.ada, context: .piiOfficer) }
            #expect(record == nil)
            // A consent recorded afterwards cannot paper over the gap: it is refused too.
            await expectCofferError(.tamperDetected) {
                try await vault.recordConsent(f.ada, kind: "analytics", granted: true, policyVersion: "2026-09", context: .piiService)
            }
            await expectCofferError(.tamperDetected) { _ = try await vault.subject(f.ada, context: .piiOfficer) }
        }
    }

    @Test("lifting a restriction by editing the status is detected, for every purpose")
    func liftedRestriction() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            try await t.vault.restrictSubject(f.ada, context: .piiOfficer)
            try t.vault.close()
            try edit(t, Vault.FileName.pii, ["UPDATE subject SET status = 'active' WHERE id = ?A"], f)
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            await expectCofferError(.tamperDetected, "service read") { _ = try await vault.subject(f.ada, fields: [.email], context: .piiService) }
            await expectCofferError(.tamperDetected, "officer read") { _ = try await vault.subject(f.ada, context: .piiOfficer) }
            await expectCofferError(.tamperDetected, "find") { _ = try await vault.findSubjects(email: "ada@example.com", context: .piiService) }
            await expectCofferError(.tamperDetected, "write") {
                try await vault.correctSubject(f.ada, field: .company, value: "Other", context: .piiOfficer)
            }
        }
    }

    @Test("a consent event copied from another subject, or a consent added, is detected")
    func addedConsentEvent() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let f = try await makePIIFixture(t)
            try await t.vault.recordConsent(f.bob, kind: "marketing", granted: true, policyVersion: "2026-09", context: .piiService)
            try t.vault.close()
            try edit(t, Vault.FileName.pii, ["INSERT INTO consent (subject_id, seq, value) SELECT ?A, 3, value FROM consent WHERE subject_id = ?B AND seq = 1"], f)
            let vault = try await reopenedPII(t)
            defer { try? vault.close() }
            await expectCofferError(.tamperDetected) { _ = try await vault.subject(f.ada, context: .piiOfficer) }
            #expect(try await vault.subject(f.bob, context: .piiOfficer).currentConsents == ["marketing": true])
        }
    }
}

@Suite("PII tampering: an older row written back", .embeddedFilesOnly)
struct PIIReplayTests {
    @Test("a restriction or a withdrawal undone by writing back the older row and history is not read as active or granted")
    func olderRowWrittenBack() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let ada = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            try await t.vault.recordConsent(ada, kind: "marketing", granted: true, policyVersion: "v1", context: .piiService)
            try t.vault.close()
            // The attacker keeps a copy of the rows as they are now.
            let snapshot = try DatabaseQueue(path: t.directory.appendingPathComponent(Vault.FileName.pii).path)
            let (row, consents) = try await snapshot.read { db -> ([DatabaseValue], [[DatabaseValue]]) in
                let row = try #require(try Row.fetchOne(db, sql: "SELECT status, key_id, fields, consent_count, consent_head, tag FROM subject WHERE id = ?",
                                                        arguments: [ada]))
                return (Array(row.databaseValues), try Row.fetchAll(db, sql: "SELECT seq, value FROM consent WHERE subject_id = ?", arguments: [ada])
                            .map { Array($0.databaseValues) })
            }
            try snapshot.close()
            let vault = try await t.reopen()
            vault.configurePII(PIISettings(passwordHashing: .piiTestFast))
            try await vault.recordConsent(ada, kind: "marketing", granted: false, policyVersion: "v1", context: .piiService)
            try await vault.restrictSubject(ada, context: .piiOfficer)
            try vault.close()
            // ... and writes them back.
            let queue = try DatabaseQueue(path: t.directory.appendingPathComponent(Vault.FileName.pii).path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE subject SET status = ?, key_id = ?, fields = ?, consent_count = ?, consent_head = ?, tag = ? WHERE id = ?",
                               arguments: StatementArguments(row + [ada.databaseValue]))
                try db.execute(sql: "DELETE FROM consent WHERE subject_id = ?", arguments: [ada])
                for consent in consents {
                    try db.execute(sql: "INSERT INTO consent (subject_id, seq, value) VALUES (?, ?, ?)", arguments: StatementArguments([ada.databaseValue] + consent))
                }
            }
            try queue.close()
            let reopened = try await t.reopen()
            defer { try? reopened.close() }
            var record: SubjectRecord?
            await expectCofferError(.notFound, "the older row names a key that was destroyed") {
                record = try await reopened.subject(ada, context: .piiOfficer)
            }
            #expect(record == nil)
        }
    }
}
