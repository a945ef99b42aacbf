// The code of the DocC article Getting Started (Sources/Coffer/Coffer.docc/GettingStarted.md),
// step by step, as the platform backend writes it: only the public API of `Coffer` and
// `CofferCrypto` (no @testable import in this file). Change the article and this file together.
import Coffer
import CofferCrypto
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The article's steps. Paths are parameters here; the article uses /etc/coffer and /var/lib/coffer.
enum GettingStarted {
    /// "Create the keyring and the vault", once when the platform is set up.
    static func setUp(directory: URL, keyringPath: String) throws {
        let keyringFile = KeyringFile(path: keyringPath)
        try keyringFile.create()                     // or `coffer keys generate --out FILE`
        let vault = try Vault.create(at: directory, keyringFile: keyringFile, operator: "svc-platform")
        try vault.close()
    }

    /// "Open the vault", at every start of the backend.
    static func open(directory: URL, keyringPath: String) throws -> Vault {
        let keyringFile = KeyringFile(path: keyringPath)
        return try Vault.open(at: directory, keyringFile: keyringFile)
    }

    /// "Say who is asking, and why".
    static func registerTenant(_ vault: Vault) async throws {
        let admin = try AccessContext(actor: "svc-platform", purpose: .administration)
        try await vault.createTenant("acme", context: admin)
    }

    /// "Store content" and "Read it back as a stream".
    static func storeAndStream(_ vault: Vault) async throws -> (objectID: ObjectID, bytes: [UInt8]) {
        let context = try AccessContext(actor: "svc-platform", purpose: .serviceOperation, requestID: "req-7f3a")

        let (chunks, feed) = AsyncStream.makeStream(of: Data.self)
        Task {
            feed.yield(Data("{\"vus\": 50, ".utf8))
            feed.yield(Data("\"p95_ms\": 212}".utf8))
            feed.finish()
        }
        let (resultID, version) = try await vault.put(tenant: "acme", kind: .testResult, name: "run-42/summary.json",
                                                      contentsOf: chunks, context: context)
        print("stored \(resultID) version \(version.version), \(version.size) bytes")

        var received: [UInt8] = []
        for try await chunk in try await vault.stream(tenant: "acme", objectID: resultID, context: context) {
            received += chunk                      // only authenticated bytes, in order
        }
        return (resultID, received)
    }

    /// "Handle refusals".
    static func refused(_ vault: Vault, objectID: ObjectID) async throws -> Bool {
        let stranger = try AccessContext(actor: "someone-else", purpose: .support)
        do {
            _ = try await vault.readAll(tenant: "acme", objectID: objectID, context: stranger)
            return false
        } catch let error as CofferError where error.code == .accessDenied {
            print("refused: \(error.message)")     // and the refusal is in the access log
            return true
        }
    }

    /// "Keep personal data in the PII vault".
    static func people(_ vault: Vault) async throws -> (subjectID: SubjectID, found: [SubjectID]) {
        let signUp = try AccessContext(actor: "svc-platform", purpose: .serviceOperation,
                                       justification: "account sign-up", requestID: "req-7f3b")
        let subjectID = try await vault.addSubject(tenant: "acme", name: "Ada Lovelace", email: "ada@example.com",
                                                   company: "Analytical Engines Ltd", context: signUp)

        let login = try AccessContext(actor: "svc-platform", purpose: .serviceOperation,
                                      justification: "login: find the account by email", requestID: "req-7f3c")
        let found = try await vault.findSubjects(tenant: "acme", email: "Ada@Example.com", context: login)
        return (subjectID, found)
    }

    /// "Run the maintenance service": the group the article runs until SIGTERM. The test asks
    /// for no signal (a signal handler would outlive the test) and shuts the group down itself.
    static func maintenanceGroup(_ vault: Vault, untilSIGTERM: Bool) -> ServiceGroup {
        let logger = Logger(label: "platform-backend")
        let serviceGroup = ServiceGroup(services: [vault.makeMaintenance()],   // beside the backend's own services
                                        gracefulShutdownSignals: untilSIGTERM ? [.sigterm] : [], logger: logger)
        return serviceGroup
    }

    /// "Rotate the keys".
    static func rotate(_ vault: Vault) async throws -> KeyRotation {
        let admin = try AccessContext(actor: "svc-platform", purpose: .administration)
        let rotation = try await vault.rotateKeys(context: admin)
        print("now under \(rotation.activeKEK); \(rotation.rewrapped) keys rewrapped; retirable: \(rotation.retirable)")
        return rotation
    }
}

@Suite("Getting started (the DocC article's code)")
struct GettingStartedTests {
    @Test("the article's code runs, in order, against a temporary vault")
    func article() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-getting-started-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let directory = scratch.appendingPathComponent("vault")
        let keyringPath = scratch.appendingPathComponent("keyring.json").path

        try GettingStarted.setUp(directory: directory, keyringPath: keyringPath)
        let vault = try GettingStarted.open(directory: directory, keyringPath: keyringPath)
        try await GettingStarted.registerTenant(vault)

        let (objectID, bytes) = try await GettingStarted.storeAndStream(vault)
        #expect(bytes == Array("{\"vus\": 50, \"p95_ms\": 212}".utf8))
        #expect(try await GettingStarted.refused(vault, objectID: objectID))

        let (subjectID, found) = try await GettingStarted.people(vault)
        #expect(found == [subjectID], "the email is found through the blind index, whatever its case")

        let group = GettingStarted.maintenanceGroup(vault, untilSIGTERM: false)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()       // what SIGTERM does in the article
            try await tasks.waitForAll()
        }

        let before = vault.keyring.activeKeyID
        let beforePII = try #require(vault.keyring.activePIIKey?.id)
        let rotation = try await GettingStarted.rotate(vault)
        #expect(rotation.activeKEK != before)
        #expect(rotation.activePIIKEK != beforePII)
        #expect(rotation.retirable == [before, beforePII])
        #expect(try await vault.readAll(tenant: "acme", objectID: objectID,
                                        context: AccessContext(actor: "svc-platform", purpose: .serviceOperation)) == bytes)
        try vault.close()
    }
}
