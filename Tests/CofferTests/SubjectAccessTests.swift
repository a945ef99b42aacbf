import Foundation
import Testing
@testable import Coffer

// P14: the subject-access report says what is held about a person and who accessed it and why.

@Suite("Subject-access report")
struct SubjectAccessTests {
    @Test("the report holds every field, consent and identifier, and every access with its actor, purpose and justification")
    func report() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: "Engines",
                                             password: "Tr1cky-Secret9", context: .piiService)
            try await v.recordConsent(ada, kind: "marketing", granted: false, policyVersion: "v2", context: .piiService)
            _ = try await v.addIdentifier(ada, ip: "203.0.113.7", userAgent: nil, device: "laptop", context: .piiService)
            let grant = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", subject: ada, purpose: .support,
                                               expiresAt: nowMilliseconds() + 3_600_000, reason: "ticket 4711", context: .piiOfficer)
            _ = try await v.subject(ada, fields: [.email], context: .piiSupport)

            let report = try await v.subjectAccessReport(ada, context: .piiOfficer)
            #expect(report.record.name == "Ada" && report.record.company == "Engines")
            #expect(report.fieldsHeld == ["name", "email", "company", "password-hash"])
            #expect(report.record.currentConsents == ["marketing": false])
            #expect(report.record.identifiers.first?.device == "laptop")
            let supportRead = try #require(report.accesses.first { $0.actor == PIIPrincipal.support && $0.action == "read" })
            #expect(supportRead.purpose == "support")
            #expect(supportRead.justification == "pii test: ticket 4711")
            #expect(supportRead.grantID == grant.id)
            #expect(report.accesses.contains { $0.action == "write" && $0.actor == "store-tests" }, "the backend's writes")
            #expect(report.accesses.map(\.sequence) == report.accesses.map(\.sequence).sorted())
            await expectCofferError(.accessDenied, "support may not") { _ = try await v.subjectAccessReport(ada, context: .piiSupport) }
        }
    }
}
