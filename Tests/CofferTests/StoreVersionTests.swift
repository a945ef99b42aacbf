import Foundation
import Testing
@testable import Coffer

@Suite("Store versions")
struct StoreVersionTests {
    @Test("a second put to the same name is version 2 of the same object; both stay readable")
    func secondPut() async throws {
        try await withTestVault { t in
            let v1 = testBytes(5000, seed: 1), v2 = testBytes(9000, seed: 2)
            let first = try await t.vault.put(tenant: "acme", kind: .testScript, name: "load.js", bytes: v1, context: .test)
            let second = try await t.vault.put(tenant: "acme", kind: .testScript, name: "load.js", bytes: v2, context: .test)
            #expect(first.version.version == 1)
            #expect(second.version.version == 2)
            #expect(second.objectID == first.objectID)
            #expect(first.objectID.rawValue.hasPrefix("obj_") && first.objectID.rawValue.count == 36)

            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: first.objectID, version: 1, context: .test), v1)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: first.objectID, version: 2, context: .test), v2)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: first.objectID, context: .test), v2, "newest by default")
            expectSameBytes(try await t.vault.readRange(tenant: "acme", objectID: first.objectID, version: 1, 4039...4041),
                            v1[4039...4041])

            let stat = try await t.vault.stat(tenant: "acme", objectID: first.objectID, context: .test)
            #expect(stat.name == "load.js")
            #expect(stat.kind == .testScript)
            #expect(stat.tenant == "acme")
            #expect(stat.latestVersion == 2)
            #expect(stat.versions.map(\.version) == [1, 2])
            #expect(stat.versions.map(\.size) == [5000, 9000])
            #expect(stat.versions == [first.version, second.version])
            #expect(stat.latest == second.version)
            #expect(stat.updatedAt >= stat.createdAt)
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: first.objectID, version: 3, context: .test)
            }
        }
    }

    @Test("deleting version 1 leaves version 2")
    func deleteOldVersion() async throws {
        try await withTestVault { t in
            let v1 = testBytes(100, seed: 1), v2 = testBytes(200, seed: 2)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .dashboard, name: "board", bytes: v1, context: .test)
            try await t.vault.put(tenant: "acme", kind: .dashboard, name: "board", bytes: v2, context: .test)
            let v1Row = try #require(try await t.vault.versionRowID(objectID: id, version: 1))
            try await t.vault.delete(tenant: "acme", objectID: id, version: 1, context: .test)

            let stat = try await t.vault.stat(tenant: "acme", objectID: id, context: .test)
            #expect(stat.versions.map(\.version) == [2])
            #expect(stat.latestVersion == 2)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), v2)
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: id, version: 1, context: .test)
            }
            #expect(try await t.vault.segmentRowCount(versionRowID: v1Row) == 0, "version 1's segments are deleted")
            await expectCofferError(.notFound, "deleting it again") {
                try await t.vault.delete(tenant: "acme", objectID: id, version: 1, context: .test)
            }
        }
    }

    @Test("deleting the newest version falls back to the previous one; numbers are not reused")
    func deleteNewestVersion() async throws {
        try await withTestVault { t in
            let v1 = testBytes(100, seed: 1), v2 = testBytes(200, seed: 2), v3 = testBytes(300, seed: 3)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: v1, context: .test)
            try await t.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: v2, context: .test)
            try await t.vault.delete(tenant: "acme", objectID: id, version: 2, context: .test)
            let stat = try await t.vault.stat(tenant: "acme", objectID: id, context: .test)
            #expect(stat.latestVersion == 1)
            #expect(stat.versions.map(\.version) == [1])
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), v1)

            let third = try await t.vault.put(tenant: "acme", kind: .config, name: "settings", bytes: v3, context: .test)
            #expect(third.objectID == id)
            #expect(third.version.version == 3)
            #expect(try await t.vault.stat(tenant: "acme", objectID: id, context: .test).versions.map(\.version) == [1, 3])
        }
    }

    @Test("deleting the only version removes the object")
    func deleteOnlyVersion() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .config, name: "one", bytes: testBytes(10), context: .test)
            try await t.vault.delete(tenant: "acme", objectID: id, version: 1, context: .test)
            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.isEmpty)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
        }
    }

    @Test("delete without a version removes the object and all its rows", .segmentRowsOnly)
    func deleteObject() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: testBytes(9000, seed: 1),
                                                context: .test)
            try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: testBytes(9000, seed: 2), context: .test)
            let (keep, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-2", bytes: testBytes(50, seed: 3),
                                                  context: .test)
            try await t.vault.delete(tenant: "acme", objectID: id, context: .test)

            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "acme", objectID: id, context: .test) }
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: id, version: 1, context: .test)
            }
            await expectCofferError(.notFound) {
                _ = try await t.vault.readAll(tenant: "acme", objectID: id, context: .test)
            }
            await expectCofferError(.notFound, "deleting it again") {
                try await t.vault.delete(tenant: "acme", objectID: id, context: .test)
            }
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.map(\.id) == [keep])
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version WHERE object_id = ?", [id]) == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM segment WHERE version_id NOT IN (SELECT id FROM version)") == 0)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: keep, context: .test), testBytes(50, seed: 3))

            // The name is free again: a new put makes a new object starting at version 1.
            let again = try await t.vault.put(tenant: "acme", kind: .testResult, name: "run-1", bytes: testBytes(5), context: .test)
            #expect(again.objectID != id)
            #expect(again.version.version == 1)
        }
    }

    @Test("the same name in another kind or another tenant is another object")
    func sameNameElsewhere() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let a = testBytes(300, seed: 1), b = testBytes(300, seed: 2), c = testBytes(300, seed: 3)
            let script = try await t.vault.put(tenant: "acme", kind: .testScript, name: "shared", bytes: a, context: .test)
            let config = try await t.vault.put(tenant: "acme", kind: .config, name: "shared", bytes: b, context: .test)
            let other = try await t.vault.put(tenant: "globex", kind: .testScript, name: "shared", bytes: c, context: .test)
            #expect(Set([script.objectID, config.objectID, other.objectID]).count == 3)
            #expect([script, config, other].map(\.version.version) == [1, 1, 1])
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: script.objectID, context: .test), a)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: config.objectID, context: .test), b)
            expectSameBytes(try await t.vault.readAll(tenant: "globex", objectID: other.objectID, context: .test), c)
            #expect(try await t.vault.stat(tenant: "acme", objectID: config.objectID, context: .test).kind == .config)
        }
    }

    @Test("another tenant's object is not found, and cannot be deleted through the wrong tenant")
    func otherTenantsObject() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let plaintext = testBytes(500, seed: 8)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "private", bytes: plaintext, context: .test)
            await expectCofferError(.notFound) { _ = try await t.vault.stat(tenant: "globex", objectID: id, context: .test) }
            await expectCofferError(.notFound) { _ = try await t.vault.readAll(tenant: "globex", objectID: id, context: .test) }
            await expectCofferError(.notFound) { _ = try await t.vault.readRange(tenant: "globex", objectID: id, 0...10) }
            await expectCofferError(.notFound) { try await t.vault.delete(tenant: "globex", objectID: id, context: .test) }
            await expectCofferError(.notFound) {
                try await t.vault.delete(tenant: "globex", objectID: id, version: 1, context: .test)
            }
            #expect(try await t.vault.list(tenant: "globex", context: .test).objects.isEmpty)
            expectSameBytes(try await t.vault.readAll(tenant: "acme", objectID: id, context: .test), plaintext)
        }
    }

    @Test("digests: equal content gives equal digests within a tenant and kind, and differs across tenants")
    func digests() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let bytes = testBytes(4500, seed: 6)
            let a1 = try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: bytes, context: .test)
            let a2 = try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: bytes, context: .test)
            let a3 = try await t.vault.put(tenant: "acme", kind: .testScript, name: "y", bytes: bytes, context: .test)
            let g = try await t.vault.put(tenant: "globex", kind: .testScript, name: "x", bytes: bytes, context: .test)
            let k = try await t.vault.put(tenant: "acme", kind: .config, name: "x", bytes: bytes, context: .test)
            #expect(a1.version.digest == a2.version.digest)
            #expect(a1.version.digest == a3.version.digest)
            #expect(g.version.digest != a1.version.digest)
            #expect(k.version.digest != a1.version.digest)
        }
    }

    @Test("a committed or abandoned writer refuses further use")
    func writerFinished() async throws {
        try await withTestVault { t in
            let writer = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: "once", context: .test)
            try await writer.write([1, 2, 3])
            _ = try await writer.commit()
            await expectCofferError(.invalidArgument) { try await writer.write([4]) }
            await expectCofferError(.invalidArgument) { _ = try await writer.commit() }
            try await writer.abandon()  // a no-op after commit
            #expect(try await t.vault.readAll(tenant: "acme", objectID: writer.objectID, context: .test) == [1, 2, 3])
        }
    }
}
