import CofferCrypto
import Foundation
import Testing
@testable import Coffer

@Suite("Dual control for principals that open PII, erase evidence or approve others")
struct DualControlTests {
    @Test("the first operator acts alone; once two admins exist, a privacy officer waits for a second, different admin")
    func secondAdminApproves() async throws {
        try await withTestVault { t in
            // One unlimited admin: it acts alone (how a fresh vault starts).
            #expect(try await t.vault.addPrincipal("adm2", roles: [.admin], context: .admin) == nil)
            let adm2 = accessContext("adm2", .administration)
            // Two now: a privacy officer is only requested.
            let pending = try #require(try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: adm2))
            #expect(pending.principal == "po" && pending.kind == .principalAdd && pending.requestedBy == "adm2" && pending.changeID.hasPrefix("change_"))
            #expect(try await t.vault.principals(context: .admin).map(\.id).contains("po") == false)
            #expect(try await t.vault.pendingChanges(context: .admin) == [pending])
            // Not by the admin who asked.
            try await expectDenied(t, actor: "adm2", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.approveChange(pending.changeID, context: adm2)
            }
            // A role without those powers needs no second admin.
            #expect(try await t.vault.addPrincipal("svc", roles: [.service], context: adm2) == nil)
            try await t.vault.approveChange(pending.changeID, context: .admin)
            let po = try #require(try await t.vault.principals(context: .admin).first { $0.id == "po" })
            #expect(po.roles == [.privacyOfficer] && po.createdBy == "adm2")
            #expect(try await t.vault.pendingChanges(context: .admin).isEmpty)
            await expectCofferError(.notFound) { try await t.vault.approveChange(pending.changeID, context: .admin) }
            // Both steps are in the log.
            let records = try t.auditLogRecords().filter { $0.action == "principal-admin" && $0.objectID == "po" && $0.outcome == .allowed }
            #expect(records.map(\.reason) == ["pending-approval=\(pending.changeID)", "approved=\(pending.changeID)"])
            #expect(records.map(\.actor) == ["adm2", "store-tests"])
        }
    }
}

@Suite("coffer principal pending / approve", .serialized)
struct DualControlCLITests {
    @Test("principal add waits for a second admin; approve by the requester is refused, by another registers it")
    func cli() async throws {
        try await withAuditCLI { cli in
            #expect(try cli.spawn(["principal", "add", "adm2", "--role", "admin"]).status == 0)
            let asked = try cli.spawn(["principal", "add", "po", "--role", "privacy-officer", "--actor", "adm2"])
            #expect(asked.status == 0 && asked.output.contains("awaits a second admin's approval"), "\(asked.output) \(asked.error)")
            let change = try #require(asked.output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            let pending = try cli.spawn(["principal", "pending", "--json"])
            #expect(pending.status == 0 && pending.output.contains(change), "\(pending.output)")
            let selfApproval = try cli.spawn(["principal", "approve", change, "--actor", "adm2"])
            #expect(selfApproval.status != 0 && selfApproval.error.contains("[access-denied]"), "\(selfApproval.error)")
            #expect(!(try cli.spawn(["principal", "list"]).output.contains("po ")))
            let approved = try cli.spawn(["principal", "approve", change])
            #expect(approved.status == 0, "\(approved.error)")
            #expect(try cli.spawn(["principal", "list"]).output.contains("privacy-officer"))
        }
    }
}
