import CofferCrypto
import Foundation
import Testing
@testable import Coffer

@Suite("Typed identifiers")
struct IdentifierTypeTests {
    @Test("init(validating:) applies each kind's rules")
    func validating() throws {
        #expect(try TenantID(validating: "acme-eu.1").rawValue == "acme-eu.1")
        for bad in ["", ".", "..", "-x", "Acme", "a/b", String(repeating: "a", count: 65)] {
            #expect(throws: CofferError.self, "tenant \(bad.debugDescription)") { try TenantID(validating: bad) }
        }
        for bad in ["", "a,b", "a\tb", "bidi\u{202E}", String(repeating: "a", count: 129)] {
            #expect(throws: CofferError.self) { try PrincipalID(validating: bad) }
            #expect(throws: CofferError.self) { try SubjectID(validating: bad) }
            #expect(throws: CofferError.self) { try ObjectID(validating: bad) }
            #expect(throws: CofferError.self) { try GrantID(validating: bad) }
        }
        // The tenant rules are stricter than the others: a principal may be "Ada Lovelace".
        #expect(try PrincipalID(validating: "Ada Lovelace").description == "Ada Lovelace")
        #expect(throws: CofferError.self) { try TenantID(validating: "Ada Lovelace") }
    }

    @Test("identifiers encode as plain strings, so JSON output is what it was")
    func codable() throws {
        struct Holder: Codable, Equatable { let tenant: TenantID; let subject: SubjectID? }
        let holder = Holder(tenant: "acme", subject: "subj_1")
        let json = String(decoding: try JSONEncoder().encode(holder), as: UTF8.self)
        #expect(json.contains(#""tenant":"acme""#) && json.contains(#""subject":"subj_1""#), "\(json)")
        #expect(try JSONDecoder().decode(Holder.self, from: Data(json.utf8)) == holder)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TenantID.self, from: Data("42".utf8)) }
    }

    @Test("an unchecked identifier is refused by the vault before policy, and nothing is recorded")
    func uncheckedIsRefusedByTheVault() async throws {
        try await withTestVault { t in
            let before = try t.auditLogSize()
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.list(tenant: TenantID("../etc"), context: .test)
            }
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.stat(tenant: "acme", objectID: ObjectID("a,b"), context: .test)
            }
            #expect(try t.auditLogSize() == before)
        }
    }

    @Test("ids order by their text and compare by kind and text")
    func ordering() {
        let tenants: [TenantID] = ["b", "a", "c"]
        #expect(tenants.sorted() == ["a", "b", "c"])
        #expect(Set<TenantID>(["a", "a", "b"]).count == 2)
    }
}
