import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

/// Options of every `coffer pii` command: the vault and caller, plus the password settings.
struct PIIOptions: ParsableArguments {
    static let sampleBreachedList = "data/breached-passwords-sample.txt"

    @OptionGroup var vault: VaultOptions

    @Option(name: .customLong("breached-passwords"),
            help: "Breached-password list (env COFFER_BREACHED_PASSWORDS; default \(sampleBreachedList) when present).")
    var breachedPasswords: String?

    /// Opens the vault with the password policy configured.
    func openVault() async throws -> Vault {
        let opened = try await vault.openVault()
        let path = breachedPasswords ?? ProcessInfo.processInfo.environment["COFFER_BREACHED_PASSWORDS"]
            ?? (FileManager.default.fileExists(atPath: Self.sampleBreachedList) ? Self.sampleBreachedList : nil)
        var settings = PIISettings()
        if let path { settings.passwordPolicy.breached = try BreachedPasswordList(contentsOf: path) }
        opened.configurePII(settings)
        return opened
    }

    func context() throws -> AccessContext { try vault.context() }
}

/// Reads a password from standard input (one line, without the newline).
func passwordFromStdin() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw CofferError(.invalidArgument, "no password on standard input")
    }
    return line
}

struct PIICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pii",
        abstract: "The PII vault: people, apart from content. Every command needs --justification.",
        discussion: "Personal values come in a JSON object from --from FILE or --from - (standard input), never as options, so they do not show in ps or the shell history.",
        subcommands: [Add.self, Show.self, Find.self, Correct.self, Billing.self, ConsentCommand.self, Identifier.self,
                      Restrict.self, VerifyPassword.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a person; prints the subject id.")
        @OptionGroup var options: PIIOptions
        @Option(name: .long) var tenant: TenantID
        @Option(name: .long, help: piiInputHelp(#"{"name", "email", "company"?, "password"?}"#)) var from: String
        @Flag(name: .customLong("password-stdin"), help: "Read a password from standard input (not with --from -).") var passwordStdin = false

        func validate() throws {
            guard !(passwordStdin && from == "-") else {
                throw ValidationError("--from - already reads standard input: put the password in the JSON as \"password\"")
            }
        }

        func run() async throws {
            try await runReportingErrors {
                let input = try PIIInput.read(from, allowed: ["name", "email", "company", "password"], required: ["name", "email"])
                guard !(passwordStdin && input["password"] != nil) else {
                    throw CofferError(.invalidArgument, "a password in \(input.label) and --password-stdin: give it once")
                }
                let password = try input["password"] ?? (passwordStdin ? passwordFromStdin() : nil)
                let vault = try await options.openVault()
                print(try await vault.addSubject(tenant: tenant, name: input["name"]!, email: input["email"]!, company: input["company"],
                                                 password: password, context: options.context()))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what the vault holds about a person (needs a grant or a subject request).")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Option(name: .long, help: "Comma-separated fields: \(SubjectField.allCases.map(\.rawValue).joined(separator: ", ")).")
        var fields: String?
        @Flag(name: .long) var json = false

        func run() async throws {
            try await runReportingErrors {
                let selected = try fields.map { list in
                    Set(try list.split(separator: ",").map { name -> SubjectField in
                        guard let field = SubjectField(rawValue: String(name)) else { throw ValidationError("unknown field \(name)") }
                        return field
                    })
                }
                let vault = try await options.openVault()
                let record = try await vault.subject(id, fields: selected, context: options.context())
                if json { print(try jsonText(record)); return }
                print("subject  \(record.id)\ntenant   \(record.tenant)\nstatus   \(record.status.rawValue)")
                for (label, value) in [("name", record.name), ("email", record.email), ("company", record.company),
                                       ("last4", record.billingLast4), ("billing", record.billingAddress)] {
                    if let value { print("\(label.padding(toLength: 8, withPad: " ", startingAt: 0)) \(display(value))") }
                }
                print("password \(record.hasPassword ? "set" : "none")")
                for (kind, granted) in record.currentConsents.sorted(by: { $0.key < $1.key }) {
                    print("consent  \(display(kind)): \(granted ? "granted" : "withdrawn")")
                }
                for identifier in record.identifiers {
                    print("seen     \(display([identifier.ip, identifier.userAgent, identifier.device].compactMap { $0 }.joined(separator: " | "))) (\(isoTime(identifier.firstSeen)))")
                }
            }
        }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find subjects by email, or by IP address for security investigations.")
        @OptionGroup var options: PIIOptions
        @Option(name: .long, help: "Only in this tenant.") var tenant: TenantID?
        @Option(name: .long, help: piiInputHelp(#"{"email"} or {"ip"}"#)) var from: String

        func run() async throws {
            try await runReportingErrors {
                let search = try PIIInput.read(from, allowed: ["email", "ip"]).exactlyOne(of: ["email", "ip"])
                let vault = try await options.openVault()
                let ids = try await search.key == "email"
                    ? vault.findSubjects(tenant: tenant, email: search.value, context: options.context())
                    : vault.findSubjects(tenant: tenant, ip: search.value, context: options.context())
                for id in ids { print(id) }
            }
        }
    }

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct a field; the old value becomes unrecoverable.")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Option(name: .long, help: "\(SubjectField.correctable.map(\.rawValue).joined(separator: ", ")).") var field: String
        @Option(name: .long, help: piiInputHelp(#"{"value"}"#)) var from: String

        func run() async throws {
            try await runReportingErrors {
                guard let field = SubjectField(rawValue: field) else { throw ValidationError("unknown field \(field)") }
                let input = try PIIInput.read(from, allowed: ["value"], required: ["value"])
                let vault = try await options.openVault()
                try await vault.correctSubject(id, field: field, value: input["value"]!, context: options.context())
                print("corrected \(field.rawValue) of \(id)")
            }
        }
    }

    struct Billing: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store the card's last 4 digits and the billing address.")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Option(name: .long, help: piiInputHelp(#"{"last4", "address"}"#)) var from: String

        func run() async throws {
            try await runReportingErrors {
                let input = try PIIInput.read(from, allowed: ["last4", "address"], required: ["last4", "address"])
                let vault = try await options.openVault()
                try await vault.setBilling(id, last4: input["last4"]!, address: input["address"]!, context: options.context())
                print("billing details stored for \(id)")
            }
        }
    }

    struct ConsentCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "consent", abstract: "Record a consent granted or withdrawn; effective at once.")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Option(name: .long) var kind: String
        @Flag(name: .long) var granted = false
        @Flag(name: .long) var withdrawn = false
        @Option(name: .customLong("policy-version")) var policyVersion: String = "current"

        func validate() throws {
            guard granted != withdrawn else { throw ValidationError("give exactly one of --granted or --withdrawn") }
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                try await vault.recordConsent(id, kind: kind, granted: granted, policyVersion: policyVersion, context: options.context())
                print("\(kind) consent \(granted ? "granted" : "withdrawn") for \(id)")
            }
        }
    }

    struct Identifier: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record an IP address, user agent or device seen for a person.")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Option(name: .long, help: piiInputHelp(#"with any of "ip", "userAgent", "device""#)) var from: String

        func run() async throws {
            try await runReportingErrors {
                let keys = ["ip", "userAgent", "device"]
                let input = try PIIInput.read(from, allowed: keys)
                try input.requireAny(of: keys)
                let vault = try await options.openVault()
                print(try await vault.addIdentifier(id, ip: input["ip"], userAgent: input["userAgent"], device: input["device"],
                                                    context: options.context()))
            }
        }
    }

    struct Restrict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restrict processing of a person (or --lift it).")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Flag(name: .long) var lift = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                try await vault.restrictSubject(id, lift: lift, context: options.context())
                print(lift ? "restriction lifted for \(id)" : "processing restricted for \(id)")
            }
        }
    }

    struct VerifyPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify-password", abstract: "Check a password read from standard input; exit 0 if it matches, 1 if not.")
        @OptionGroup var options: PIIOptions
        @Argument var id: SubjectID
        @Flag(name: .customLong("password-stdin")) var passwordStdin = false

        func validate() throws {
            guard passwordStdin else { throw ValidationError("pass --password-stdin and the password on standard input") }
        }

        func run() async throws {
            try await runReportingErrors {
                let password = try passwordFromStdin()
                let vault = try await options.openVault()
                let ok = try await vault.verifyPassword(id, password: password, context: options.context())
                print(ok ? "password matches" : "password does not match")
                if !ok { throw ExitCode(1) }
            }
        }
    }
}
