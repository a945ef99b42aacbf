import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging
import Testing
@testable import Coffer

/// A standalone access log with a witness directory, in a scratch directory.
private struct WitnessedLog {
    let directory: URL
    let keyring: Keyring
    var logURL: URL { directory.appendingPathComponent("audit.sqlite") }
    var witnessURL: URL { directory.appendingPathComponent("witness") }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-witness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        keyring = try Keyring.generate()
    }

    func open(keyring: Keyring? = nil, url: URL? = nil) throws -> AuditLog {
        let keyring = keyring ?? self.keyring
        return try AuditLog(url: url ?? logURL, keyring: keyring, keyID: try keyring.requiredSecret(for: .auditSigning).id,
                            logger: Logger(label: "test"), witness: witnessURL)
    }

    /// Appends `count` records (justification `note`) and signs a checkpoint.
    @discardableResult
    func append(_ log: AuditLog, _ count: Int, note: String = "work") throws -> AuditCheckpoint {
        let entries = (0..<count).map { i in
            AuditEntry(time: 1_764_633_600_000 + Int64(i), actor: "svc", tenant: "acme", action: .read, dataClass: .content,
                       purpose: .serviceOperation, justification: "\(note) \(i)", outcome: .allowed, bytes: 10)
        }
        _ = try log.commit(entries)
        return try log.checkpointNow()
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Removes the newest `count` records as an attacker with write access to the file would.
private func truncate(_ log: AuditLog, last count: Int64) throws {
    try log.pool.write { db in try cutAuditTail(db, last: count) }
}

@Suite("Witnessed checkpoints")
struct AuditWitnessTests {
    @Test("every checkpoint reaches the witness as a signed C2SP note; the log proves at open that it extends it")
    func witnessed() throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        let checkpoint = try w.append(log, 5)
        let note = try #require(try log.witness?.latest())
        #expect(note.treeSize == 5 && note.rootHash.hexString == checkpoint.rootHash)
        let key = try log.verifierKey
        #expect(note.origin == key.name && note.isSigned(by: key))
        #expect(try log.checkExtendsWitness() == 5)
        // Records after the witnessed checkpoint are checked too.
        _ = try log.commit([AuditEntry(time: 1, actor: "svc", action: .list, dataClass: .metadata, purpose: .serviceOperation,
                                       outcome: .allowed)])
        #expect(try log.checkExtendsWitness() == 5)
        log.pool.close()
    }

    @Test("a truncated tail is caught at open, and the witness never moves back")
    func truncation() throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        try w.append(log, 8)
        try truncate(log, last: 3)
        #expect(try log.verify().ok, "the truncation is consistent on its own: only the witness knows")
        #expect(throws: CofferError.self) { try log.checkExtendsWitness() }
        do { try log.checkExtendsWitness() } catch let error as CofferError {
            #expect(error.code == .tamperDetected && error.message.contains("holds 5 records but its witness saw 8"), "\(error)")
        }
        // A new checkpoint of the shorter log is refused by the witness.
        _ = try log.checkpointNow()
        #expect(try log.witness?.latest()?.treeSize == 8)
        log.pool.close()
    }

    @Test("a deleted log started afresh is caught at open")
    func reset() throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        try w.append(log, 4)
        log.pool.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.logURL.path + suffix) }
        let fresh = try w.open()
        do {
            try fresh.checkExtendsWitness()
            Issue.record("a fresh log passed the witness check")
        } catch let error as CofferError {
            #expect(error.code == .tamperDetected && error.message.contains("holds 0 records but its witness saw 4"), "\(error)")
        }
        fresh.pool.close()
    }

    @Test("a log rewritten and re-signed with the vault's own keyring is caught at open and by a pinned-key verify")
    func rewrite() async throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        try w.append(log, 6)
        let note = try #require(try log.witness?.latest())
        let pinned = try log.verifierKey
        log.pool.close()
        // The attacker holds the keyring: the same history with one justification changed,
        // checkpointed and signed as the vault would, in place of the real file.
        let forgedURL = w.directory.appendingPathComponent("forged.sqlite")
        let forger = try AuditLog(url: forgedURL, keyring: w.keyring, keyID: try w.keyring.requiredSecret(for: .auditSigning).id,
                                  logger: Logger(label: "test"))
        try w.append(forger, 6, note: "innocent")
        #expect(try forger.verify().ok, "the forgery verifies on its own")
        forger.pool.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.logURL.path + suffix) }
        try FileManager.default.moveItem(at: forgedURL, to: w.logURL)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.moveItem(atPath: forgedURL.path + suffix, toPath: w.logURL.path + suffix) }
        let reopened = try w.open()
        #expect(throws: CofferError.self) { try reopened.checkExtendsWitness() }
        let verdict = try reopened.verify(extendingNote: note)
        #expect(!verdict.ok && verdict.problem?.contains("does not extend the checkpoint") == true, "\(String(describing: verdict.problem))")
        let reopenedKey = try reopened.verifierKey
        #expect(pinned == reopenedKey, "same keyring, same key: only the witnessed root tells them apart")
        reopened.pool.close()
    }

    @Test("a witness signed under another key is refused at open")
    func otherKey() throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        try w.append(log, 3)
        log.pool.close()
        let other = try w.open(keyring: try Keyring.generate(), url: w.directory.appendingPathComponent("other.sqlite"))
        do {
            try other.checkExtendsWitness()
            Issue.record("a witness under another key was accepted")
        } catch let error as CofferError {
            #expect(error.code == .tamperDetected && error.message.contains("not signed by this vault's audit key"), "\(error)")
        }
        other.pool.close()
    }

    @Test("consistency proofs of the log verify, and fail for another history")
    func consistency() throws {
        let w = try WitnessedLog()
        defer { w.remove() }
        let log = try w.open()
        try w.append(log, 13)
        for old in Int64(0)...13 {
            let proof = try log.consistencyProof(from: old, to: nil)
            #expect(proof.isValid && proof.newSize == 13, "\(old) -> 13")
        }
        let proof = try log.consistencyProof(from: 5, to: 9)
        #expect(proof.isValid)
        let forged = AuditConsistencyProof(oldSize: 5, newSize: 9, oldRoot: String(repeating: "0", count: 64), newRoot: proof.newRoot,
                                           path: proof.path)
        #expect(!forged.isValid)
        #expect(throws: CofferError.self) { try log.consistencyProof(from: 9, to: 5) }
        #expect(throws: CofferError.self) { try log.consistencyProof(from: 1, to: 14) }
        log.pool.close()
    }
}

@Suite("Checkpoint notes (C2SP)")
struct CheckpointNoteTests {
    private func note() throws -> (CheckpointNote, NoteVerifierKey) {
        let key = try Ed25519SigningKey(seed: SecureBytes.random(count: 32))
        let note = try CheckpointNote(origin: "coffer.vault/0123456789abcdef", treeSize: 1027, rootHash: Array(repeating: 7, count: 32),
                                      time: 1_764_633_600_000, signingKey: key)
        return (note, try NoteVerifierKey(name: note.origin, publicKey: key.publicKey))
    }

    @Test("a note round-trips through its text, and its signature verifies only under its key")
    func roundTrip() throws {
        // Verifier keys are split on their first two '+' only: base64 has '+' of its own.
        for _ in 0..<64 {
            let key = try NoteVerifierKey(name: "n", publicKey: try SecureRandom.bytes(32))
            #expect(try NoteVerifierKey(parsing: key.description) == key, "\(key)")
        }
        let (note, key) = try note()
        #expect(note.encoded.hasPrefix("coffer.vault/0123456789abcdef\n1027\n"))
        #expect(note.encoded.contains("\n\n\u{2014} coffer.vault/0123456789abcdef "))
        let parsed = try CheckpointNote(parsing: note.encoded)
        #expect(parsed == note && parsed.isSigned(by: key))
        #expect(try NoteVerifierKey(parsing: key.description) == key)
        let (_, other) = try self.note()
        #expect(!note.isSigned(by: other))
    }

    @Test("an edited size, root or signature does not verify; malformed notes and keys are refused")
    func tampering() throws {
        let (note, key) = try note()
        let text = note.encoded
        for edited in [text.replacingOccurrences(of: "\n1027\n", with: "\n1028\n"),
                       text.replacingOccurrences(of: "time 1764633600000", with: "time 1764633600001")] {
            let parsed = try CheckpointNote(parsing: edited)
            #expect(!parsed.isSigned(by: key))
        }
        for bad in ["", "origin\n1\n", "o\n-1\nAAAA\n\n\u{2014} o AAAA\n", "o\n01\n\(Data(count: 32).base64EncodedString())\n\n\u{2014} o x\n",
                    text.replacingOccurrences(of: "\u{2014}", with: "-"), text.replacingOccurrences(of: "time ", with: "extra ")] {
            #expect(throws: CofferError.self, "\(bad.debugDescription)") { try CheckpointNote(parsing: bad) }
        }
        let parts = key.description.split(separator: "+")
        for bad in ["", "name+00000000+\(parts[2])", "na me+\(parts[1])+\(parts[2])", "\(parts[0])+\(parts[1])"] {
            #expect(throws: CofferError.self, "\(bad)") { try NoteVerifierKey(parsing: bad) }
        }
    }

    @Test("an independent implementation (Python cryptography) verifies the note under the verifier key")
    func pythonVerifies() throws {
        let (note, key) = try note()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-note-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notePath = dir.appendingPathComponent("checkpoint").path, keyPath = dir.appendingPathComponent("key").path
        try note.encoded.write(toFile: notePath, atomically: true, encoding: .utf8)
        try key.description.write(toFile: keyPath, atomically: true, encoding: .utf8)
        let ok = try runPythonScript("verify-note.py", [notePath, keyPath])
        #expect(ok.status == 0, "\(ok.error)")
        #expect(ok.output.contains("coffer.vault/0123456789abcdef 1027 \(note.rootHash.hexString)"), "\(ok.output)")
        try note.encoded.replacingOccurrences(of: "\n1027\n", with: "\n1026\n").write(toFile: notePath, atomically: true, encoding: .utf8)
        #expect(try runPythonScript("verify-note.py", [notePath, keyPath]).status == 1)
    }
}
