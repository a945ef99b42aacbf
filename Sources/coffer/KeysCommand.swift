import ArgumentParser
import Coffer

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and manage keyrings.",
        subcommands: [Generate.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new keyring (mode 0600) with one fresh active key-encryption key.")

        @Option(name: .long, help: "Where to write the keyring. An existing file is never overwritten.")
        var out: String

        @Flag(name: .long, help: "Mark the keyring as a development keyring (its keys may be published).")
        var development = false

        func run() async throws {
            try await runReportingErrors {
                let keyring = try Keyring.generate(development: development)
                try keyring.write(to: out)
                print("wrote keyring \(out) with active key \(keyring.activeKeyID)")
            }
        }
    }
}
