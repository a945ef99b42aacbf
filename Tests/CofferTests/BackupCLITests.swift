import Foundation
import GRDB
import Testing
@testable import Coffer

// P16 end to end through the CLI: a backup taken before an erasure and restored after it does
// not reveal the erased subject, whether the backup was in the recorded directory (its key copy
// scrubbed by the erasure) or copied elsewhere first (the restore applies the witness's ledger).

@Suite("Backups through the CLI")
struct BackupCLITests {
    @Test("backup create, erase, backup verify and list; restore of the scrubbed backup and of an off-site copy: the subject stays erased, the logs verify")
    func erasureReachesBackups() async throws {
        try await withPIICLI { cli in
            let dir = cli.vault.deletingLastPathComponent()
            let backups = dir.appendingPathComponent("backups")
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com"}"#))
            let billing = try pii(cli, ["billing", id, "--from", "-"], input: try piiJSON(["last4": "4242", "address": "1 Main Street"]))
            #expect(billing.status == 0, "\(billing.error)")
            let keep = try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Bo", "email": "bo@example.com"}"#)
            let kept = try addedSubject(keep)
            let keyFile = dir.appendingPathComponent("verifier.key")
            try Data(try cli.spawn(["audit", "public-key"]).output.utf8).write(to: keyFile)

            let created = try cli.spawn(["backup", "create", "--to", backups.path, "--json"])
            try #require(created.status == 0, "\(created.error)")
            let manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(created.output.utf8))
            let backup = backups.appendingPathComponent(manifest.id)
            let offsite = dir.appendingPathComponent("offsite")
            try FileManager.default.copyItem(at: backup, to: offsite)
            let intact = try cli.spawn(["backup", "verify", backup.path, "--public-key", keyFile.path])
            #expect(intact.status == 0, "\(intact.output) \(intact.error)")
            #expect(intact.output.contains("intact"))

            #expect(try cli.spawn(["dsr", "erase", "--subject", id, "--reason", "DSR 2026-9"] + asOfficer).status == 0)
            let run = try cli.spawn(["dsr", "run", "--json"] + asOfficer)
            try #require(run.status == 0, "\(run.error)")
            let receipt = try #require(try JSONDecoder().decode(ErasureRun.self, from: Data(run.output.utf8)).completed.first)
            #expect(receipt.scrubbedBackups == [manifest.id])
            #expect(receipt.retained.first?.fields == ["billing-last4", "billing-address"])

            // The recorded backup no longer holds the subject's keys, and still verifies (manifest re-signed).
            let keysLeft = try DatabaseQueue(path: backup.appendingPathComponent("control.sqlite").path).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key WHERE subject_id = ? AND role = 'fields'", arguments: [id]) ?? -1
            }
            #expect(keysLeft == 0)
            let after = try cli.spawn(["backup", "verify", backup.path, "--public-key", keyFile.path])
            #expect(after.status == 0, "\(after.output) \(after.error)")
            let listed = try cli.spawn(["backup", "list", "--in", backups.path, "--json"])
            #expect(try JSONDecoder().decode([BackupManifest].self, from: Data(listed.output.utf8)).first?.appliedLedger.isEmpty == false)
            // The off-site copy still has them: only a restore can reach it.
            let offsiteKeys = try DatabaseQueue(path: offsite.appendingPathComponent("control.sqlite").path).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key WHERE subject_id = ?", arguments: [id]) ?? -1
            }
            #expect(offsiteKeys == 1)
            #expect(try cli.spawn(["audit", "verify"]).status == 0)

            for (label, source) in [("recorded", backup), ("off-site", offsite)] {
                let target = dir.appendingPathComponent("restored-\(label)")
                // A restore beside the running vault: its own witness (the live one's ledger is read too).
                let witness = dir.appendingPathComponent("witness-\(label)")
                let restored = try cli.spawn(["backup", "restore", source.path, "--vault", target.path, "--witness", witness.path, "--json"])
                try #require(restored.status == 0, "\(label): \(restored.error)")
                let report = try JSONDecoder().decode(RestoreReport.self, from: Data(restored.output.utf8))
                if label == "off-site" { #expect(report.removedKeys >= 1 && report.erasedSubjects == 1, "\(report)") }
                let show = try pii(cli, ["show", id, "--vault", target.path] + asOfficer)
                #expect(show.status == 1, "\(label): \(show.output)")
                #expect(!show.output.contains("ada@example.com") && !show.output.contains("4242"))
                let other = try pii(cli, ["show", kept, "--vault", target.path] + asOfficer)
                #expect(other.status == 0 && other.output.contains("bo@example.com"), "\(label): \(other.error)")
                let verified = try cli.spawn(["audit", "verify", "--vault", target.path])
                #expect(verified.status == 0, "\(label): \(verified.output) \(verified.error)")
                let files = try FileManager.default.contentsOfDirectory(atPath: target.path)
                for file in files where file.hasSuffix(".sqlite") {
                    let bytes = try Data(contentsOf: target.appendingPathComponent(file))
                    #expect(bytes.range(of: Data("ada@example.com".utf8)) == nil, "\(label): \(file)")
                }
            }
            // Without a witness of its own, the live vault's witness (ahead of the backup) is not taken over.
            let drill = try cli.spawn(["backup", "restore", backup.path, "--vault", dir.appendingPathComponent("restored-3").path])
            #expect(drill.status != 0 && drill.error.contains("--supersede-witness"), "\(drill.error)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("restored-3").path))
            #expect(try cli.spawn(["audit", "verify"]).status == 0, "the live vault is untouched")
            // A restore into a directory that holds something is refused, and changes nothing.
            let refused = try cli.spawn(["backup", "restore", backup.path, "--vault", cli.vault.path])
            #expect(refused.status != 0)
            #expect(refused.error.contains("not empty"))
        }
    }

    @Test("backup prune keeps the newest and what is younger than --keep-days; verify reports an edited file")
    func pruneAndTamper() async throws {
        try await withPIICLI { cli in
            let backups = cli.vault.deletingLastPathComponent().appendingPathComponent("backups")
            for _ in 0..<2 { #expect(try cli.spawn(["backup", "create", "--to", backups.path]).status == 0) }
            let pruned = try cli.spawn(["backup", "prune", "--in", backups.path, "--json"])
            #expect(try JSONDecoder().decode([String].self, from: Data(pruned.output.utf8)) == [])
            let list = try JSONDecoder().decode([BackupManifest].self, from: Data(try cli.spawn(["backup", "list", "--in", backups.path, "--json"]).output.utf8))
            #expect(list.count == 2)
            let pii = backups.appendingPathComponent(list[0].id).appendingPathComponent("pii.sqlite")
            let handle = try FileHandle(forWritingTo: pii)
            try handle.seek(toOffset: 100)
            try handle.write(contentsOf: Data([0xFF]))
            try handle.close()
            let broken = try cli.spawn(["backup", "verify", backups.appendingPathComponent(list[0].id).path])
            #expect(broken.status == 1)
            #expect(broken.output.contains("pii.sqlite does not match"))
            let missing = try cli.spawn(["backup", "create"], environment: ["COFFER_BACKUPS": nil])
            #expect(missing.status != 0 && missing.error.contains("no backup directory"))
        }
    }
}
