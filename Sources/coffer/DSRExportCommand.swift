import ArgumentParser
import Coffer
import CofferCrypto
import Foundation
import Synchronization

extension DSRCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a subject's or a tenant's data as one ZIP archive, optionally Tink-encrypted (portability, P18).",
            discussion: """
                Exactly one of --subject and --tenant. The archive holds the objects (a tenant's latest versions), the \
                records as JSON and CSV, the access history and manifest.json with every file's SHA-256. With --encrypt \
                every file is sealed under a fresh key written only to FILE.keyset.json (mode 0600) beside the archive.
                """)
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Export this subject: their record and the access history about them.") var subject: SubjectID?
        @Option(name: .long, help: "Export this tenant: every object, every subject, the catalogue and its access history.")
        var tenant: TenantID?
        @Option(name: .long, help: "The archive to write (refused if it exists, unless --force).") var out: String
        @Flag(name: .long, help: "Seal every file (Tink AES-GCM-HKDF streaming) under a fresh key; the keyset goes to OUT.keyset.json.")
        var encrypt = false
        @Flag(name: .long, help: "Replace an existing archive (and keyset).") var force = false
        @Flag(name: .long, help: "Print JSON (and no progress).") var json = false
        @Flag(name: .long, help: "No progress on stderr.") var quiet = false

        /// What to export: exactly one of --subject and --tenant.
        private var scope: ExportScope? {
            switch (subject, tenant) {
            case (let subject?, nil): .subject(subject)
            case (nil, let tenant?): .tenant(tenant)
            default: nil
            }
        }

        func validate() throws {
            guard scope != nil else { throw ValidationError("give exactly one of --subject ID and --tenant T") }
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                guard let scope else { throw ValidationError("give exactly one of --subject ID and --tenant T") }
                var settings = ExportOptions(encrypt: encrypt, replaceExisting: force)
                if !json && !quiet {
                    let printer = ExportProgressPrinter()
                    settings.progress = { printer.show($0) }
                }
                let context = try options.context(defaultPurpose: .subjectRequest)
                let summary = try await vault.export(scope, to: out, options: settings, context: context)
                if json { print(try jsonText(summary)); return }
                let what = summary.subject.map { "subject \(display($0)) of \(display(summary.tenant))" }
                    ?? "tenant \(display(summary.tenant)): \(summary.objects) objects, \(summary.subjects) subjects"
                print("wrote \(display(summary.path)): \(summary.files) files, \(summary.bytes) bytes (\(summary.archiveBytes) in the archive)")
                print("\(what), \(summary.accessRecords) access records\(summary.encrypted ? ", every file encrypted" : "")")
                if let keyset = summary.keysetPath {
                    print("keyset: \(display(keyset)) (the only copy of the key: keep it apart from the archive)")
                }
            }
        }
    }
}

/// Export progress on stderr, at most one line a second.
final class ExportProgressPrinter: Sendable {
    private let start = ContinuousClock.now
    private let last = Mutex<ContinuousClock.Instant>(ContinuousClock.now)

    func show(_ progress: ExportProgress) {
        let now = ContinuousClock.now
        guard last.withLock({ shown in
            guard now - shown >= .seconds(1) else { return false }
            shown = now
            return true
        }) else { return }
        let objects = progress.objectsTotal > 0 ? ", \(progress.objectsDone)/\(progress.objectsTotal) objects" : ""
        warn(String(format: "export: %d files, %.1f MiB%@ (%.0f s)", progress.files, Double(progress.bytes) / 1_048_576, objects,
                    Double((now - start).components.seconds)))
    }
}
