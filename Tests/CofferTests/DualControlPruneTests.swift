import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Testing
@testable import Coffer

@Suite("Dual control for pruning the access log")
struct DualControlPruneTests {
    private let day: Int64 = 86_400_000

    /// A vault whose log holds 8 records older than `boundary` and a few newer ones, its clock
    /// moved past the minimum retention, with `acme-admin` (an admin limited to acme) and, when
    /// `secondAdmin`, `adm2` (an admin without a tenant limit) registered by the first operator.
    private func withAgedLog(secondAdmin: Bool, _ body: (TestVault, _ boundary: Int64) async throws -> Void) async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("acme-admin", roles: [.admin], tenants: ["acme"], context: .admin)
            if secondAdmin { try await t.vault.addPrincipal("adm2", roles: [.admin], context: .admin) }
            try await t.growAuditLog(to: 8)
            try await Task.sleep(for: .milliseconds(20))
            let boundary = nowMilliseconds()
            t.vault.administration.clock.advance(by: Int64(Vault.defaultAuditRetentionDays + 1) * day)
            try await Task.sleep(for: .milliseconds(20))
            try await t.growAuditLog(to: 12)
            try await body(t, boundary)
        }
    }

    /// How many record rows the log holds.
    private func rows(_ t: TestVault) throws -> Int {
        try t.vault.accessLog.log.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") ?? -1 }
    }

    @Test("with two unlimited admins a prune only asks; another unlimited admin's approval deletes the records")
    func pruneApprovedBySecondAdmin() async throws {
        try await withAgedLog(secondAdmin: true) { t, boundary in
            guard case .pending(let change) = try await t.vault.pruneAuditLog(before: boundary, context: .admin) else {
                Issue.record("the prune did not wait for a second admin")
                return
            }
            #expect(change.kind == .auditPrune && change.pruneBefore == boundary && change.requestedBy == "store-tests")
            #expect(change.principal == nil && change.roles == nil)
            #expect(try await t.vault.pendingChanges(context: .admin) == [change])
            let asked = try rows(t)
            #expect(asked == 14)  // nothing deleted: 12 records, the request and the listing
            #expect(try t.auditLogRecords().first?.sequence == 1)

            // Not the admin who asked, nor a tenant-limited admin (pruning concerns the whole vault).
            try await expectDenied(t, actor: "store-tests", action: .purge, dataClass: .auditLog, purpose: .administration) {
                try await t.vault.approveChange(change.changeID, context: .admin)
            }
            try await expectDenied(t, actor: "acme-admin", action: .purge, dataClass: .auditLog, purpose: .administration) {
                try await t.vault.approveChange(change.changeID, context: accessContext("acme-admin", .administration))
            }
            #expect(try rows(t) == asked + 2)

            let approved = try await t.vault.approveChange(change.changeID, context: accessContext("adm2", .administration))
            #expect(approved.change == change && approved.prunedRecords == 8)
            #expect(try t.auditLogRecords().first?.sequence == 9)
            #expect(try await t.vault.pendingChanges(context: .admin).isEmpty)
            await expectCofferError(.notFound) { try await t.vault.approveChange(change.changeID, context: accessContext("adm2", .administration)) }

            // Both steps are in the log; the approval is the purge record verification trusts.
            let purges = try t.auditLogRecords().filter { $0.action == "purge" && $0.outcome == .allowed }
            #expect(purges.map(\.reason) == ["pending-approval=\(change.changeID)", "pruned-before=9 approved=\(change.changeID)"])
            #expect(purges.map(\.actor) == ["store-tests", "adm2"])
            let verification = try await t.verifyLog()
            #expect(verification.ok && verification.prunedBefore == 9, "\(verification)")
        }
    }

    @Test("the minimum retention is checked again when a prune is approved")
    func retentionRecheckedAtApproval() async throws {
        try await withAgedLog(secondAdmin: true) { t, boundary in
            guard case .pending(let change) = try await t.vault.pruneAuditLog(before: boundary, context: .admin) else {
                Issue.record("the prune did not wait for a second admin")
                return
            }
            try await t.vault.raiseAuditRetention(toDays: 450, context: .admin)
            let size = try t.auditLogSize()
            await expectCofferError(.invalidArgument) { try await t.vault.approveChange(change.changeID, context: accessContext("adm2", .administration)) }
            #expect(try t.auditLogSize() == size)
            #expect(try await t.vault.pendingChanges(context: .admin) == [change])
            // Once the boundary is old enough for the raised retention, the same change goes through.
            t.vault.administration.clock.advance(by: 50 * day)
            #expect(try await t.vault.approveChange(change.changeID, context: accessContext("adm2", .administration)).prunedRecords == 8)
        }
    }

    @Test("with one unlimited admin (tenant-limited admins do not count), the first operator prunes alone")
    func pruneAloneWithOneAdmin() async throws {
        try await withAgedLog(secondAdmin: false) { t, boundary in
            let result = try await t.vault.pruneAuditLog(before: boundary, context: .admin)
            #expect(result == .pruned(records: 8))
            #expect(try await t.vault.pendingChanges(context: .admin).isEmpty)
            #expect(try t.auditLogRecords().filter { $0.action == "purge" }.map(\.reason) == ["pruned-before=9"])
        }
    }
}
