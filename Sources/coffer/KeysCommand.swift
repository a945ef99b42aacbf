import ArgumentParser
import Coffer
import CofferCrypto

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and manage keyrings.",
        subcommands: [Generate.self, Add.self, Rotate.self, Retire.self, Status.self]
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
                let keyring = try KeyringFile(path: out).create(development: development)
                print("wrote keyring \(out) with active key \(keyring.activeKeyID)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key for a purpose (blind-index, audit-signing or pii-kek) to an existing keyring, such as one made before those purposes existed.")
        @OptionGroup var location: LocationOptions
        @Option(name: .long, help: "blind-index, audit-signing or pii-kek.") var purpose: String

        func run() async throws {
            try await runReportingErrors {
                let wanted: Keyring.Purpose
                switch purpose {
                case Keyring.Purpose.blindIndex.rawValue: wanted = .blindIndex
                case Keyring.Purpose.auditSigning.rawValue: wanted = .auditSigning
                case Keyring.Purpose.piiKeyEncryption.rawValue: wanted = .piiKeyEncryption
                default: throw ValidationError("--purpose is blind-index, audit-signing or pii-kek (use `keys rotate` for new key-encryption keys)")
                }
                let file = try location.keyringFile()
                // Under the keyring's lock, from the file as it is now: a rotation running beside
                // this cannot lose its new key, nor this one.
                try file.addKey(for: wanted)
                print("added a \(wanted) key to \(file.path) (the previous file is kept as \(file.previousPath))")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new active key-encryption key to the keyring and rewrap every data key under it (content untouched).")
        @OptionGroup var options: VaultOptions

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let rotation = try await vault.rotateKeys(context: options.context(defaultPurpose: .administration))
                if rotation.resumed {
                    print("finished an interrupted rotation to \(rotation.activeKEK); rewrapped \(rotation.rewrapped) keys")
                } else {
                    print("new active key \(rotation.activeKEK); rewrapped \(rotation.rewrapped) keys (keyring generation \(rotation.keyringGeneration))")
                }
                if !rotation.retirable.isEmpty {
                    print("no key of this vault depends on \(rotation.retirable.joined(separator: ", ")) any more; `coffer keys retire ID` removes one")
                }
            }
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key-encryption key from the keyring once no key of the vault depends on it.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The KEK id (see `coffer keys status`).") var id: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let keyring = try await vault.retireKey(id, context: options.context(defaultPurpose: .administration))
                print("removed \(id) from the keyring (generation \(keyring.generation)); the previous file is kept beside it with .previous")
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
                let vault = try await options.openVault()
                let keys = try await vault.keyStatus(context: options.context(defaultPurpose: .administration))
                let keyring = vault.keyring
                if json { print(try jsonText(keys)); return }
                printTable(header: ["DATA KEY", "TENANT", "CLASS", "KEK"],
                           rows: keys.map { [$0.id, $0.tenant.rawValue, $0.dataClass, $0.kekID] })
                print("")
                let active = [keyring.activeKeyID, keyring.activePIIKey?.id]
                printTable(header: ["KEK", "FOR", "ACTIVE", "DATA KEYS"], rows: (keyring.keyEncryptionKeyIDs + keyring.piiKeyEncryptionKeyIDs).map { id in
                    let count = keys.filter { $0.kekID == id }.count
                    let isActive = active.contains(id)
                    let family = keyring.entries.first { $0.id == id }?.purpose == .piiKeyEncryption ? "pii" : "content"
                    return [id, family, isActive ? "yes" : "no", count == 0 && !isActive ? "0 (can be retired)" : String(count)]
                })
            }
        }
    }
}
