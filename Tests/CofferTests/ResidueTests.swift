import Foundation
import GRDB
import Testing
@testable import Coffer

// "Old data is gone" where it matters: the SEALED bytes that were on disk before a correction,
// a delete or a key rotation are captured through a raw read-only SQLite connection, and after
// the operation no file of the vault directory (databases, -wal, -shm, writers/) holds them, nor a
// 16-byte slice of them. (Looking for plaintext proves little: plaintext was never stored.)

/// Opens `file` of the vault read-only, as a separate connection, runs `body`, closes it.
func withRawReadOnly<T>(_ t: TestVault, _ file: String, _ body: (Database) throws -> T) throws -> T {
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: t.directory.appendingPathComponent(file).path, configuration: configuration)
    defer { try? queue.close() }
    return try queue.read(body)
}

/// Every regular file under `directory` (relative paths) holding `needle`.
func vaultFiles(under directory: URL, containing needle: [UInt8]) throws -> [String] {
    try piiFiles(under: directory, containing: needle)
}

/// The byte strings to look for: the whole value and a 16-byte slice from its middle.
private func needles(_ label: String, _ sealed: [UInt8]) -> [(String, [UInt8])] {
    precondition(sealed.count >= 32, "\(label) is too short to scan for")
    let start = sealed.count / 2 - 8
    return [(label, scannable(sealed)), ("\(label) [\(start)..<\(start + 16)]", Array(sealed[start..<start + 16]))]
}

/// What of `value` is stored contiguously, and so can be found by a byte scan: all of it when
/// short, else its first 256 bytes (a value longer than what fits a page goes on in overflow
/// pages, each beginning with a pointer, so it is not one run of bytes in the file).
func scannable(_ value: [UInt8]) -> [UInt8] {
    value.count <= 1024 ? value : Array(value.prefix(256))
}

/// Expects every needle to be found before the operation (the scanner sees the file), runs
/// `operation`, then expects none anywhere, while the vault is open and after it is closed.
private func expectGone(_ t: TestVault, _ captured: [(String, [UInt8])], sourceLocation: SourceLocation = #_sourceLocation,
                        after operation: () async throws -> Void) async throws {
    let all = captured.flatMap { needles($0.0, $0.1) }
    for (label, needle) in all {
        #expect(try !vaultFiles(under: t.directory, containing: needle).isEmpty, "before: \(label) not found by the scan",
                sourceLocation: sourceLocation)
    }
    try await operation()
    let listing = try t.allFiles().map { String($0.path.dropFirst(t.directory.path.count)) }.sorted()
    for (label, needle) in all {
        let hits = try vaultFiles(under: t.directory, containing: needle)
        #expect(hits.isEmpty, "after, vault open: \(label) still in \(hits) (files: \(listing))", sourceLocation: sourceLocation)
    }
    try t.vault.close()
    for (label, needle) in all {
        let hits = try vaultFiles(under: t.directory, containing: needle)
        #expect(hits.isEmpty, "after close: \(label) still in \(hits)", sourceLocation: sourceLocation)
    }
}

@Suite("Old sealed bytes are gone after correction, delete and rotation", .embeddedFilesOnly)
struct ResidueTests {
    @Test("a corrected PII field's old sealed value (and a slice of it) is in no file", arguments: [SubjectField.company, .email, .name])
    func correction(field: SubjectField) async throws {
        try await withPIIVault { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ada Lovelace", email: "ada@example.com",
                                                  company: "Analytical Engines", context: .piiService)
            // Another subject's writes after it, so the old value is not only in the newest WAL frame.
            _ = try await t.vault.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            let old = try withRawReadOnly(t, Vault.FileName.pii) { db in
                try Data.fetchOne(db, sql: "SELECT value FROM field WHERE subject_id = ? AND name = ?", arguments: [id, field.rawValue])
            }
            let sealed = [UInt8](try #require(old))
            let replacement = field == .email ? "ada.king@example.org" : "Corrected Value \(field.rawValue)"
            try await expectGone(t, [("old sealed \(field.rawValue)", sealed)]) {
                try await t.vault.correctSubject(id, field: field, value: replacement, context: .piiOfficer)
                #expect(try await t.vault.piiStoredField(id, tenant: "acme", field) == replacement)
            }
        }
    }

    @Test("a replaced password hash's old sealed value is in no file")
    func passwordChange() async throws {
        try await withPIIVault { t in
            let id = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil,
                                                  password: "Tr1cky-Secret9", context: .piiService)
            let sealed = try withRawReadOnly(t, Vault.FileName.pii) { db in
                try Data.fetchOne(db, sql: "SELECT value FROM field WHERE subject_id = ? AND name = 'password-hash'", arguments: [id])
            }
            try await expectGone(t, [("old sealed password hash", [UInt8](try #require(sealed)))]) {
                try await t.vault.setPassword(id, password: "An0ther-Secret7", context: .piiService)
                #expect(try await t.vault.verifyPassword(id, password: "An0ther-Secret7", context: .piiService))
            }
        }
    }

    @Test("a deleted object's segment ciphertext and sealed name are in no file")
    func deleteObject() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "to-delete", bytes: testBytes(3 * 4080, seed: 21),
                                                context: .test)
            let (kept, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "kept", bytes: testBytes(5000, seed: 22),
                                                  context: .test)
            let (segments, name, keptSegment) = try withRawReadOnly(t, Vault.FileName.content) { db in
                (try Data.fetchAll(db, sql: """
                    SELECT s.data FROM segment s JOIN version v ON v.id = s.version_id WHERE v.object_id = ? ORDER BY s.idx
                    """, arguments: [id]).map { [UInt8]($0) },
                 try Data.fetchOne(db, sql: "SELECT name_sealed FROM object WHERE id = ?", arguments: [id]).map { [UInt8]($0) },
                 try Data.fetchOne(db, sql: """
                    SELECT s.data FROM segment s JOIN version v ON v.id = s.version_id WHERE v.object_id = ? AND s.idx = 0
                    """, arguments: [kept]).map { [UInt8]($0) })
            }
            #expect(segments.count == 4)
            var captured = segments.enumerated().map { ("segment \($0.offset)", $0.element) }
            captured.append(("sealed name", try #require(name)))
            try await expectGone(t, captured) {
                try await t.vault.delete(tenant: "acme", objectID: id, context: .test)
                // The scan still finds what was not deleted.
                #expect(try vaultFiles(under: t.directory, containing: scannable(try #require(keptSegment))) == ["/content.sqlite"])
            }
        }
    }

    @Test("a deleted version's segments are in no file; the other version's stay")
    func deleteVersion() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "script", bytes: testBytes(9000, seed: 23),
                                                context: .test)
            _ = try await t.vault.put(tenant: "acme", kind: .testScript, name: "script", bytes: testBytes(9000, seed: 24), context: .test)
            let rows = try withRawReadOnly(t, Vault.FileName.content) { db in
                try Row.fetchAll(db, sql: """
                    SELECT v.version, s.data FROM segment s JOIN version v ON v.id = s.version_id WHERE v.object_id = ? ORDER BY v.version, s.idx
                    """, arguments: [id]).map { ($0["version"] as Int, [UInt8]($0["data"] as Data)) }
            }
            let v1 = rows.filter { $0.0 == 1 }.map(\.1), v2 = rows.filter { $0.0 == 2 }.map(\.1)
            #expect(v1.count == 3 && v2.count == 3)
            try await expectGone(t, v1.enumerated().map { ("version 1 segment \($0.offset)", $0.element) }) {
                try await t.vault.delete(tenant: "acme", objectID: id, version: 1, context: .test)
                for segment in v2 { #expect(try !vaultFiles(under: t.directory, containing: scannable(segment)).isEmpty) }
                expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), testBytes(9000, seed: 24))
            }
        }
    }

    @Test("after key rotation no file holds an old wrapped data key, subject key or canary")
    func rotation() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            _ = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "c", bytes: testBytes(100), context: .test)
            let (dataKeys, subjectKeys, canary) = try withRawReadOnly(t, Vault.FileName.control) { db in
                (try Data.fetchAll(db, sql: "SELECT wrapped FROM data_key ORDER BY id").map { [UInt8]($0) },
                 try Data.fetchAll(db, sql: "SELECT wrapped FROM subject_key").map { [UInt8]($0) },
                 try String.fetchAll(db, sql: "SELECT value FROM vault_info WHERE name IN ('canary', 'pii_canary') ORDER BY name"))
            }
            #expect(dataKeys.count == 2 * ObjectKind.all.count + 1, "the index keys and the period key of the config written")
            #expect(subjectKeys.count == 1)
            var captured = dataKeys.enumerated().map { ("wrapped data key \($0.offset)", $0.element) }
            captured += subjectKeys.map { ("wrapped subject key", $0) }
            #expect(canary.count == 2)
            captured += canary.map { ("canary (base64 text)", Array($0.utf8)) }
            let rotated = try t.keyring.addingActiveKey().addingKey(for: .piiKeyEncryption)
            try await expectGone(t, captured) {
                #expect(try await t.vault.rotateKeys(to: rotated, context: .admin).rewrapped == dataKeys.count + subjectKeys.count)
                // Still readable under the new KEK.
                expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), testBytes(100))
            }
        }
    }
}
