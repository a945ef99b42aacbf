import Foundation
import Testing
@testable import Coffer
import CofferCrypto

@Suite("PII through the coffer CLI")
struct PIICLITests {
    @Test("pii add, show, verify-password, consent and find as separate processes")
    func lifecycle() async throws {
        try await withPIICLI { cli in
            let person = ["name": "Ann Cli", "email": "Ann.Cli@Example.COM", "company": "Cli Co", "password": "Tr1ckySecret"]
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: try piiJSON(person)))

            // The creator (admin, auditor, service) registers people but may not read them.
            let creatorShow = try pii(cli, ["show", id])
            #expect(creatorShow.status == 1)
            #expect(creatorShow.error.contains("access-denied"), "\(creatorShow.error)")
            #expect(!creatorShow.output.contains("Ann"))

            let right = try pii(cli, ["verify-password", id, "--password-stdin"], input: "Tr1ckySecret\n")
            #expect(right.status == 0, "\(right.error)")
            #expect(right.output.contains("password matches"))
            let wrong = try pii(cli, ["verify-password", id, "--password-stdin"], input: "Tr1ckySecreT\n")
            #expect(wrong.status == 1)
            #expect(wrong.output.contains("password does not match"))

            #expect(try pii(cli, ["consent", id, "--kind", "marketing", "--granted", "--policy-version", "2024-01"]).status == 0)
            let withdrawn = try pii(cli, ["consent", id, "--kind", "marketing", "--withdrawn"])
            #expect(withdrawn.status == 0, "\(withdrawn.error)")
            #expect(withdrawn.output.contains("marketing consent withdrawn for \(id)"))

            let found = try pii(cli, ["find", "--from", "-", "--justification", "login lookup"],
                                input: #"{"email": "ann.cli@example.com"}"#, environment: ["COFFER_JUSTIFICATION": nil])
            #expect(found.status == 0, "\(found.error)")
            #expect(found.output.split(separator: "\n").map(String.init) == [id])
            #expect(try pii(cli, ["find", "--tenant", "acme", "--from", "-"], input: #"{"email": "ANN.CLI@EXAMPLE.COM"}"#).output
                .trimmingCharacters(in: .whitespacesAndNewlines) == id)
            #expect(try pii(cli, ["find", "--from", "-"], input: #"{"email": "nobody@example.com"}"#).output.isEmpty)

            let show = try pii(cli, ["show", id] + asOfficer)
            #expect(show.status == 0, "\(show.error)")
            for line in ["subject  \(id)", "tenant   acme", "status   active", "name     Ann Cli", "email    Ann.Cli@example.com",
                         "company  Cli Co", "password set", "consent  marketing: withdrawn"] {
                #expect(show.output.contains(line), "missing \(line) in\n\(show.output)")
            }
            #expect(!show.output.contains("Tr1ckySecret") && !show.output.contains("$scrypt"))

            // No justification: refused.
            let unjustified = try pii(cli, ["find", "--from", "-"], input: #"{"email": "ann.cli@example.com"}"#,
                                      environment: ["COFFER_JUSTIFICATION": nil])
            #expect(unjustified.status == 1)
            #expect(unjustified.error.contains("purpose-missing"), "\(unjustified.error)")
            #expect(unjustified.output.isEmpty)
        }
    }

    @Test("pii billing with a full card number as last4 exits non-zero with card-number-refused and stores nothing")
    func cardRefused() async throws {
        try await withPIICLI { cli in
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Bo Cli", "email": "bo@example.com"}"#))

            let card = "4111 1111 1111 1111"
            let refused = try pii(cli, ["billing", id, "--from", "-"], input: try piiJSON(["last4": card, "address": "1 Main Street"]))
            #expect(refused.status == 1)
            #expect(refused.error.contains("card-number-refused"), "\(refused.error)")
            #expect(!refused.error.contains(card) && !refused.error.contains("4111111111111111"))
            #expect(!refused.output.contains("stored"))
            let address = try pii(cli, ["billing", id, "--from", "-"],
                                  input: try piiJSON(["last4": "1111", "address": "Card 5500-0000-0000-0004 Road"]))
            #expect(address.status == 1)
            #expect(address.error.contains("card-number-refused"), "\(address.error)")

            var show = try pii(cli, ["show", id] + asOfficer)
            #expect(show.status == 0, "\(show.error)")
            #expect(!show.output.contains("last4") && !show.output.contains("billing"), "\(show.output)")
            #expect(try piiFiles(under: cli.vault, containing: Array("4111111111111111".utf8)).isEmpty)
            #expect(try piiFiles(under: cli.vault, containing: Array(card.utf8)).isEmpty)

            let stored = try pii(cli, ["billing", id, "--from", "-"], input: try piiJSON(["last4": "1111", "address": "1 Main Street"]))
            #expect(stored.status == 0, "\(stored.error)")
            show = try pii(cli, ["show", id] + asOfficer)
            #expect(show.output.contains("last4    1111"), "\(show.output)")
            #expect(show.output.contains("billing  1 Main Street"), "\(show.output)")
        }
    }

    @Test("pii add --from FILE --password-stdin refuses a breached password and registers nobody")
    func breachedPassword() async throws {
        try await withPIICLI { cli in
            let file = cli.vault.deletingLastPathComponent().appendingPathComponent("cy.json")
            try Data(#"{"name": "Cy Cli", "email": "cy@example.com"}"#.utf8).write(to: file)
            let add = try pii(cli, ["add", "--tenant", "acme", "--from", file.path, "--password-stdin"], input: "P@ssw0rd\n")
            #expect(add.status == 1)
            #expect(add.error.contains("password-policy"), "\(add.error)")
            #expect(add.error.contains("breached"), "\(add.error)")
            #expect(!add.error.contains("P@ssw0rd"))
            #expect(add.output.isEmpty)
            let found = try pii(cli, ["find", "--from", "-"], input: #"{"email": "cy@example.com"}"#)
            #expect(found.status == 0, "\(found.error)")
            #expect(found.output.isEmpty)
        }
    }
}
