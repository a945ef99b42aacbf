import CofferCrypto
import Foundation
import Testing
@testable import Coffer

/// A tenant-limited principal reaches nothing outside its tenants, whatever its roles or grants.
@Suite("Tenant scope everywhere")
struct TenantScopeTests {
    private let day: Int64 = 86_400_000

    /// A vault with tenants acme and globex, a person in each, and `scoped`: admin, auditor and
    /// privacy officer limited to acme.
    private func withScopedVault(_ body: (TestVault, SubjectID, SubjectID) async throws -> Void) async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            try await t.vault.addPrincipal("scoped", roles: [.admin, .auditor, .privacyOfficer], tenants: ["acme"], context: .admin)
            try await t.vault.addPrincipal("acme-svc", roles: [.service], tenants: ["acme"], context: .admin)
            let ada = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@acme.example", company: nil, context: .piiService)
            let bob = try await t.vault.addSubject(tenant: "globex", name: "Bob", email: "bob@globex.example", company: nil, context: .piiService)
            _ = try await t.vault.put(tenant: "globex", kind: .config, name: "g", bytes: [1], context: .test)
            _ = try await t.vault.put(tenant: "acme", kind: .config, name: "a", bytes: [2], context: .test)
            try await body(t, ada, bob)
        }
    }

    @Test("vault-wide operations need a principal without a tenant limit")
    func vaultWide() async throws {
        try await withScopedVault { t, _, _ in
            let admin = accessContext("scoped", .administration)
            try await expectDenied(t, actor: "scoped", action: .keyOperation, dataClass: .administration, purpose: .administration) {
                _ = try await t.vault.rotateKeys(context: admin)
            }
            t.vault.administration.clock.advance(by: 500 * day)
            try await expectDenied(t, actor: "scoped", action: .purge, dataClass: .auditLog, purpose: .administration) {
                _ = try await t.vault.pruneAuditLog(before: t.vault.administration.clock.now() - 450 * day, context: admin)
            }
            try await expectDenied(t, actor: "scoped", action: .configure, dataClass: .auditLog, purpose: .administration) {
                try await t.vault.raiseAuditRetention(toDays: 500, context: admin)
            }
        }
    }

    @Test("nobody registers a principal with a role or a scope wider than their own, or removes a wider one")
    func noEscalation() async throws {
        try await withScopedVault { t, _, _ in
            let admin = accessContext("scoped", .administration)
            for (roles, tenants) in [([Role.reporting], [TenantID("acme")]), ([.admin], nil), ([.admin], ["globex"]), ([.admin], ["acme", "globex"])]
                as [([Role], [TenantID]?)] {
                try await expectDenied(t, actor: "scoped", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                    try await t.vault.addPrincipal(PrincipalID("new-\(roles[0])"), roles: roles, tenants: tenants, context: admin)
                }
            }
            try await expectDenied(t, actor: "scoped", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.removePrincipal("store-tests", context: admin)
            }
            // Within its roles and tenants it may.
            try await t.vault.addPrincipal("acme-auditor", roles: [.auditor], tenants: ["acme"], context: admin)
            // A scoped admin without the privacy-officer role cannot make one, even for its tenant.
            try await t.vault.addPrincipal("acme-admin", roles: [.admin], tenants: ["acme"], context: .admin)
            try await expectDenied(t, actor: "acme-admin", action: .principalAdmin, dataClass: .administration, purpose: .administration) {
                try await t.vault.addPrincipal("po-2", roles: [.privacyOfficer], tenants: ["acme"], context: accessContext("acme-admin", .administration))
            }
        }
    }

    @Test("listings, log queries and reviews are filtered to the caller's tenants")
    func filtered() async throws {
        try await withScopedVault { t, _, _ in
            let expires = t.vault.administration.clock.now() + day
            _ = try await t.vault.issueGrant(to: PIIPrincipal.support, tenant: "globex", purpose: .support, expiresAt: expires, reason: "ticket",
                                             context: .piiOfficer)
            _ = try await t.vault.issueGrant(to: "acme-svc", tenant: "acme", purpose: .support, expiresAt: expires, reason: "ticket",
                                             context: .piiOfficer)
            #expect(try await t.vault.tenants(context: accessContext("scoped", .administration)) == ["acme"])
            let principals = try await t.vault.principals(context: accessContext("scoped", .administration)).map(\.id)
            #expect(Set(principals) == ["scoped", "acme-svc"], "\(principals)")
            let grants = try await t.vault.grants(context: accessContext("scoped", .subjectRequest))
            #expect(grants.map(\.tenant) == ["acme"])
            let records = try await t.vault.auditRecords(AuditQuery(limit: 1000), context: accessContext("scoped", .audit))
            #expect(!records.isEmpty && records.allSatisfy { $0.tenant == "acme" }, "\(records.map(\.tenant))")
            #expect(try await t.vault.auditRecords(AuditQuery(tenant: "globex"), context: accessContext("scoped", .audit)).isEmpty)
            let review = try await t.vault.accessReview(from: 0, to: Int64.max, context: accessContext("scoped", .audit))
            #expect(review.piiAccesses.allSatisfy { $0.tenant == "acme" } && !review.piiAccesses.isEmpty)
            // The global auditor still sees everything.
            let all = try await t.vault.auditRecords(AuditQuery(limit: 1000), context: .testAuditor)
            #expect(all.contains { $0.tenant == "globex" })
        }
    }

    @Test("what describes the whole log needs a principal without a tenant limit; inclusion proofs follow the record's tenant")
    func auditViews() async throws {
        try await withScopedVault { t, _, _ in
            let auditor = accessContext("scoped", .audit)
            let records = try t.auditLogRecords()
            let acme = try #require(records.first { $0.tenant == "acme" }).sequence
            let globex = try #require(records.first { $0.tenant == "globex" }).sequence
            let vaultLevel = try #require(records.first { $0.tenant == nil }).sequence
            let deny: (@escaping () async throws -> Void) async throws -> Void = { body in
                try await expectDenied(t, actor: "scoped", action: .auditRead, dataClass: .auditLog, purpose: .audit) { try await body() }
            }
            try await deny { _ = try await t.vault.verifyAuditLog(context: auditor) }
            try await deny { _ = try await t.vault.auditCheckpoint(context: auditor) }
            try await deny { _ = try await t.vault.auditCheckpoints(context: auditor) }
            try await deny { _ = try await t.vault.auditConsistencyProof(from: 1, context: auditor) }
            try await deny { _ = try await t.vault.witnessedCheckpoint(context: auditor) }
            try await deny { _ = try await t.vault.auditProof(sequence: vaultLevel, context: auditor) }
            try await expectDenied(t, actor: "scoped", action: .auditRead, dataClass: .auditLog, purpose: .audit, tenant: "globex") {
                _ = try await t.vault.auditProof(sequence: globex, context: auditor)
            }
            // A proof of one of its own tenant's records, recorded with that tenant.
            #expect(try await t.vault.auditProof(sequence: acme, context: auditor).isValid)
            let proved = try #require(try t.auditLogRecords().last)
            #expect(proved.outcome == .allowed && proved.tenant == "acme" && proved.action == "audit-read")
            // The global auditor still sees the whole log.
            #expect(try await t.vault.verifyAuditLog(context: .testAuditor).ok)
            #expect(try await t.vault.auditProof(sequence: globex, context: .testAuditor).isValid)
            _ = try await t.vault.auditConsistencyProof(from: 1, context: .testAuditor)
        }
    }

    @Test("a grant never reaches beyond the grantee's tenants, and names a subject of its tenant")
    func grantsBounded() async throws {
        try await withScopedVault { t, ada, bob in
            let expires = t.vault.administration.clock.now() + day
            try await expectDenied(t, actor: PIIPrincipal.officer, action: .grant, dataClass: .administration, purpose: .subjectRequest,
                                   tenant: "globex") {
                _ = try await t.vault.issueGrant(to: "acme-svc", tenant: "globex", purpose: .support, expiresAt: expires,
                                                 reason: "ticket", context: .piiOfficer)
            }
            for (tenant, subject) in [(TenantID("acme"), bob), (TenantID("acme"), SubjectID("subj_" + String(repeating: "0", count: 32)))] {
                await expectCofferError(.notFound) {
                    _ = try await t.vault.issueGrant(to: "acme-svc", tenant: tenant, subject: subject, purpose: .support,
                                                     expiresAt: expires, reason: "ticket", context: .piiOfficer)
                }
            }
            // Even a grant row that got past issuance (written straight to the store) opens
            // nothing beyond the grantee's tenants.
            let stray = Grant(id: "grant_stray", grantee: "acme-svc", tenant: "globex", subject: nil, purpose: .support, reason: "x",
                              issuedBy: PIIPrincipal.officer, issuedAt: t.vault.administration.clock.now(), expiresAt: expires,
                              revokedAt: nil, revokedBy: nil)
            try await t.vault.administration.insertGrant(stray)
            await expectCofferError(.accessDenied) {
                _ = try await t.vault.subject(bob, context: accessContext("acme-svc", .support, justification: "ticket"))
            }
            // A grant within the tenant opens the subject, and the record names the grant, not a role.
            let grant = try await t.vault.issueGrant(to: "acme-svc", tenant: "acme", subject: ada, purpose: .support,
                                                     expiresAt: expires, reason: "ticket", context: .piiOfficer)
            _ = try await t.vault.subject(ada, context: accessContext("acme-svc", .support, justification: "ticket"))
            let record = try #require(try t.auditLogRecords().last)
            #expect(record.outcome == .allowed && record.grantID == grant.id && record.role == nil, "\(record)")
        }
    }
}
