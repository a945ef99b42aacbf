import Foundation
import GRDB
import Testing
@testable import Coffer

@Suite("PII vault")
struct PIIVaultTests {
    @Test("addSubject returns an id; the privacy officer's subject request shows every field")
    func addAndShow() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let started = nowMilliseconds()
            let id = try await v.addSubject(tenant: "acme", name: "  Ann Lee ", email: "Ann.Lee@Example.COM", company: "Lee & Co",
                                            password: "Tr1ckySecret", context: .piiService)
            #expect(id.rawValue.wholeMatch(of: #/subj_[0-9a-f]{32}/#) != nil, "\(id)")
            let other = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            #expect(other != id)

            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.id == id)
            #expect(record.tenant == "acme")
            #expect(record.status == .active)
            #expect(record.name == "Ann Lee")
            #expect(record.email == "Ann.Lee@example.com")
            #expect(record.company == "Lee & Co")
            #expect(record.billingLast4 == nil)
            #expect(record.billingAddress == nil)
            #expect(record.hasPassword)
            #expect(record.consents.isEmpty)
            #expect(record.identifiers.isEmpty)
            #expect(record.createdAt >= started && record.createdAt <= nowMilliseconds())
            #expect(record.updatedAt == record.createdAt)

            let bo = try await v.subject(other, context: .piiOfficerLegal)
            #expect(bo.name == "Bo")
            #expect(bo.company == nil)
            #expect(!bo.hasPassword)

            let onlyEmail = try await v.subject(id, fields: [.email], context: .piiOfficer)
            #expect(onlyEmail.email == "Ann.Lee@example.com")
            #expect(onlyEmail.name == nil)
            #expect(onlyEmail.company == nil)

            // The backend registers people but cannot read them back.
            await expectCofferError(.accessDenied) { _ = try await v.subject(id, context: .piiService) }
            await expectCofferError(.notFound) {
                _ = try await v.subject("subj_00000000000000000000000000000000", context: .piiOfficer)
            }

            // The log has the read with its role and justification; no value of the person.
            let reads = try await v.piiAuditRecords(AuditQuery(subject: id, action: "read"))
            #expect(reads.map(\.outcome) == [.allowed, .allowed, .denied])
            #expect(reads.first?.actor == PIIPrincipal.officer)
            #expect(reads.first?.role == "privacy-officer")
            #expect(reads.first?.dataClass == "pii")
            #expect(reads.first?.justification == "pii test: subject access request")
            #expect(reads.last?.actor == "store-tests")
        }
    }

    @Test("find by email ignores case in the local part and the domain, in one tenant or all")
    func findByEmail() async throws {
        try await withPIIVault(tenants: ["acme", "beta"]) { t in
            let v = t.vault
            let ann = try await v.addSubject(tenant: "acme", name: "Ann", email: "Ann.Lee@Example.com", company: nil, context: .piiService)
            let annBeta = try await v.addSubject(tenant: "beta", name: "Ann", email: "ann.lee@example.com", company: nil,
                                                 context: .piiService)
            let bo = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            for query in ["Ann.Lee@Example.com", "ann.lee@example.com", "ANN.LEE@EXAMPLE.COM", " aNn.lEe@exAMPLE.cOm "] {
                #expect(try await v.findSubjects(tenant: "acme", email: query, context: .piiService) == [ann], "\(query)")
                #expect(try await v.findSubjects(tenant: "beta", email: query, context: .piiService) == [annBeta], "\(query)")
                #expect(try await v.findSubjects(email: query, context: .piiService) == [ann, annBeta].sorted(), "\(query)")
            }
            #expect(try await v.findSubjects(tenant: "acme", email: "BO@example.com", context: .piiService) == [bo])
            #expect(try await v.findSubjects(email: "ann.lee@example.org", context: .piiService).isEmpty)
            #expect(try await v.findSubjects(email: "annlee@example.com", context: .piiService).isEmpty)
            await expectCofferError(.invalidPII) { _ = try await v.findSubjects(email: "not an email", context: .piiService) }
            // The officer may find too; the lookup is on a MAC, the file has no email.
            #expect(try await v.findSubjects(email: "ANN.LEE@example.com", context: .piiOfficer) == [ann, annBeta].sorted())
            #expect(try piiFiles(under: t.directory, containing: Array("example.com".utf8)).isEmpty)
        }
    }

    @Test("find by IP only for a security investigation; any other purpose is refused with access-denied and logged")
    func findByIP() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let ann = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            let bo = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: .piiService)
            _ = try await v.addIdentifier(ann, ip: "198.51.100.23", userAgent: nil, device: nil, context: .piiService)
            _ = try await v.addIdentifier(ann, ip: "2001:DB8:0:0::7", userAgent: "curl/8", device: nil, context: .piiService)
            _ = try await v.addIdentifier(bo, ip: "198.51.100.23", userAgent: nil, device: nil, context: .piiService)

            #expect(try await v.findSubjects(ip: "198.51.100.23", context: .piiInvestigator) == [ann, bo].sorted())
            #expect(try await v.findSubjects(tenant: "acme", ip: "2001:db8::7", context: .piiInvestigator) == [ann])
            #expect(try await v.findSubjects(ip: "2001:0db8:0000:0000:0000:0000:0000:0007", context: .piiInvestigator) == [ann])
            #expect(try await v.findSubjects(ip: "198.51.100.24", context: .piiInvestigator).isEmpty)

            let before = try await v.piiAuditRecords(AuditQuery(action: "find", outcome: .denied)).count
            let administration = try AccessContext(actor: "store-tests", purpose: .administration, justification: "curious")
            // Refused, not answered with an empty list: a caller must not mistake a refusal for "nobody".
            for context in [AccessContext.piiService, .piiOfficer, .piiOfficerLegal, administration] {
                let error = await expectCofferError(.accessDenied, Comment(rawValue: "\(context.actor) \(context.purpose)")) {
                    _ = try await v.findSubjects(ip: "198.51.100.23", context: context)
                }
                #expect(error?.message.contains("198.51.100.23") == false)
            }
            let denials = try await v.piiAuditRecords(AuditQuery(action: "find", outcome: .denied))
            #expect(denials.count == before + 4)
            for record in denials.suffix(4) {
                #expect(record.dataClass == "pii")
                #expect(record.errorCode == "access-denied")
                #expect(record.reason?.contains("security investigations only") == true, "\(record.reason ?? "")")
                #expect(record.reason?.contains("198.51.100.23") == false)
            }
            #expect(denials.suffix(4).map(\.purpose) == ["service-operation", "subject-request", "legal", "administration"])
            await expectCofferError(.invalidPII) { _ = try await v.findSubjects(ip: "198.51.100.256", context: .piiInvestigator) }
        }
    }

    @Test("a correction replaces the value; an email correction moves the lookup")
    func correction() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann Lee", email: "ann.lee@example.com", company: "Old Co",
                                            context: .piiService)
            try await v.setBilling(id, last4: "4242", address: "1 Old Road", context: .piiService)
            let before = try await v.subject(id, context: .piiOfficer)

            try await v.correctSubject(id, field: .name, value: "Ann Smith", context: .piiOfficer)
            try await v.correctSubject(id, field: .company, value: "New Co", context: .piiService)
            try await v.correctSubject(id, field: .billingAddress, value: "2 New Road", context: .piiOfficer)
            try await v.correctSubject(id, field: .email, value: "Ann.Smith@Example.org", context: .piiOfficer)

            let after = try await v.subject(id, context: .piiOfficer)
            #expect(after.name == "Ann Smith")
            #expect(after.company == "New Co")
            #expect(after.billingAddress == "2 New Road")
            #expect(after.billingLast4 == "4242")
            #expect(after.email == "Ann.Smith@example.org")
            #expect(after.createdAt == before.createdAt)
            #expect(after.updatedAt >= before.updatedAt)
            // One row per field: the old values are gone, not kept beside the new ones.
            #expect(try await v.piiCount("SELECT count(*) FROM field WHERE subject_id = ?", [id]) == 5)
            for field in [SubjectField.name, .company, .billingAddress, .email] {
                let stored = try await v.piiStoredField(id, tenant: "acme", field)
                #expect(stored != nil && stored != before.value(of: field), "\(field.rawValue)")
            }
            #expect(try await v.findSubjects(email: "ann.lee@example.com", context: .piiService).isEmpty)
            #expect(try await v.findSubjects(email: "ann.smith@example.org", context: .piiService) == [id])
            #expect(try await v.piiCount("SELECT count(*) FROM lookup WHERE subject_id = ? AND kind = 'email'", [id]) == 1)

            await expectCofferError(.invalidArgument) {
                try await v.correctSubject(id, field: .passwordHash, value: "$scrypt$x", context: .piiOfficer)
            }
            await expectCofferError(.invalidArgument) {
                try await v.correctSubject(id, field: .billingLast4, value: "1234", context: .piiOfficer)
            }
            await expectCofferError(.invalidPII) { try await v.correctSubject(id, field: .email, value: "nobody", context: .piiOfficer) }
            await expectCofferError(.notFound) {
                try await v.correctSubject("subj_00000000000000000000000000000000", field: .name, value: "X", context: .piiOfficer)
            }
            // Support cannot correct even with a grant (grants open reads only).
            _ = try await v.issueGrant(to: PIIPrincipal.support, tenant: "acme", purpose: .support, expiresAt: nowMilliseconds() + 60_000,
                                       reason: "ticket 1", context: .piiOfficer)
            await expectCofferError(.accessDenied) {
                try await v.correctSubject(id, field: .name, value: "Mallory", context: .piiSupport)
            }
            #expect(try await v.subject(id, context: .piiOfficer) == after)
        }
    }

    @Test("consents: granted then withdrawn takes effect at once, with time and policy version")
    func consents() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            try await v.recordConsent(id, kind: "Marketing", granted: true, policyVersion: "2024-01", context: .piiService)
            try await v.recordConsent(id, kind: "analytics", granted: true, policyVersion: "2024-01", context: .piiService)
            #expect(try await v.subject(id, context: .piiOfficer).currentConsents == ["marketing": true, "analytics": true])

            try await v.recordConsent(id, kind: "marketing", granted: false, policyVersion: "2024-06", context: .piiService)
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.currentConsents["marketing"] == false)
            #expect(record.currentConsents["analytics"] == true)
            #expect(record.consents.map(\.kind) == ["marketing", "analytics", "marketing"])
            #expect(record.consents.map(\.granted) == [true, true, false])
            #expect(record.consents.map(\.policyVersion) == ["2024-01", "2024-01", "2024-06"])
            #expect(record.consents.map(\.time) == record.consents.map(\.time).sorted())
            #expect(record.updatedAt == record.consents.last?.time)

            // Granting again is a new event, and wins again.
            try await v.recordConsent(id, kind: "marketing", granted: true, policyVersion: "2024-07", context: .piiOfficer)
            #expect(try await v.subject(id, context: .piiOfficer).currentConsents["marketing"] == true)
            #expect(try await v.piiCount("SELECT count(*) FROM consent WHERE subject_id = ?", [id]) == 4)

            for kind in ["market ing", "marketing!", "", String(repeating: "k", count: 65)] {
                await expectCofferError(.invalidPII, Comment(rawValue: kind.debugDescription)) {
                    try await v.recordConsent(id, kind: kind, granted: false, policyVersion: "2024-07", context: .piiService)
                }
            }
            await expectCofferError(.invalidPII) {
                try await v.recordConsent(id, kind: "marketing", granted: false, policyVersion: " ", context: .piiService)
            }
            #expect(try await v.piiCount("SELECT count(*) FROM consent WHERE subject_id = ?", [id]) == 4)
        }
    }

    @Test("technical identifiers are recorded with canonical IP, user agent, device and times")
    func identifiers() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, context: .piiService)
            let started = nowMilliseconds()
            let first = try await v.addIdentifier(id, ip: "2001:DB8:0:0:0:0:0:1", userAgent: "Mozilla/5.0 (X11; Linux)", device: "Pixel 8",
                                                  context: .piiService)
            let second = try await v.addIdentifier(id, ip: nil, userAgent: nil, device: "ThinkPad", context: .piiService)
            #expect(first.wholeMatch(of: #/ident_[0-9a-f]{32}/#) != nil, "\(first)")
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(Set(record.identifiers.map(\.id)) == [first, second])
            let seen = try #require(record.identifiers.first { $0.id == first })
            #expect(seen.ip == "2001:db8::1")
            #expect(seen.userAgent == "Mozilla/5.0 (X11; Linux)")
            #expect(seen.device == "Pixel 8")
            #expect(seen.firstSeen >= started && seen.firstSeen == seen.lastSeen)
            let device = try #require(record.identifiers.first { $0.id == second })
            #expect(device.ip == nil && device.userAgent == nil && device.device == "ThinkPad")

            await expectCofferError(.invalidArgument) {
                _ = try await v.addIdentifier(id, ip: nil, userAgent: nil, device: nil, context: .piiService)
            }
            await expectCofferError(.invalidPII) {
                _ = try await v.addIdentifier(id, ip: "999.1.1.1", userAgent: "curl", device: nil, context: .piiService)
            }
            #expect(try await v.piiCount("SELECT count(*) FROM identifier WHERE subject_id = ?", [id]) == 2)
            // Only the address went into the blind index.
            #expect(try await v.piiCount("SELECT count(*) FROM lookup WHERE subject_id = ? AND kind = 'ip'", [id]) == 1)
        }
    }

    @Test("an unknown tenant is refused with unknown-tenant and stores nothing")
    func unknownTenant() async throws {
        try await withPIIVault { t in
            let v = t.vault
            await expectCofferError(.unknownTenant) {
                _ = try await v.addSubject(tenant: "globex", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                           context: .piiService)
            }
            await expectCofferError(.invalidArgument) {
                _ = try await v.addSubject(tenant: "Not A Tenant", name: "Ann", email: "ann@example.com", company: nil,
                                           context: .piiService)
            }
            #expect(try await v.piiCount("SELECT count(*) FROM subject") == 0)
            let keys = try await v.control.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key") ?? -1 }
            #expect(keys == 0)
            let failed = try #require(try await v.piiAuditRecords(AuditQuery(tenant: "globex")).last)
            #expect(failed.outcome == .error)
            #expect(failed.errorCode == "unknown-tenant")
        }
    }

    @Test("every PII operation without a justification is refused with purpose-missing, and the refusal is logged")
    func justificationRequired() async throws {
        try await withPIIVault { t in
            let v = t.vault
            let id = try await v.addSubject(tenant: "acme", name: "Ann", email: "ann@example.com", company: nil, password: "Tr1ckySecret",
                                            context: .piiService)
            let service = AccessContext.test
            let officer = try AccessContext(actor: PIIPrincipal.officer, purpose: .subjectRequest, justification: "")
            #expect(officer.justification == nil)
            let before = try await v.piiAuditRecords(AuditQuery(outcome: .denied, limit: 1000)).count
            await expectCofferError(.purposeMissing, "add") {
                _ = try await v.addSubject(tenant: "acme", name: "Bo", email: "bo@example.com", company: nil, context: service)
            }
            await expectCofferError(.purposeMissing, "show") { _ = try await v.subject(id, context: officer) }
            await expectCofferError(.purposeMissing, "find") { _ = try await v.findSubjects(email: "ann@example.com", context: service) }
            await expectCofferError(.purposeMissing, "correct") {
                try await v.correctSubject(id, field: .name, value: "Bo", context: officer)
            }
            await expectCofferError(.purposeMissing, "consent") {
                try await v.recordConsent(id, kind: "marketing", granted: true, policyVersion: "1", context: service)
            }
            await expectCofferError(.purposeMissing, "identifier") {
                _ = try await v.addIdentifier(id, ip: "192.0.2.1", userAgent: nil, device: nil, context: service)
            }
            await expectCofferError(.purposeMissing, "billing") {
                try await v.setBilling(id, last4: "1234", address: "1 Main Street", context: service)
            }
            await expectCofferError(.purposeMissing, "verify") { _ = try await v.verifyPassword(id, password: "Tr1ckySecret", context: service) }
            await expectCofferError(.purposeMissing, "restrict") { try await v.restrictSubject(id, context: officer) }

            let denials = try await v.piiAuditRecords(AuditQuery(outcome: .denied, limit: 1000))
            #expect(denials.count == before + 9)
            #expect(denials.suffix(9).allSatisfy { $0.errorCode == "purpose-missing" && $0.dataClass == "pii" && $0.justification == nil })
            #expect(try await v.piiCount("SELECT count(*) FROM subject") == 1)
            let record = try await v.subject(id, context: .piiOfficer)
            #expect(record.name == "Ann" && record.consents.isEmpty && record.identifiers.isEmpty && record.billingLast4 == nil)
            #expect(record.status == .active)
        }
    }
}

extension SubjectRecord {
    /// The value of a single-valued field.
    func value(of field: SubjectField) -> String? {
        switch field {
        case .name: name
        case .email: email
        case .company: company
        case .billingLast4: billingLast4
        case .billingAddress: billingAddress
        case .passwordHash: nil
        }
    }
}
