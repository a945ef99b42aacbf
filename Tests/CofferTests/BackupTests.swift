import Foundation
import GRDB
import Testing
@testable import Coffer
@testable import CofferCrypto

// Backups from the library: consistent while subjects change keys, the ledger of the vault being
// replaced, and the control migration that made content keys narrow.

@Suite("Backups and restores", .serialized)
struct BackupTests {
    @Test("backups taken while subjects keep moving to fresh keys all restore with every subject readable")
    func consistentUnderKeyChanges() async throws {
        try await withFileKeyedVault { t in
            let v = t.vault
            var subjects: [(SubjectID, String)] = []
            for n in 0..<6 {
                let email = "p\(n)@acme.example"
                subjects.append((try await v.addSubject(tenant: "acme", name: "P\(n)", email: email, company: "c0", context: .piiService), email))
            }
            let ids = subjects.map(\.0)
            let churn = Task {
                var round = 0
                while !Task.isCancelled {
                    round += 1
                    for id in ids { try await v.correctSubject(id, field: .company, value: "c\(round)", context: .piiOfficer) }
                }
            }
            let root = t.directory.deletingLastPathComponent().appendingPathComponent("backups")
            var manifests: [BackupManifest] = []
            for _ in 0..<6 { manifests.append(try await v.createBackup(in: root, context: .admin)) }
            churn.cancel()
            _ = await churn.result
            for manifest in manifests {
                let target = t.directory.deletingLastPathComponent().appendingPathComponent("restored-\(manifest.id)")
                #expect(try Vault.verifyBackup(at: root.appendingPathComponent(manifest.id), key: try v.auditVerifierKey).ok)
                let (restored, _) = try await Vault.restoreBackup(from: root.appendingPathComponent(manifest.id), to: target, keyringFile: t.file,
                                                                  witness: target.appendingPathExtension("witness"), context: .admin)
                restored.configurePII(PIISettings(passwordHashing: .piiTestFast))
                for (id, email) in subjects {
                    #expect(try await restored.subject(id, context: .piiOfficer).email == email, "\(manifest.id)")
                }
                try restored.close()
            }
        }
    }

    @Test("restore --ledger-from applies the replaced vault's erasures when the witness has none; without either the copy keeps its state")
    func ledgerFromReplacedVault() async throws {
        try await withFileKeyedVault { t in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let parent = t.directory.deletingLastPathComponent()
            let root = parent.appendingPathComponent("backups")
            let manifest = try await v.createBackup(in: root, context: .admin)
            let offsite = parent.appendingPathComponent("offsite")
            try FileManager.default.copyItem(at: root.appendingPathComponent(manifest.id), to: offsite)
            try await v.requestErasure(subject: ada, reason: "DSR 1", context: .piiOfficer)
            #expect(try await v.runErasures(context: .piiOfficer).completed.count == 1)
            // The witness's ledger is lost: only the replaced vault still knows the erasure.
            let witness = Vault.defaultWitness(for: t.file, vault: t.directory)
            try FileManager.default.removeItem(at: witness.appendingPathComponent(LedgerWitness.fileName))
            try v.close()

            let blind = parent.appendingPathComponent("restored-blind")
            let (unaware, report) = try await Vault.restoreBackup(from: offsite, to: blind, keyringFile: t.file,
                                                                  witness: parent.appendingPathComponent("blind-witness"), context: .admin)
            #expect(report.reappliedErasures == 0)
            #expect(try await unaware.subject(ada, context: .piiOfficer).email == "ada@example.com", "nothing told it of the erasure")
            try unaware.close()

            let informed = parent.appendingPathComponent("restored-informed")
            // The vault is lost: its witness is superseded (after a refusal without the flag).
            await expectCofferError(.alreadyExists) {
                _ = try await Vault.restoreBackup(from: offsite, to: informed, keyringFile: t.file, ledgerFrom: t.directory, context: .admin)
            }
            let (restored, applied) = try await Vault.restoreBackup(from: offsite, to: informed, keyringFile: t.file, ledgerFrom: t.directory,
                                                                    supersedeWitness: true, context: .admin)
            #expect(applied.supersededCheckpoint != nil)
            let aside = try FileManager.default.contentsOfDirectory(atPath: witness.path).filter { $0.hasPrefix("checkpoint.superseded-") }
            #expect(aside.count == 1)
            #expect(applied.reappliedErasures == 1 && applied.erasedSubjects == 1 && applied.removedKeys >= 1, "\(applied)")
            await expectCofferError(.notFound) { _ = try await restored.subject(ada, context: .piiOfficer) }
            #expect(try await restored.verifyAuditLog(context: .piiAuditor).ok)
            try restored.close()
        }
    }

    @Test("control migration v10 keeps every data key (as the class's index key) and every erasure request")
    func migration() throws {
        let queue = try DatabaseQueue()
        try VaultSchema.control.migrate(queue, upTo: "v9-one-open-erasure")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO tenant (id, created_at) VALUES ('acme', 1)")
            try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at) VALUES ('dk_1', 'acme', 'test-script', 'k', x'00', 1)")
            try db.execute(sql: """
                INSERT INTO erasure_request (id, tenant_id, subject_id, reason, requested_by, requested_at, deadline)
                VALUES ('erasure_1', 'acme', 'subj_1', 'r', 'po', 1, 2)
                """)
        }
        try VaultSchema.control.migrate(queue)
        try queue.write { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT id, period_start FROM data_key"))
            #expect(row["id"] as String == "dk_1" && (row["period_start"] as Int64?) == nil)
            #expect(try String.fetchOne(db, sql: "SELECT subject_id FROM erasure_request WHERE id = 'erasure_1'") == "subj_1")
            // One index key per class; any number of period keys.
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at) VALUES ('dk_2', 'acme', 'test-script', 'k', x'00', 1)")
            }
            for (id, start) in [("dk_3", 0), ("dk_4", 10)] {
                try db.execute(sql: """
                    INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at, period_start, period_end) VALUES (?, 'acme', 'test-script', 'k', x'00', 1, ?, ?)
                    """, arguments: [id, start, start + 10])
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at, period_start) VALUES ('dk_5', 'acme', 'test-script', 'k', x'00', 1, 20)")
            }
            // A tenant's erasure request has no subject.
            try db.execute(sql: "INSERT INTO erasure_request (id, tenant_id, reason, requested_by, requested_at, deadline) VALUES ('erasure_2', 'acme', 'r', 'po', 1, 2)")
        }
    }
}
