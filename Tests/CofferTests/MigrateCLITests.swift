import Foundation
import Testing

@Suite("coffer migrate: refusals")
struct MigrateCLITests {
    @Test("no target, no PII database, a target that is not PostgreSQL, a PostgreSQL source: clear errors, the vault unchanged")
    func refusals() async throws {
        try await withAuditCLI { cli in
            let before = try FileManager.default.contentsOfDirectory(atPath: cli.vault.path).sorted()
            #expect(try cli.spawn(["migrate"]).status == 64)
            let noPII = try cli.spawn(["migrate", "--to", "postgres://coffer@127.0.0.1:1/coffer"], environment: ["COFFER_PII_DATABASE": nil])
            #expect(noPII.status == 1 && noPII.error.contains("[invalid-argument]") && noPII.error.contains("PII database"), "\(noPII.error)")
            let notPostgres = try cli.spawn(["migrate", "--to", "/tmp/elsewhere", "--to-pii-database", "postgres://p@127.0.0.1:1/p"])
            #expect(notPostgres.status == 1 && notPostgres.error.contains("[invalid-argument]"), "\(notPostgres.error)")
            let fromPostgres = try cli.spawn(["migrate", "--vault", "postgres://coffer@127.0.0.1:1/coffer", "--to", "postgres://coffer@127.0.0.1:1/other"])
            #expect(fromPostgres.status == 1 && fromPostgres.error.contains("moves an embedded vault"), "\(fromPostgres.error)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: cli.vault.path).sorted() == before)
        }
    }
}
