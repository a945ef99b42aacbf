import Foundation
import Testing
@testable import Coffer
import CofferCrypto

@Suite("Store keys and tenants")
struct StoreKeyTests {
    @Test("Vault.open with another keyring fails with keyNotFound and says which keyring to pass")
    func wrongKeyring() async throws {
        try await withTestVault { t in
            try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: testBytes(10), context: .test)
            try t.vault.close()
            let error = await expectCofferError(.keyNotFound) { _ = try await t.reopen(keyring: try Keyring.generate()) }
            #expect(error?.message.contains("keyring") == true, "\(String(describing: error))")
            #expect(error?.message.contains(t.keyring.activeKeyID) == true, "names the missing KEK")
            // The right keyring still opens it.
            let reopened = try await t.reopen()
            #expect(try await reopened.tenants(context: .admin) == ["acme"])
            try reopened.close()
        }
    }

    @Test("Vault.open on a directory without a vault is notFound; create refuses an existing vault", .embeddedFilesOnly)
    func missingAndExisting() async throws {
        _ = try await withTemporaryPath { directory in
            await expectCofferError(.notFound) { _ = try Vault.open(at: directory, keyring: try Keyring.generate()) }
        }
        _ = try await withTestVault { t in
            await expectCofferError(.alreadyExists) {
                _ = try Vault.create(at: t.directory, keyring: t.keyring, operator: "op", segmentSize: testSegmentSize)
            }
        }
    }

    @Test("rotateKeys rewraps every data key under the new KEK; content stays readable; the old keyring is refused")
    func rotation() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            var contents: [(tenant: TenantID, id: ObjectID, bytes: [UInt8])] = []
            let placements: [(TenantID, ObjectKind)] = [("acme", .testScript), ("acme", .config), ("globex", .scanResult)]
            for (n, (tenant, kind)) in placements.enumerated() {
                let bytes = testBytes(9000 + n, seed: UInt64(n))
                let (id, _) = try await t.vault.put(tenant: tenant, kind: kind, name: "doc-\(n)", bytes: bytes, context: .test)
                contents.append((tenant, id, bytes))
            }
            let before = try await t.vault.keyStatus(context: .admin)
            #expect(before.count == 2 * ObjectKind.all.count + placements.count, "the index keys, and a period key per class written")
            #expect(Set(before.map(\.kekID)) == [t.keyring.activeKeyID])
            #expect(before.allSatisfy { $0.rewrappedAt == nil })

            let newKeyring = try t.keyring.addingActiveKey()
            #expect(newKeyring.activeKeyID != t.keyring.activeKeyID)
            let rotation = try await t.vault.rotateKeys(to: newKeyring, context: .admin)
            #expect(rotation.rewrapped == 2 * ObjectKind.all.count + placements.count)
            #expect(rotation.activeKEK == newKeyring.activeKeyID)
            #expect(rotation.retirable == [t.keyring.activeKeyID])
            let after = try await t.vault.keyStatus(context: .admin)
            #expect(Set(after.map(\.kekID)) == [newKeyring.activeKeyID])
            #expect(after.allSatisfy { $0.rewrappedAt != nil })
            #expect(after.map(\.id) == before.map(\.id), "the data keys are the same keys, rewrapped")

            // The open vault keeps working: it now uses the new keyring, for old and new tenants alike.
            #expect(t.vault.keyring.activeKeyID == newKeyring.activeKeyID)
            for c in contents {
                expectSameBytes(try await t.vault.readAll(tenant: c.tenant, objectID: c.id, context: .test), c.bytes)
            }
            try await t.vault.createTenant("initech", context: .test)
            #expect(Set(try await t.vault.keyStatus(context: .admin).map(\.kekID)) == [newKeyring.activeKeyID])
            let late = testBytes(4500, seed: 99)
            let (lateID, _) = try await t.vault.put(tenant: "initech", kind: .testScript, name: "late", bytes: late, context: .test)
            contents.append(("initech", lateID, late))
            try t.vault.close()

            // Reopened with the new keyring, everything reads, even without the old KEK.
            let withoutOld = try newKeyring.removingKey(id: t.keyring.activeKeyID)
            for keyring in [newKeyring, withoutOld] {
                let reopened = try await t.reopen(keyring: keyring)
                for c in contents {
                    expectSameBytes(try await reopened.readAll(tenant: c.tenant, objectID: c.id, context: .test), c.bytes)
                }
                #expect(try await reopened.keyStatus(context: .admin).map(\.kekID).allSatisfy { $0 == newKeyring.activeKeyID })
                try reopened.close()
            }

            // A keyring missing the new KEK is refused.
            let error = await expectCofferError(.keyNotFound) { _ = try await t.reopen(keyring: t.keyring) }
            #expect(error?.message.contains("keyring") == true)
            #expect(error?.message.contains(newKeyring.activeKeyID) == true)
        }
    }

    @Test("new tenants and puts after a rotation use the new KEK")
    func afterRotation() async throws {
        try await withTestVault { t in
            let newKeyring = try t.keyring.addingActiveKey()
            _ = try await t.vault.rotateKeys(to: newKeyring, context: .admin)
            try t.vault.close()
            let vault = try await t.reopen(keyring: newKeyring)
            try await vault.createTenant("later", context: .test)
            let status = try await vault.keyStatus(context: .admin)
            #expect(status.filter { $0.tenant == "later" }.count == ObjectKind.all.count)
            #expect(Set(status.map(\.kekID)) == [newKeyring.activeKeyID])
            let bytes = testBytes(5000, seed: 1)
            let (id, _) = try await vault.put(tenant: "later", kind: .dashboard, name: "d", bytes: bytes, context: .test)
            expectSameBytes(try await vault.readAll(tenant: "later", objectID: id, context: .test), bytes)
            try vault.close()
        }
    }

    @Test("rotating to a keyring without the current KEK fails and changes nothing")
    func rotationToUnrelatedKeyring() async throws {
        try await withTestVault { t in
            let bytes = testBytes(4100, seed: 2)
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: bytes, context: .test)
            let before = try await t.vault.keyStatus(context: .admin)
            await expectCofferError(.keyNotFound) { _ = try await t.vault.rotateKeys(to: try Keyring.generate(), context: .admin) }
            #expect(try await t.vault.keyStatus(context: .admin) == before)
            try t.vault.close()
            let reopened = try await t.reopen()
            expectSameBytes(try await reopened.readAll(tenant: "acme", objectID: id, context: .test), bytes)
            try reopened.close()
        }
    }

    @Test("an unregistered tenant is unknownTenant for every operation")
    func unknownTenant() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testScript, name: "x", bytes: testBytes(10), context: .test)
            let v = t.vault
            await expectCofferError(.unknownTenant, "put") {
                try await v.put(tenant: "nobody", kind: .testScript, name: "x", bytes: testBytes(10), context: .test)
            }
            await expectCofferError(.unknownTenant, "put(contentsOf:)") {
                try await v.put(tenant: "nobody", kind: .testScript, name: "x", contentsOf: pieces(testBytes(10), piece: 3), context: .test)
            }
            await expectCofferError(.unknownTenant, "makeWriter") {
                _ = try await v.makeWriter(tenant: "nobody", kind: .config, name: "x", context: .test)
            }
            await expectCofferError(.unknownTenant, "read") { _ = try await v.readAll(tenant: "nobody", objectID: id, context: .test) }
            await expectCofferError(.unknownTenant, "range read") { _ = try await v.readRange(tenant: "nobody", objectID: id, 0...1) }
            await expectCofferError(.unknownTenant, "list") { _ = try await v.list(tenant: "nobody", context: .test) }
            await expectCofferError(.unknownTenant, "list by kind") {
                _ = try await v.list(tenant: "nobody", filter: ObjectFilter(kind: .dashboard), context: .test)
            }
            await expectCofferError(.unknownTenant, "stat") { _ = try await v.stat(tenant: "nobody", objectID: id, context: .test) }
            await expectCofferError(.unknownTenant, "delete") { try await v.delete(tenant: "nobody", objectID: id, context: .test) }
            #expect(try await v.contentCount("SELECT count(*) FROM object") == 1, "nothing was written for the unknown tenant")
            #expect(try await v.tenants(context: .admin) == ["acme"])
        }
    }

    @Test("createTenant twice is alreadyExists")
    func tenantTwice() async throws {
        try await withTestVault { t in
            await expectCofferError(.alreadyExists) { try await t.vault.createTenant("acme", context: .test) }
            #expect(try await t.vault.keyStatus(context: .admin).count == ObjectKind.all.count, "no extra data keys")
            try await t.vault.createTenant("acme-2", context: .test)
            #expect(try await t.vault.tenants(context: .admin) == ["acme", "acme-2"])
        }
    }

    @Test("invalid tenant ids are invalidArgument",
          arguments: ["", "Acme", "ac me", "a/b", "../acme", "acmé", "a\u{0}b", "tenant\n", String(repeating: "a", count: 65)])
    func invalidTenantIDs(text: String) async throws {
        let tenant = TenantID(text)
        try await withTestVault { t async throws in
            let v = t.vault
            await expectCofferError(.invalidArgument, "createTenant") { try await v.createTenant(tenant, context: .test) }
            await expectCofferError(.invalidArgument, "put") {
                try await v.put(tenant: tenant, kind: .config, name: "x", bytes: [1], context: .test)
            }
            await expectCofferError(.invalidArgument, "read") { _ = try await v.readAll(tenant: tenant, objectID: "obj_x", context: .test) }
            await expectCofferError(.invalidArgument, "list") { _ = try await v.list(tenant: tenant, context: .test) }
            await expectCofferError(.invalidArgument, "stat") { _ = try await v.stat(tenant: tenant, objectID: "obj_x", context: .test) }
            await expectCofferError(.invalidArgument, "delete") { try await v.delete(tenant: tenant, objectID: "obj_x", context: .test) }
            #expect(try await v.tenants(context: .admin) == ["acme"])
        }
    }

    @Test("the longest and most varied valid tenant id is accepted")
    func validTenantIDs() async throws {
        try await withTestVault(tenants: []) { t in
            for tenant in [TenantID(String(repeating: "z", count: 64)), "a", "0.9_x-y"] {
                try await t.vault.createTenant(tenant, context: .test)
                let (id, _) = try await t.vault.put(tenant: tenant, kind: .config, name: "n", bytes: [7], context: .test)
                #expect(try await t.vault.readAll(tenant: tenant, objectID: id, context: .test) == [7])
            }
        }
    }

    @Test("invalid object names are invalidArgument",
          arguments: ["", "line\nbreak", "carriage\rreturn", "sep\u{2028}arator", String(repeating: "n", count: 1025),
                      String(repeating: "é", count: 513)])
    func invalidNames(name: String) async throws {
        try await withTestVault { t async throws in
            await expectCofferError(.invalidArgument, "put") {
                try await t.vault.put(tenant: "acme", kind: .config, name: name, bytes: [1], context: .test)
            }
            await expectCofferError(.invalidArgument, "makeWriter") {
                _ = try await t.vault.makeWriter(tenant: "acme", kind: .config, name: name, context: .test)
            }
            #expect(try await t.vault.contentCount("SELECT count(*) FROM object") == 0)
            #expect(try await t.vault.contentCount("SELECT count(*) FROM version") == 0)
        }
    }

    @Test("an AccessContext needs an actor")
    func accessContext() async throws {
        await expectCofferError(.invalidArgument) { _ = try AccessContext(actor: "", purpose: .support) }
        await expectCofferError(.invalidArgument) { _ = try AccessContext(actor: PrincipalID(String(repeating: "x", count: 129)), purpose: .support) }
        await expectCofferError(.invalidArgument) { _ = try AccessContext(actor: "a\nb", purpose: .support) }
        #expect(try AccessContext(actor: "svc", purpose: .audit, justification: "").justification == nil)
    }
}
