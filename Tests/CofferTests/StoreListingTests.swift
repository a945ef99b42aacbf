import Foundation
import Testing
@testable import Coffer

/// Puts objects named `names` one after another, a few milliseconds apart so their update
/// times differ. Returns their ids in put order.
private func putSpaced(_ vault: Vault, tenant: TenantID = "acme", kind: ObjectKind = .testScript, names: [String]) async throws -> [ObjectID] {
    var ids: [ObjectID] = []
    for name in names {
        let (id, _) = try await vault.put(tenant: tenant, kind: kind, name: name, bytes: Array(name.utf8), context: .test)
        ids.append(id)
        try await Task.sleep(for: .milliseconds(3))
    }
    return ids
}

/// Every page of a listing, following cursors.
private func allPages(_ vault: Vault, tenant: TenantID = "acme", kind: ObjectKind? = nil, limit: Int) async throws -> [ObjectPage] {
    var pages: [ObjectPage] = []
    var cursor: String?
    repeat {
        let page = try await vault.list(tenant: tenant, filter: ObjectFilter(kind: kind, limit: limit, cursor: cursor), context: .test)
        pages.append(page)
        cursor = page.nextCursor
        if pages.count > 100 { Issue.record("paging does not end"); break }
    } while cursor != nil
    return pages
}

@Suite("Store listing")
struct StoreListingTests {
    @Test("list filters by kind and shows only committed objects of the tenant")
    func filterByKind() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let scripts = try await putSpaced(t.vault, kind: .testScript, names: ["s1", "s2", "s3"])
            let boards = try await putSpaced(t.vault, kind: .dashboard, names: ["d1", "d2"])
            let configs = try await putSpaced(t.vault, kind: .config, names: ["c1"])
            _ = try await putSpaced(t.vault, tenant: "globex", kind: .dashboard, names: ["g1"])

            let all = try await t.vault.list(tenant: "acme", context: .test)
            #expect(Set(all.objects.map(\.id)) == Set(scripts + boards + configs))
            #expect(all.nextCursor == nil)

            let dashboards = try await t.vault.list(tenant: "acme", filter: ObjectFilter(kind: .dashboard), context: .test)
            #expect(dashboards.objects.map(\.id) == boards.reversed())
            #expect(dashboards.objects.map(\.name) == ["d2", "d1"])
            #expect(dashboards.objects.allSatisfy { $0.kind == .dashboard && $0.tenant == "acme" })
            #expect(try await t.vault.list(tenant: "acme", filter: ObjectFilter(kind: .testScript), context: .test).objects.map(\.name)
                    == ["s3", "s2", "s1"])
            #expect(try await t.vault.list(tenant: "acme", filter: ObjectFilter(kind: .scanResult), context: .test).objects.isEmpty)
            #expect(try await t.vault.list(tenant: "globex", context: .test).objects.map(\.name) == ["g1"])
        }
    }

    @Test("paging with limit 2 over 5 objects returns each once, newest first, and ends with a nil cursor")
    func paging() async throws {
        try await withTestVault { t in
            let ids = try await putSpaced(t.vault, names: ["one", "two", "three", "four", "five"])
            let pages = try await allPages(t.vault, limit: 2)
            #expect(pages.map(\.objects.count) == [2, 2, 1])
            #expect(pages.dropLast().allSatisfy { $0.nextCursor != nil })
            #expect(pages.last?.nextCursor == nil)
            let listed = pages.flatMap(\.objects)
            #expect(listed.map(\.id) == ids.reversed())
            #expect(listed.map(\.name) == ["five", "four", "three", "two", "one"])
            #expect(zip(listed, listed.dropFirst()).allSatisfy { $0.updatedAt > $1.updatedAt })

            // Exactly one page's worth: the cursor is nil at once.
            let five = try await t.vault.list(tenant: "acme", filter: ObjectFilter(limit: 5), context: .test)
            #expect(five.objects.count == 5)
            #expect(five.nextCursor == nil)
            let four = try await t.vault.list(tenant: "acme", filter: ObjectFilter(limit: 4), context: .test)
            #expect(four.objects.count == 4)
            #expect(four.nextCursor != nil)
        }
    }

    @Test("paging is exact when every object has the same update time")
    func pagingOverTies() async throws {
        try await withTestVault { t in
            var ids: [ObjectID] = []
            for n in 0..<7 {
                ids.append(try await t.vault.put(tenant: "acme", kind: .config, name: "tie-\(n)", bytes: [UInt8(n)], context: .test).objectID)
            }
            _ = try await t.vault.content.write { db in try db.execute(sql: "UPDATE object SET updated_at = 1700000000000") }
            for limit in [1, 2, 3, 6] {
                let listed = try await allPages(t.vault, limit: limit).flatMap(\.objects).map(\.id)
                #expect(listed == ids.sorted(by: >), "limit \(limit)")
            }
        }
    }

    @Test("a new version moves its object to the front of the listing")
    func newVersionFirst() async throws {
        try await withTestVault { t in
            let ids = try await putSpaced(t.vault, names: ["old", "middle", "new"])
            try await t.vault.put(tenant: "acme", kind: .testScript, name: "old", bytes: [1], context: .test)
            let listed = try await t.vault.list(tenant: "acme", context: .test).objects
            #expect(listed.map(\.id) == [ids[0], ids[2], ids[1]])
            #expect(listed.first?.latestVersion == 2)
            #expect(listed.first?.versions.map(\.version) == [1, 2])
        }
    }

    @Test("names round-trip through the sealed name column", arguments: [
        "plain", "with spaces and / slashes", "ünïcødé ✓ 名前 🔐", "bidi \u{202E}txt.exe", "x", "path/to/load-test.js",
        String(repeating: "n", count: 1024), String(repeating: "é", count: 512),
    ])
    func namesRoundTrip(name: String) async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .scanConfig, name: name, bytes: [1, 2], context: .test)
            #expect(try await t.vault.stat(tenant: "acme", objectID: id, context: .test).name == name)
            #expect(try await t.vault.list(tenant: "acme", context: .test).objects.map(\.name) == [name])
            // The name finds the same object again (lookup is by a keyed MAC of the name).
            let second = try await t.vault.put(tenant: "acme", kind: .scanConfig, name: name, bytes: [3], context: .test)
            #expect(second.objectID == id)
            #expect(second.version.version == 2)
            // The column holds no plaintext name.
            let stored: Data? = try await t.vault.content.read { db in
                try Data.fetchOne(db, sql: "SELECT name_sealed FROM object WHERE id = ?", arguments: [id])
            }
            let sealed = try #require(stored)
            if name.utf8.count >= 4 {  // a byte or two may turn up in random ciphertext by chance
                #expect(sealed.range(of: Data(name.utf8)) == nil)
            }
            #expect(sealed.count >= name.utf8.count + 16)
        }
    }

    @Test("names differing only in case or normalisation are different objects")
    func nameExactness() async throws {
        try await withTestVault { t in
            let a = try await t.vault.put(tenant: "acme", kind: .config, name: "Report", bytes: [1], context: .test)
            let b = try await t.vault.put(tenant: "acme", kind: .config, name: "report", bytes: [2], context: .test)
            let c = try await t.vault.put(tenant: "acme", kind: .config, name: "report ", bytes: [3], context: .test)
            #expect(Set([a.objectID, b.objectID, c.objectID]).count == 3)
            #expect(Set(try await t.vault.list(tenant: "acme", context: .test).objects.map(\.name)) == ["Report", "report", "report "])
        }
    }

    @Test("list refuses a limit outside 1...1000 and a malformed cursor")
    func badFilters() async throws {
        try await withTestVault { t async throws in
            for limit in [0, -1, 1001] {
                await expectCofferError(.invalidArgument, "limit \(limit)") {
                    _ = try await t.vault.list(tenant: "acme", filter: ObjectFilter(limit: limit), context: .test)
                }
            }
            for cursor in ["", "nonsense", "abc:obj_1"] {
                await expectCofferError(.invalidArgument, "cursor \(cursor)") {
                    _ = try await t.vault.list(tenant: "acme", filter: ObjectFilter(cursor: cursor), context: .test)
                }
            }
            #expect(try await t.vault.list(tenant: "acme", filter: ObjectFilter(limit: 1000), context: .test).objects.isEmpty)
        }
    }

    @Test("listing reports each object's versions and sizes like stat")
    func listMatchesStat() async throws {
        try await withTestVault { t in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: testBytes(5000), context: .test)
            try await t.vault.put(tenant: "acme", kind: .testResult, name: "r", bytes: testBytes(9000), context: .test)
            let listed = try #require(try await t.vault.list(tenant: "acme", context: .test).objects.first)
            #expect(listed == (try await t.vault.stat(tenant: "acme", objectID: id, context: .test)))
            #expect(listed.versions.map(\.size) == [5000, 9000])
        }
    }
}
