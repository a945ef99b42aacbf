import Foundation
import GRDB
import Testing
@testable import Coffer

// A tenant erasure killed midway (COFFER_CRASH_AT) and finished by the next run: the receipt,
// built from the request's ledger entries, covers the whole erasure, not only the run that
// finished it, and every entry the erasure wrote carries the request's id.

@Suite("Tenant erasure resumed after a crash")
struct TenantErasureCrashTests {
    @Test("killed after an object batch, finished by the next run: the receipt lists every subject, key and object; the ledger names the request")
    func resumedReceiptCoversEverything() async throws {
        try await withPIICLI { cli in
            for n in 0..<2 {
                let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "scan-result", "--name", "scan-\(n)"], input: Data(testBytes(5000 + n)))
                try #require(put.status == 0, "\(put.error)")
            }
            let ada = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com"}"#))
            let billing = try pii(cli, ["billing", ada, "--from", "-"], input: try piiJSON(["last4": "4242", "address": "1 Main Street"]))
            try #require(billing.status == 0, "\(billing.error)")
            let bo = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Bo", "email": "bo@example.com"}"#))
            let control = cli.vault.appendingPathComponent(Vault.FileName.control).path
            let keys = try DatabaseQueue(path: control).read { db in
                try String.fetchAll(db, sql: "SELECT id FROM data_key WHERE tenant_id = 'acme'")
                    + String.fetchAll(db, sql: "SELECT key_id FROM subject_key WHERE tenant_id = 'acme' AND role = 'fields'")
            }
            #expect(keys.count > 2)

            let erase = try cli.spawn(["dsr", "erase", "--tenant", "acme", "--reason", "contract 9"] + asOfficer)
            try #require(erase.status == 0, "\(erase.error)")
            let requestID = String(erase.output.split(separator: " ")[0])
            let killed = try cli.spawn(["dsr", "run"] + asOfficer, environment: ["COFFER_CRASH_AT": "erasure.after-object-batch"])
            #expect(killed.status == 137, "\(killed.error)")
            let finished = try cli.spawn(["dsr", "run", "--json"] + asOfficer)
            try #require(finished.status == 0, "\(finished.error)")
            let receipt = try #require(try JSONDecoder().decode(ErasureRun.self, from: Data(finished.output.utf8)).completed.first)

            #expect(receipt.requestID == requestID && receipt.subject == nil)
            #expect(Set(receipt.erasedSubjects ?? []) == [SubjectID(ada), SubjectID(bo)], "\(receipt)")
            #expect(Set(receipt.destroyedKeys) == Set(keys), "\(receipt.destroyedKeys)")
            #expect(receipt.destroyedKeys.count == Set(receipt.destroyedKeys).count, "each key listed once")
            #expect(receipt.deletedObjects == 2, "\(receipt)")
            #expect(receipt.deletedFields.contains("email"), "\(receipt.deletedFields)")
            #expect(receipt.retained.map(\.fields) == [["billing-last4", "billing-address"]], "\(receipt.retained)")

            let (erasedAt, ledger) = try DatabaseQueue(path: control).read { db in
                (try Int64.fetchOne(db, sql: "SELECT erased_at FROM tenant WHERE id = 'acme'"),
                 try Row.fetchAll(db, sql: "SELECT kind, subject_id, request_id FROM erasure_ledger WHERE tenant_id = 'acme'"))
            }
            #expect(receipt.erasedAt == erasedAt, "the erasure began in the killed run")
            #expect(!ledger.isEmpty && ledger.allSatisfy { $0["request_id"] as String? == requestID }, "\(ledger)")
            #expect(Set(ledger.filter { $0["kind"] == "subject" }.compactMap { $0["subject_id"] as String? }) == [ada, bo])
            #expect(ledger.filter { $0["kind"] == "tenant" }.count == 1)
            #expect(try cli.spawn(["audit", "verify"]).status == 0)
        }
    }
}
