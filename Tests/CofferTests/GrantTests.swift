import Foundation
import Testing
@testable import Coffer

private let day: Int64 = 86_400_000

/// A vault with tenants acme and globex and principals: privacy officers `po` and `po2`, `bob`
/// (service on acme) and `sam` (support).
private func withGrantVault(_ body: (TestVault) async throws -> Void) async throws {
    try await withTestVault(tenants: ["acme", "globex"]) { t in
        try await t.vault.addPrincipal("po", roles: [.privacyOfficer], context: .admin)
        try await t.vault.addPrincipal("po2", roles: [.privacyOfficer], context: .admin)
        try await t.vault.addPrincipal("bob", roles: [.service], tenants: ["acme"], context: .admin)
        try await t.vault.addPrincipal("sam", roles: [.support], context: .admin)
        try await body(t)
    }
}

private let po = accessContext("po", .subjectRequest)
private let po2 = accessContext("po2", .legal)

@Suite("Grants")
struct GrantTests {
    @Test("only a privacy officer issues grants; refusals write no grant and are logged with the grant id")
    func onlyPrivacyOfficer() async throws {
        try await withGrantVault { t in
            let expires = nowMilliseconds() + day
            var refused: [AuditRecord?] = []
            for (who, purpose) in [(PrincipalID("store-tests"), Purpose.administration), ("sam", .support), ("bob", .serviceOperation), ("store-tests", .audit)] {
                refused.append(try await expectDenied(t, actor: who, action: .grant, dataClass: .administration, purpose: purpose, tenant: "acme") {
                    _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: expires, reason: "ticket 1",
                                                     context: accessContext(who, purpose))
                })
            }
            // A privacy officer acting for a purpose not meant for grants is refused too.
            refused.append(try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .support, tenant: "acme") {
                _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: expires, reason: "ticket 1",
                                                 context: accessContext("po", .support))
            })
            for record in refused {
                #expect(record?.grantID?.rawValue.hasPrefix("grant_") == true)
                #expect(record?.objectID == "sam")
            }
            #expect(Set(refused.compactMap { $0?.grantID }).count == refused.count)
            #expect(try await t.vault.grants(context: .testAuditor).isEmpty)

            let added = try await t.recordsAdded {
                let grant = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: expires,
                                                         reason: "ticket 1", context: po)
                #expect(grant.grantee == "sam")
                #expect(grant.tenant == "acme")
                #expect(grant.subject == nil)
                #expect(grant.purpose == .support)
                #expect(grant.issuedBy == "po")
                #expect(grant.expiresAt == expires)
                #expect(grant.reason == "ticket 1")
                #expect(grant.revokedAt == nil)
                #expect(try await t.vault.grants(context: .testAuditor) == [grant])
                #expect(try await t.vault.grants(grantee: "bob", context: .testAuditor).isEmpty)
            }
            let issued = try #require(added.first)
            #expect(issued.outcome == .allowed)
            #expect(issued.actor == "po")
            #expect(issued.role == "privacy-officer")
            #expect(issued.action == "grant")
            #expect(issued.purpose == "subject-request")
            #expect(issued.grantID == (try await t.vault.grants(context: .testAuditor)).first?.id)
        }
    }

    @Test("nobody grants to themselves")
    func noSelfGrant() async throws {
        try await withGrantVault { t in
            let record = try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest,
                                                tenant: "acme") {
                _ = try await t.vault.issueGrant(to: "po", tenant: "acme", purpose: .subjectRequest, expiresAt: nowMilliseconds() + day,
                                                 reason: "I need it", context: po)
            }
            #expect(record?.reason?.contains("themselves") == true)
            #expect(record?.grantID?.rawValue.hasPrefix("grant_") == true)
            #expect(try await t.vault.grants(context: .testAuditor).isEmpty)
            #expect(try t.vault.administration.activeGrant(grantee: "po", tenant: "acme", subject: nil, purpose: .subjectRequest) == nil)
            // Another privacy officer may grant to po.
            let grant = try await t.vault.issueGrant(to: "po", tenant: "acme", purpose: .subjectRequest, expiresAt: nowMilliseconds() + day,
                                                     reason: "second pair of eyes", context: po2)
            #expect(grant.issuedBy == "po2")
        }
    }

    @Test("a grant needs a reason, an expiry in the future within 90 days, and a registered grantee")
    func validation() async throws {
        try await withGrantVault { t in
            let now = nowMilliseconds()
            for reason in ["", "  \n "] {
                try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest, tenant: "acme",
                                       code: .purposeMissing) {
                    _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: now + day, reason: reason, context: po)
                }
            }
            for expiry in [now - 1000, now - 90 * day, now + 91 * day, now + 365 * day] {
                try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest, tenant: "acme",
                                       code: .invalidArgument) {
                    _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: expiry, reason: "ok", context: po)
                }
            }
            // Grants are for looking at people's data, not for administration or auditing.
            for purpose in [Purpose.administration, .audit, .serviceOperation] {
                try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest, tenant: "acme",
                                       code: .invalidArgument) {
                    _ = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: purpose, expiresAt: now + day, reason: "ok", context: po)
                }
            }
            try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest, tenant: "initech",
                                   code: .unknownTenant) {
                _ = try await t.vault.issueGrant(to: "sam", tenant: "initech", purpose: .support, expiresAt: now + day, reason: "ok", context: po)
            }
            try await expectDenied(t, actor: "po", action: .grant, dataClass: .administration, purpose: .subjectRequest, tenant: "acme",
                                   code: .notFound) {
                _ = try await t.vault.issueGrant(to: "ghost", tenant: "acme", purpose: .support, expiresAt: now + day, reason: "ok", context: po)
            }
            // A malformed tenant is refused before policy, unrecorded.
            let size = try t.auditLogSize()
            await expectCofferError(.invalidArgument) {
                _ = try await t.vault.issueGrant(to: "sam", tenant: "ACME", purpose: .support, expiresAt: now + day, reason: "ok", context: po)
            }
            #expect(try t.auditLogSize() == size)
            #expect(try await t.vault.grants(context: .testAuditor).isEmpty)

            let grant = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: nowMilliseconds() + 89 * day,
                                                     reason: "audit of ticket 7", context: po)
            #expect(try await t.vault.grants(context: .testAuditor).map(\.id) == [grant.id])
        }
    }

    @Test("activeGrant finds an unexpired grant, and not once it has expired")
    func expiry() async throws {
        try await withGrantVault { t in
            let grant = try await t.vault.issueGrant(to: "bob", tenant: "acme", purpose: .support, expiresAt: t.vault.administration.clock.now() + 3_600_000,
                                                     reason: "short look", context: po)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .support) == grant)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: "subject-1", purpose: .support) == grant)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .legal) == nil)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "globex", subject: nil, purpose: .support) == nil)
            #expect(try t.vault.administration.activeGrant(grantee: "sam", tenant: "acme", subject: nil, purpose: .support) == nil)
            #expect(grant.isActive(at: grant.expiresAt - 1))
            #expect(!grant.isActive(at: grant.expiresAt))

            // The vault's clock moves past the expiry; nobody sleeps on the wall clock.
            // Frozen, so the wall clock cannot tick between the two checks below.
            t.vault.administration.clock.freeze(at: grant.expiresAt - 1)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .support) == grant, "1 ms before expiry")
            t.vault.administration.clock.advance(by: 1)
            #expect(t.vault.administration.clock.now() >= grant.expiresAt)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .support) == nil)
            // The expired grant is still listed (history), just not in force.
            #expect(try await t.vault.grants(grantee: "bob", context: .testAuditor) == [grant])
        }
    }

    @Test("a revoked grant is no longer in force; revocations are logged with the grant id")
    func revocation() async throws {
        try await withGrantVault { t in
            let grant = try await t.vault.issueGrant(to: "bob", tenant: "acme", purpose: .legal, expiresAt: nowMilliseconds() + day,
                                                     reason: "court order 12", context: po)
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .legal)?.id == grant.id)

            let refused = try await expectDenied(t, actor: "sam", action: .revoke, dataClass: .administration, purpose: .support, tenant: "acme") {
                try await t.vault.revokeGrant(grant.id, context: accessContext("sam", .support))
            }
            #expect(refused?.grantID == grant.id)
            #expect(refused?.objectID == "bob")
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .legal)?.id == grant.id)

            let revoked = try await t.recordsAdded { try await t.vault.revokeGrant(grant.id, context: po2) }
            #expect(revoked.count == 1)
            #expect(revoked.first?.outcome == .allowed)
            #expect(revoked.first?.action == "revoke")
            #expect(revoked.first?.actor == "po2")
            #expect(revoked.first?.grantID == grant.id)
            #expect(revoked.first?.tenant == "acme")
            #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: nil, purpose: .legal) == nil)
            let listed = try #require(try await t.vault.grants(context: .testAuditor).first)
            #expect(listed.revokedBy == "po2")
            #expect(listed.revokedAt != nil)
            #expect(listed.isActive(at: nowMilliseconds()) == false)

            let again = try await t.recordsAdded {
                await expectCofferError(.invalidArgument) { try await t.vault.revokeGrant(grant.id, context: po) }
            }
            #expect(again.map(\.outcome) == [.allowed, .error])
            #expect(again.map(\.grantID) == [grant.id, grant.id])
            let unknown = GrantID("grant_" + String(repeating: "0", count: 32))
            let missing = try await t.recordsAdded {
                await expectCofferError(.notFound) { try await t.vault.revokeGrant(unknown, context: po) }
            }
            #expect(missing.map(\.outcome) == [.allowed, .error])
            #expect(missing.last?.errorCode == "not-found")
            #expect(missing.map(\.grantID) == [unknown, unknown])
        }
    }

    @Test("a subject-scoped grant covers only that subject; a tenant-wide one covers every subject")
    func subjectScope() async throws {
        try await withGrantVault { t in
            try t.insertBareSubject("subject-7", tenant: "acme")
            let scoped = try await t.vault.issueGrant(to: "sam", tenant: "acme", subject: "subject-7", purpose: .support,
                                                      expiresAt: nowMilliseconds() + day, reason: "ticket 7", context: po)
            #expect(try t.vault.administration.activeGrant(grantee: "sam", tenant: "acme", subject: "subject-7", purpose: .support) == scoped)
            #expect(try t.vault.administration.activeGrant(grantee: "sam", tenant: "acme", subject: "subject-8", purpose: .support) == nil)
            #expect(try t.vault.administration.activeGrant(grantee: "sam", tenant: "acme", subject: nil, purpose: .support) == nil)
            #expect(try t.vault.administration.activeGrant(grantee: "sam", tenant: "globex", subject: "subject-7", purpose: .support) == nil)
            #expect(scoped.covers(tenant: "acme", subject: "subject-7", purpose: .support))
            #expect(!scoped.covers(tenant: "acme", subject: "subject-70", purpose: .support))

            let wide = try await t.vault.issueGrant(to: "bob", tenant: "acme", purpose: .customerRequest,
                                                    expiresAt: nowMilliseconds() + day, reason: "migration", context: po)
            for subject in ["subject-7", "subject-8", nil] as [SubjectID?] {
                #expect(try t.vault.administration.activeGrant(grantee: "bob", tenant: "acme", subject: subject, purpose: .customerRequest) == wide)
            }
            let record = try #require(try t.auditLogRecords().first { $0.grantID == scoped.id })
            #expect(record.subject == "subject-7")
            #expect(record.tenant == "acme")
            #expect(record.objectID == "sam")
        }
    }

    @Test("every grant and revoke decision is in the log with its grant id, in order")
    func logged() async throws {
        try await withGrantVault { t in
            let expires = nowMilliseconds() + day
            let g1 = try await t.vault.issueGrant(to: "sam", tenant: "acme", purpose: .support, expiresAt: expires, reason: "a", context: po)
            let refusedIssue = try await expectDenied(t, actor: "sam", action: .grant, dataClass: .administration, purpose: .support,
                                                      tenant: "globex") {
                _ = try await t.vault.issueGrant(to: "bob", tenant: "globex", purpose: .support, expiresAt: expires, reason: "b",
                                                 context: accessContext("sam", .support))
            }
            try t.insertBareSubject("s-1", tenant: "acme")
            let g2 = try await t.vault.issueGrant(to: "bob", tenant: "acme", subject: "s-1", purpose: .legal, expiresAt: expires, reason: "c",
                                                  context: po2)
            try await t.vault.revokeGrant(g1.id, context: po2)
            try await expectDenied(t, actor: "bob", action: .revoke, dataClass: .administration, purpose: .serviceOperation, tenant: "acme") {
                try await t.vault.revokeGrant(g2.id, context: accessContext("bob", .serviceOperation))
            }
            try await t.vault.revokeGrant(g2.id, context: po)

            let grants = Array(try await t.vault.auditRecords(AuditQuery(action: "grant"), context: .testAuditor).reversed())
            #expect(grants.map(\.grantID) == [g1.id, refusedIssue?.grantID, g2.id])
            #expect(grants.map(\.outcome) == [.allowed, .denied, .allowed])
            #expect(grants.map(\.actor) == ["po", "sam", "po2"])
            let revokes = Array(try await t.vault.auditRecords(AuditQuery(action: "revoke"), context: .testAuditor).reversed())
            #expect(revokes.map(\.grantID) == [g1.id, g2.id, g2.id])
            #expect(revokes.map(\.outcome) == [.allowed, .denied, .allowed])
            #expect(revokes.map(\.actor) == ["po2", "bob", "po"])
            let sequences = (grants + revokes).map(\.sequence)
            #expect(Set(sequences).count == 6)
        }
    }
}
