import ArgumentParser
import Coffer
import CofferCrypto
import CofferScaleOut
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move an embedded vault (--vault DIR) to PostgreSQL and S3-compatible storage; resumable, verified.",
        discussion: """
            Copies every row of the vault's control, PII and log files and its catalog, and each committed version's \
            segments into the object store, ciphertext byte for byte (nothing is decrypted). Stop every other process \
            using the vault first. An interrupted run is finished by running it again; the target becomes a vault only \
            once everything is in place and checked: row counts, every segment read back and compared, then the moved \
            access log verified. The passwords come from PGPASSWORD and COFFER_PII_PGPASSWORD, the object store's \
            credentials and endpoint from the AWS_* variables, as for a PostgreSQL vault. The actor (an auditor or an \
            admin; purpose audit by default) verifies the source's log before anything moves and the target's after.
            """)

    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("to"), help: "The target's main database, postgres://USER@HOST[:PORT]/DB[?sslmode=...&schema=...].")
    var target: String
    @Option(name: .customLong("to-pii-database"), help: "The target's PII database, a role of its own (env COFFER_PII_DATABASE).")
    var targetPII: String?
    @Option(name: .customLong("to-object-store"), help: "Where the segments go, s3://BUCKET[/PREFIX] (env COFFER_OBJECT_STORE).")
    var targetObjectStore: String?
    @Option(name: .customLong("to-witness"), help: "The target's witness directory (default KEYRING.witness/scale-out).")
    var targetWitness: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        try await runReportingErrors {
            let location = vault.location
            guard !location.isScaleOut else {
                throw CofferError(.invalidArgument, "migrate moves an embedded vault: pass its directory with --vault DIR and the target with --to postgres://...")
            }
            let environment = ProcessInfo.processInfo.environment
            let witness = try targetWitness ?? (location.keyringFile().path + ".witness/scale-out")
            let configuration = try ScaleOutConfiguration.parse(vault: target, piiDatabase: targetPII ?? environment["COFFER_PII_DATABASE"],
                                                                objectStore: targetObjectStore ?? environment["COFFER_OBJECT_STORE"],
                                                                locations: [], witness: URL(fileURLWithPath: witness))
            let source = try await location.openVault()
            let report = try await ScaleOutMigration.run(from: source, to: configuration, keyringFile: try location.keyringFile(),
                                                         context: try vault.context(defaultPurpose: .audit),
                                                         allowDevelopmentKeyring: location.developmentKeyringAllowed)
            if json { print(try jsonText(report)); return }
            for (table, rows) in report.tables.sorted(by: { $0.key < $1.key }) { print("\(table): \(rows) rows") }
            print("versions moved \(report.versionsMoved), already there \(report.versionsAlreadyThere), redone \(report.versionsRedone)")
            print("segments \(report.segments) (\(report.ciphertextBytes) B of ciphertext); read back and compared: \(report.segmentsCompared)")
            print("access log: \(report.logSize) records, verifies: \(report.logVerified)")
        }
    }
}
