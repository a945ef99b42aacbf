import Foundation
import Testing
@testable import Coffer
import CofferCrypto

// Tenants with a plan and a lifecycle, the retention in force, legal holds (lifecycle.md).

private func rule(_ rules: [RetentionRule], _ dataClass: RetentionClass) throws -> RetentionRule {
    try #require(rules.first { $0.dataClass == dataClass })
}

@Suite("Lifecycle: plans, closure, retention settings, legal holds")
struct LifecycleTests {
    @Test("a tenant is on the free plan unless told; show reports plan, status, dates, usage and the retention in force")
    func tenantShow() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            try await t.vault.createTenant("globex", plan: .scale, context: .admin)
            _ = try await t.vault.put(tenant: "acme", kind: .testScript, name: "a.js", bytes: testBytes(1000), context: .test)
            _ = try await t.vault.put(tenant: "acme", kind: .testScript, name: "a.js", bytes: testBytes(1500), context: .test)
            _ = try await t.vault.put(tenant: "acme", kind: .scanResult, name: "scan", bytes: testBytes(300), context: .test)
            _ = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)

            let acme = try await t.vault.tenantInfo("acme", context: .admin)
            #expect(acme.plan == .free)
            #expect(acme.status == .active)
            #expect(acme.closedAt == nil)
            #expect(acme.subjects == 1)
            #expect(acme.content == [TenantInfo.ClassUsage(dataClass: "scan-result", objects: 1, versions: 1, bytes: 300),
                                     TenantInfo.ClassUsage(dataClass: "test-script", objects: 1, versions: 2, bytes: 2500)])
            #expect(try rule(acme.retention, .content(.runTelemetry)).days == 7)
            let globex = try await t.vault.tenantInfo("globex", context: .admin)
            #expect(globex.plan == .scale)
            #expect(try rule(globex.retention, .content(.runTelemetry)).days == nil, "scale: no limit")
            #expect(globex.content.isEmpty && globex.subjects == 0)
            await expectCofferError(.unknownTenant) { _ = try await t.vault.tenantInfo("initech", context: .admin) }
        }
    }

    @Test("the defaults are the policies': each class with its clock, period and promise")
    func defaults() async throws {
        try await withTestVault { t in
            let rules = try await t.vault.retention(tenant: "acme", context: .admin)
            #expect(rules.count == RetentionClass.all.count)
            let expected: [(RetentionClass, RetentionClock, Int?, String)] = [
                (.content(.scanResult), .creation, 90, "P7"),
                (.content(.testScript), .closure, 365, "P6"),
                (.content(.testResult), .closure, 365, "P6"),
                (.content(.runTelemetry), .creation, 7, "P8"),
                (.accountPII, .closure, 30, "P9"),
                (.technicalIdentifier, .lastSeen, 90, "P10"),
                (.billing, .closure, 2557, "P11"),
                (.accessLog, .creation, 2557, "P5"),
            ]
            for (dataClass, clock, days, promise) in expected {
                let found = try rule(rules, dataClass)
                #expect(found.clock == clock, "\(dataClass)")
                #expect(found.days == days, "\(dataClass)")
                #expect(found.promise == promise, "\(dataClass)")
            }
            #expect(try rule(rules, .billing).source == .legal)
            #expect(try await t.vault.defaultRetention(plan: .team).first { $0.dataClass == .content(.runTelemetry) }?.days == 90)
        }
    }

    @Test("the plan sets telemetry's period and follows plan changes")
    func planChanges() async throws {
        try await withTestVault { t in
            for (plan, days) in [(Plan.team, 90), (.scale, nil), (.free, 7)] as [(Plan, Int?)] {
                try await t.vault.setPlan(plan, tenant: "acme", context: .admin)
                let rules = try await t.vault.retention(tenant: "acme", context: .admin)
                #expect(try rule(rules, .content(.runTelemetry)).days == days, "\(plan)")
                #expect(try await t.vault.tenantInfo("acme", context: .admin).plan == plan)
            }
            let records = try await t.vault.auditRecords(AuditQuery(tenant: "acme", action: "lifecycle"), context: .piiAuditor)
            #expect(records.count == 3)
            #expect(records.allSatisfy { $0.reason?.hasPrefix("plan=") == true })
        }
    }

    @Test("closing records the closure once, at now or a past time, never the future")
    func closing() async throws {
        try await withTestVault(tenants: ["acme", "globex"]) { t in
            let past = try Timestamp.milliseconds(parsing: "2026-01-15")
            #expect(try await t.vault.closeTenant("acme", at: past, context: .test) == past, "the platform's service closes accounts")
            let info = try await t.vault.tenantInfo("acme", context: .admin)
            #expect(info.status == .closed)
            #expect(info.closedAt == past)
            await expectCofferError(.alreadyExists) { try await t.vault.closeTenant("acme", context: .admin) }
            await expectCofferError(.invalidArgument) {
                try await t.vault.closeTenant("globex", at: nowMilliseconds() + 86_400_000, context: .admin)
            }
            #expect(try await t.vault.tenantInfo("globex", context: .admin).status == .active)
            await expectCofferError(.unknownTenant) { try await t.vault.closeTenant("initech", context: .admin) }
        }
    }

    @Test("retention settings: scan results any period, other content only shorter, PII, billing and the log never")
    func settings() async throws {
        try await withTestVault { t in
            try await t.vault.setRetention(tenant: "acme", dataClass: .content(.scanResult), days: 30, context: .admin)
            #expect(try rule(try await t.vault.retention(tenant: "acme", context: .admin), .content(.scanResult)).days == 30)
            try await t.vault.setRetention(tenant: "acme", dataClass: .content(.scanResult), days: 400, context: .test)
            let scan = try rule(try await t.vault.retention(tenant: "acme", context: .admin), .content(.scanResult))
            #expect(scan.days == 400)
            #expect(scan.source == .tenant)
            try await t.vault.setRetention(tenant: "acme", dataClass: .content(.testScript), days: 100, context: .admin)
            #expect(try rule(try await t.vault.retention(tenant: "acme", context: .admin), .content(.testScript)).days == 100)

            let refused: [(RetentionClass, Int)] = [(.content(.testScript), 366), (.content(.runTelemetry), 8), (.accountPII, 10),
                                                    (.billing, 10), (.technicalIdentifier, 30), (.accessLog, 5000),
                                                    (.content(.scanResult), 0), (.content(.scanResult), 36_501)]
            for (dataClass, days) in refused {
                await expectCofferError(.invalidArgument, "\(dataClass) \(days)") {
                    try await t.vault.setRetention(tenant: "acme", dataClass: dataClass, days: days, context: .admin)
                }
            }
            await expectCofferError(.unknownTenant) {
                try await t.vault.setRetention(tenant: "initech", dataClass: .content(.scanResult), days: 30, context: .admin)
            }
            #expect(throws: CofferError.self) { _ = try RetentionClass(parsing: "secrets") }
            // A telemetry setting made on scale does not outlast the free plan's 7 days.
            try await t.vault.setPlan(.scale, tenant: "acme", context: .admin)
            try await t.vault.setRetention(tenant: "acme", dataClass: .content(.runTelemetry), days: 36_500, context: .admin)
            try await t.vault.setPlan(.free, tenant: "acme", context: .admin)
            #expect(try rule(try await t.vault.retention(tenant: "acme", context: .admin), .content(.runTelemetry)).days == 7)
        }
    }

    @Test("a tenant-limited principal sees and changes nothing of another tenant's lifecycle")
    func scope() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            try await t.vault.addPrincipal("acme-admin", roles: [.admin], tenants: ["acme"], context: .admin)
            let acmeAdmin = accessContext("acme-admin", .administration)
            _ = try await t.vault.tenantInfo("acme", context: acmeAdmin)
            try await t.vault.setPlan(.team, tenant: "acme", context: acmeAdmin)
            await expectCofferError(.accessDenied) { _ = try await t.vault.tenantInfo("globex", context: acmeAdmin) }
            await expectCofferError(.accessDenied) { try await t.vault.setPlan(.scale, tenant: "globex", context: acmeAdmin) }
            await expectCofferError(.accessDenied) { try await t.vault.closeTenant("globex", context: acmeAdmin) }
            await expectCofferError(.accessDenied) { _ = try await t.vault.retention(tenant: "globex", context: acmeAdmin) }
            try await t.vault.placeHold(tenant: "globex", reason: "matter 17", context: .piiOfficerLegal)
            #expect(try await t.vault.holds(context: acmeAdmin).isEmpty, "another tenant's hold is not listed")
            #expect(try await t.vault.holds(context: .admin).count == 1)
            // Support has no part in the lifecycle.
            await expectCofferError(.accessDenied) { _ = try await t.vault.tenantInfo("acme", context: .piiSupport) }
            await expectCofferError(.accessDenied) { try await t.vault.closeTenant("acme", context: .piiSupport) }
        }
    }

    @Test("legal holds: a privacy officer places and lifts them for legal reasons; both are logged; bad reasons are refused")
    func holds() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let ada = try await t.vault.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let cy = try await t.vault.addSubject(tenant: "globex", name: "Cy", email: "cy@example.com", company: nil, context: .piiService)
            let tenantHold = try await t.vault.placeHold(tenant: "acme", reason: "  litigation 2026-31  ", context: .piiOfficerLegal)
            #expect(tenantHold.reason == "litigation 2026-31")
            #expect(tenantHold.subject == nil && tenantHold.isActive)
            let subjectHold = try await t.vault.placeHold(tenant: "acme", subject: ada, reason: "DSAR dispute", context: .piiOfficerLegal)
            #expect(subjectHold.subject == ada)
            await expectCofferError(.notFound, "a subject of another tenant") {
                try await t.vault.placeHold(tenant: "acme", subject: cy, reason: "wrong tenant", context: .piiOfficerLegal)
            }
            await expectCofferError(.accessDenied, "not for a subject request") {
                try await t.vault.placeHold(tenant: "acme", reason: "x", context: .piiOfficer)
            }
            await expectCofferError(.accessDenied, "not an admin") { try await t.vault.placeHold(tenant: "acme", reason: "x", context: .admin) }
            await expectCofferError(.invalidArgument, "whitespace") {
                try await t.vault.placeHold(tenant: "acme", reason: " \n ", context: .piiOfficerLegal)
            }
            await expectCofferError(.cardNumberRefused, "card number") {
                try await t.vault.placeHold(tenant: "acme", reason: "card 4111 1111 1111 1111", context: .piiOfficerLegal)
            }
            #expect(try await t.vault.holds(tenant: "acme", context: .piiOfficerLegal).map(\.id) == [tenantHold.id, subjectHold.id])
            #expect(try await t.vault.tenantInfo("acme", context: .admin).holds.count == 2)

            let lifted = try await t.vault.liftHold(tenantHold.id, context: .piiOfficerLegal)
            #expect(!lifted.isActive)
            #expect(lifted.liftedBy == PIIPrincipal.officer)
            await expectCofferError(.notFound) { try await t.vault.liftHold(tenantHold.id, context: .piiOfficerLegal) }
            #expect(try await t.vault.holds(context: .piiOfficerLegal).map(\.id) == [subjectHold.id])
            #expect(try await t.vault.holds(includeLifted: true, context: .piiOfficerLegal).count == 2)

            let records = try await t.vault.auditRecords(AuditQuery(action: "hold"), context: .piiAuditor)
            for (id, reason) in [(tenantHold.id, "hold-placed"), (subjectHold.id, "hold-placed"), (tenantHold.id, "hold-lifted")] {
                #expect(records.contains { $0.objectID == id && $0.reason == reason && $0.outcome == .allowed }, "\(id) \(reason)")
            }
            #expect(records.contains { $0.outcome == .error && $0.errorCode == "not-found" }, "the failed hold on another tenant's subject")
            #expect(records.contains { $0.outcome == .denied }, "the refused ones")
        }
    }
}
