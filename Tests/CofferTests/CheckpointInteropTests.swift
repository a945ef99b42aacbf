import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto

/// What `scripts/verify-checkpoint.py` reads: the checkpoint, the log's leaf hashes and records.
private struct CheckpointExport: Encodable {
    var checkpoint: AuditCheckpoint
    var leaves: [String]?
    var records: [AuditRecord]?
}

@Suite("Checkpoints verified by an independent implementation (Python cryptography)")
struct CheckpointInteropTests {
    @Test("a real vault's checkpoint verifies in Python: signature, root from the leaves, records to leaves; tampered exports fail")
    func pythonVerifiesCheckpoint() async throws {
        try await withTestVault { t in
            // Some history: writes, reads, a refusal, a PII-free listing.
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: testBytes(9000), context: .test)
            _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            _ = try await t.vault.list(tenant: "acme", context: .test)
            await expectCofferError(.accessDenied) {
                _ = try await t.vault.tenants(context: accessContext("nobody", .administration))
            }
            let checkpoint = try await t.vault.auditCheckpoint(context: .testAuditor)
            #expect(checkpoint.treeSize >= 6)
            let leaves = try t.leafHashes().map(\.hexString)
            let records = try t.auditLogRecords()
            #expect(leaves.count >= Int(checkpoint.treeSize))

            let dir = t.directory.deletingLastPathComponent().appendingPathComponent("cp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            var n = 0
            func verify(_ export: CheckpointExport, _ extra: [String] = []) throws -> ProcessResult {
                n += 1
                let path = dir.appendingPathComponent("export-\(n).json").path
                try JSONEncoder().encode(export).write(to: URL(fileURLWithPath: path))
                return try runPythonScript("verify-checkpoint.py", [path] + extra)
            }
            // The genuine export verifies, alone and with leaves and records, and pinned to the vault's key.
            let good = CheckpointExport(checkpoint: checkpoint, leaves: leaves, records: records)
            let ok = try verify(good, ["--public-key", t.vault.accessLog.log.signingKey.publicKey.hexString])
            #expect(ok.status == 0, "\(ok.error)")
            #expect(ok.output.contains("root recomputed from \(checkpoint.treeSize) leaves"), "\(ok.output)")
            #expect(ok.output.contains("\(records.count) records hash to their leaves"), "\(ok.output)")
            #expect(try verify(CheckpointExport(checkpoint: checkpoint)).status == 0)

            // Tampered exports: each must fail with status 1 (a failed check, not bad input).
            func flipped(_ hex: String, at index: Int = 0) -> String {
                var chars = Array(hex)
                chars[index] = chars[index] == "0" ? "1" : "0"
                return String(chars)
            }
            func with(treeSize: Int64? = nil, root: String? = nil, time: Int64? = nil, signature: String? = nil,
                      publicKey: String? = nil) -> AuditCheckpoint {
                AuditCheckpoint(treeSize: treeSize ?? checkpoint.treeSize, rootHash: root ?? checkpoint.rootHash,
                                time: time ?? checkpoint.time, keyID: checkpoint.keyID,
                                publicKey: publicKey ?? checkpoint.publicKey, signature: signature ?? checkpoint.signature)
            }
            let other = try Ed25519SigningKey(seed: SecureBytes.random(count: 32))
            let forged = other.publicKey.hexString
            let forgedSignature = try other.sign(Array(checkpoint.signedText.utf8)).hexString
            var badLeaves = leaves
            badLeaves[1] = flipped(badLeaves[1], at: 10)
            var badRecords = records
            badRecords[0] = copy(records[0], sequence: records[0].sequence, actor: "someone-else")
            let cases: [(String, CheckpointExport, [String])] = [
                ("signature bit", CheckpointExport(checkpoint: with(signature: flipped(checkpoint.signature, at: 5))), []),
                ("tree size", CheckpointExport(checkpoint: with(treeSize: checkpoint.treeSize - 1)), []),
                ("root", CheckpointExport(checkpoint: with(root: flipped(checkpoint.rootHash, at: 63))), []),
                ("time", CheckpointExport(checkpoint: with(time: checkpoint.time + 1)), []),
                ("another key signed it", CheckpointExport(checkpoint: with(signature: forgedSignature, publicKey: forged)),
                 ["--public-key", checkpoint.publicKey]),
                ("a leaf", CheckpointExport(checkpoint: checkpoint, leaves: badLeaves), []),
                ("too few leaves", CheckpointExport(checkpoint: checkpoint, leaves: Array(leaves.prefix(Int(checkpoint.treeSize) - 1))), []),
                ("a record", CheckpointExport(checkpoint: checkpoint, leaves: leaves, records: badRecords), []),
            ]
            for (label, export, extra) in cases {
                let result = try verify(export, extra)
                #expect(result.status == 1, "\(label): status \(result.status), \(result.output) \(result.error)")
            }
            // Coffer agrees about its own checkpoint, and about the same tampering.
            #expect(checkpoint.hasValidSignature())
            #expect(!with(time: checkpoint.time + 1).hasValidSignature())
        }
    }
}
