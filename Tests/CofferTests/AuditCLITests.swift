import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferSQL

/// Puts, gets, lists, stats and removes one object as `cli-test`, then has `mallory` try a get:
/// records 1 (tenant add, by withAuditCLI) to 7.
private func runAccesses(_ cli: CofferCLI) throws -> String {
    let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-result", "--name", "run-1"], input: Data("cli content".utf8))
    try #require(put.status == 0, "\(put.error)")
    let id = String(put.output.split(separator: " ")[0])
    let get = try cli.spawn(["get", "--tenant", "acme", id])
    #expect(get.status == 0)
    #expect(get.output == "cli content")
    #expect(try cli.spawn(["ls", "--tenant", "acme"]).status == 0)
    #expect(try cli.spawn(["stat", "--tenant", "acme", id]).status == 0)
    #expect(try cli.spawn(["rm", "--tenant", "acme", id]).status == 0)
    let refused = try cli.spawn(["get", "--tenant", "acme", "--actor", "mallory", id])
    #expect(refused.status == 1)
    #expect(refused.output.isEmpty)
    #expect(refused.error.contains("access-denied"))
    return id
}

@Suite("coffer audit as a process")
struct AuditCLITests {
    @Test("audit query lists every access with actor, purpose and outcome, as JSON lines and CSV")
    func query() async throws {
        try await withAuditCLI { cli in
            let id = try runAccesses(cli)
            let json = try cli.spawn(["audit", "query", "--format", "json"])
            #expect(json.status == 0, "\(json.error)")
            let lines = json.output.split(separator: "\n")
            let records = try lines.map { try JSONDecoder().decode(AuditRecord.self, from: Data($0.utf8)) }
            // Newest first; the query recorded itself as record 8.
            #expect(records.map(\.sequence) == Array((1...8).reversed()))
            let rows = records.reversed().map { [$0.actor.rawValue, $0.action, $0.purpose, $0.outcome.rawValue] }
            #expect(rows == [
                ["cli-test", "tenant-create", "administration", "allowed"],
                ["cli-test", "write", "service-operation", "allowed"],
                ["cli-test", "read", "service-operation", "allowed"],
                ["cli-test", "list", "service-operation", "allowed"],
                ["cli-test", "stat", "service-operation", "allowed"],
                ["cli-test", "delete", "service-operation", "allowed"],
                ["mallory", "read", "service-operation", "denied"],
                ["cli-test", "audit-read", "audit", "allowed"],
            ])
            let byAction = Dictionary(grouping: records, by: \.sequence)
            #expect(byAction[2]?.first?.objectID == id)
            #expect(byAction[3]?.first?.bytes == 11)
            #expect(byAction[7]?.first?.objectID == id)
            #expect(byAction[7]?.first?.errorCode == "access-denied")
            #expect(records.allSatisfy { $0.client == "coffer-cli" })

            let denied = try cli.spawn(["audit", "query", "--format", "json", "--outcome", "denied"])
            #expect(denied.output.split(separator: "\n").count == 1)
            #expect(denied.output.contains("\"actor\":\"mallory\""))

            let csv = try cli.spawn(["audit", "query", "--format", "csv"])
            #expect(csv.status == 0)
            let csvLines = csv.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            let header = "sequence,time,actor,role,tenant,subject,object_id,object_version,object_kind,action,data_class,purpose,"
                + "justification,outcome,error_code,bytes,request_id,client,grant_id,reason"
            #expect(csvLines.first.map(String.init) == header)
            #expect(csvLines.count == 11)  // the header, records 10...1
            let sequences: [String] = csvLines.dropFirst().map { line in String(line.prefix { $0 != "," }) }
            let expectedSequences: [String] = (1...10).reversed().map { String($0) }
            #expect(sequences == expectedSequences)
            let malloryLine = try #require(csvLines.first { $0.hasPrefix("7,") })
            #expect(malloryLine.contains(",mallory,"))
            #expect(malloryLine.contains(",denied,access-denied,"))
        }
    }

    @Test("audit verify passes, then fails with exit 3 naming the edited record")
    func verifyAndTamper() async throws {
        try await withAuditCLI { cli in
            _ = try runAccesses(cli)
            let ok = try cli.spawn(["audit", "verify"])
            #expect(ok.status == 0, "\(ok.output)\(ok.error)")
            #expect(ok.output.hasPrefix("ok: 8 records"))
            try cli.auditDatabase().write { db in
                try db.execute(sql: "UPDATE record SET actor = 'cli-test' WHERE seq = 7")
            }
            let failed = try cli.spawn(["audit", "verify"])
            #expect(failed.status == 3)
            #expect(failed.output.contains("FAILED at record 7"), "\(failed.output)")
            let json = try cli.spawn(["audit", "verify", "--json"])
            #expect(json.status == 3)
            let result = try JSONDecoder().decode(AuditVerification.self, from: Data(json.output.utf8))
            #expect(result.ok == false)
            #expect(result.firstBadRecord == 7)
        }
    }

    @Test("audit checkpoint --out, then audit verify --checkpoint; audit prove prints a valid path")
    func checkpointAndProof() async throws {
        try await withAuditCLI { cli in
            _ = try runAccesses(cli)
            let file = cli.vault.deletingLastPathComponent().appendingPathComponent("checkpoint.json").path
            let saved = try cli.spawn(["audit", "checkpoint", "--out", file])
            #expect(saved.status == 0, "\(saved.error)")
            #expect(saved.output.contains("checkpoint of 8 records"))
            let checkpoint = try JSONDecoder().decode(AuditCheckpoint.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(checkpoint.treeSize == 8)
            #expect(checkpoint.hasValidSignature())
            #expect(try cli.spawn(["ls", "--tenant", "acme"]).status == 0)
            let verified = try cli.spawn(["audit", "verify", "--checkpoint", file])
            #expect(verified.status == 0, "\(verified.output)\(verified.error)")
            #expect(verified.output.contains("extends the checkpoint at size 8"))

            let proved = try cli.spawn(["audit", "prove", "7"])
            #expect(proved.status == 0, "\(proved.error)")
            let proof = try JSONDecoder().decode(AuditInclusionProof.self, from: Data(proved.output.utf8))
            #expect(proof.isValid)
            #expect(proof.sequence == 7)
            #expect(proof.treeSize == 11)  // 8 the checkpoint, 9 ls, 10 verify, 11 this proof
            let (leaf, record) = try cli.auditDatabase().read { db in
                (try Data.fetchOne(db, sql: "SELECT hash FROM leaf WHERE seq = 7"),
                 try Row.fetchOne(db, sql: "SELECT * FROM record WHERE seq = 7").map { try AuditLog.record(SQLRow($0)) })
            }
            #expect(proof.leafHash == [UInt8](try #require(leaf)).hexString)
            #expect(proof.leafHash == MerkleTree.leafHash(try #require(record).canonicalBytes).hexString)
            #expect(record?.actor == "mallory")
            #expect(try cli.spawn(["audit", "prove", "99"]).status == 1)

            // After an edit the saved checkpoint no longer holds.
            try cli.auditDatabase().write { db in try db.execute(sql: "UPDATE record SET bytes = 1 WHERE seq = 3") }
            let broken = try cli.spawn(["audit", "verify", "--checkpoint", file])
            #expect(broken.status == 3)
            #expect(broken.output.contains("FAILED at record 3"))
        }
    }

    @Test("audit review prints Markdown with the refused access")
    func review() async throws {
        try await withAuditCLI { cli in
            _ = try runAccesses(cli)
            let review = try cli.spawn(["audit", "review", "--from", utcDate(daysFromToday: -1), "--to", utcDate(daysFromToday: 1)])
            #expect(review.status == 0, "\(review.error)")
            let markdown = review.output
            #expect(markdown.hasPrefix("# Access review "))
            #expect(markdown.contains("8 access-log records in the period."))
            #expect(markdown.contains("## Refusals (1)"))
            let refusal = try #require(markdown.split(separator: "\n").first { $0.hasPrefix("| 7 |") })
            #expect(refusal.contains("| mallory | read | content | acme | service-operation |"))
            #expect(refusal.contains("not a registered principal"))
            #expect(markdown.contains("| mallory |  | 1 |  | 1 | 0 | 0 |"))
            // A period without the accesses has no refusal.
            let empty = try cli.spawn(["audit", "review", "--from", "2001-01-01", "--to", "2001-01-02"])
            #expect(empty.status == 0)
            #expect(empty.output.contains("## Refusals (0)"))
        }
    }

    @Test("coffer get with a read-only access log fails and prints nothing; restoring the mode restores it")
    func failClosed() async throws {
        try await withAuditCLI { cli in
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "config", "--name", "c"], input: Data("guarded bytes".utf8))
            try #require(put.status == 0)
            let id = String(put.output.split(separator: " ")[0])
            try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: cli.auditPath)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: cli.auditPath) }
            let get = try cli.spawn(["get", "--tenant", "acme", id])
            #expect(get.status != 0)
            #expect(get.output.isEmpty)
            #expect(get.error.contains("audit-unavailable"))
            let out = cli.vault.deletingLastPathComponent().appendingPathComponent("out.bin").path
            #expect(try cli.spawn(["get", "--tenant", "acme", "--out", out, id]).status != 0)
            #expect(!FileManager.default.fileExists(atPath: out))
            #expect(try cli.spawn(["put", "--tenant", "acme", "--kind", "config", "--name", "d"], input: Data("x".utf8)).status != 0)

            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: cli.auditPath)
            let again = try cli.spawn(["get", "--tenant", "acme", id])
            #expect(again.status == 0)
            #expect(again.output == "guarded bytes")
            #expect(try cli.spawn(["audit", "verify"]).status == 0)
            let count = try cli.auditDatabase().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM record") }
            #expect(count == 4)  // tenant add, put, get, verify: nothing from the refused attempts
        }
    }
}
