import Foundation
import Testing
@testable import Coffer
import CofferCrypto

// `retention run`: exactly what is due at a date, for every class and plan, nothing held, a dry
// run listing what a real run removes (lifecycle.md).

private let day: Int64 = 86_400_000

/// What is due at `now + days` days, by class and tenant.
private func due(_ v: Vault, days: Int64, _ now: Int64) async throws -> [String] {
    try await v.runRetention(asOf: now + days * day, dryRun: true, context: .retentionAdmin).items
        .map { "\($0.tenant):\($0.dataClass)" }.sorted()
}

extension AccessContext {
    /// The vault's operator running retention (it touches PII: a justification).
    static let retentionAdmin = try! AccessContext(actor: "store-tests", purpose: .administration, justification: "retention run")
}

@Suite("Retention run: what is due, when, for every class and plan; holds; dry run")
struct RetentionRunTests {
    @Test("each clock: just before its period nothing is due, just after exactly that class is")
    func clocks() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            try await v.createTenant("globex", plan: .team, context: .admin)
            let now = nowMilliseconds()
            _ = try await v.put(tenant: "acme", kind: .scanResult, name: "scan", bytes: testBytes(100), context: .test)
            _ = try await v.put(tenant: "acme", kind: .runTelemetry, name: "run", bytes: testBytes(100), context: .test)
            _ = try await v.put(tenant: "globex", kind: .runTelemetry, name: "run", bytes: testBytes(100), context: .test)
            _ = try await v.put(tenant: "acme", kind: .testScript, name: "t.js", bytes: testBytes(100), context: .test)
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            _ = try await v.addIdentifier(ada, ip: "203.0.113.7", userAgent: nil, device: nil, context: .piiService)

            #expect(try await due(v, days: 6, now).isEmpty)
            #expect(try await due(v, days: 8, now) == ["acme:run-telemetry"], "free: 7 days")
            #expect(try await due(v, days: 89, now) == ["acme:run-telemetry"])
            #expect(try await due(v, days: 91, now) == ["acme:run-telemetry", "acme:scan-result", "acme:technical-identifier", "globex:run-telemetry"],
                    "scan results 90 days, identifiers 90 days after last seen, team telemetry 90 days")
            #expect(try await due(v, days: 5000, now).count == 4, "scripts and account data wait for the account's closure")

            // Closure starts the other clocks.
            try await v.closeTenant("acme", at: now, context: .admin)
            #expect(!(try await due(v, days: 29, now)).contains("acme:account-pii"))
            #expect(try await due(v, days: 31, now).contains("acme:account-pii"), "account data 30 days after closure")
            #expect(!(try await due(v, days: 364, now)).contains("acme:test-script"))
            #expect(try await due(v, days: 366, now).contains("acme:test-script"), "scripts 12 months after closure")
            #expect(try await v.tenantInfo("acme", context: .admin).content.count == 3, "a dry run removes nothing")
        }
    }

    @Test("a real run at a date removes exactly what the dry run at that date listed, and the log records each")
    func dryRunMatchesRealRun() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let now = nowMilliseconds()
            let (scan, _) = try await v.put(tenant: "acme", kind: .scanResult, name: "scan", bytes: testBytes(100), context: .test)
            _ = try await v.put(tenant: "acme", kind: .scanResult, name: "scan", bytes: testBytes(120), context: .test)
            let (kept, _) = try await v.put(tenant: "acme", kind: .dashboard, name: "d", bytes: testBytes(50), context: .test)
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let identifier = try await v.addIdentifier(ada, ip: "203.0.113.7", userAgent: nil, device: nil, context: .piiService)
            let asOf = now + 91 * day
            let planned = try await v.runRetention(asOf: asOf, dryRun: true, context: .retentionAdmin)
            #expect(planned.items.count == 2)
            #expect(planned.items.first { $0.kind == .objectVersions }?.versions == [1, 2])
            let done = try await v.runRetention(asOf: asOf, context: .retentionAdmin)
            #expect(!done.dryRun && done.failed.isEmpty)
            #expect(done.items == planned.items)
            await expectCofferError(.notFound) { _ = try await v.readAll(tenant: "acme", objectID: scan, context: .test) }
            #expect(try await v.readAll(tenant: "acme", objectID: kept, context: .test) == testBytes(50))
            let record = try await v.subject(ada, context: .piiOfficer)
            #expect(record.identifiers.isEmpty && record.name == "Ada", "the identifier went, the account stays")
            #expect(!record.identifiers.contains { $0.id == identifier })
            let investigator = accessContext("store-tests", .securityInvestigation, justification: "incident 3")
            #expect(try await v.findSubjects(ip: "203.0.113.7", context: investigator).isEmpty, "its index entry went too")
            #expect(try await v.runRetention(asOf: asOf, dryRun: true, context: .retentionAdmin).items.isEmpty, "nothing left at that date")
            let purges = try await v.auditRecords(AuditQuery(action: "purge"), context: .piiAuditor)
            #expect(purges.filter { $0.outcome == .allowed }.count == 2, "one record per object or subject")
            #expect(try await v.verifyAuditLog(context: .piiAuditor).ok)
        }
    }

    @Test("nothing under a hold is removed: a tenant hold keeps the tenant out, a subject hold that subject")
    func holds() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let v = t.vault
            let now = nowMilliseconds()
            _ = try await v.put(tenant: "acme", kind: .scanResult, name: "scan", bytes: testBytes(10), context: .test)
            _ = try await v.put(tenant: "globex", kind: .scanResult, name: "scan", bytes: testBytes(10), context: .test)
            let ada = try await v.addSubject(tenant: "globex", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let bob = try await v.addSubject(tenant: "globex", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            _ = try await v.addIdentifier(ada, ip: "203.0.113.7", userAgent: nil, device: nil, context: .piiService)
            _ = try await v.addIdentifier(bob, ip: "203.0.113.8", userAgent: nil, device: nil, context: .piiService)
            let tenantHold = try await v.placeHold(tenant: "acme", reason: "matter 1", context: .piiOfficerLegal)
            try await v.placeHold(tenant: "globex", subject: ada, reason: "matter 2", context: .piiOfficerLegal)
            let report = try await v.runRetention(asOf: now + 100 * day, context: .retentionAdmin)
            #expect(report.held.contains("tenant acme"))
            #expect(report.held.contains("subject \(ada) of globex"))
            #expect(report.items.map { "\($0.tenant):\($0.dataClass):\($0.subject?.rawValue ?? "-")" }.sorted()
                    == ["globex:scan-result:-", "globex:technical-identifier:\(bob)"])
            #expect(try await v.subject(ada, context: .piiOfficer).identifiers.count == 1, "the held subject keeps its identifier")
            #expect(try await v.tenantInfo("acme", context: .admin).content.count == 1, "the held tenant keeps its scan")
            try await v.liftHold(tenantHold.id, context: .piiOfficerLegal)
            #expect(try await v.runRetention(asOf: now + 100 * day, context: .retentionAdmin).items.map(\.tenant) == ["acme"])
        }
    }

    @Test("account data goes 30 days after closure (billing kept); the kept billing goes when its 7 years end")
    func accountDataAndBilling() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let now = nowMilliseconds()
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            try await v.setBilling(ada, last4: "4242", address: "1 Main Street", context: .piiService)
            try await v.restrictSubject(ada, context: .piiOfficer)
            try await v.closeTenant("acme", at: now, context: .admin)
            let erased = try await v.runRetention(asOf: now + 31 * day, context: .retentionAdmin)
            #expect(erased.failed.isEmpty, "\(erased.failed)")
            #expect(erased.items.map(\.kind) == [.subject], "a restricted subject is still purged when due")
            await expectCofferError(.notFound) { _ = try await v.subject(ada, context: .piiOfficer) }
            #expect(try await v.piiCount("SELECT count(*) FROM retained WHERE subject_id = ?", [ada]) == 1)
            let sevenYears = Int64(7 * 365 + 2) * day
            #expect(try await v.runRetention(asOf: now + sevenYears - day, dryRun: true, context: .retentionAdmin).items.isEmpty)
            let billing = try await v.runRetention(asOf: now + sevenYears + day, context: .retentionAdmin)
            #expect(billing.items.map(\.kind) == [.retained], "\(billing.failed)")
            #expect(try await v.piiCount("SELECT count(*) FROM retained WHERE subject_id = ?", [ada]) == 0)
            let keys = try await v.control.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key WHERE subject_id = ?", arguments: [ada]) }
            #expect(keys == 0, "the retained key is destroyed with it")
        }
    }

    @Test("a retained record written into the PII file cannot make the run destroy another subject's key")
    func forgedRetainedRow() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let bob = try await v.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
            let bobKey = try #require(try v.people.store.subjectRow(bob)?.keyID)
            try await v.pii.write { db in
                try db.execute(sql: "INSERT INTO retained (subject_id, tenant_id, kind, key_id, value, retain_until) VALUES (?, 'acme', 'billing', ?, ?, 0)",
                               arguments: [ada, bobKey, Data([0])])
            }
            let report = try await v.runRetention(asOf: nowMilliseconds() + 10 * 365 * day, context: .retentionAdmin)
            #expect(!report.items.contains { $0.kind == .retained }, "the run plans retained records from control.sqlite only")
            #expect(try await v.subject(bob, context: .piiOfficer).name == "Bob")
        }
    }

    @Test("an erasure interrupted after its rows went but before its keys did is finished by the next run")
    func interruptedErasure() async throws {
        try await withPIIVault(tenants: ["acme"]) { t in
            let v = t.vault
            let ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: nil, context: .piiService)
            let key = try #require(try v.people.store.subjectRow(ada)?.keyID)
            // The rows go as an erasure does; the process dies before the keys are destroyed.
            _ = try v.people.store.erase(ada, integrity: v.people.integrity) { _ in [] }
            #expect(try v.keys.subjectFieldKey(keyID: key, subject: ada.rawValue, tenant: "acme") != nil)
            let report = try await v.runRetention(context: .retentionAdmin)
            #expect(report.items.map(\.kind) == [.subject], "\(report.failed)")
            let left = try await v.control.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM subject_key WHERE subject_id = ?", arguments: [ada]) }
            #expect(left == 0)
            #expect(try await v.runRetention(dryRun: true, context: .retentionAdmin).items.isEmpty)
        }
    }

    @Test("only an admin runs retention; a tenant-limited admin's run covers its tenants only")
    func access() async throws {
        try await withPIIVault(tenants: ["acme", "globex"]) { t in
            let now = nowMilliseconds()
            _ = try await t.vault.put(tenant: "acme", kind: .scanResult, name: "s", bytes: testBytes(10), context: .test)
            _ = try await t.vault.put(tenant: "globex", kind: .scanResult, name: "s", bytes: testBytes(10), context: .test)
            await expectCofferError(.accessDenied) { _ = try await t.vault.runRetention(asOf: now + 100 * day, context: .piiSupport) }
            try await t.vault.addPrincipal("acme-admin", roles: [.admin], tenants: ["acme"], context: .admin)
            let report = try await t.vault.runRetention(asOf: now + 100 * day, context: accessContext("acme-admin", .administration, justification: "retention"))
            #expect(report.items.map(\.tenant) == ["acme"])
            #expect(try await t.vault.tenantInfo("globex", context: .admin).content.count == 1)
        }
    }
}

@Suite("Retention run killed half-way (COFFER_CRASH_AT)", .serialized)
struct RetentionCrashTests {
    @Test("killed inside a delete or after the first object: every object whole or gone, the next run finishes",
          arguments: ["retention.after-rows", "retention.after-item"])
    func crash(_ point: String) async throws {
        try await withAuditCLI { cli in
            var ids: [String] = []
            for n in 0..<3 {
                let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "scan-result", "--name", "scan-\(n)"], input: Data(testBytes(70_000 + n, seed: UInt64(n))))
                try #require(put.status == 0, "\(put.error)")
                ids.append(String(put.output.split(separator: " ")[0]))
            }
            let asOf = utcDate(daysFromToday: 100)
            let admin = ["--purpose", "administration", "--justification", "retention run"]
            let planned = try cli.spawn(["retention", "run", "--dry-run", "--as-of", asOf, "--json"] + admin)
            try #require(planned.status == 0, "\(planned.error)")
            let plan = try JSONDecoder().decode(RetentionReport.self, from: Data(planned.output.utf8))
            #expect(plan.items.count == 3)

            let killed = try cli.spawn(["retention", "run", "--as-of", asOf] + admin, environment: ["COFFER_CRASH_AT": point])
            #expect(killed.status == 137, "\(killed.error)")
            // Whole or gone: a remaining object reads back byte for byte.
            var remaining = 0
            for (n, id) in ids.enumerated() {
                let out = cli.vault.deletingLastPathComponent().appendingPathComponent("read-\(n)")
                let get = try cli.spawn(["get", "--tenant", "acme", id, "--out", out.path, "--purpose", "service-operation"])
                if get.status == 0 {
                    #expect(try Data(contentsOf: out) == Data(testBytes(70_000 + n, seed: UInt64(n))))
                    remaining += 1
                } else {
                    #expect(get.error.contains("not-found"), "\(get.error)")
                }
            }
            #expect(remaining == (point == "retention.after-item" ? 2 : 3))
            let finished = try cli.spawn(["retention", "run", "--as-of", asOf, "--json"] + admin)
            #expect(finished.status == 0, "\(finished.error)")
            #expect(try JSONDecoder().decode(RetentionReport.self, from: Data(finished.output.utf8)).items.count == remaining)
            let after = try cli.spawn(["retention", "run", "--dry-run", "--as-of", asOf, "--json"] + admin)
            #expect(try JSONDecoder().decode(RetentionReport.self, from: Data(after.output.utf8)).items.isEmpty)
            let verify = try cli.spawn(["audit", "verify"])
            #expect(verify.status == 0, "\(verify.output) \(verify.error)")
        }
    }
}
