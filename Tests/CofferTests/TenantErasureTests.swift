import Foundation
import GRDB
import Testing
@testable import Coffer
@testable import CofferCrypto

// A tenant erased whole (P16) and content keys narrow enough to destroy: per tenant, class and
// period, destroyed by retention once nothing of their period is left.

private func dataKeys(_ v: Vault, tenant: String) async throws -> [String] {
    try await v.control.read { db in try String.fetchAll(db, sql: "SELECT id FROM data_key WHERE tenant_id = ? ORDER BY id", arguments: [tenant]) }
}

@Suite("Tenant erasure and period keys")
struct TenantErasureTests {
    @Test("dsr erase --tenant: every object deleted, every data key destroyed, every subject erased; billing kept; the other tenant untouched")
    func eraseTenant() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let v = t.vault
            let (script, _) = try await v.put(tenant: "acme", kind: .testScript, name: "load.js", bytes: Array("marker-acme".utf8), context: .test)
            _ = try await v.put(tenant: "acme", kind: .runTelemetry, name: "run-1", bytes: [1, 2, 3], context: .test)
            let (other, _) = try await v.put(tenant: "globex", kind: .testScript, name: "load.js", bytes: [9], context: .test)
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            try await v.setBilling(ada, last4: "4242", address: "1 Main Street", context: .piiService)
            let before = try await dataKeys(v, tenant: "acme")
            #expect(before.count == ObjectKind.all.count + 2, "index keys and two period keys")

            // A hold on one subject keeps the whole tenant.
            let hold = try await v.placeHold(tenant: "acme", subject: ada, reason: "matter 4", context: .piiOfficerLegal)
            let request = try await v.requestErasure(tenant: "acme", reason: "contract ended", context: .piiOfficer)
            #expect(request.subject == nil)
            await expectCofferError(.alreadyExists) { try await v.requestErasure(tenant: "acme", reason: "again", context: .piiOfficer) }
            #expect(try await v.runErasures(context: .piiOfficer).held.map(\.id) == [request.id])
            #expect(try await v.readAll(tenant: "acme", objectID: script, context: .test) == Array("marker-acme".utf8))
            try await v.liftHold(hold.id, context: .piiOfficerLegal)

            let run = try await v.runErasures(context: .piiOfficer)
            let receipt = try #require(run.completed.first, "\(run.failed)")
            #expect(receipt.subject == nil && receipt.tenant == "acme")
            #expect(receipt.deletedObjects == 2)
            #expect(receipt.erasedSubjects == [ada])
            #expect(Set(before).isSubset(of: Set(receipt.destroyedKeys)))
            #expect(receipt.retained.first?.fields == ["billing-last4", "billing-address"])
            #expect(try await dataKeys(v, tenant: "acme") == [])
            let note = try await v.erasureReceipt(request.id, context: .piiOfficer)
            #expect(try ErasureReceipt.verify(note, key: try v.auditVerifierKey) == receipt)

            await expectCofferError(.notFound) { _ = try await v.readAll(tenant: "acme", objectID: script, context: .test) }
            await expectCofferError(.notFound) { _ = try await v.put(tenant: "acme", kind: .testScript, name: "new", bytes: [1], context: .test) }
            await expectCofferError(.notFound) {
                _ = try await v.addSubject(tenant: "acme", name: "Eve", email: "eve@example.com", company: nil, context: .piiService)
            }
            await expectCofferError(.notFound) { _ = try await v.subject(ada, context: .piiOfficer) }
            let info = try await v.tenantInfo("acme", context: .retentionAdmin)
            #expect(info.status == .erased && info.erasedAt == receipt.erasedAt)
            #expect(try await v.readAll(tenant: "globex", objectID: other, context: .test) == [9])
            #expect(try await v.verifyAuditLog(context: .piiAuditor).ok)
            let leftover = try await v.content.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM object WHERE tenant_id = 'acme'") }
            #expect(leftover == 0)
        }
    }

    @Test("versions made in different periods use different keys; a retention run destroys a period's key once nothing of it is left")
    func periodKeys() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let (scan, first) = try await v.put(tenant: "acme", kind: .scanResult, name: "weekly", bytes: [1], context: .test)
            let (script, _) = try await v.put(tenant: "acme", kind: .testScript, name: "s.js", bytes: [2], context: .test)
            let keysOf = { (id: ObjectID) in
                try await v.content.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT data_key_id FROM version WHERE object_id = ?", arguments: [id]) }
            }
            let scanKey = try #require(try await keysOf(scan).first)
            #expect(try await keysOf(script) != [scanKey], "each class has its own period key")
            #expect(KeyPeriod.containing(first.createdAt, kind: .runTelemetry).end - KeyPeriod.containing(first.createdAt, kind: .runTelemetry).start
                    == 7 * 86_400_000)
            let month = KeyPeriod.containing(first.createdAt, kind: .scanResult)
            #expect(month.start <= first.createdAt && first.createdAt < month.end)

            // 91 days on the scan result is due (90 days), but its month's key is not: something made
            // late in that month is kept until 90 days after the month's end.
            v.administration.clock.advance(by: 91 * 86_400_000)
            let early = try await v.runRetention(context: .retentionAdmin)
            #expect(early.items.map(\.objectID) == [scan] && early.destroyedKeys.isEmpty)
            #expect(try await dataKeys(v, tenant: "acme").contains(scanKey))
            // Once the whole month is past its 90 days (and a day of grace), the key goes.
            v.administration.clock.advance(by: 40 * 86_400_000)
            let dry = try await v.runRetention(dryRun: true, context: .retentionAdmin)
            #expect(dry.destroyedKeys.isEmpty)
            let report = try await v.runRetention(context: .retentionAdmin)
            #expect(report.items.isEmpty)
            #expect(report.destroyedKeys == [scanKey])
            #expect(try await !dataKeys(v, tenant: "acme").contains(scanKey))
            // The script's key is still used: it stays, and the script reads.
            #expect(try await v.readAll(tenant: "acme", objectID: script, context: .test) == [2])
            // The next put of the same class gets a key of the current period.
            _ = try await v.put(tenant: "acme", kind: .scanResult, name: "weekly", bytes: [3], context: .test)
        }
    }
}
