import Foundation
import GRDB
import Testing
@testable import Coffer

/// Rows edited outside Coffer with a raw SQLite connection (a NULL where Coffer never writes
/// one, a value of the wrong type, an unknown code): every read reports `tamper-detected`, and
/// nothing traps.
@Suite("Rows edited outside Coffer")
struct EditedRowTests {
    /// A vault with one committed object; returns its id.
    private func withObject(_ body: (TestVault, ObjectID) async throws -> Void) async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: testBytes(10_000), context: .test)
            try await body(t, id)
        }
    }

    @Test("a NULL plaintext size: read and stat give tamper-detected")
    func nullSize() async throws {
        try await withObject { t, id in
            try await t.vault.content.write { db in try db.execute(sql: "UPDATE version SET plaintext_size = NULL") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.list(tenant: "acme", context: .test) }
        }
    }

    @Test("a digest that is a number, a size that is text: tamper-detected", .untypedColumnsOnly)
    func wrongTypes() async throws {
        try await withObject { t, id in
            try await t.vault.content.write { db in try db.execute(sql: "UPDATE version SET digest = 5") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
        }
        try await withObject { t, id in
            try await t.vault.content.write { db in try db.execute(sql: "UPDATE version SET ciphertext_size = 'big'") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
        }
    }

    @Test("an unknown object kind: tamper-detected, not invalid-argument")
    func unknownKind() async throws {
        try await withObject { t, id in
            try await t.vault.content.write { db in try db.execute(sql: "UPDATE object SET kind = 'spreadsheet'") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
        }
    }

    @Test("a wrapped data key that is a number: tamper-detected", .untypedColumnsOnly)
    func wrappedKeyNumber() async throws {
        try await withObject { t, id in
            try await t.vault.control.write { db in try db.execute(sql: "UPDATE data_key SET wrapped = 7") }
            let fresh = try await t.reopen()  // no cached keys
            await expectCofferError(.tamperDetected) { _ = try await fresh.readAll(tenant: "acme", objectID: id, context: .test) }
        }
    }

    @Test("principal roles that are not text: every decision for that principal gives tamper-detected", .untypedColumnsOnly)
    func principalRoles() async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("ops", roles: [.admin], context: .admin)
            try await t.vault.control.write { db in try db.execute(sql: "UPDATE principal SET roles = X'FF00FE' WHERE id = 'ops'") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.tenants(context: accessContext("ops", .administration)) }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.principals(context: .admin) }
        }
    }

    @Test("a grant whose expiry is text or whose purpose is unknown: tamper-detected, never a grant in force", .untypedColumnsOnly)
    func grantColumns() async throws {
        for edit in ["UPDATE access_grant SET expires_at = 'soon'", "UPDATE access_grant SET purpose = 'anything'"] {
            try await withTestVault { t in
                try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: .admin)
                try await t.vault.addPrincipal("sam", roles: [.support], context: .admin)
                _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: nowMilliseconds() + 3_600_000,
                                                 reason: "ticket", context: accessContext("po", .subjectRequest))
                try await t.vault.control.write { db in try db.execute(sql: edit) }
                await expectCofferError(.tamperDetected, "\(edit)") { _ = try await t.vault.grants(context: .testAuditor) }
                await expectCofferError(.tamperDetected, "\(edit)") {
                    _ = try t.vault.administration.activeGrant(grantee: "sam", tenant: "acme", subject: nil, purpose: .support)
                }
            }
        }
    }

    @Test("an access-log record whose time is text: queries give tamper-detected", .untypedColumnsOnly)
    func auditRecordTime() async throws {
        try await withTestVault { t in
            _ = try await t.vault.tenants(context: .admin)
            try t.tamper { db in try db.execute(sql: "UPDATE record SET time = 'noon' WHERE seq = 1") }
            await expectCofferError(.tamperDetected) { _ = try await t.vault.auditRecords(AuditQuery(), context: .testAuditor) }
            let verification = try await t.verifyLog()
            #expect(!verification.ok)
        }
    }

    @Test("a restricted subject whose status was edited to an unknown value is not taken for active")
    func subjectStatus() async throws {
        try await withPIIVault { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ann Lee", email: "ann@example.com", company: nil, context: .piiService)
            try await t.vault.restrictSubject(id, context: .piiOfficer)
            try await t.vault.pii.write { db in try db.execute(sql: "UPDATE subject SET status = 'unrestricted' WHERE id = ?", arguments: [id]) }
            await expectCofferError(.tamperDetected) {
                try await t.vault.correctSubject(id, field: .name, value: "Ann Smith", context: .piiService)
            }
        }
    }
}
