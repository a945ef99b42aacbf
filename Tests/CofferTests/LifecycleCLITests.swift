import Foundation
import Testing
@testable import Coffer

// `coffer tenant`, `coffer retention` and `coffer hold` as separate processes (lifecycle.md).

@Suite("Lifecycle through the CLI")
struct LifecycleCLITests {
    @Test("tenant add --plan, show --json, plan, close --at; retention show and set; hold place, list, lift")
    func commands() async throws {
        try await withPIICLI { cli in
            let add = try cli.spawn(["tenant", "add", "globex", "--plan", "team"])
            #expect(add.status == 0, "\(add.error)")
            #expect(add.output.contains("on the team plan"))
            let badPlan = try cli.spawn(["tenant", "add", "initech", "--plan", "gold"])
            #expect(badPlan.status == 64, "an unknown plan is a usage error")

            let show = try cli.spawn(["tenant", "show", "globex", "--json"])
            #expect(show.status == 0, "\(show.error)")
            let info = try JSONDecoder().decode(TenantInfo.self, from: Data(show.output.utf8))
            #expect(info.plan == .team && info.status == .active)
            #expect(info.retention.first { $0.dataClass == .content(.runTelemetry) }?.days == 90)

            #expect(try cli.spawn(["tenant", "plan", "globex", "scale"]).status == 0)
            let closed = try cli.spawn(["tenant", "close", "globex", "--at", "2026-03-01"])
            #expect(closed.status == 0, "\(closed.error)")
            #expect(closed.output.contains("2026-03-01T00:00:00Z"))
            let again = try cli.spawn(["tenant", "close", "globex"])
            #expect(again.status == 1)
            #expect(again.error.contains("already-exists"))
            let text = try cli.spawn(["tenant", "show", "globex"])
            #expect(text.output.contains("closed since 2026-03-01T00:00:00Z"), "\(text.output)")
            #expect(text.output.contains("scale"))

            let set = try cli.spawn(["retention", "set", "--tenant", "acme", "--class", "scan-result", "--days", "30"])
            #expect(set.status == 0, "\(set.error)")
            let refused = try cli.spawn(["retention", "set", "--tenant", "acme", "--class", "account-pii", "--days", "10"])
            #expect(refused.status == 1)
            #expect(refused.error.contains("invalid-argument"))
            let rules = try JSONDecoder().decode([RetentionRule].self,
                                                 from: Data(try cli.spawn(["retention", "show", "--tenant", "acme", "--json"]).output.utf8))
            let scan = rules.first { $0.dataClass == .content(.scanResult) }
            #expect(scan?.days == 30)
            #expect(scan?.source == .tenant)
            let defaults = try cli.spawn(["retention", "show", "--plan", "team"])
            #expect(defaults.status == 0)
            #expect(defaults.output.contains("run-telemetry"))

            let legal = ["--actor", "po", "--purpose", "legal"]
            let place = try cli.spawn(["hold", "place", "--tenant", "acme", "--reason", "matter 2026-9"] + legal)
            #expect(place.status == 0, "\(place.error)")
            let holdID = String(place.output.split(separator: " ")[0])
            #expect(holdID.hasPrefix("hold_"))
            let denied = try cli.spawn(["hold", "place", "--tenant", "acme", "--reason", "matter"])
            #expect(denied.status == 1, "the operator is no privacy officer")
            let list = try cli.spawn(["hold", "list", "--json"] + legal)
            #expect(try JSONDecoder().decode([LegalHold].self, from: Data(list.output.utf8)).map(\.id) == [holdID])
            #expect(try cli.spawn(["hold", "lift", holdID] + legal).status == 0)
            let after = try cli.spawn(["hold", "list", "--all", "--json"] + legal)
            #expect(try JSONDecoder().decode([LegalHold].self, from: Data(after.output.utf8)).first?.isActive == false)
        }
    }

    @Test("report usage as a reporting principal: table, JSON and CSV; the same principal cannot read content")
    func usageReport() async throws {
        try await withPIICLI { cli in
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-result", "--name", "r"], input: Data(testBytes(4096)),
                                    environment: ["COFFER_PURPOSE": "service-operation"])
            try #require(put.status == 0, "\(put.error)")
            #expect(try cli.spawn(["principal", "add", "reports", "--role", "reporting"]).status == 0)
            let asReporter = ["--actor", "reports", "--purpose", "service-operation"]
            let json = try cli.spawn(["report", "usage", "--json"] + asReporter)
            #expect(json.status == 0, "\(json.error)")
            let report = try JSONDecoder().decode(UsageReport.self, from: Data(json.output.utf8))
            #expect(report.tenants.first?.content.first?.bytes == 4096)
            let csv = try cli.spawn(["report", "usage", "--csv", "--tenant", "acme"] + asReporter)
            #expect(csv.status == 0, "\(csv.error)")
            #expect(csv.output.hasPrefix("tenant,plan,figure,class,action,objects,versions,bytes,count\n"))
            #expect(csv.output.contains("acme,free,content,test-result,,1,1,4096,"))
            let id = String(put.output.split(separator: " ")[0])
            let read = try cli.spawn(["get", "--tenant", "acme", id] + asReporter)
            #expect(read.status == 1)
            #expect(read.error.contains("access-denied"))
        }
    }
}
