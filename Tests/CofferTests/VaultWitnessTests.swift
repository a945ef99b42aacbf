import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging
import Testing
@testable import Coffer

/// A vault keyed by a file, with some history, closed: what an attacker with write access to
/// the vault's files (not the keyring, not the witness beside it) finds.
private func withClosedVault(_ body: (FileKeyedVault) async throws -> Void) async throws {
    try await withFileKeyedVault { t in
        for n in 0..<5 {
            _ = try await t.vault.put(tenant: "acme", kind: .config, name: "c\(n)", bytes: [UInt8(n)], context: .test)
        }
        try t.vault.close()
        try await body(t)
    }
}

private func removeFile(_ url: URL) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
}

/// Runs `edit` on a vault file with a raw SQLite connection (outside Coffer).
private func edit(_ url: URL, _ edit: (Database) throws -> Void) throws {
    let queue = try DatabaseQueue(path: url.path)
    try queue.write(edit)
    try queue.close()
}

@Suite("The vault and its witness", .serialized)
struct VaultWitnessTests {
    @Test("a new vault keyed by a file writes its checkpoints beside the keyring and reopens cleanly")
    func witnessBesideKeyring() async throws {
        try await withClosedVault { t in
            let witness = Vault.defaultWitness(for: t.file, vault: t.directory)
            let note = try CheckpointNote(parsing: try String(contentsOf: witness.appendingPathComponent("checkpoint"), encoding: .utf8))
            #expect(note.treeSize > 5, "the closing checkpoint reached the witness")
            let reopened = try t.reopen()
            #expect(try reopened.auditVerifierKey.name == note.origin)
            let verdict = try await reopened.verifyAuditLog(against: note, pinnedKey: try reopened.auditVerifierKey, context: .testAuditor)
            #expect(verdict.ok, "\(String(describing: verdict.problem))")
            try reopened.close()
        }
    }

    @Test("the log's tail cut and its state rewound is caught at the next open")
    func truncatedTail() async throws {
        try await withClosedVault { t in
            try edit(t.directory.appendingPathComponent("audit.sqlite")) { db in try cutAuditTail(SQLiteSession(db), last: 2) }
            let error = await expectCofferError(.tamperDetected) { _ = try t.reopen() }
            #expect(error?.message.contains("records were removed from its end") == true, "\(String(describing: error))")
        }
    }

    @Test("audit.sqlite deleted is refused; with the vault's records of it edited too, still refused, never a fresh log",
          arguments: [[], ["audit_created"], ["audit_created", "state_mac"], ["audit_created", "state_mac", "witness"]])
    func deletedLog(rows: [String]) async throws {
        try await withClosedVault { t in
            removeFile(t.directory.appendingPathComponent("audit.sqlite"))
            try edit(t.directory.appendingPathComponent("control.sqlite")) { db in
                for row in rows { try db.execute(sql: "DELETE FROM vault_info WHERE name = ?", arguments: [row]) }
            }
            do {
                _ = try t.reopen()
                Issue.record("a vault whose log was deleted opened (rows removed: \(rows))")
            } catch let error as CofferError {
                #expect([.auditUnavailable, .tamperDetected].contains(error.code), "\(error)")
            }
        }
    }

    @Test("the log rewritten and re-signed with the vault's own keyring is caught at the next open")
    func rewrittenWithKeyring() async throws {
        try await withClosedVault { t in
            let url = t.directory.appendingPathComponent("audit.sqlite")
            let queue = try DatabaseQueue(path: url.path)
            let size: Int64 = try await queue.read { db in try Int64.fetchOne(db, sql: "SELECT tree_size FROM log_state") ?? 0 }
            try queue.close()
            removeFile(url)
            let keyring = try t.file.load()
            let forger = try AuditLog(url: url, keyring: keyring, keyID: try keyring.requiredSecret(for: .auditSigning).id,
                                      logger: Logger(label: "test"))
            _ = try forger.commit((0..<Int(size)).map { i in
                AuditEntry(time: nowMilliseconds(), actor: "store-tests", action: .list, dataClass: .metadata,
                           purpose: .serviceOperation, outcome: .allowed, reason: "rewritten \(i)")
            })
            _ = try forger.checkpointNow()
            forger.pool.close()
            let error = await expectCofferError(.tamperDetected) { _ = try t.reopen() }
            #expect(error?.message.contains("does not extend its witnessed checkpoint") == true, "\(String(describing: error))")
        }
    }

    @Test("a keyring whose audit key has the right id but other material is refused at open, and the log stays intact")
    func otherAuditKeyMaterial() async throws {
        try await withClosedVault { t in
            let original = try String(contentsOfFile: t.file.path, encoding: .utf8)
            let auditID = try t.file.load().requiredSecret(for: .auditSigning).id
            var json = try #require(try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [String: Any])
            var keys = try #require(json["keys"] as? [[String: Any]])
            for i in keys.indices where keys[i]["id"] as? String == auditID {
                keys[i]["material"] = (try SecureRandom.bytes(32)).map { String(format: "%02x", $0) }.joined()
            }
            json["keys"] = keys
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: t.file.path))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: t.file.path)
            let error = await expectCofferError(.invalidKey) { _ = try t.reopen() }
            #expect(error?.message.contains("audit-signing key") == true, "\(String(describing: error))")
            try original.write(toFile: t.file.path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: t.file.path)
            let reopened = try t.reopen()
            #expect(try await reopened.verifyAuditLog(context: .testAuditor).ok)
            try reopened.close()
        }
    }

    @Test("the vault's own records edited in control.sqlite are caught at open")
    func editedVaultRecords() async throws {
        try await withClosedVault { t in
            try edit(t.directory.appendingPathComponent("control.sqlite")) { db in
                try db.execute(sql: "UPDATE vault_info SET value = '/tmp/elsewhere' WHERE name = 'witness'")
            }
            let error = await expectCofferError(.tamperDetected) { _ = try t.reopen() }
            #expect(error?.message.contains("control.sqlite") == true, "\(String(describing: error))")
        }
    }

    @Test("init refuses a witness that already holds a checkpoint")
    func staleWitness() async throws {
        try await withClosedVault { t in
            let witness = Vault.defaultWitness(for: t.file, vault: t.directory)
            let elsewhere = t.directory.deletingLastPathComponent().appendingPathComponent("vault-2")
            await expectCofferError(.alreadyExists) {
                _ = try Vault.create(at: elsewhere, keyringFile: t.file, operator: "op", witness: witness)
            }
            #expect(!FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("control.sqlite").path))
        }
    }
}
