import Foundation
import Testing
@testable import Coffer
@testable import CofferCrypto

// A restore checks only its staged copy of the backup (the copy is what becomes the vault): a
// backup with an edited, missing or unlisted file, or a manifest another key signed, is refused
// with the same codes as ever, before the vault being replaced, its witness or the target change.

/// Every file under `directory` (relative path) with its bytes.
private func snapshot(_ directory: URL) throws -> [String: Data] {
    var files: [String: Data] = [:]
    guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return files }
    for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
        files[String(url.path.dropFirst(directory.path.count))] = try Data(contentsOf: url)
    }
    return files
}

/// One way to damage a copy of a backup, and the code a restore of it gives.
struct BackupDamage: Sendable, CustomTestStringConvertible {
    let name: String
    let code: CofferError.Code
    let apply: @Sendable (_ backup: URL, _ log: AuditLog) throws -> Void
    var testDescription: String { name }
}

private let damages: [BackupDamage] = [
    BackupDamage(name: "a byte of pii.sqlite changed", code: .tamperDetected) { backup, _ in
        let handle = try FileHandle(forUpdating: backup.appendingPathComponent(Vault.FileName.pii))
        try handle.seek(toOffset: 200)
        let byte = try #require(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
        try handle.close()
    },
    BackupDamage(name: "content.sqlite missing", code: .notFound) { backup, _ in
        try FileManager.default.removeItem(at: backup.appendingPathComponent(Vault.FileName.content))
    },
    BackupDamage(name: "the manifest signed by another key", code: .tamperDetected) { backup, _ in
        let manifest = try BackupFiles.manifest(in: backup)
        let other = try Ed25519SigningKey(seed: try SecureBytes.random(count: 32))
        try BackupFiles.writeManifest(manifest, in: backup, origin: "coffer.vault/0123456789abcdef", key: other)
    },
    BackupDamage(name: "pii.sqlite changed and left out of a manifest this vault signed", code: .tamperDetected) { backup, log in
        var manifest = try BackupFiles.manifest(in: backup)
        manifest.files.removeAll { $0.name == Vault.FileName.pii }
        try BackupFiles.writeManifest(manifest, in: backup, origin: log.origin, key: log.signingKey)
        try Data("not the vault's PII".utf8).write(to: backup.appendingPathComponent(Vault.FileName.pii))
    },
]

@Suite("Restore refuses a damaged backup", .serialized)
struct BackupRefusalTests {
    @Test("refused with its code before the replaced vault, its witness or the target change; no staging left", arguments: damages)
    func refused(_ damage: BackupDamage) async throws {
        try await withFileKeyedVault { t in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let parent = t.directory.deletingLastPathComponent()
            let manifest = try await v.createBackup(in: parent.appendingPathComponent("backups"), context: .admin)
            try await v.requestErasure(subject: ada, reason: "DSR 1", context: .piiOfficer)
            #expect(try await v.runErasures(context: .piiOfficer).completed.count == 1)
            let log = v.accessLog.log
            try v.close()

            let backup = parent.appendingPathComponent("damaged")
            try FileManager.default.copyItem(at: parent.appendingPathComponent("backups").appendingPathComponent(manifest.id), to: backup)
            try damage.apply(backup, log)
            let witness = Vault.defaultWitness(for: t.file, vault: t.directory)
            let before = (vault: try snapshot(t.directory), witness: try snapshot(witness))
            #expect(!before.witness.isEmpty)
            let target = parent.appendingPathComponent("restored")
            // The options that would change the most: the replaced vault's ledger, its witness superseded.
            await expectCofferError(damage.code) {
                _ = try await Vault.restoreBackup(from: backup, to: target, keyringFile: t.file, ledgerFrom: t.directory,
                                                  supersedeWitness: true, context: .admin)
            }
            #expect(try snapshot(t.directory) == before.vault, "the replaced vault changed")
            #expect(try snapshot(witness) == before.witness, "the witness changed")
            #expect(!FileManager.default.fileExists(atPath: target.path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).filter { $0.contains(RestoreStaging.suffix) } == [])
        }
    }
}
