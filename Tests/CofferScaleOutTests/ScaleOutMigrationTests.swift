import Coffer
import CofferCrypto
import CofferObjectStore
@testable import CofferScaleOut
import CofferScaleOutTestSupport
import Foundation
import Testing

private let admin = try! AccessContext(actor: "ops", purpose: .administration)
private let service = try! AccessContext(actor: "ops", purpose: .serviceOperation)
private let signup = try! AccessContext(actor: "ops", purpose: .serviceOperation, justification: "migration test: sign-up")
private let officer = try! AccessContext(actor: "officer", purpose: .subjectRequest, justification: "migration test: subject request")
private let auditor = try! AccessContext(actor: "ops", purpose: .audit)

@Suite("coffer migrate: an embedded vault to PostgreSQL + S3", .enabled(if: ScaleOutTestServers.available), .serialized)
struct ScaleOutMigrationTests {
    @Test("content, PII and the log move; everything reads and verifies there; an interrupted move is finished by the next run; a finished one is refused")
    func migrate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyringFile = KeyringFile(path: directory.appendingPathComponent("keyring.json").path)
        try Keyring.generate().write(to: keyringFile.path)
        let source = try Vault.create(at: directory.appendingPathComponent("vault"), keyringFile: keyringFile, operator: "ops", segmentSize: 65536)
        try await source.createTenant("acme", context: admin)
        try await source.createTenant("globex", context: admin)
        try await source.addPrincipal("officer", roles: [.privacyOfficer], context: admin)
        var objects: [(TenantID, ObjectID, Int?, [UInt8])] = []
        for (n, size) in [1, 70_000, 3 << 20, 9 << 20].enumerated() {
            let bytes = try SecureRandom.bytes(size)
            let tenant: TenantID = n % 2 == 0 ? "acme" : "globex"
            let (id, info) = try await source.put(tenant: tenant, kind: .testResult, name: "run-\(n)", bytes: bytes, context: service)
            objects.append((tenant, id, info.version, bytes))
        }
        let (twice, first) = try await source.put(tenant: "acme", kind: .testScript, name: "script", bytes: Array("v1".utf8), context: service)
        _ = try await source.put(tenant: "acme", kind: .testScript, name: "script", bytes: Array("v2".utf8), context: service)
        objects.append(("acme", twice, first.version, Array("v1".utf8)))
        objects.append(("acme", twice, nil, Array("v2".utf8)))
        let (gone, _) = try await source.put(tenant: "acme", kind: .testScript, name: "gone", bytes: [1, 2, 3], context: service)
        _ = try await source.delete(tenant: "acme", objectID: gone, context: service)
        let ada = try await source.addSubject(tenant: "acme", name: "Ada Lovelace", email: "ada@example.com", company: "Analytical", context: signup)
        let sourceLog = try await source.verifyAuditLog(context: auditor)
        #expect(sourceLog.ok)

        try await ScaleOutTestServers.withFreshConfiguration { configuration in
            // Killed after three versions, the fourth's segments uploaded but not committed.
            ScaleOutMigration.beforeVersionCommit.withLock { $0 = { moved in if moved == 3 { throw CofferError(.storage, "killed") } } }
            await #expect(throws: CofferError.self) { _ = try await ScaleOutMigration.run(from: source, to: configuration, keyringFile: keyringFile, context: auditor) }
            ScaleOutMigration.beforeVersionCommit.withLock { $0 = nil }
            let error = await #expect(throws: CofferError.self) { _ = try await Vault.open(configuration, keyringFile: keyringFile) }
            #expect(error?.code == .notFound, "half moved, the target is not a vault yet: \(String(describing: error))")

            let report = try await ScaleOutMigration.run(from: source, to: configuration, keyringFile: keyringFile, context: auditor)
            #expect(report.versionsRedone == 1 && report.versionsAlreadyThere == 3 && report.versionsMoved == 3, "\(report)")
            #expect(report.logVerified && report.segmentsCompared == report.segments && report.segments > 100)
            #expect(report.tables["subject"] == 1 && (report.tables["record"] ?? 0) > Int(sourceLog.treeSize))

            let target = try await Vault.open(configuration, keyringFile: keyringFile)
            defer { try? target.close() }
            for (tenant, id, version, bytes) in objects {
                #expect(try await target.readAll(tenant: tenant, objectID: id, version: version, context: service) == bytes)
            }
            await #expect(throws: CofferError.self) { _ = try await target.readAll(tenant: "acme", objectID: gone, context: service) }
            let record = try await target.subject(ada, context: officer)
            #expect(record.name == "Ada Lovelace" && record.email == "ada@example.com")
            #expect(try await target.list(tenant: "acme", context: service).objects.map(\.name).sorted() == ["run-0", "run-2", "script"])
            let verification = try await target.verifyAuditLog(context: auditor)
            #expect(verification.ok && verification.treeSize > sourceLog.treeSize)
            let moved = try await target.auditRecords(AuditQuery(before: sourceLog.treeSize + 1, limit: 10_000), context: auditor)
            let original = try await source.auditRecords(AuditQuery(before: sourceLog.treeSize + 1, limit: 10_000), context: auditor)
            #expect(moved == original && !moved.isEmpty, "the log's records moved as they were")
            // The collector later takes the half-moved version's first uploads (its row was replaced).
            #expect(try await target.storage.content.read { db in try db.fetchOne(Int.self, sql: "SELECT count(*) FROM segment_garbage") ?? 0 } > 0)

            // Run again on the finished target: refused, nothing changed.
            let again = await #expect(throws: CofferError.self) {
                _ = try await ScaleOutMigration.run(from: source, to: configuration, keyringFile: keyringFile, context: auditor)
            }
            #expect(again?.code == .alreadyExists)
        }
        try source.close()
    }
}
