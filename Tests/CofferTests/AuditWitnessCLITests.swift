import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Testing
@testable import Coffer

@Suite("coffer audit: witness, pinned key, consistency, retention", .serialized)
struct AuditWitnessCLITests {
    @Test("public-key, verify --public-key against the witness, prove --consistency, retention")
    func commands() async throws {
        try await withAuditCLI { cli in
            for n in 0..<3 {
                #expect(try cli.spawn(["put", "--tenant", "acme", "--kind", "config", "--name", "c\(n)"], input: Data([UInt8(n)])).status == 0)
            }
            let key = try cli.spawn(["audit", "public-key"])
            #expect(key.status == 0, "\(key.error)")
            let vkey = key.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(vkey.hasPrefix("coffer.vault/"), "\(vkey)")
            let keyPath = cli.vault.deletingLastPathComponent().appendingPathComponent("pinned.vkey").path
            try vkey.write(toFile: keyPath, atomically: true, encoding: .utf8)

            let verified = try cli.spawn(["audit", "verify", "--public-key", keyPath])
            #expect(verified.status == 0 && verified.output.contains("extends the checkpoint at size"), "\(verified.output) \(verified.error)")

            // Another key pinned: the vault's log is not signed by it.
            let other = try NoteVerifierKey(name: "coffer.vault/0000000000000000", publicKey: try SecureRandom.bytes(32))
            try other.description.write(toFile: keyPath, atomically: true, encoding: .utf8)
            let refused = try cli.spawn(["audit", "verify", "--public-key", keyPath])
            #expect(refused.status == 3 && refused.output.contains("not signed by the pinned key"), "\(refused.output) \(refused.error)")

            let proof = try cli.spawn(["audit", "prove", "--consistency", "2"])
            #expect(proof.status == 0, "\(proof.error)")
            let decoded = try JSONDecoder().decode(AuditConsistencyProof.self, from: Data(proof.output.utf8))
            #expect(decoded.isValid && decoded.oldSize == 2 && decoded.newSize > 2)
            #expect(try cli.spawn(["audit", "prove", "--consistency", "5", "3"]).status != 0)

            let retention = try cli.spawn(["audit", "retention"])
            #expect(retention.output.trimmingCharacters(in: .whitespacesAndNewlines) == "400", "\(retention.output)")
            #expect(try cli.spawn(["audit", "retention", "--raise-to", "300"]).status != 0)
            #expect(try cli.spawn(["audit", "retention", "--raise-to", "730"]).status == 0)
            #expect(try cli.spawn(["audit", "retention"]).output.contains("730"))
            let prune = try cli.spawn(["audit", "prune", "--before", utcDate(daysFromToday: -700)])
            #expect(prune.status != 0 && prune.error.contains("at least 730 days"), "\(prune.error)")
        }
    }

    @Test("a log whose tail was cut is refused by the next command, naming what is wrong")
    func truncatedTailRefused() async throws {
        try await withAuditCLI { cli in
            #expect(try cli.spawn(["ls", "--tenant", "acme"]).status == 0)
            try cli.auditDatabase().write { db in try cutAuditTail(SQLiteSession(db), last: 1) }
            let ls = try cli.spawn(["ls", "--tenant", "acme"])
            #expect(ls.status != 0 && ls.error.contains("[tamper-detected]") && ls.error.contains("witness saw"), "\(ls.error)")
        }
    }
}
