import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Consistent backups of the vault that every later erasure reaches; verify, restore, rotate (35 days).",
        subcommands: [Create.self, List.self, Verify.self, Restore.self, Prune.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a backup into a new directory under --to (an admin).")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "The backup directory (env COFFER_BACKUPS).") var to: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let root = try backupRoot(to)
                let manifest = try await vault.createBackup(in: root, context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(manifest)); return }
                let bytes = manifest.files.reduce(Int64(0)) { $0 + $1.bytes }
                print("backup \(manifest.id): \(manifest.files.count) files, \(bytes) bytes, log of \(manifest.logSize) records, in \(display(root.appendingPathComponent(manifest.id).path))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The backups under --in, oldest first.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "The backup directory (env COFFER_BACKUPS).") var `in`: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let backups = try await vault.backups(in: try backupRoot(self.in), context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(backups)); return }
                printTable(header: ["BACKUP", "TAKEN", "BYTES", "LOG", "ERASURES APPLIED"], rows: backups.map { backup in
                    [backup.id, isoTime(backup.createdAt), String(backup.files.reduce(Int64(0)) { $0 + $1.bytes }), String(backup.logSize),
                     String(backup.appliedLedger.count)]
                })
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a backup's files against its manifest, and its signature.")
        @Argument(help: "The backup's directory.") var path: String
        @Option(name: .customLong("public-key"), help: "The vault's verifier key file (`coffer audit public-key`): also check the signature.")
        var publicKey: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let key = try publicKey.map { try NoteVerifierKey(parsing: try readText($0)) }
                let result = try Vault.verifyBackup(at: URL(fileURLWithPath: path), key: key)
                if json { print(try jsonText(result)) } else if result.ok {
                    print("backup \(result.id) is intact\(result.signatureChecked ? ", signed by \(key!.name)" : " (signature not checked: pass --public-key)")")
                } else {
                    for problem in result.problems { print("problem: \(display(problem))") }
                }
                if !result.ok { throw ExitCode(1) }
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into --vault (a new or empty directory), applying every erasure recorded since.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The backup's directory.") var path: String
        @Option(name: .customLong("ledger-from"), help: "The vault being replaced: its erasures are applied too.") var ledgerFrom: String?
        @Flag(name: .customLong("supersede-witness"), help: "The vault the witness belongs to is lost: keep its checkpoint aside and witness the restored log.")
        var supersedeWitness = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let (vault, report) = try await Vault.restoreBackup(
                    from: URL(fileURLWithPath: path), to: options.vaultURL, keyringFile: options.location.keyringFile(),
                    witness: options.location.witness.map { URL(fileURLWithPath: $0) }, ledgerFrom: ledgerFrom.map { URL(fileURLWithPath: $0) },
                    supersedeWitness: supersedeWitness, allowDevelopmentKeyring: options.location.developmentKeyringAllowed, context: options.context(defaultPurpose: .administration))
                try vault.close()
                if json { print(try jsonText(report)); return }
                print("restored \(report.backup) into \(display(options.vaultURL.path)): \(report.reappliedErasures) erasures applied again "
                      + "(\(report.removedKeys) keys removed, \(report.erasedSubjects) subjects and \(report.deletedObjects) objects erased again)")
                if let superseded = report.supersededCheckpoint {
                    print("the witnessed checkpoint of the lost log (\(superseded)) was kept aside; the restored log records it")
                }
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete backups older than --keep-days (35), always keeping the newest.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "The backup directory (env COFFER_BACKUPS).") var `in`: String?
        @Option(name: .customLong("keep-days"), help: "Days to keep (default 35).") var keepDays = Vault.backupRetentionDays
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let removed = try await vault.pruneBackups(in: try backupRoot(self.in), keepDays: keepDays,
                                                           context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(removed)); return }
                print(removed.isEmpty ? "no backup older than \(keepDays) days" : "deleted \(removed.joined(separator: ", "))")
            }
        }
    }
}

/// The backup directory from an option or COFFER_BACKUPS.
private func backupRoot(_ option: String?) throws -> URL {
    guard let path = option ?? ProcessInfo.processInfo.environment["COFFER_BACKUPS"], !path.isEmpty else {
        throw CofferError(.invalidArgument, "no backup directory given; pass --to/--in DIR or set COFFER_BACKUPS")
    }
    return URL(fileURLWithPath: path)
}
