import Foundation
import GRDB
import Synchronization
import Testing
@testable import Coffer
@testable import CofferCrypto

/// Key changes through the CLI from several processes at once (issue 8's critical defect: two
/// rotations, or a rotation beside `keys add`, could leave keys wrapped under a KEK in no file).
@Suite("Key rotation across processes")
struct KeyRotationCLITests {
    private func withCLIVault(_ body: (CofferCLI, KeyringFile) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-rotate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = KeyringFile(path: dir.appendingPathComponent("keyring.json").path)
        try file.create()
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: file.path)
        #expect(try cli.run(["init", "--segment-size", "65536"]).status == 0)
        #expect(try cli.run(["tenant", "add", "acme"]).status == 0)
        try await body(cli, file)
    }

    /// Runs two CLI commands at the same moment, each in its own process.
    private func together(_ cli: CofferCLI, _ first: [String], _ second: [String]) -> [(status: Int32, output: String, error: String)] {
        let results = Mutex<[Int: (status: Int32, output: String, error: String)]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { n in
            let result = (try? cli.run(n == 0 ? first : second)) ?? (-1, "", "spawn failed")
            results.withLock { $0[n] = result }
        }
        return results.withLock { [$0[0]!, $0[1]!] }
    }

    /// Stores content and a person through the library (keyed by the file), returns what to read back.
    private func seed(_ cli: CofferCLI, _ file: KeyringFile) async throws -> StoredData {
        let vault = try Vault.open(at: cli.vault, keyringFile: file)
        defer { try? vault.close() }
        try await vault.addPrincipal(PIIPrincipal.officer, roles: [.privacyOfficer], context: .cliAdmin)
        vault.configurePII(PIISettings(passwordHashing: .piiTestFast))
        var data = StoredData()
        for n in 0..<3 {
            let bytes = testBytes(70_000 + n, seed: UInt64(n))
            let (id, _) = try await vault.put(tenant: "acme", kind: .testResult, name: "run-\(n)", bytes: bytes, context: .cliService)
            data.objects.append(("acme", id, bytes))
            let email = "p\(n)@acme.example"
            let subject = try await vault.addSubject(tenant: "acme", name: "P \(n)", email: email, company: nil, context: .cliServicePII)
            data.subjects.append((subject, email))
        }
        return data
    }

    /// Opens the vault afresh with the keyring file as it is now and reads everything back.
    private func expectIntact(_ cli: CofferCLI, _ file: KeyringFile, _ data: StoredData, round: Int) async throws {
        let vault = try Vault.open(at: cli.vault, keyringFile: file)
        defer { try? vault.close() }
        for object in data.objects {
            expectSameBytes(try await vault.readAll(tenant: object.tenant, objectID: object.id, context: .cliService), object.bytes,
                            "round \(round)")
        }
        for subject in data.subjects {
            #expect(try await vault.subject(subject.id, context: .cliOfficer).email == subject.email, "round \(round)")
        }
        let keyring = try file.load()
        let inUse = Set(try await vault.keyStatus(context: .cliAdmin).map(\.kekID))
        #expect(inUse.isSubset(of: Set(keyring.keyEncryptionKeyIDs + keyring.piiKeyEncryptionKeyIDs)), "round \(round): every KEK in use is in the file")
    }

    @Test("20 rounds of two concurrent `keys rotate`: both succeed, one after the other, and every object and person stays readable")
    func concurrentRotations() async throws {
        try await withCLIVault { cli, file in
            let data = try await seed(cli, file)
            for round in 1...20 {
                let results = together(cli, ["keys", "rotate"], ["keys", "rotate"])
                for result in results { #expect(result.status == 0, "round \(round): \(result.error)") }
                try await expectIntact(cli, file, data, round: round)
                #expect(try file.load().keyEncryptionKeyIDs.count == 1 + 2 * round, "round \(round): no KEK was lost")
            }
        }
    }

    @Test("20 rounds of `keys rotate` beside `keys add`: the new KEK and the added key both land, data stays readable")
    func rotationBesideAdd() async throws {
        try await withCLIVault { cli, file in
            // Content only: the added purpose is blind-index, which the test removes before each
            // round so that `keys add` has something to add.
            let vault = try Vault.open(at: cli.vault, keyringFile: file)
            var data = StoredData()
            for n in 0..<3 {
                let bytes = testBytes(66_000 + n, seed: UInt64(n))
                let (id, _) = try await vault.put(tenant: "acme", kind: .scanResult, name: "scan-\(n)", bytes: bytes, context: .cliService)
                data.objects.append(("acme", id, bytes))
            }
            try vault.close()
            for round in 1...20 {
                try file.update { keyring in
                    Keyring(entries: keyring.entries.filter { $0.purpose != .blindIndex }, activeKeyID: keyring.activeKeyID,
                            isDevelopment: false, generation: keyring.generation)
                }
                let before = try file.load().keyEncryptionKeyIDs.count
                let results = together(cli, ["keys", "rotate"], ["keys", "add", "--purpose", "blind-index"])
                for result in results { #expect(result.status == 0, "round \(round): \(result.error)") }
                let after = try file.load()
                #expect(after.keyEncryptionKeyIDs.count == before + 1, "round \(round): the rotation's KEK is in the file")
                #expect(after.secret(for: .blindIndex) != nil, "round \(round): the added key is in the file")
                try await expectIntact(cli, file, data, round: round)
            }
        }
    }

    @Test("the CLI has no default keyring, and a development keyring needs --allow-development-keyring")
    func noDefaultKeyring() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-nokeyring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: "")
        let missing = try cli.spawn(["init"], environment: ["COFFER_KEYRING": nil])
        #expect(missing.status == 1)
        #expect(missing.error.contains("no keyring given"), "\(missing.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.vault.path), "nothing was created")

        let development = dir.appendingPathComponent("dev.json").path
        try KeyringFile(path: development).create(development: true)
        let refused = try cli.spawn(["init"], environment: ["COFFER_KEYRING": development])
        #expect(refused.status == 1)
        #expect(refused.error.contains("keyring-insecure"), "\(refused.error)")
        #expect(!FileManager.default.fileExists(atPath: cli.vault.path))
        let allowed = try cli.spawn(["init", "--allow-development-keyring"], environment: ["COFFER_KEYRING": development])
        #expect(allowed.status == 0, "\(allowed.error)")
        #expect(allowed.error.contains("development keyring"), "a warning on stderr")
        #expect(try cli.spawn(["tenant", "list"], environment: ["COFFER_KEYRING": development]).status == 1)
        #expect(try cli.spawn(["tenant", "list"], environment: ["COFFER_KEYRING": development, "COFFER_ALLOW_DEVELOPMENT_KEYRING": "1"]).status == 0)
    }
}

extension AccessContext {
    /// The CLI tests' actor (registered by `coffer init`) as administrator.
    static let cliAdmin = try! AccessContext(actor: "cli-test", purpose: .administration)
    /// The same actor as the backend.
    static let cliService = try! AccessContext(actor: "cli-test", purpose: .serviceOperation)
    /// The same actor as the backend handling personal data.
    static let cliServicePII = try! AccessContext(actor: "cli-test", purpose: .serviceOperation, justification: "test: sign-up")
    /// The privacy officer of ``KeyRotationCLITests`` on a subject request.
    static let cliOfficer = try! AccessContext(actor: PIIPrincipal.officer, purpose: .subjectRequest, justification: "test: access request")
}

@Suite("Key rotation killed between batches")
struct RotationCrashTests {
    @Test("kill -9 after the first rewrap batch: files sound, everything readable, the next rotate finishes under the same KEK")
    func killedMidRotation() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-rotate-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = KeyringFile(path: dir.appendingPathComponent("keyring.json").path)
        try file.create()
        let cli = CofferCLI(executable: try CofferCLI.locate(), vault: dir.appendingPathComponent("vault"), keyring: file.path)
        #expect(try cli.run(["init"]).status == 0)
        // 40 tenants: 280 data keys, more than one batch of 256.
        var data = StoredData()
        do {
            let vault = try Vault.open(at: cli.vault, keyringFile: file)
            defer { try? vault.close() }
            for n in 0..<40 { try await vault.createTenant(TenantID("t\(n)"), context: .cliAdmin) }
            for n in [0, 39] {
                let bytes = testBytes(9000, seed: UInt64(n))
                let (id, _) = try await vault.put(tenant: TenantID("t\(n)"), kind: .config, name: "c", bytes: bytes, context: .cliService)
                data.objects.append((TenantID("t\(n)"), id, bytes))
            }
        }
        let killed = try cli.spawn(["keys", "rotate"], environment: ["COFFER_CRASH_AT": "rotate.after-batch"])
        #expect(killed.status == 137)
        let target = try file.load().activeKeyID
        for name in ["control.sqlite", "content.sqlite", "audit.sqlite"] {
            let queue = try DatabaseQueue(path: cli.vault.appendingPathComponent(name).path)
            let check = try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            #expect(check == ["ok"], "\(name)")
            try queue.close()
        }
        do {
            let vault = try Vault.open(at: cli.vault, keyringFile: file)
            defer { try? vault.close() }
            let split = Dictionary(grouping: try await vault.keyStatus(context: .cliAdmin), by: \.kekID).mapValues(\.count)
            #expect(split[target] == KeyManager.rewrapBatchSize, "one batch rewrapped before the kill: \(split)")
            for object in data.objects {
                expectSameBytes(try await vault.readAll(tenant: object.tenant, objectID: object.id, context: .cliService), object.bytes)
            }
        }
        let finished = try cli.run(["keys", "rotate"])
        #expect(finished.status == 0, "\(finished.error)")
        #expect(finished.output.contains("finished an interrupted rotation to \(target)"), "\(finished.output)")
        #expect(try cli.run(["audit", "verify"]).status == 0)
        let vault = try Vault.open(at: cli.vault, keyringFile: file)
        defer { try? vault.close() }
        #expect(Set(try await vault.keyStatus(context: .cliAdmin).map(\.kekID)) == [target])
        for object in data.objects {
                expectSameBytes(try await vault.readAll(tenant: object.tenant, objectID: object.id, context: .cliService), object.bytes)
            }
    }
}
