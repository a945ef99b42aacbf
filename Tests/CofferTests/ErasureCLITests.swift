import Foundation
import Testing
@testable import Coffer

// `coffer dsr` end to end: erase, status, run, receipt show and verify against a kept key.

@Suite("Erasure through the CLI")
struct ErasureCLITests {
    @Test("dsr erase, status, run, receipt show --out and receipt verify --public-key; an edited receipt fails with exit 3")
    func commands() async throws {
        try await withPIICLI { cli in
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com"}"#))
            let dir = cli.vault.deletingLastPathComponent()
            let keyFile = dir.appendingPathComponent("verifier.key")
            let key = try cli.spawn(["audit", "public-key"])
            #expect(key.status == 0, "\(key.error)")
            try Data(key.output.utf8).write(to: keyFile)

            let report = try cli.spawn(["dsr", "report", "--subject", id, "--json"] + asOfficer)
            #expect(report.status == 0, "\(report.error)")
            let parsed = try JSONDecoder().decode(SubjectAccessReport.self, from: Data(report.output.utf8))
            #expect(parsed.record.email == "ada@example.com")
            #expect(parsed.accesses.contains { $0.action == "write" })
            let table = try cli.spawn(["dsr", "report", "--subject", id] + asOfficer)
            #expect(table.output.contains("ada@example.com"))

            let erase = try cli.spawn(["dsr", "erase", "--subject", id, "--reason", "DSR 2026-5"] + asOfficer)
            #expect(erase.status == 0, "\(erase.error)")
            let requestID = String(erase.output.split(separator: " ")[0])
            #expect(requestID.hasPrefix("erasure_"))
            let status = try cli.spawn(["dsr", "status", "--json"] + asOfficer)
            #expect(try JSONDecoder().decode([ErasureRequest].self, from: Data(status.output.utf8)).map(\.id) == [requestID])

            let run = try cli.spawn(["dsr", "run"] + asOfficer)
            #expect(run.status == 0, "\(run.error)")
            #expect(run.output.contains("erased \(id)"))
            let show = try pii(cli, ["show", id] + asOfficer)
            #expect(show.status == 1)
            #expect(show.error.contains("not-found"))

            let receiptFile = dir.appendingPathComponent("receipt.txt")
            let saved = try cli.spawn(["dsr", "receipt", "show", requestID, "--out", receiptFile.path] + asOfficer)
            #expect(saved.status == 0, "\(saved.error)")
            let verified = try cli.spawn(["dsr", "receipt", "verify", receiptFile.path, "--public-key", keyFile.path])
            #expect(verified.status == 0, "\(verified.error)")
            #expect(verified.output.contains("valid receipt"))
            #expect(verified.output.contains(id))

            let text = try String(contentsOf: receiptFile, encoding: .utf8)
            try Data(text.replacingOccurrences(of: "\"deletedConsents\":0", with: "\"deletedConsents\":1").utf8).write(to: receiptFile)
            let forged = try cli.spawn(["dsr", "receipt", "verify", receiptFile.path, "--public-key", keyFile.path])
            #expect(forged.status == 3, "\(forged.output) \(forged.error)")
            #expect(forged.error.contains("authentication-failed"))
        }
    }

    @Test("dsr erase --tenant erases the tenant whole; neither or both of --subject and --tenant is a usage error")
    func tenant() async throws {
        try await withPIICLI { cli in
            let dir = cli.vault.deletingLastPathComponent()
            let file = dir.appendingPathComponent("s.js")
            try Data("marker-tenant".utf8).write(to: file)
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-script", "--name", "s.js", file.path])
            try #require(put.status == 0, "\(put.error)")
            let objectID = String(put.output.split(separator: " ")[0])
            let neither = try cli.spawn(["dsr", "erase", "--reason", "x"] + asOfficer)
            #expect(neither.status == 64 && neither.error.contains("--subject ID or --tenant T"))
            let both = try cli.spawn(["dsr", "erase", "--tenant", "acme", "--subject", "subj_00000000000000000000000000000000", "--reason", "x"] + asOfficer)
            #expect(both.status == 64)
            let erase = try cli.spawn(["dsr", "erase", "--tenant", "acme", "--reason", "contract 12 ended"] + asOfficer)
            #expect(erase.status == 0 && erase.output.contains("tenant acme (whole)"), "\(erase.error)")
            let run = try cli.spawn(["dsr", "run"] + asOfficer)
            #expect(run.status == 0 && run.output.contains("1 objects deleted"), "\(run.output) \(run.error)")
            let get = try cli.spawn(["get", "--tenant", "acme", objectID])
            #expect(get.status != 0 && !get.output.contains("marker-tenant"))
            let show = try cli.spawn(["tenant", "show", "acme"])
            #expect(show.output.contains("erased"), "\(show.output)")
        }
    }

    @Test("a tenant erasure killed after its first batch of objects is finished by the next dsr run")
    func tenantCrash() async throws {
        try await withPIICLI { cli in
            var ids: [String] = []
            for n in 0..<2 {
                let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "scan-result", "--name", "scan-\(n)"], input: Data(testBytes(5000 + n)))
                try #require(put.status == 0, "\(put.error)")
                ids.append(String(put.output.split(separator: " ")[0]))
            }
            _ = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com"}"#))
            #expect(try cli.spawn(["dsr", "erase", "--tenant", "acme", "--reason", "contract 9"] + asOfficer).status == 0)
            let killed = try cli.spawn(["dsr", "run"] + asOfficer, environment: ["COFFER_CRASH_AT": "erasure.after-object-batch"])
            #expect(killed.status == 137, "\(killed.error)")
            let open = try cli.spawn(["dsr", "status", "--json"] + asOfficer)
            #expect(try JSONDecoder().decode([ErasureRequest].self, from: Data(open.output.utf8)).count == 1, "still open")
            let finished = try cli.spawn(["dsr", "run", "--json"] + asOfficer)
            try #require(finished.status == 0, "\(finished.error)")
            let receipt = try #require(try JSONDecoder().decode(ErasureRun.self, from: Data(finished.output.utf8)).completed.first)
            #expect(receipt.subject == nil && !receipt.destroyedKeys.isEmpty)
            for id in ids { #expect(try cli.spawn(["get", "--tenant", "acme", id]).status != 0) }
            #expect(try cli.spawn(["audit", "verify"]).status == 0)
        }
    }
}
