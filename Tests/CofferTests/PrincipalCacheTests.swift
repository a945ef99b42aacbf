import CofferCrypto
import Foundation
import GRDB
import Testing
@testable import Coffer

/// Decisions read a principal only after it changed, and a change made anywhere reaches the
/// next decision everywhere (docs/access-control.md, "Principals cached between changes").
@Suite("Principals cached between changes")
struct PrincipalCacheTests {
    /// A vault with principal `svc` (service, acme), an object, and the same vault opened a
    /// second time, as another process would: `body` gets both and the object.
    private func withTwoOpenings(_ body: (TestVault, Vault, ObjectID) async throws -> Void) async throws {
        try await withTestVault { t in
            try await t.vault.addPrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin)
            let put = try await t.vault.put(tenant: "acme", kind: .config, name: "c", bytes: [1, 2, 3], context: .test)
            let other = try await t.reopen()
            defer { try? other.close() }
            try await body(t, other, put.objectID)
        }
    }

    private let svc = accessContext("svc", .serviceOperation)

    @Test("a principal removed, narrowed or added through another opening is decided on anew at once, many times over")
    func changesElsewhere() async throws {
        try await withTwoOpenings { t, other, object in
            for round in 0..<20 {
                // Allowed, and so cached, in `other`.
                #expect(try await other.readAll(tenant: "acme", objectID: object, context: svc) == [1, 2, 3], "round \(round)")
                switch round % 3 {
                case 0:
                    try await t.vault.removePrincipal("svc", context: .admin)
                    await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
                    try await t.vault.addPrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin)
                case 1:
                    try await t.vault.updatePrincipal("svc", roles: [.service], tenants: ["beta"], context: .admin)
                    await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
                    try await t.vault.updatePrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin)
                default:
                    try await t.vault.updatePrincipal("svc", roles: [.auditor], tenants: ["acme"], context: .admin)
                    await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
                    try await t.vault.updatePrincipal("svc", roles: [.service], tenants: ["acme"], context: .admin)
                }
            }
            // And the other way: a principal unknown to `other` (refused, the refusal cached) is
            // allowed once it is registered elsewhere.
            let late = accessContext("late", .serviceOperation)
            await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: late) }
            try await t.vault.addPrincipal("late", roles: [.service], tenants: ["acme"], context: .admin)
            #expect(try await other.readAll(tenant: "acme", objectID: object, context: late) == [1, 2, 3])
        }
    }

    @Test("decisions use the cached principal until something changes; a change nobody announced (a connection outside Coffer) is seen within a second",
          .embeddedFilesOnly)
    func unannouncedChange() async throws {
        try await withTwoOpenings { t, other, object in
            let cachedFrom = ContinuousClock.now  // no later than the entry's read
            #expect(try await other.readAll(tenant: "acme", objectID: object, context: svc) == [1, 2, 3])
            // Removed by a connection of its own, which announces nothing.
            let raw = try DatabasePool(path: t.directory.appendingPathComponent("control.sqlite").path)
            try await raw.write { try $0.execute(sql: "DELETE FROM principal WHERE id = 'svc'") }
            try raw.close()
            // The cache answers while its entry is younger than its lifetime (this is what it is
            // for; Coffer's own writers announce). On a loaded machine the steps may take longer.
            let answer = try? await other.readAll(tenant: "acme", objectID: object, context: svc)
            if ContinuousClock.now - cachedFrom < PrincipalCache.lifetime {
                #expect(answer == [1, 2, 3])
            }
            try await Task.sleep(for: .milliseconds(1100))
            await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
        }
    }

    @Test("a change to the principals that cannot be announced is refused, and nothing is cached meanwhile", .embeddedFilesOnly)
    func unannounceable() async throws {
        try await withTwoOpenings { t, other, object in
            let stamp = t.directory.appendingPathComponent(PrincipalStamp.fileName)
            try FileManager.default.removeItem(at: stamp)
            try FileManager.default.createDirectory(at: stamp, withIntermediateDirectories: false)
            await expectCofferError(.storage) { try await t.vault.addPrincipal("blocked", roles: [.service], tenants: ["acme"], context: .admin) }
            #expect(try await t.vault.principals(context: .admin).map(\.id).contains("blocked") == false, "nothing was changed")
            // Reads go on, each reading the principal.
            #expect(try await other.readAll(tenant: "acme", objectID: object, context: svc) == [1, 2, 3])
            let raw = try DatabaseQueue(path: t.directory.appendingPathComponent("control.sqlite").path)
            try await raw.write { try $0.execute(sql: "DELETE FROM principal WHERE id = 'svc'") }
            try raw.close()
            await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
            // Once the file can be written again, changes go through.
            try FileManager.default.removeItem(at: stamp)
            try await t.vault.addPrincipal("unblocked", roles: [.service], tenants: ["acme"], context: .admin)
        }
    }

    @Test("the stamp is a private file that holds no data; without it every decision reads the principal", .embeddedFilesOnly)
    func stampFile() async throws {
        try await withTwoOpenings { t, other, object in
            let stamp = t.directory.appendingPathComponent(PrincipalStamp.fileName)
            let before = try FileManager.default.attributesOfItem(atPath: stamp.path)
            #expect((before[.posixPermissions] as? Int) == 0o600)
            #expect(try Data(contentsOf: stamp).allSatisfy { $0 == 0 }, "only its size carries anything")
            try await t.vault.addPrincipal("extra", roles: [.service], context: .admin)
            let after = try FileManager.default.attributesOfItem(atPath: stamp.path)
            #expect((after[.size] as? Int) == (before[.size] as? Int).map { $0 + 2 }, "one change, announced before and after its commit")

            #expect(try await other.readAll(tenant: "acme", objectID: object, context: svc) == [1, 2, 3])
            try FileManager.default.removeItem(at: stamp)
            // Changes nobody announces (a connection of its own), each seen by the next decision.
            let raw = try DatabaseQueue(path: t.directory.appendingPathComponent("control.sqlite").path)
            try await raw.write { db in
                try db.execute(sql: "CREATE TEMP TABLE kept AS SELECT * FROM principal WHERE id = 'svc'")
                try db.execute(sql: "DELETE FROM principal WHERE id = 'svc'")
            }
            await expectCofferError(.accessDenied) { _ = try await other.readAll(tenant: "acme", objectID: object, context: svc) }
            try await raw.write { try $0.execute(sql: "INSERT INTO principal SELECT * FROM kept") }
            #expect(try await other.readAll(tenant: "acme", objectID: object, context: svc) == [1, 2, 3])
            try raw.close()
        }
    }
}
