import Foundation
import Testing
@testable import Coffer
import CofferCrypto

@Suite("Opening a vault")
struct VaultOpeningTests {
    @Test("a keyring with the right key id but other material is refused as the wrong keyring")
    func sameIDOtherMaterial() async throws {
        try await withTestVault { test in
            let path = test.directory.deletingLastPathComponent().appendingPathComponent("forged-\(UUID().uuidString).json").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try test.keyring.write(to: path)
            var text = try String(contentsOfFile: path, encoding: .utf8)
            let material = try #require(text.range(of: #"(?<="material": ")[0-9a-f]{64}"#, options: .regularExpression))
            text.replaceSubrange(material, with: String(repeating: "5a", count: 31) + "a5")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            let forged = try Keyring.load(from: path)
            #expect(forged.activeKeyID == test.keyring.activeKeyID)
            let error = await expectCofferError(.invalidKey) { _ = try await test.reopen(keyring: forged) }
            #expect(error?.message.contains("not the one the vault was made with") == true)
        }
    }

    @Test("a vault whose content file went missing is not silently recreated empty", .embeddedFilesOnly)
    func missingContentFile() async throws {
        try await withTestVault { test in
            try await test.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: Array("x".utf8), context: .test)
            try test.vault.close()
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(at: test.directory.appendingPathComponent("content.sqlite" + suffix))
            }
            await expectCofferError(.notFound) { _ = try await test.reopen() }
            #expect(!FileManager.default.fileExists(atPath: test.directory.appendingPathComponent("content.sqlite").path))
        }
    }

    @Test("a range ending at Int64.max reads to the end instead of overflowing")
    func openEndedRange() async throws {
        try await withTestVault { test in
            let bytes = testBytes(9000)
            let (id, _) = try await test.vault.put(tenant: "acme", kind: .config, name: "r", bytes: bytes, context: .test)
            let tail = try await test.vault.readRange(tenant: "acme", objectID: id, 8000...Int64.max)
            #expect(tail == Array(bytes[8000...]))
        }
    }
}
