import Foundation
import Testing
@testable import Coffer
import CofferCrypto

// `coffer dsr export` end to end: the summary, --json, --encrypt with its keyset, refusals with
// their exit codes, --force, and nothing left behind by a refused export.

@Suite("Export through the CLI")
struct ExportCLITests {
    @Test("dsr export --tenant and --subject, plain and --encrypt: the summary, the archive, the keyset")
    func exports() async throws {
        try await withPIICLI { cli in
            let dir = cli.vault.deletingLastPathComponent()
            let content = testBytes(3 * 65536 + 11, seed: 21)
            let put = try cli.spawn(["put", "--tenant", "acme", "--kind", "test-script", "--name", "load/test.js"], input: Data(content))
            try #require(put.status == 0, "\(put.error)")
            let objectID = String(put.output.split(separator: " ")[0])
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Ada", "email": "ada@example.com"}"#))

            let plain = dir.appendingPathComponent("acme.zip").path
            let json = try cli.spawn(["dsr", "export", "--tenant", "acme", "--out", plain, "--json"] + asOfficer)
            #expect(json.status == 0 && json.error.isEmpty, "\(json.error)")
            let summary = try JSONDecoder().decode(ExportSummary.self, from: Data(json.output.utf8))
            #expect(summary.objects == 1 && summary.subjects == 1 && !summary.encrypted && summary.keysetPath == nil)
            let entries = try exportEntries(plain)
            let manifest = try exportManifest(entries)
            let object = try #require(manifest.files.first { $0.objectID?.rawValue == objectID })
            #expect(object.path == "objects/test-script/\(objectID)-load_test.js")
            expectSameBytes(try exportEntry(entries, object.path), content)

            let sealed = dir.appendingPathComponent("sealed.zip").path
            let text = try cli.spawn(["dsr", "export", "--subject", id, "--out", sealed, "--encrypt"] + asOfficer)
            #expect(text.status == 0, "\(text.error)")
            #expect(text.output.contains("wrote \(sealed): 7 files") && text.output.contains("subject \(id) of acme"))
            #expect(text.output.contains("keyset: \(sealed).keyset.json (the only copy of the key"))
            let opened = try exportEntries(sealed, aead: try exportKey(keyset: sealed + ".keyset.json"))
            #expect(try exportManifest(opened).subject?.rawValue == id)
        }
    }

    @Test("both or neither of --subject and --tenant is a usage error (64); an existing --out is refused (1) unless --force")
    func refusals() async throws {
        try await withPIICLI { cli in
            let dir = cli.vault.deletingLastPathComponent()
            let out = dir.appendingPathComponent("x.zip").path
            let before = try exportDirectoryListing(dir)
            let both = try cli.spawn(["dsr", "export", "--tenant", "acme", "--subject", "subj_x", "--out", out] + asOfficer)
            let neither = try cli.spawn(["dsr", "export", "--out", out] + asOfficer)
            #expect(both.status == 64 && neither.status == 64)
            #expect(both.error.contains("exactly one of --subject ID and --tenant T"))
            let unknown = try cli.spawn(["dsr", "export", "--subject", "subj_nobody", "--out", out] + asOfficer)
            #expect(unknown.status == 1 && unknown.error.contains("[not-found]"), "\(unknown.error)")
            let ghost = try cli.spawn(["dsr", "export", "--tenant", "ghost", "--out", out] + asOfficer)
            #expect(ghost.status == 1 && ghost.error.contains("[unknown-tenant]"), "\(ghost.error)")
            let service = try cli.spawn(["dsr", "export", "--tenant", "acme", "--out", out, "--purpose", "service-operation",
                                         "--justification", "x"])
            #expect(service.status == 1 && service.error.contains("[access-denied]"), "\(service.error)")
            let blocked = try cli.spawn(["dsr", "export", "--tenant", "acme", "--out", dir.appendingPathComponent("keyring.json/x.zip").path] + asOfficer)
            #expect(blocked.status == 1 && blocked.error.contains("[io]"), "\(blocked.error)")
            #expect(try exportDirectoryListing(dir) == before, "nothing written")

            try Data("precious".utf8).write(to: URL(fileURLWithPath: out))
            let exists = try cli.spawn(["dsr", "export", "--tenant", "acme", "--out", out, "--quiet"] + asOfficer)
            #expect(exists.status == 1 && exists.error.contains("[already-exists]") && exists.error.contains("--force"), "\(exists.error)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data("precious".utf8))
            let forced = try cli.spawn(["dsr", "export", "--tenant", "acme", "--out", out, "--force", "--quiet"] + asOfficer)
            #expect(forced.status == 0 && forced.error.isEmpty, "\(forced.error)")
            _ = try exportManifest(try exportEntries(out))
        }
    }
}
