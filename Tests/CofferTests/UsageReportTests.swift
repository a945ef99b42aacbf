import Foundation
import Testing
@testable import Coffer

// P21: a reporting principal gets counts and sizes, and nothing of one object's content, name or
// a person's data (lifecycle.md).

@Suite("Usage report: aggregates for the reporting role, nothing else")
struct UsageReportTests {
    @Test("counts and sizes per tenant and class, subjects, and allowed operations of the period")
    func figures() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let v = t.vault
            let (id, _) = try await v.put(tenant: "acme", kind: .testResult, name: "r1", bytes: testBytes(1000), context: .test)
            _ = try await v.put(tenant: "acme", kind: .testResult, name: "r2", bytes: testBytes(500), context: .test)
            _ = try await v.readAll(tenant: "acme", objectID: id, context: .test)
            _ = try await v.addSubject(tenant: "globex", name: "Cy", email: "cy@example.com", company: nil, context: .piiService)
            try await v.addPrincipal("reports", roles: [.reporting], context: .admin)
            let reporter = accessContext("reports", .serviceOperation)

            let report = try await v.usageReport(context: reporter)
            #expect(report.tenants.map(\.id) == ["acme", "globex"])
            let acme = try #require(report.tenants.first)
            #expect(acme.content == [TenantInfo.ClassUsage(dataClass: "test-result", objects: 2, versions: 2, bytes: 1500)])
            #expect(acme.operations.first { $0.action == "write" && $0.dataClass == "content" }?.count == 2)
            #expect(acme.operations.first { $0.action == "read" && $0.dataClass == "content" }?.count == 1)
            #expect(report.tenants[1].subjects == 1)
            // A period before everything counts nothing, but the stored figures stay.
            let empty = try await v.usageReport(tenant: "acme", from: 0, to: 1, context: reporter)
            #expect(empty.tenants.first?.operations.isEmpty == true)
            #expect(empty.tenants.first?.content.count == 1)
            await expectCofferError(.invalidArgument) { _ = try await v.usageReport(from: 10, to: 5, context: reporter) }
        }
    }

    @Test("a reporting principal is refused every content, name and PII read; a tenant-limited one sees its tenants")
    func reportingSeesNothingElse() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let v = t.vault
            let (id, _) = try await v.put(tenant: "acme", kind: .testResult, name: "secret-name", bytes: testBytes(100), context: .test)
            let cy = try await v.addSubject(tenant: "acme", name: "Cy", email: "cy@example.com", company: nil, context: .piiService)
            try await v.addPrincipal("reports", roles: [.reporting], context: .admin)
            try await v.addPrincipal("acme-reports", roles: [.reporting], tenants: ["acme"], context: .admin)
            for purpose in [Purpose.serviceOperation, .audit] {
                let reporter = accessContext("reports", purpose, justification: "monthly report")
                await expectCofferError(.accessDenied, "content") { _ = try await v.readAll(tenant: "acme", objectID: id, context: reporter) }
                await expectCofferError(.accessDenied, "name") { _ = try await v.stat(tenant: "acme", objectID: id, context: reporter) }
                await expectCofferError(.accessDenied, "listing") { _ = try await v.list(tenant: "acme", context: reporter) }
                await expectCofferError(.accessDenied, "pii") { _ = try await v.subject(cy, context: reporter) }
                await expectCofferError(.accessDenied, "find") { _ = try await v.findSubjects(email: "cy@example.com", context: reporter) }
                await expectCofferError(.accessDenied, "log") { _ = try await v.auditRecords(AuditQuery(), context: reporter) }
            }
            let limited = accessContext("acme-reports", .serviceOperation)
            #expect(try await v.usageReport(context: limited).tenants.map(\.id) == ["acme"])
            await expectCofferError(.accessDenied) { _ = try await v.usageReport(tenant: "globex", context: limited) }
            await expectCofferError(.accessDenied, "support") { _ = try await v.usageReport(context: .piiSupport) }
        }
    }
}
