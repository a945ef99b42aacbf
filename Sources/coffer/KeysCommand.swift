import ArgumentParser
import Coffer

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and manage keyrings.",
        subcommands: [Generate.self, Add.self, Rotate.self, Status.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new keyring (mode 0600): one fresh active key-encryption key, one blind-index key, one audit-signing key.")

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

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key for a purpose (blind-index or audit-signing) to an existing keyring, such as one made before those purposes existed.")
        @OptionGroup var location: LocationOptions
        @Option(name: .long, help: "blind-index or audit-signing.") var purpose: String

        func run() async throws {
            try await runReportingErrors {
                let (keyring, path) = try location.loadKeyring()
                let wanted: Keyring.Purpose
                switch purpose {
                case Keyring.Purpose.blindIndex.rawValue: wanted = .blindIndex
                case Keyring.Purpose.auditSigning.rawValue: wanted = .auditSigning
                default: throw ValidationError("--purpose is blind-index or audit-signing (use `keys rotate` for key-encryption keys)")
                }
                guard keyring.secret(for: wanted) == nil else {
                    throw CofferError(.alreadyExists, "the keyring already has a \(wanted) key; a vault keeps using the one it recorded")
                }
                let updated = try keyring.addingKey(for: wanted)
                try updated.write(to: path, replacing: true)
                print("added a \(wanted) key to \(path)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new active key-encryption key to the keyring and rewrap every data key under it (content untouched).")
        @OptionGroup var options: VaultOptions

        func run() async throws {
            try await runReportingErrors {
                let (keyring, path) = try options.loadKeyring()
                let vault = try Vault.open(at: options.vaultURL, keyring: keyring)
                // Decided (and recorded) before the keyring file changes: a refused caller changes nothing.
                _ = try await vault.keyStatus(context: options.context(defaultPurpose: .administration))
                let rotated = try keyring.addingActiveKey()
                // The new key is on disk before anything is wrapped under it.
                try rotated.write(to: path, replacing: true)
                let count = try await vault.rotateKeys(to: rotated, context: options.context(defaultPurpose: .administration))
                print("new active key \(rotated.activeKeyID); rewrapped \(count) data keys")
                let status = try await vault.keyStatus(context: options.context(defaultPurpose: .administration))
                let free = keyring.keyEncryptionKeyIDs.filter { id in !status.contains { $0.kekID == id } }
                if !free.isEmpty {
                    print("no data key depends on \(free.joined(separator: ", ")) any more (checked now; `coffer keys status` shows it)")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which key-encryption key each data key depends on, and which keys can be retired.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let (keyring, _) = try options.loadKeyring()
                let vault = try Vault.open(at: options.vaultURL, keyring: keyring)
                let keys = try await vault.keyStatus(context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(keys)); return }
                printTable(header: ["DATA KEY", "TENANT", "CLASS", "KEK"],
                           rows: keys.map { [$0.id, $0.tenant, $0.dataClass, $0.kekID] })
                print("")
                printTable(header: ["KEK", "ACTIVE", "DATA KEYS"], rows: keyring.keyEncryptionKeyIDs.map { id in
                    let count = keys.filter { $0.kekID == id }.count
                    return [id, id == keyring.activeKeyID ? "yes" : "no", count == 0 && id != keyring.activeKeyID ? "0 (can be retired)" : String(count)]
                })
            }
        }
    }
}
