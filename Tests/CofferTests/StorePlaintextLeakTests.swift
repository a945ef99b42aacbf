import Foundation
import Testing
@testable import Coffer
import CofferCrypto

private let contentMarker = Array("COFFER-PLAINTEXT-MARKER-7f3a9c".utf8)
private let nameMarker = "COFFER-NAME-MARKER-51d2e8"

/// `count` bytes of the marker repeated (so any segment's plaintext holds whole copies of it).
private func markedContent(_ count: Int) -> [UInt8] {
    (0..<count).map { contentMarker[$0 % contentMarker.count] }
}

/// The files under the vault directory whose bytes contain `needle`, by relative path.
private func filesContaining(_ needle: [UInt8], in t: TestVault) throws -> [String] {
    try t.allFiles().filter { contains(try Data(contentsOf: $0), needle) }
        .map { String($0.path.dropFirst(t.directory.path.count)) }
}

@Suite("No plaintext on disk")
struct StorePlaintextLeakTests {
    @Test("no file of the vault holds content or names in plaintext, before or after deletes and close", .embeddedFilesOnly)
    func noPlaintext() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let big = markedContent(4040 + 4080 * 3 + 17)
            let (kept, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "kept-\(nameMarker)", bytes: big, context: .test)
            let (gone, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "gone-\(nameMarker)",
                                                  bytes: markedContent(30_000), context: .test)
            try await t.vault.put(tenant: "acme", kind: .testScript, name: "kept-\(nameMarker)", bytes: markedContent(5000), context: .test)
            try await t.vault.put(tenant: "globex", kind: .config, name: nameMarker, bytes: markedContent(100), context: .test)
            // A put in progress (more than a batch, so segments are stored) and an abandoned one.
            let large = markedContent(4040 + 4080 * 2047 + 10)
            let pending = try await t.vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "pending-\(nameMarker)", context: .test)
            try await write(large, to: pending, piece: 1 << 20)
            let abandoned = try await t.vault.makeWriter(tenant: "acme", kind: .runTelemetry, name: "abandoned-\(nameMarker)", context: .test)
            try await write(large, to: abandoned, piece: 1 << 20)
            try await abandoned.abandon()

            try await t.vault.delete(tenant: "acme", objectID: gone, context: .test)
            try await t.vault.delete(tenant: "acme", objectID: kept, version: 1, context: .test)

            // Sanity: the markers are what a leak would look like, and the scan sees every file.
            #expect(contains(Data(big), contentMarker))
            let names = Set(try t.allFiles().map(\.lastPathComponent))
            #expect(names.isSuperset(of: ["control.sqlite", "content.sqlite", "content.sqlite-wal"]), "\(names)")
            #expect(try t.allFiles().contains { $0.path.contains("/writers/") }, "the pending writer's lock file is scanned too")

            #expect(try filesContaining(contentMarker, in: t) == [], "content marker found while open")
            #expect(try filesContaining(Array(nameMarker.utf8), in: t) == [], "name marker found while open")

            _ = try await pending.commit()
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: pending.objectID, context: .test), large)
            try t.vault.close()
            #expect(try filesContaining(contentMarker, in: t) == [], "content marker found after close")
            #expect(try filesContaining(Array(nameMarker.utf8), in: t) == [], "name marker found after close")
        }
    }

    @Test("the stored digest is the keyed HMAC, not the plain SHA-256 of the content")
    func digestIsKeyed() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let bytes = markedContent(12_345)
            let (id, info) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "digest", bytes: bytes, context: .test)
            let sha = try SHA256.hash(bytes).map { String(format: "%02x", $0) }.joined()
            #expect(info.digest != sha)
            #expect(info.digest.count == 64)
            let keys = try t.vault.contentStore.indexKeys(tenant: "acme", kind: .testScript)
            let expected = try HMACSHA256.authenticate(bytes, key: keys.digest).map { String(format: "%02x", $0) }.joined()
            #expect(info.digest == expected)
            #expect(try await t.vault.stat(tenant: "acme", objectID: id, context: .test).latest?.digest == expected)
            // The raw digest column holds neither the SHA-256 nor anything but the keyed MAC.
            let stored: Data? = try await t.vault.content.read { db in
                try Data.fetchOne(db, sql: "SELECT digest FROM version WHERE object_id = ?", arguments: [id])
            }
            let raw = try #require(stored)
            #expect(raw != Data(try SHA256.hash(bytes)))
            // Another tenant's digest of the same bytes is different.
            let other = try await t.vault.put(tenant: "globex", kind: .testScript, name: "digest", bytes: bytes, context: .test)
            #expect(other.version.digest != info.digest)
        }
    }

    @Test("no derived key and no KEK-unwrapped data key material appears in any vault file")
    func noKeyMaterial() async throws {
        try await withTestVault { t in
            try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: markedContent(9000), context: .test)
            let index = try t.vault.contentStore.indexKeys(tenant: "acme", kind: .testScript)
            let period = try t.vault.keys.periodKeys(tenant: "acme", kind: .testScript, at: nowMilliseconds())
            try t.vault.close()
            for (label, key) in [("stream", period.stream), ("name", period.name), ("name-index", index.nameIndex), ("digest", index.digest),
                                 ("index stream", index.stream), ("index name", index.name)] {
                let bytes = key.withUnsafeBytes { Array($0) }
                #expect(try filesContaining(bytes, in: t) == [], "\(label) key found on disk")
            }
        }
    }

    @Test("vault files are private to the owner", .embeddedFilesOnly)
    func filePermissions() async throws {
        try await withTestVault { t in
            try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: [1], context: .test)
            let directoryMode = try FileManager.default.attributesOfItem(atPath: t.directory.path)[.posixPermissions] as? Int
            #expect(directoryMode == 0o700)
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "open", context: .test)
            let files = try t.allFiles()
            #expect(files.count >= 5, "\(files.map(\.lastPathComponent))")
            for file in files {
                let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
                #expect(mode.map { $0 & 0o077 } == 0, "\(file.lastPathComponent) mode \(String(mode ?? -1, radix: 8))")
            }
            try await writer.abandon()
        }
    }
}
