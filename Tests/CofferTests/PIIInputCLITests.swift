import Foundation
import Testing
@testable import Coffer
import CofferCrypto

/// The personal values of one person, none of which may appear in an argument or a message.
private let ada = ["name": "Ada Lovelace", "email": "ada@example.com", "company": "Analytical Engines", "password": "Tr1cky-Secret9"]
private let adaIP = "203.0.113.7"
private let adaValues = Array(ada.values) + [adaIP, "Mozilla/5.0", "12 Rue X, Paris"]

/// A file `name` holding `bytes` beside the CLI's vault (removed with it); its path.
private func inputFile(_ cli: CofferCLI, _ name: String, _ bytes: Data) throws -> String {
    let url = cli.vault.deletingLastPathComponent().appendingPathComponent(name)
    try bytes.write(to: url)
    return url.path
}

/// A file `name` holding `text`; see ``inputFile(_:_:_:)``.
private func inputFile(_ cli: CofferCLI, _ name: String, _ text: String) throws -> String {
    try inputFile(cli, name, Data(text.utf8))
}

/// Expects `arguments` to hold none of Ada's values.
private func expectNoPersonalValue(in arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for value in adaValues {
        #expect(!arguments.contains { $0.contains(value) }, "\(value) on the command line", sourceLocation: sourceLocation)
    }
}

@Suite("coffer pii reads personal values from --from FILE|-, never from options")
struct PIIInputCLITests {
    @Test("values from a file and from standard input work end to end")
    func fromFileAndStdin() async throws {
        try await withPIICLI { cli in
            let add = ["add", "--tenant", "acme", "--from", try inputFile(cli, "ada.json", try piiJSON(ada))]
            let id = try addedSubject(try pii(cli, add))
            let billing = ["billing", id, "--from", "-"]
            #expect(try pii(cli, billing, input: #"{"last4": "4242", "address": "12 Rue X, Paris"}"#).status == 0)
            let identifier = ["identifier", id, "--from", "-"]
            let seen = try pii(cli, identifier, input: try piiJSON(["ip": adaIP, "userAgent": "Mozilla/5.0"]))
            #expect(seen.status == 0, "\(seen.error)")
            #expect(seen.output.hasPrefix("ident_"), "\(seen.output)")
            let correct = ["correct", id, "--field", "company", "--from", try inputFile(cli, "company.json", #"{"value": "Difference Engines"}"#)]
            #expect(try pii(cli, correct + asOfficer).status == 0)

            let findEmail = ["find", "--from", try inputFile(cli, "find.json", #"{"email": "ADA@example.com"}"#)]
            #expect(try pii(cli, findEmail).output == "\(id)\n")
            let findIP = ["find", "--tenant", "acme", "--from", "-", "--purpose", "security-investigation"]
            let byIP = try pii(cli, findIP, input: try piiJSON(["ip": adaIP]))
            #expect(byIP.output == "\(id)\n", "\(byIP.error)")
            for arguments in [add, billing, identifier, correct, findEmail, findIP] { expectNoPersonalValue(in: arguments) }

            let verify = try pii(cli, ["verify-password", id, "--password-stdin"], input: "Tr1cky-Secret9\n")
            #expect(verify.status == 0, "\(verify.error)")
            let show = try pii(cli, ["show", id] + asOfficer)
            for line in ["name     Ada Lovelace", "email    ada@example.com", "company  Difference Engines", "last4    4242",
                         "billing  12 Rue X, Paris", "password set", "seen     \(adaIP) | Mozilla/5.0"] {
                #expect(show.output.contains(line), "missing \(line) in\n\(show.output)")
            }
        }
    }

    @Test("the old options for personal values are usage errors and write nothing")
    func oldOptionsRefused() async throws {
        try await withPIICLI { cli in
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Bo", "email": "bo@example.com"}"#))
            let before = try fileContents(under: cli.vault)
            for (command, option, value) in [(["add", "--tenant", "acme"], "--name", "Ada Lovelace"), (["add", "--tenant", "acme"], "--email", "ada@example.com"),
                                             (["add", "--tenant", "acme"], "--company", "Analytical Engines"),
                                             (["find"], "--email", "ada@example.com"), (["find"], "--ip", adaIP),
                                             (["correct", id, "--field", "name"], "--value", "Ada Lovelace"),
                                             (["billing", id], "--last4", "4242"), (["billing", id], "--address", "12 Rue X, Paris"),
                                             (["identifier", id], "--ip", adaIP), (["identifier", id], "--user-agent", "Mozilla/5.0"),
                                             (["identifier", id], "--device", "Ada's phone")] {
                let run = try pii(cli, command + ["--from", "-", option, value], input: try piiJSON(ada))
                #expect(run.status == 64, "\(command) \(option): \(run.status) \(run.error)")
                #expect(run.error.contains("Unknown option '\(option)'"), "\(command) \(option): \(run.error)")
                #expect(run.output.isEmpty && !run.error.contains(value), "\(command) \(option): \(run.error)")
            }
            #expect(try fileContents(under: cli.vault) == before)
        }
    }

    @Test("bad input is refused with a clear error naming no value, and nothing is written")
    func badInputRefused() async throws {
        try await withPIICLI { cli in
            let id = try addedSubject(try pii(cli, ["add", "--tenant", "acme", "--from", "-"], input: #"{"name": "Bo", "email": "bo@example.com"}"#))
            let directory = cli.vault.deletingLastPathComponent().path
            let large = "{\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\"" + String(repeating: " ", count: 1 << 20) + "}"
            let twice = try inputFile(cli, "twice.json", try piiJSON(ada))
            let add = ["add", "--tenant", "acme", "--from"]
            // (arguments, standard input, expected message)
            let cases: [([String], String, String)] = [
                (add + ["\(directory)/missing.json"], "", "[io]: cannot open \(directory)/missing.json"),
                (add + [directory], "", "[io]: cannot read \(directory)"),
                (add + ["-"], "", "[invalid-argument]: standard input is not UTF-8 JSON"),
                (add + ["-"], "name=Ada Lovelace email=ada@example.com", "is not UTF-8 JSON"),
                (add + [try inputFile(cli, "latin1.json", Data(#"{"name": "Ada Lovelace", "email": "ada"#.utf8) + [0xff] + Data(#"@example.com"}"#.utf8))],
                 "", "is not UTF-8 JSON"),
                (add + [try inputFile(cli, "large.json", large)], "", "is larger than 1 MiB"),
                (add + ["-"], #"["Ada Lovelace", "ada@example.com"]"#, "is not a JSON object"),
                (add + ["-"], #""ada@example.com""#, "is not a JSON object"),
                (add + ["-"], #"{"name": "Ada Lovelace", "emial": "ada@example.com"}"#, #"has an unknown key "emial""#),
                (add + ["-"], #"{"name": "Ada Lovelace", "email": "x@example.org", "ada@example.com": ""}"#, "a key that is not a field name"),
                (add + ["-"], #"{"name": "Ada \"Lovelace\"", "email": "x@example.org", "email": "ada@example.com"}"#, "has a key more than once"),
                (add + ["-"], #"{"name": "Ada Lovelace", "email": 42}"#, #""email" in standard input must be a JSON string"#),
                (add + ["-"], #"{"name": "Ada Lovelace", "email": "ada@example.com", "company": null}"#, #""company" in standard input must be a JSON string"#),
                (add + ["-"], #"{"name": ["Ada Lovelace"], "email": "ada@example.com"}"#, #""name" in standard input must be a JSON string"#),
                (add + ["-"], #"{"name": "Ada Lovelace"}"#, #"standard input has no "email""#),
                (add + [twice, "--password-stdin"], "Tr1cky-Secret9\n", "a password in \(twice) and --password-stdin"),
                (["find", "--from", "-"], #"{"email": "ada@example.com", "ip": "203.0.113.7"}"#, #"give exactly one of "email", "ip""#),
                (["find", "--from", "-"], "{}", #"give exactly one of "email", "ip""#),
                (["correct", id, "--field", "name", "--from", "-"], "{}", #"standard input has no "value""#),
                (["correct", id, "--field", "name", "--from", "-"], #"{"value": true}"#, #""value" in standard input must be a JSON string"#),
                (["billing", id, "--from", "-"], #"{"last4": "4242"}"#, #"standard input has no "address""#),
                (["billing", id, "--from", "-"], #"{"last4": 4242, "address": "12 Rue X, Paris"}"#, #""last4" in standard input must be a JSON string"#),
                (["identifier", id, "--from", "-"], "{}", #"give at least one of "ip", "userAgent", "device""#),
                (["identifier", id, "--from", "-"], #"{"ip": "203.0.113.7", "user-agent": "Mozilla/5.0"}"#, #"unknown key "user-agent""#),
            ]
            let before = try fileContents(under: cli.vault)
            for (arguments, input, message) in cases {
                let run = try pii(cli, arguments, input: input)
                #expect(run.status == 1, "\(arguments): \(run.status) \(run.error)")
                #expect(run.error.contains(message), "\(arguments): \(run.error)")
                #expect(run.output.isEmpty, "\(arguments): \(run.output)")
                for value in adaValues { #expect(!run.error.contains(value), "\(arguments) echoed \(value): \(run.error)") }
            }
            let both = try pii(cli, add + ["-", "--password-stdin"], input: try piiJSON(ada))
            #expect(both.status == 64, "\(both.error)")
            #expect(both.error.contains(#"put the password in the JSON as "password""#), "\(both.error)")
            #expect(try fileContents(under: cli.vault) == before)
            #expect(try pii(cli, ["find", "--from", "-"], input: #"{"email": "ada@example.com"}"#).output.isEmpty)
        }
    }

    @Test("pii add --from - keeps every personal value off the process's command line")
    func argvHoldsNoValue() async throws {
        try await withPIICLI { cli in
            let arguments = ["pii", "add", "--tenant", "acme", "--from", "-"]
            expectNoPersonalValue(in: arguments)
            let add = try cli.launch(arguments, pipeInput: true, environment: ["COFFER_JUSTIFICATION": "argv test",
                                                                                "COFFER_BREACHED_PASSWORDS": piiSampleBreachedListPath])
            #if os(Linux)
            // The child waits for its standard input, so it is still running. posix_spawn may return
            // while the kernel is still laying out the new program's arguments, when the file reads
            // empty: read until it does not.
            var argv: [String] = []
            for _ in 0..<200 where argv.isEmpty {
                let cmdline = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(add.pid)/cmdline"))
                argv = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if argv.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(Array(argv.dropFirst()) == arguments, "\(argv)")
            expectNoPersonalValue(in: argv)
            #endif
            try add.write(Data(try piiJSON(ada).utf8))
            let id = try addedSubject(try add.wait())
            let found = try pii(cli, ["find", "--from", "-"], input: #"{"email": "ada@example.com"}"#)
            #expect(found.output == "\(id)\n", "\(found.error)")
        }
    }
}
