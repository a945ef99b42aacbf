import Foundation
import Testing
@testable import CofferCrypto
import CofferTestSupport

/// Writes `text` to `name` in `directory` with `mode` and returns its path.
private func writeFile(_ text: String, named name: String = "keyring.json", in directory: URL, mode: Int = 0o600) throws -> String {
    let path = directory.appendingPathComponent(name).path
    #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return path
}

/// 64 random hex characters.
private func material() throws -> String { hexString(try randomBytes(32)) }

/// A keyring file's text with the given keys (`(id, material)`), active key and extras.
private func keyringJSON(keys: [(String, String)], active: String, format: String = Keyring.formatTag,
                         development: Bool? = nil) -> String {
    let entries = keys.map { #"{"id": "\#($0.0)", "purpose": "kek", "material": "\#($0.1)"}"# }.joined(separator: ", ")
    let dev = development.map { #""development": \#($0), "# } ?? ""
    return #"{"format": "\#(format)", \#(dev)"active": "\#(active)", "keys": [\#(entries)]}"#
}

/// Loads `path` expecting a ``CofferError`` with `code` whose message contains each of `words`.
private func expectLoadFails(_ path: String, _ code: CofferError.Code, mentioning words: [String],
                             sourceLocation: SourceLocation = #_sourceLocation) {
    let error = errorOf(sourceLocation: sourceLocation) { _ = try Keyring.load(from: path) }
    #expect(error?.code == code, sourceLocation: sourceLocation)
    for word in words {
        #expect(error?.message.contains(word) == true, "message \"\(error?.message ?? "none")\" lacks \"\(word)\"",
                sourceLocation: sourceLocation)
    }
}

@Suite("Keyring")
struct KeyringTests {
    @Test func generateWriteLoadRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let keyring = try Keyring.generate()
            let path = dir.appendingPathComponent("keyring.json").path
            try keyring.write(to: path)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let loaded = try Keyring.load(from: path)
            #expect(loaded.activeKeyID == keyring.activeKeyID)
            #expect(loaded.entries.map(\.id) == keyring.entries.map(\.id))
            #expect(loaded.entries.first?.purpose == .keyEncryption)
            #expect(!loaded.isDevelopment)
            #expect(loaded.activeKey.material.constantTimeEquals(keyring.activeKey.material))
            #expect(loaded.activeKey.material.count == 32)
            // What the generated keyring wraps, the loaded one unwraps.
            let dataKey = try randomKey()
            let wrapped = try keyring.activeKey.wrap(dataKey, context: "tenant/acme/content")
            #expect(try loaded.keyEncryptionKey(id: wrapped.kekID).unwrap(wrapped, context: "tenant/acme/content")
                .constantTimeEquals(dataKey))
        }
    }

    @Test("the generation is read, written back, and must be a whole number of 0 or more")
    func generation() throws {
        try withTemporaryDirectory { dir in
            let key = try material()
            let base = keyringJSON(keys: [("k1", key)], active: "k1")
            let withGeneration = base.replacingOccurrences(of: #""active""#, with: #""generation": 7, "active""#)
            #expect(try Keyring.load(from: writeFile(withGeneration, in: dir)).generation == 7)
            #expect(try Keyring.load(from: writeFile(base, named: "plain.json", in: dir)).generation == 0)
            for bad in [#""generation": -1, "#, #""generation": "7", "#, #""generation": 1.5, "#] {
                let text = base.replacingOccurrences(of: #""active""#, with: bad + #""active""#)
                expectLoadFails(try writeFile(text, named: "bad-\(UUID().uuidString).json", in: dir), .keyringMalformed,
                                mentioning: ["generation"])
            }
            let next = try Keyring.generate().nextGeneration().nextGeneration()
            let path = dir.appendingPathComponent("next.json").path
            try next.write(to: path)
            let loaded = try Keyring.load(from: path)
            #expect(loaded.generation == 2)
            #expect(loaded.holdsEveryKey(of: next) && next.holdsEveryKey(of: loaded))
            #expect(!loaded.holdsEveryKey(of: try next.addingActiveKey()), "a keyring without the new KEK does not hold it")
        }
    }

    @Test func generatedKeysDiffer() throws {
        let a = try Keyring.generate(), b = try Keyring.generate()
        #expect(a.activeKeyID != b.activeKeyID)
        #expect(!a.activeKey.material.constantTimeEquals(b.activeKey.material))
        #expect(a.activeKeyID.hasPrefix("kek-"))
    }

    @Test func missingFileIsUnreadable() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("nothing-here.json").path
            expectLoadFails(path, .keyringUnreadable, mentioning: [path, "No such file"])
        }
    }

    @Test func readableByOthersIsInsecureUnlessDevelopment() throws {
        try withTemporaryDirectory { dir in
            let m = try material()
            let open = try writeFile(keyringJSON(keys: [("k1", m)], active: "k1"), named: "open.json", in: dir, mode: 0o644)
            expectLoadFails(open, .keyringInsecure, mentioning: ["chmod 600", open, "644"])
            let groupOnly = try writeFile(keyringJSON(keys: [("k1", m)], active: "k1"), named: "group.json", in: dir, mode: 0o640)
            expectLoadFails(groupOnly, .keyringInsecure, mentioning: ["chmod 600"])
            let dev = try writeFile(keyringJSON(keys: [("k1", m)], active: "k1", development: true),
                                    named: "dev.json", in: dir, mode: 0o644)
            let loaded = try Keyring.load(from: dev)
            #expect(loaded.isDevelopment)
            #expect(loaded.activeKeyID == "k1")
            #expect(loaded.activeKey.material.withUnsafeBytes { hexString($0) } == m)
            let notDev = try writeFile(keyringJSON(keys: [("k1", m)], active: "k1", development: false),
                                       named: "notdev.json", in: dir, mode: 0o644)
            expectLoadFails(notDev, .keyringInsecure, mentioning: ["chmod 600"])
        }
    }

    @Test func ownerOnlyModesLoad() throws {
        try withTemporaryDirectory { dir in
            for mode in [0o600, 0o400] {
                let path = try writeFile(keyringJSON(keys: [("k1", try material())], active: "k1"), named: "k\(mode).json",
                                         in: dir, mode: mode)
                #expect(try Keyring.load(from: path).activeKeyID == "k1")
            }
        }
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let name: String
        let text: @Sendable () throws -> String
        let mentions: [String]
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "not JSON", text: { "format = coffer-keyring-v1\n" }, mentions: ["not valid JSON"]),
        Malformed(name: "JSON array", text: { "[1, 2]" }, mentions: ["top level"]),
        Malformed(name: "wrong format", text: { keyringJSON(keys: [("k1", try material())], active: "k1", format: "coffer-keyring-v2") },
                  mentions: ["\"format\"", "coffer-keyring-v1"]),
        Malformed(name: "empty keys", text: { keyringJSON(keys: [], active: "k1") }, mentions: ["\"keys\"", "non-empty"]),
        Malformed(name: "62 hex characters", text: { keyringJSON(keys: [("k1", String(try material().dropLast(2)))], active: "k1") },
                  mentions: ["k1", "62 characters", "64 hex"]),
        Malformed(name: "non-hex material", text: { keyringJSON(keys: [("k1", "zz" + String(try material().dropFirst(2)))], active: "k1") },
                  mentions: ["k1", "hex digits only"]),
        Malformed(name: "one byte repeated", text: { keyringJSON(keys: [("k1", String(repeating: "ab", count: 32))], active: "k1") },
                  mentions: ["k1", "repeated"]),
        Malformed(name: "duplicate ids", text: { keyringJSON(keys: [("k1", try material()), ("k1", try material())], active: "k1") },
                  mentions: ["k1", "appears twice"]),
        Malformed(name: "same material twice", text: {
            let m = try material()
            return keyringJSON(keys: [("k1", m), ("k2", m)], active: "k1")
        }, mentions: ["k1", "k2", "same material"]),
        Malformed(name: "active names a missing key", text: { keyringJSON(keys: [("k1", try material())], active: "k9") },
                  mentions: ["\"active\"", "k9"]),
        Malformed(name: "bad id", text: { keyringJSON(keys: [("k 1", try material())], active: "k 1") }, mentions: ["id"]),
    ]

    @Test(arguments: malformed)
    func malformedFileIsRejected(_ m: Malformed) throws {
        try withTemporaryDirectory { dir in
            let path = try writeFile(try m.text(), in: dir)
            expectLoadFails(path, .keyringMalformed, mentioning: m.mentions + [path])
        }
    }

    @Test func writeRefusesToOverwrite() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("keyring.json").path
            let first = try Keyring.generate()
            try first.write(to: path)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = errorOf { try Keyring.generate().write(to: path) }
            #expect(error?.code == .alreadyExists)
            #expect(error?.message.contains(path) == true)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
            #expect(try Keyring.load(from: path).activeKeyID == first.activeKeyID)
            // Nothing is left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["keyring.json"])
            // Replacing is possible when asked for.
            let second = try Keyring.generate()
            try second.write(to: path, replacing: true)
            #expect(try Keyring.load(from: path).activeKeyID == second.activeKeyID)
        }
    }

    @Test func developmentFlagSurvivesWriteAndLoad() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("dev.json").path
            try Keyring.generate(development: true).write(to: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(try Keyring.load(from: path).isDevelopment)
        }
    }

    @Test func addingActiveKeyKeepsOldKeys() throws {
        let original = try Keyring.generate()
        let oldID = original.activeKeyID
        let wrapped = try original.activeKey.wrap(try randomKey(), context: "c")
        let rotated = try original.addingActiveKey()
        #expect(rotated.entries.count == original.entries.count + 1)
        #expect(rotated.activeKeyID != oldID)
        #expect(rotated.keyEncryptionKeyIDs == [oldID, rotated.activeKeyID])
        #expect(rotated.activeKey.id == rotated.activeKeyID)
        #expect(!rotated.activeKey.material.constantTimeEquals(original.activeKey.material))
        _ = try rotated.keyEncryptionKey(id: oldID).unwrap(wrapped, context: "c")
        #expect(errorCode { _ = try rotated.activeKey.unwrap(wrapped, context: "c") } == .invalidArgument)
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("rotated.json").path
            try rotated.write(to: path)
            let loaded = try Keyring.load(from: path)
            #expect(loaded.activeKeyID == rotated.activeKeyID)
            #expect(loaded.keyEncryptionKeyIDs == [oldID, rotated.activeKeyID])
        }
    }

    @Test func removingKey() throws {
        let rotated = try Keyring.generate().addingActiveKey()
        let oldID = rotated.keyEncryptionKeyIDs[0]
        let error = errorOf { _ = try rotated.removingKey(id: rotated.activeKeyID) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("active") == true)
        #expect(errorCode { _ = try rotated.removingKey(id: "no-such-key") } == .keyNotFound)
        let trimmed = try rotated.removingKey(id: oldID)
        #expect(trimmed.keyEncryptionKeyIDs == [rotated.activeKeyID])
        #expect(errorCode { _ = try trimmed.keyEncryptionKey(id: oldID) } == .keyNotFound)
    }

    @Test func keysForOtherPurposes() throws {
        let generated = try Keyring.generate()
        // A new keyring carries one key of each purpose; only the KEK is active.
        #expect(generated.entries.map(\.purpose) == [.keyEncryption, .blindIndex, .auditSigning, .piiKeyEncryption])
        #expect(generated.activePIIKey?.id == generated.piiKeyEncryptionKeyIDs.last)
        let firstBlind = try #require(generated.secret(for: .blindIndex))
        let keyring = try generated.addingKey(for: .blindIndex)
        #expect(keyring.secret(for: .blindIndex)?.count == 32)
        #expect(keyring.secret(for: .blindIndex)?.constantTimeEquals(firstBlind) == false, "the newest key of a purpose wins")
        #expect(keyring.secret(for: .auditSigning)?.count == 32)
        #expect(keyring.keyEncryptionKeyIDs.count == 1)
        // Keys other than KEKs are never removed: a vault needs them for its whole life.
        #expect(errorCode { _ = try generated.removingKey(id: generated.entries[2].id) } == .invalidArgument)
        // A keyring made before the other purposes existed holds only a KEK.
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("old.json").path
            let text = """
                {"format": "coffer-keyring-v1", "active": "k1",
                 "keys": [{"id": "k1", "material": "\(String(repeating: "ab", count: 31))cd"}]}
                """
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            let onlyKEK = try Keyring.load(from: path)
            #expect(onlyKEK.secret(for: .auditSigning) == nil)
            let error = errorOf { _ = try onlyKEK.requiredSecret(for: .auditSigning) }
            #expect(error?.code == .keyNotFound)
            #expect(error?.message.contains("coffer keys add --purpose audit-signing") == true)
        }
        let blindID = try #require(keyring.entries.last?.id)
        #expect(errorCode { _ = try keyring.keyEncryptionKey(id: blindID) } == .keyNotFound)
    }
}
