import Foundation
import GRDB
import Logging
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL

// Access-log records, leaf hashes, chain MACs and a checkpoint signature computed in Python from
// the documented format (scripts/make-audit-vectors.py). A silent change of the canonical bytes,
// the leaf hashing, the MAC key derivation, the MAC message or the checkpoint text fails here.

private struct GoldenFile: Decodable {
    struct KeyringInfo: Decodable { let kekID: String; let kek: String; let auditKeyID: String; let auditKey: String }
    struct Entry: Decodable {
        let record: AuditRecord
        let canonical: String
        let leafHash: String
        let previousMAC: String
        let mac: String
    }
    struct Checkpoint: Decodable {
        let treeSize: Int64
        let rootHash: String
        let time: Int64
        let signedText: String
        let publicKey: String
        let signature: String
    }
    let keyring: KeyringInfo
    let macKey: String
    let records: [Entry]
    let checkpoint: Checkpoint
}

@Suite("Access-log golden vectors")
struct AuditGoldenTests {
    private func golden() throws -> GoldenFile {
        try JSONDecoder().decode(GoldenFile.self, from: try testResource("audit_golden.json"))
    }

    /// An access log keyed by the golden keyring's audit-signing key, in a scratch file.
    private func withGoldenLog(_ file: GoldenFile, _ body: (AuditLog) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let k = file.keyring
        let text = """
            {"format": "coffer-keyring-v1", "active": "\(k.kekID)", "keys": [
              {"id": "\(k.kekID)", "purpose": "kek", "material": "\(k.kek)"},
              {"id": "\(k.auditKeyID)", "purpose": "audit-signing", "material": "\(k.auditKey)"}]}
            """
        let path = dir.appendingPathComponent("keyring.json").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        let keyring = try Keyring.load(from: path)
        let log = try AuditLog(url: dir.appendingPathComponent("audit.sqlite"), keyring: keyring, keyID: k.auditKeyID,
                               logger: Logger(label: "golden"))
        defer { log.pool.close() }
        try body(log)
    }

    @Test("canonical bytes and RFC 6962 leaf hashes match, byte for byte")
    func canonicalBytesAndLeaves() throws {
        let file = try golden()
        #expect(file.records.count == 3)
        for entry in file.records {
            let canonical = entry.record.canonicalBytes
            #expect(canonical.hexString == entry.canonical, "record \(entry.record.sequence) canonical bytes")
            #expect(MerkleTree.leafHash(canonical).hexString == entry.leafHash, "record \(entry.record.sequence) leaf")
        }
        // The file really pins what it claims: an empty present field differs from an absent one.
        #expect(file.records[0].record.requestID == "")
        #expect(file.records[0].record.justification?.unicodeScalars.contains { $0.value > 0xFFFF } == true)
    }

    @Test("the chain MACs under the HKDF-derived key match, and depend on sequence, leaf and predecessor")
    func chainMACs() throws {
        let file = try golden()
        try withGoldenLog(file) { log throws in
            #expect(log.macKey.withUnsafeBytes { [UInt8]($0) }.hexString == file.macKey)
            var previous = [UInt8](repeating: 0, count: 32)
            for entry in file.records {
                #expect(previous.hexString == entry.previousMAC)
                let leaf = bytes(hex: entry.leafHash)
                let mac = try log.chainMAC(sequence: entry.record.sequence, leaf: leaf, previous: previous)
                #expect(mac.hexString == entry.mac, "record \(entry.record.sequence) MAC")
                // Each input is bound: another sequence, leaf or predecessor gives another MAC.
                #expect(try log.chainMAC(sequence: entry.record.sequence + 1, leaf: leaf, previous: previous) != mac)
                var otherLeaf = leaf
                otherLeaf[0] ^= 1
                #expect(try log.chainMAC(sequence: entry.record.sequence, leaf: otherLeaf, previous: previous) != mac)
                var otherPrevious = previous
                otherPrevious[31] ^= 1
                #expect(try log.chainMAC(sequence: entry.record.sequence, leaf: leaf, previous: otherPrevious) != mac)
                previous = mac
            }
        }
    }

    @Test("records committed by the log get exactly the golden leaf hashes and MACs")
    func committedRecordsMatch() throws {
        let file = try golden()
        try withGoldenLog(file) { log throws in
            // The first two records have sequences 1 and 2: commit them as the log would.
            let entries = file.records.prefix(2).map { e in
                let r = e.record
                return AuditEntry(time: r.time, actor: r.actor, role: r.role, tenant: r.tenant, subject: r.subject,
                                  objectID: r.objectID, objectVersion: r.objectVersion, objectKind: r.objectKind,
                                  action: AccessAction(r.action), dataClass: DataClass(r.dataClass),
                                  purpose: try! Purpose(parsing: r.purpose), justification: r.justification, outcome: r.outcome,
                                  errorCode: r.errorCode, bytes: r.bytes, requestID: r.requestID, client: r.client,
                                  grantID: r.grantID, reason: r.reason)
            }
            let stored = try log.commit(Array(entries))
            #expect(stored == file.records.prefix(2).map(\.record))
            let rows = try log.sqlitePool!.read { db in
                try Row.fetchAll(db, sql: "SELECT hash, mac FROM leaf ORDER BY seq").map { ([UInt8]($0["hash"] as Data), [UInt8]($0["mac"] as Data)) }
            }
            #expect(rows.map(\.0.hexString) == file.records.prefix(2).map(\.leafHash))
            #expect(rows.map(\.1.hexString) == file.records.prefix(2).map(\.mac))
        }
    }

    @Test("the checkpoint key, signed text and signature match; a tampered checkpoint does not verify")
    func checkpointSignature() throws {
        let file = try golden()
        let c = file.checkpoint
        let leaves = file.records.map { bytes(hex: $0.leafHash) }
        #expect(MerkleTree.root(leaves[...]).hexString == c.rootHash)
        #expect(AuditCheckpoint.signedText(treeSize: c.treeSize, rootHash: c.rootHash, time: c.time) == c.signedText)
        try withGoldenLog(file) { log throws in
            #expect(log.signingKey.publicKey.hexString == c.publicKey)
            #expect(try log.signingKey.sign(Array(c.signedText.utf8)).hexString == c.signature)
        }
        let checkpoint = AuditCheckpoint(treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, keyID: file.keyring.auditKeyID,
                                         publicKey: c.publicKey, signature: c.signature)
        #expect(checkpoint.hasValidSignature())
        #expect(checkpoint.hasValidSignature(publicKey: c.publicKey))
        let tampered = [
            AuditCheckpoint(treeSize: c.treeSize + 1, rootHash: c.rootHash, time: c.time, keyID: "k", publicKey: c.publicKey, signature: c.signature),
            AuditCheckpoint(treeSize: c.treeSize, rootHash: MerkleTree.root(leaves[0..<2]).hexString, time: c.time, keyID: "k",
                            publicKey: c.publicKey, signature: c.signature),
            AuditCheckpoint(treeSize: c.treeSize, rootHash: c.rootHash, time: c.time + 1, keyID: "k", publicKey: c.publicKey, signature: c.signature),
            AuditCheckpoint(treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, keyID: "k", publicKey: c.publicKey,
                            signature: String(c.signature.dropLast()) + (c.signature.hasSuffix("0") ? "1" : "0")),
        ]
        for (i, bad) in tampered.enumerated() { #expect(!bad.hasValidSignature(), "tampered checkpoint \(i)") }
        // Signed under the golden key, checked under another vault's key.
        let other = try Ed25519SigningKey(seed: SecureBytes(copying: [UInt8](repeating: 9, count: 32)))
        #expect(!checkpoint.hasValidSignature(publicKey: other.publicKey.hexString))
        // Upper-case hex is the same root to a verifier, but not the same signed text: refused.
        let upper = AuditCheckpoint(treeSize: c.treeSize, rootHash: c.rootHash.uppercased(), time: c.time, keyID: "k",
                                    publicKey: c.publicKey, signature: c.signature)
        #expect(!upper.hasValidSignature())
    }
}
