import Foundation
import GRDB
import Testing
@testable import Coffer
@testable import CofferCrypto

/// A vault whose keyring is a file, in its own temporary directory.
struct FileKeyedVault {
    let directory: URL
    let file: KeyringFile
    let vault: Vault

    /// The vault directory opened again with the keyring file, as another process would.
    func reopen() throws -> Vault { try Vault.open(at: directory, keyringFile: file) }
}

/// Creates a vault keyed by a keyring file (tenants `tenants`, a privacy officer registered),
/// runs `body`, and removes everything afterwards.
func withFileKeyedVault<R>(tenants: [TenantID] = ["acme"], _ body: (FileKeyedVault) async throws -> R) async throws -> R {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-keys-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let file = KeyringFile(path: root.appendingPathComponent("keyring.json").path)
    try file.create()
    let directory = root.appendingPathComponent("vault")
    let vault = try Vault.create(at: directory, keyringFile: file, operator: "store-tests", segmentSize: testSegmentSize)
    vault.configurePII(PIISettings(passwordHashing: .piiTestFast))
    try await vault.addPrincipal(PIIPrincipal.officer, roles: [.privacyOfficer], context: .admin)
    for tenant in tenants { try await vault.createTenant(tenant, context: .test) }
    return try await body(FileKeyedVault(directory: directory, file: file, vault: vault))
}

/// What a test stored, to read back after key changes.
struct StoredData {
    var objects: [(tenant: TenantID, id: ObjectID, bytes: [UInt8])] = []
    var subjects: [(id: SubjectID, email: String)] = []

    /// Stores one object and one person in `tenant`.
    mutating func add(to vault: Vault, tenant: TenantID, seed: Int) async throws {
        let bytes = testBytes(5000 + seed, seed: UInt64(seed))
        let (id, _) = try await vault.put(tenant: tenant, kind: .testScript, name: "doc-\(seed)", bytes: bytes, context: .test)
        objects.append((tenant, id, bytes))
        let email = "person\(seed)@\(tenant).example"
        let subject = try await vault.addSubject(tenant: tenant, name: "Person \(seed)", email: email, company: nil, context: .piiService)
        subjects.append((subject, email))
    }

    /// Reads every object and person back through `vault`.
    func expectReadable(through vault: Vault, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for object in objects {
            expectSameBytes(try await vault.readAll(tenant: object.tenant, objectID: object.id, context: .test), object.bytes,
                            sourceLocation: sourceLocation)
        }
        for subject in subjects {
            let record = try await vault.subject(subject.id, context: .piiOfficer)
            #expect(record.email == subject.email, sourceLocation: sourceLocation)
        }
    }
}

@Suite("Key manager")
struct KeyManagerTests {
    @Test("concurrent keyring changes from many threads all land: every key kept, one generation each, previous file kept")
    func concurrentUpdates() async throws {
        try await withTemporaryPath { root in
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let file = KeyringFile(path: root.appendingPathComponent("keyring.json").path)
            let original = try file.create()
            // Each thread adds a KEK the way a rotation does; without the lock and the fresh read
            // the last writer would drop the others' keys.
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                _ = try? file.update { try $0.addingActiveKey() }
            }
            let final = try file.load()
            #expect(final.generation == 8)
            #expect(final.keyEncryptionKeyIDs.count == 9, "the original KEK and all eight added ones")
            #expect(final.holdsEveryKey(of: Keyring(entries: original.entries, activeKeyID: final.activeKeyID, isDevelopment: false)))
            let previous = try Keyring.load(from: file.previousPath)
            #expect(previous.generation == 7)
            #expect(final.keyEncryptionKeyIDs.starts(with: previous.keyEncryptionKeyIDs))
        }
    }

    @Test("a change that throws leaves the file as it was")
    func failedUpdateChangesNothing() async throws {
        try await withTemporaryPath { root in
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let file = KeyringFile(path: root.appendingPathComponent("keyring.json").path)
            try file.create()
            let before = try Data(contentsOf: URL(fileURLWithPath: file.path))
            #expect(throws: CofferError.self) { try file.update { _ in throw CofferError(.invalidArgument, "no") } }
            #expect(try Data(contentsOf: URL(fileURLWithPath: file.path)) == before)
            #expect(throws: CofferError.self) { try file.addKey(for: .blindIndex) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: file.path)) == before)
        }
    }

    @Test("rotating a file-keyed vault with people and content: all readable, old KEK retired, reopened without it")
    func rotateWithSubjects() async throws {
        try await withFileKeyedVault(tenants: ["acme", "globex"]) { t in
            var data = StoredData()
            try await data.add(to: t.vault, tenant: "acme", seed: 1)
            try await data.add(to: t.vault, tenant: "globex", seed: 2)
            let oldKEK = try t.file.load().activeKeyID
            let oldPIIKEK = try #require(try t.file.load().activePIIKey?.id)
            let rotation = try await t.vault.rotateKeys(context: .admin)
            #expect(!rotation.resumed)
            #expect(rotation.rewrapped == 2 * ObjectKind.all.count + 2 + 2, "every index key, the two period keys written and both subject keys")
            #expect(rotation.retirable == [oldKEK, oldPIIKEK])
            #expect(try t.file.load().activeKeyID == rotation.activeKEK, "the new KEK is in the file")
            #expect(try t.file.load().activePIIKey?.id == rotation.activePIIKEK, "and the new PII KEK")
            let status = try await t.vault.keyStatus(context: .admin)
            #expect(Set(status.filter { $0.dataClass != "pii-subject" }.map(\.kekID)) == [rotation.activeKEK])
            #expect(Set(status.filter { $0.dataClass == "pii-subject" }.map(\.kekID)) == [rotation.activePIIKEK],
                    "subject keys are wrapped under the PII KEK, never a content one")
            try await data.expectReadable(through: t.vault)

            let retired = try await t.vault.retireKey(oldKEK, context: .admin)
            #expect(!retired.keyEncryptionKeyIDs.contains(oldKEK))
            #expect(try !t.file.load().keyEncryptionKeyIDs.contains(oldKEK))
            try t.vault.close()
            let reopened = try t.reopen()
            try await data.expectReadable(through: reopened)
            try reopened.close()
        }
    }

    @Test("retiring a KEK that keys still depend on, or the vault's current one, is refused and changes nothing")
    func retireRefusals() async throws {
        try await withFileKeyedVault { t in
            let current = try t.file.load().activeKeyID
            await expectCofferError(.invalidArgument) { try await t.vault.retireKey(current, context: .admin) }
            // A second vault sharing nothing: its KEK is not in this keyring.
            await expectCofferError(.keyNotFound) { try await t.vault.retireKey("kek-none", context: .admin) }
            #expect(try t.file.load().activeKeyID == current)
            #expect(try t.file.load().generation == 0, "nothing was saved")
        }
    }

    @Test("a vault opened before another process rotated keeps reading and writing, and wraps new keys under the new KEK")
    func staleProcessKeepsWorking() async throws {
        try await withFileKeyedVault { t in
            var data = StoredData()
            try await data.add(to: t.vault, tenant: "acme", seed: 1)
            let other = try t.reopen()  // "another process"
            let first = try await other.rotateKeys(context: .admin)
            // The other process registers a tenant and stores data under the new KEK.
            try await other.createTenant("globex", context: .test)
            try await data.add(to: other, tenant: "globex", seed: 2)
            // The first vault still holds the old keyring in memory. It registers a tenant before
            // it has met the new KEK anywhere, then reads the other process's data.
            #expect(t.vault.keyring.activeKeyID != first.activeKEK)
            try await t.vault.createTenant("initech", context: .test)
            try await data.add(to: t.vault, tenant: "initech", seed: 3)
            try await data.expectReadable(through: t.vault)
            #expect(Set(try await t.vault.keyStatus(context: .admin).map(\.kekID)) == [first.activeKEK, first.activePIIKEK],
                    "the stale process wrapped its new keys under the vault's current KEK, not its old active one")
            // A second rotation and the retirement of every old KEK: both vaults keep working.
            let second = try await other.rotateKeys(context: .admin)
            for id in second.retirable { try await other.retireKey(id, context: .admin) }
            try await data.add(to: t.vault, tenant: "acme", seed: 4)
            try await data.expectReadable(through: t.vault)
            try await data.expectReadable(through: other)
            #expect(t.vault.keyring.generation == other.keyring.generation, "the stale vault reloaded the file")
            try other.close()
            try t.vault.close()
            let reopened = try t.reopen()
            try await data.expectReadable(through: reopened)
            try reopened.close()
        }
    }

    @Test("a rotation interrupted between batches is finished by the next one, under the same new KEK")
    func interruptedRotationResumes() async throws {
        // 40 tenants: 280 data keys, more than one batch of 256.
        let tenants = (0..<40).map { TenantID("t\($0)") }
        try await withFileKeyedVault(tenants: tenants) { t in
            var data = StoredData()
            try await data.add(to: t.vault, tenant: "t0", seed: 1)
            try await data.add(to: t.vault, tenant: "t39", seed: 2)
            t.vault.keys.afterRewrapBatch.withLock { $0 = { done in throw CofferError(.io, "injected crash after \(done) keys") } }
            await expectCofferError(.io) { _ = try await t.vault.rotateKeys(context: .admin) }
            t.vault.keys.afterRewrapBatch.withLock { $0 = nil }
            let target = try t.file.load().activeKeyID
            let piiTarget = try #require(try t.file.load().activePIIKey?.id)
            let split = Dictionary(grouping: try await t.vault.keyStatus(context: .admin), by: \.kekID).mapValues(\.count)
            #expect(split[target] == KeyManager.rewrapBatchSize, "one batch was rewrapped before the crash")
            #expect(split.count == 3, "the rest still under the old KEK, the subject keys under the old PII KEK")
            // Everything reads in the half-rotated state, also from a fresh open.
            try await data.expectReadable(through: t.vault)
            try t.vault.close()
            let reopened = try t.reopen()
            try await data.expectReadable(through: reopened)
            let finished = try await reopened.rotateKeys(context: .admin)
            #expect(finished.resumed)
            #expect(finished.activeKEK == target, "the interrupted rotation's KEK, not another new one")
            #expect(finished.rewrapped == tenants.count * ObjectKind.all.count + 2 + 2 - KeyManager.rewrapBatchSize, "index keys, two period keys, two subject keys")
            #expect(try t.file.load().keyEncryptionKeyIDs.count == 2)
            #expect(finished.activePIIKEK == piiTarget)
            #expect(Set(try await reopened.keyStatus(context: .admin).map(\.kekID)) == [target, piiTarget])
            try await data.expectReadable(through: reopened)
            try reopened.close()
        }
    }

    @Test("a development keyring is refused unless the caller opts in")
    func developmentKeyringNeedsOptIn() async throws {
        try await withTemporaryPath { root in
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let file = KeyringFile(path: root.appendingPathComponent("dev.json").path)
            try file.create(development: true)
            let directory = root.appendingPathComponent("vault")
            let error = await expectCofferError(.keyringInsecure) {
                _ = try Vault.create(at: directory, keyringFile: file, operator: "op")
            }
            #expect(error?.message.contains("development") == true)
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("control.sqlite").path), "nothing was created")
            await expectCofferError(.keyringInsecure) {
                _ = try Vault.create(at: directory, keyring: try file.load(), operator: "op")
            }
            let vault = try Vault.create(at: directory, keyringFile: file, operator: "op", allowDevelopmentKeyring: true)
            try vault.close()
            await expectCofferError(.keyringInsecure) { _ = try Vault.open(at: directory, keyringFile: file) }
            try Vault.open(at: directory, keyringFile: file, allowDevelopmentKeyring: true).close()
        }
    }

    @Test("init refuses a directory holding vault files; open names a missing control file and how to restore it")
    func vaultFilesAndMissingControl() async throws {
        try await withFileKeyedVault { t in
            try t.vault.close()
            let control = t.directory.appendingPathComponent("control.sqlite")
            try FileManager.default.moveItem(at: control, to: t.directory.appendingPathComponent("control.moved"))
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: control.path + suffix) }
            let error = await expectCofferError(.notFound) { _ = try t.reopen() }
            #expect(error?.message.contains("control.sqlite is missing") == true, "\(String(describing: error))")
            #expect(error?.message.contains("restore") == true)
            // With control.sqlite gone, init must not make a fresh vault over the old files.
            let refusal = await expectCofferError(.alreadyExists) {
                _ = try Vault.create(at: t.directory, keyringFile: t.file, operator: "op")
            }
            #expect(refusal?.message.contains("content.sqlite") == true)
            #expect(!FileManager.default.fileExists(atPath: control.path))
        }
    }

    @Test("an empty operator id is refused before anything is created")
    func emptyOperator() async throws {
        try await withTemporaryPath { directory in
            await expectCofferError(.invalidArgument) { _ = try Vault.create(at: directory, keyring: try Keyring.generate(), operator: "") }
            #expect(!FileManager.default.fileExists(atPath: directory.path))
        }
    }
}
