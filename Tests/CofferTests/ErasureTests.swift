import Foundation
import GRDB
import Testing
@testable import Coffer
@testable import CofferCrypto

// Erasure requests (P16): recorded with a 30-day deadline, carried out unless held, keys
// destroyed, rows deleted, billing records kept under legal retention (P11), a signed receipt.

/// Ada with every kind of record, in acme.
private func addAda(_ v: Vault) async throws -> SubjectID {
    let ada = try await v.addSubject(tenant: "acme", name: "Ada Lovelace", email: "ada@example.com", company: "Analytical Engines",
                                     password: "Tr1cky-Secret9", context: .piiService)
    try await v.setBilling(ada, last4: "4242", address: "12 Rue X, Paris", context: .piiService)
    try await v.recordConsent(ada, kind: "marketing", granted: true, policyVersion: "2026-09", context: .piiService)
    _ = try await v.addIdentifier(ada, ip: "203.0.113.7", userAgent: "Mozilla/5.0", device: nil, context: .piiService)
    return ada
}

private func keyIDs(_ v: Vault, _ subject: SubjectID, role: String) async throws -> [String] {
    try await v.control.read { db in
        try String.fetchAll(db, sql: "SELECT key_id FROM subject_key WHERE subject_id = ? AND role = ? ORDER BY key_id", arguments: [subject, role])
    }
}

@Suite("Erasure: requests, keys destroyed, rows deleted, billing retained, signed receipts")
struct ErasureTests {
    @Test("dsr run erases the subject: unreadable, unfindable, keys destroyed, billing kept, the receipt and the log verify")
    func eraseSubject() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let ada = try await addAda(v)
            let bob = try await v.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            let keysBefore = try await keyIDs(v, ada, role: "fields")
            #expect(keysBefore.count == 1)

            let request = try await v.requestErasure(subject: ada, reason: "DSR 2026-77", context: .piiOfficer)
            #expect(request.deadline - request.requestedAt == 30 * 86_400_000)
            #expect(try await v.erasureRequests(context: .piiOfficer).map(\.id) == [request.id])
            await expectCofferError(.alreadyExists) { try await v.requestErasure(subject: ada, reason: "again", context: .piiOfficer) }

            let run = try await v.runErasures(context: .piiOfficer)
            #expect(run.held.isEmpty && run.failed.isEmpty)
            let receipt = try #require(run.completed.first)
            #expect(receipt.subject == ada && receipt.requestID == request.id)
            #expect(receipt.destroyedKeys == keysBefore)
            #expect(Set(receipt.deletedFields) == ["name", "email", "company", "password-hash", "billing-last4", "billing-address"])
            #expect(receipt.deletedConsents == 1 && receipt.deletedIdentifiers == 1 && receipt.deletedIndexEntries == 2)
            let kept = try #require(receipt.retained.first)
            #expect(kept.fields == ["billing-last4", "billing-address"])
            #expect(kept.until - receipt.erasedAt == Int64(7 * 365 + 2) * 86_400_000)
            #expect(kept.reason.contains("P11"))

            // Gone from the vault.
            await expectCofferError(.notFound) { _ = try await v.subject(ada, context: .piiOfficer) }
            #expect(try await v.findSubjects(email: "ada@example.com", context: .piiOfficer).isEmpty)
            #expect(try await v.findSubjects(ip: "203.0.113.7", context: accessContext("store-tests", .securityInvestigation,
                                                                                       justification: "incident 9")).isEmpty)
            #expect(try await v.piiCount("SELECT count(*) FROM field WHERE subject_id = ?", [ada]) == 0)
            #expect(try await v.piiCount("SELECT count(*) FROM consent WHERE subject_id = ?", [ada]) == 0)
            #expect(try await v.piiCount("SELECT count(*) FROM identifier WHERE subject_id = ?", [ada]) == 0)
            #expect(try await v.piiCount("SELECT count(*) FROM lookup WHERE subject_id = ?", [ada]) == 0)
            #expect(try await v.piiCount("SELECT count(*) FROM retained WHERE subject_id = ?", [ada]) == 1)
            #expect(try await keyIDs(v, ada, role: "fields").isEmpty)
            #expect(try await keyIDs(v, ada, role: "retained").count == 1)
            #expect(try v.keys.subjectFieldKey(keyID: keysBefore[0], subject: ada.rawValue, tenant: "acme") == nil)
            #expect(try await v.subject(bob, context: .piiOfficer).name == "Bob", "others are untouched")

            // The receipt verifies with the verifier key; the log still verifies and holds the erasure.
            let note = try await v.erasureReceipt(request.id, context: .piiOfficer)
            #expect(try ErasureReceipt.verify(note, key: v.auditVerifierKey) == receipt)
            #expect(try await v.verifyAuditLog(context: .piiAuditor).ok)
            let records = try await v.auditRecords(AuditQuery(subject: ada, action: "erasure"), context: .piiAuditor)
            #expect(records.contains { $0.reason == "erased=\(request.id)" && $0.outcome == .allowed && $0.sequence <= receipt.checkpoint.treeSize })
            #expect(try await v.erasureRequests(context: .piiOfficer).isEmpty)
            #expect(try await v.erasureRequests(includeCompleted: true, context: .piiOfficer).first?.completedAt == receipt.erasedAt)
            await expectCofferError(.notFound, "an erased subject") { try await v.requestErasure(subject: ada, reason: "x", context: .piiOfficer) }
        }
    }

    @Test("a copy of the PII file taken before the erasure does not open once the erasure ran", .embeddedFilesOnly)
    func copyBeforeErasure() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let ada = try await addAda(t.vault)
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-erasure-copy-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: copy) }
            try FileManager.default.copyItem(at: t.directory, to: copy)
            try await t.vault.requestErasure(subject: ada, reason: "DSR 1", context: .piiOfficer)
            #expect(try await t.vault.runErasures(context: .piiOfficer).completed.count == 1)
            try t.vault.close()
            try t.restorePIIFile(from: copy)
            let reopened = try await t.reopen()
            defer { try? reopened.close() }
            await expectCofferError(.notFound, "the key the old rows name is destroyed") { _ = try await reopened.subject(ada, context: .piiOfficer) }
        }
    }

    @Test("a legal hold keeps a request open; lifted, the next run carries it out")
    func heldRequest() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let ada = try await addAda(t.vault)
            let request = try await t.vault.requestErasure(subject: ada, reason: "DSR 2", context: .piiOfficer)
            let hold = try await t.vault.placeHold(tenant: "acme", reason: "litigation 7", context: .piiOfficerLegal)
            let first = try await t.vault.runErasures(context: .piiOfficer)
            #expect(first.completed.isEmpty)
            #expect(first.held.map(\.id) == [request.id])
            #expect(try await t.vault.subject(ada, context: .piiOfficer).name == "Ada Lovelace")
            try await t.vault.liftHold(hold.id, context: .piiOfficerLegal)
            let subjectHold = try await t.vault.placeHold(tenant: "acme", subject: ada, reason: "dispute 8", context: .piiOfficerLegal)
            #expect(try await t.vault.runErasures(context: .piiOfficer).held.count == 1, "a hold on the subject alone holds too")
            try await t.vault.liftHold(subjectHold.id, context: .piiOfficerLegal)
            #expect(try await t.vault.runErasures(context: .piiOfficer).completed.map(\.requestID) == [request.id])
        }
    }

    @Test("a receipt changed after signing, or checked against another key, fails; a non-receipt is invalid-format")
    func receiptTamper() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let ada = try await addAda(t.vault)
            let request = try await t.vault.requestErasure(subject: ada, reason: "DSR 3", context: .piiOfficer)
            _ = try await t.vault.runErasures(context: .piiOfficer)
            let note = try await t.vault.erasureReceipt(request.id, context: .piiOfficer)
            let key = try t.vault.auditVerifierKey
            let edited = note.replacingOccurrences(of: "\"deletedConsents\":1", with: "\"deletedConsents\":0")
            #expect(edited != note)
            await expectCofferError(.authenticationFailed, "edited") { _ = try ErasureReceipt.verify(edited, key: key) }
            _ = try await withPIIVault(tenants: ["acme"]) { other in
                await expectCofferError(.authenticationFailed, "another vault's key") { _ = try ErasureReceipt.verify(note, key: other.vault.auditVerifierKey) }
            }
            await expectCofferError(.invalidFormat, "not a receipt") { _ = try ErasureReceipt.verify("hello\n\n", key: key) }
            await expectCofferError(.notFound, "unknown request") { _ = try await t.vault.erasureReceipt("erasure_00000000000000000000000000000000", context: .piiOfficer) }
        }
    }

    @Test("only a privacy officer, for a subject request or legal reason, with a justification, requests and runs erasure")
    func access() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let ada = try await addAda(t.vault)
            await expectCofferError(.accessDenied, "support") { try await t.vault.requestErasure(subject: ada, reason: "x", context: .piiSupport) }
            await expectCofferError(.accessDenied, "service") { try await t.vault.requestErasure(subject: ada, reason: "x", context: .piiService) }
            let noJustification = accessContext(PIIPrincipal.officer, .subjectRequest)
            await expectCofferError(.purposeMissing) { try await t.vault.requestErasure(subject: ada, reason: "x", context: noJustification) }
            await expectCofferError(.invalidArgument, "empty reason") { try await t.vault.requestErasure(subject: ada, reason: "  ", context: .piiOfficer) }
            try await t.vault.requestErasure(subject: ada, reason: "DSR 4", context: .piiOfficer)
            await expectCofferError(.accessDenied, "the service cannot carry it out") { _ = try await t.vault.runErasures(context: .piiService) }
            await expectCofferError(.accessDenied, "nor see the held ones") {
                _ = try await t.vault.runErasures(context: accessContext("reports", .audit))
            }
            try await t.vault.createTenant("globex", context: .admin)
            try await t.vault.addPrincipal("globex-po", roles: [.privacyOfficer], tenants: ["globex"], context: .admin)
            let limited = try await t.vault.runErasures(context: accessContext("globex-po", .subjectRequest, justification: "DSR run"))
            #expect(limited.completed.isEmpty && limited.failed.isEmpty && limited.held.isEmpty, "another tenant's request is not its to run, nor to see")
            #expect(try await t.vault.erasureRequests(context: accessContext("globex-po", .subjectRequest)).isEmpty)
            #expect(try await t.vault.subject(ada, context: .piiOfficer).email == "ada@example.com")
        }
    }
}
