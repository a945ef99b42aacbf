import Foundation
import Testing
@testable import Coffer

@Suite("PII access: grants and restriction")
struct PIIAccessTests {
    @Test("support reads a subject only while a grant is in force; the log shows denied, allowed with the grant, denied")
    func grantLifecycle() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann Lee", email: "ann@example.com", company: nil, context: .piiService)

            // 1. No grant: refused.
            let refusal = await expectCofferError(.accessDenied, "before the grant") { _ = try await v.subject(id, context: .piiSupport) }
            #expect(refusal?.message.contains("Ann") == false)

            // 2. A privacy officer's grant, for support, expiring in an hour: allowed.
            let grant = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", purpose: .support,
                                               expiresAt: v.administration.clock.now() + 3_600_000, reason: "ticket 4711", context: .piiOfficer)
            #expect(grant.id.rawValue.hasPrefix("grant_"))
            #expect(grant.issuedBy == PIIPrincipal.officer)
            let record = try await v.subject(id, context: .piiSupport)
            #expect(record.name == "Ann Lee")
            #expect(record.email == "ann@example.com")

            // 3. After expiry: refused again.
            // The vault's clock moves past the expiry (no sleeping on the wall clock).
            v.administration.clock.advance(by: grant.expiresAt - v.administration.clock.now())
            await expectCofferError(.accessDenied, "after expiry") { _ = try await v.subject(id, context: .piiSupport) }

            let log = try await v.piiAuditRecords(AuditQuery(subject: id)).filter { $0.actor == PIIPrincipal.support }
            #expect(log.map(\.outcome) == [.denied, .allowed, .denied])
            #expect(log.map(\.grantID) == [nil, grant.id, nil])
            #expect(log.map(\.errorCode) == ["access-denied", nil, "access-denied"])
            #expect(log.map(\.action) == ["read", "read", "read"])
            // What allowed the read is the grant (its id is in the record), not the support role.
            #expect(log.map(\.role) == [nil, nil, nil])
            #expect(log.allSatisfy { $0.purpose == "support" && $0.dataClass == "pii" && $0.tenant == "acme" })
            #expect(log.allSatisfy { $0.justification == "pii test: ticket 4711" })
            // The grant itself is in the log, issued by the officer.
            let issued = try await v.piiAuditRecords(AuditQuery(actor: PIIPrincipal.officer, action: "grant"))
            #expect(issued.map(\.grantID) == [grant.id])
            #expect(issued.map(\.outcome) == [.allowed])
        }
    }

    @Test("a grant covers only its subject, tenant, purpose and grantee, and stops when revoked")
    func grantScope() async throws {
        try await withPIIVault(tenants: ["acme", "beta"]) { t in
            let v = t.vault
            try await v.addPrincipal("pii-support-2", roles: [.support], context: .admin)
            let ann = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            let bo = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            let cy = try await v.addSubject(tenant: "beta", name: "Cy", email: "cy@example.com", company: nil, context: .piiService)
            let expires = nowMilliseconds() + 600_000

            let annOnly = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", subject: ann, purpose: .support,
                                                 expiresAt: expires, reason: "ticket 1", context: .piiOfficer)
            #expect(try await v.subject(ann, context: .piiSupport).name == "Ann")
            await expectCofferError(.accessDenied, "another subject of the tenant") { _ = try await v.subject(bo, context: .piiSupport) }
            await expectCofferError(.accessDenied, "a subject of another tenant") { _ = try await v.subject(cy, context: .piiSupport) }
            let otherPurpose = try AccessContext(actor: PIIPrincipal.support, purpose: .customerRequest, justification: "ticket 1")
            await expectCofferError(.accessDenied, "another purpose") { _ = try await v.subject(ann, context: otherPurpose) }
            let otherGrantee = try AccessContext(actor: "pii-support-2", purpose: .support, justification: "ticket 1")
            await expectCofferError(.accessDenied, "another grantee") { _ = try await v.subject(ann, context: otherGrantee) }
            let noJustification = try AccessContext(actor: PIIPrincipal.support, purpose: .support)
            await expectCofferError(.accessDenied, "no justification") { _ = try await v.subject(ann, context: noJustification) }
            // A subject grant does not let support find people by email in the tenant.
            await expectCofferError(.accessDenied) {
                _ = try await v.findSubjects(tenant: "acme", email: "bo@example.com", context: .piiSupport)
            }

            let denied = try await v.piiAuditRecords(AuditQuery(actor: PIIPrincipal.support, subject: bo))
            #expect(denied.map(\.outcome) == [.denied])
            #expect(denied.first?.grantID == nil)

            // A tenant grant opens every subject of that tenant, and finding in it, but not another tenant.
            let tenantWide = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", purpose: .support, expiresAt: expires,
                                                    reason: "ticket 2", context: .piiOfficer)
            #expect(try await v.subject(bo, context: .piiSupport).name == "Bo")
            #expect(try await v.findSubjects(tenant: "acme", email: "bo@example.com", context: .piiSupport) == [bo])
            await expectCofferError(.accessDenied) { _ = try await v.findSubjects(email: "bo@example.com", context: .piiSupport) }
            await expectCofferError(.accessDenied) { _ = try await v.subject(cy, context: .piiSupport) }
            let allowed = try await v.piiAuditRecords(AuditQuery(actor: PIIPrincipal.support, subject: bo, outcome: .allowed))
            #expect(allowed.map(\.grantID) == [tenantWide.id])

            // Revoking both: refused at once.
            try await v.revokeGrant(tenantWide.id, context: .piiOfficer)
            try await v.revokeGrant(annOnly.id, context: .piiOfficer)
            await expectCofferError(.accessDenied, "revoked") { _ = try await v.subject(ann, context: .piiSupport) }
            await expectCofferError(.accessDenied, "revoked") { _ = try await v.subject(bo, context: .piiSupport) }
        }
    }

    @Test("a restricted subject: service and a support grant are refused; the privacy officer for subject requests or legal is not; lifting restores")
    func restriction() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            _ = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", purpose: .support, expiresAt: nowMilliseconds() + 600_000,
                                       reason: "ticket 3", context: .piiOfficer)
            // Active: both work.
            try await v.correctSubject(id, field: .company, value: "Before Co", context: .piiService)
            #expect(try await v.subject(id, context: .piiSupport).company == "Before Co")
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))

            // Only a privacy officer, for a subject request or legal reason, restricts.
            await expectCofferError(.accessDenied, "service restricting") { try await v.restrictSubject(id, context: .piiService) }
            let officerForSupport = try AccessContext(actor: PIIPrincipal.officer, purpose: .support, justification: "why not")
            await expectCofferError(.accessDenied, "officer without a subject-request purpose") {
                try await v.restrictSubject(id, context: officerForSupport)
            }
            #expect(try await v.subject(id, context: .piiOfficer).status == .active)

            try await v.restrictSubject(id, context: .piiOfficer)
            let restricted = try await v.subject(id, context: .piiOfficer)
            #expect(restricted.status == .restricted)

            let refusals: [(String, () async throws -> Void)] = [
                ("service correction", { try await v.correctSubject(id, field: .company, value: "During Co", context: .piiService) }),
                ("service consent", { try await v.recordConsent(id, kind: "marketing", granted: true, policyVersion: "1", context: .piiService) }),
                ("service identifier", { _ = try await v.addIdentifier(id, ip: "192.0.2.9", userAgent: nil, device: nil, context: .piiService) }),
                ("service billing", { try await v.setBilling(id, last4: "4242", address: "1 Main Street", context: .piiService) }),
                ("service password check", { _ = try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService) }),
                ("service new password", { try await v.setPassword(id, password: "N3wSecretPass", context: .piiService) }),
                ("service read", { _ = try await v.subject(id, context: .piiService) }),
                ("support read with grant", { _ = try await v.subject(id, context: .piiSupport) }),
                ("support write with grant", { try await v.correctSubject(id, field: .name, value: "Mallory", context: .piiSupport) }),
            ]
            for (what, body) in refusals {
                await expectCofferError(.accessDenied, Comment(rawValue: what), body)
            }
            let reasons = try await v.piiAuditRecords(AuditQuery(subject: id, outcome: .denied, limit: 1000)).compactMap(\.reason)
            #expect(reasons.filter { $0.contains("restricted") }.count >= 7, "\(reasons)")
            #expect(try await v.subject(id, context: .piiOfficer) == restricted, "a refused write changed the subject")

            // The privacy officer still reads and corrects, for a subject request or legal reason.
            #expect(try await v.subject(id, context: .piiOfficerLegal).company == "Before Co")
            try await v.correctSubject(id, field: .company, value: "Corrected Co", context: .piiOfficerLegal)
            #expect(try await v.subject(id, context: .piiOfficer).company == "Corrected Co")
            #expect(try await v.subject(id, context: .piiOfficer).status == .restricted)

            // Lifting restores ordinary processing.
            try await v.restrictSubject(id, lift: true, context: .piiOfficerLegal)
            #expect(try await v.subject(id, context: .piiOfficer).status == .active)
            try await v.correctSubject(id, field: .company, value: "After Co", context: .piiService)
            #expect(try await v.subject(id, context: .piiSupport).company == "After Co")
            #expect(try await v.verifyPassword(id, password: "Tr1ckySecret", context: .piiService))
            await expectCofferError(.accessDenied, "support still cannot write") {
                try await v.correctSubject(id, field: .name, value: "Mallory", context: .piiSupport)
            }
        }
    }
}
