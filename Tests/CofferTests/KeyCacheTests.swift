import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// Keys another instance of the same vault destroyed leave this one's memory (issue 11: caches
/// stay correct across instances). Runs on both engines: a second `Vault` on the same files, or
/// on the same PostgreSQL databases.
@Suite("Unwrapped keys across instances")
struct KeyCacheTests {
    @Test("a subject or a tenant erased by one instance: the other drops every key it held unwrapped at its next key lookup")
    func destroyedElsewhere() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let a = t.vault
            let b = try await t.reopen()
            defer { try? b.close() }
            b.configurePII(a.piiSettings)
            b.keys.destroyedKeyRecheck.withLock { $0 = .zero }
            let ada = try await a.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let bob = try await a.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            #expect(try await b.subject(ada, context: .piiOfficer).name == "Ada")
            #expect(try await b.subject(bob, context: .piiOfficer).name == "Bob")
            #expect(b.keys.cachedSubjectKeyCount == 2)

            _ = try await a.requestErasure(subject: ada, reason: "DSR 11", context: .piiOfficer)
            #expect(try await a.runErasures(context: .piiOfficer).completed.count == 1)
            #expect(try await b.subject(bob, context: .piiOfficer).name == "Bob")
            #expect(b.keys.cachedSubjectKeyCount == 1, "Ada's key left the other instance's memory; Bob's was unwrapped again")

            let (g, _) = try await a.put(tenant: "globex", kind: .testScript, name: "g", bytes: Array("globex".utf8), context: .test)
            let (k, _) = try await a.put(tenant: "acme", kind: .testScript, name: "k", bytes: Array("acme".utf8), context: .test)
            #expect(try await b.readAll(tenant: "globex", objectID: g, context: .test) == Array("globex".utf8))
            #expect(b.keys.holdsDataKeys(of: "globex"))
            _ = try await a.requestErasure(tenant: "globex", reason: "contract ended", context: .piiOfficer)
            #expect(try await a.runErasures(context: .piiOfficer).completed.count == 1)
            #expect(try await b.readAll(tenant: "acme", objectID: k, context: .test) == Array("acme".utf8))
            #expect(!b.keys.holdsDataKeys(of: "globex"), "globex's keys were dropped when acme's were looked up")
            #expect(b.keys.holdsDataKeys(of: "acme"))
            await expectCofferError(.notFound) { _ = try await b.readAll(tenant: "globex", objectID: g, context: .test) }
        }
    }

    @Test("within the recheck period the other instance keeps its keys without reading the epoch; the default period is one second")
    func recheckPeriod() async throws {
        try await withPIIVault { t in
            #expect(t.vault.keys.destroyedKeyRecheck.withLock { $0 } == .seconds(1))
            let b = try await t.reopen()
            defer { try? b.close() }
            b.configurePII(t.vault.piiSettings)
            b.keys.destroyedKeyRecheck.withLock { $0 = .seconds(3600) }
            let ada = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let bob = try await t.vault.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            _ = try await b.subject(ada, context: .piiOfficer)
            _ = try await b.subject(bob, context: .piiOfficer)
            _ = try await t.vault.requestErasure(subject: ada, reason: "DSR 12", context: .piiOfficer)
            _ = try await t.vault.runErasures(context: .piiOfficer)
            _ = try await b.subject(bob, context: .piiOfficer)
            #expect(b.keys.cachedSubjectKeyCount == 2, "an hour's period: not yet rechecked")
            b.keys.destroyedKeyRecheck.withLock { $0 = .zero }
            _ = try await b.subject(bob, context: .piiOfficer)
            #expect(b.keys.cachedSubjectKeyCount == 1)
        }
    }
}
