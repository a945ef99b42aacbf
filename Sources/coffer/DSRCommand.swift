import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct DSRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsr", abstract: "Data-subject requests: access reports, exports, erasure with signed receipts (privacy officer, purpose subject-request).",
        subcommands: [Report.self, Export.self, Erase.self, Run.self, Status.self, Receipt.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What the vault holds about a person, field by field, and who accessed it and why (subject access, P14).")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "The subject.") var subject: SubjectID
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let report = try await vault.subjectAccessReport(subject, context: options.context(defaultPurpose: .subjectRequest))
                if json { print(try jsonText(report)); return }
                let record = report.record
                print("subject \(display(record.id)) of \(display(record.tenant)), \(record.status), since \(isoTime(record.createdAt))")
                printTable(header: ["FIELD", "VALUE"], rows: [
                    ("name", record.name), ("email", record.email), ("company", record.company),
                    ("billing-last4", record.billingLast4), ("billing-address", record.billingAddress),
                    ("password", record.hasPassword ? "set (only its scrypt hash is held)" : nil),
                ].compactMap { field, value in value.map { [field, $0] } })
                print("")
                printTable(header: ["CONSENT", "GRANTED", "TIME", "POLICY"],
                           rows: record.consents.map { [$0.kind, $0.granted ? "yes" : "no", isoTime($0.time), $0.policyVersion] })
                print("")
                printTable(header: ["IDENTIFIER", "IP", "USER AGENT", "DEVICE", "LAST SEEN"], rows: record.identifiers.map {
                    [$0.id, $0.ip ?? "-", $0.userAgent ?? "-", $0.device ?? "-", isoTime($0.lastSeen)]
                })
                print("")
                printTable(header: ["TIME", "ACTOR", "ROLE", "ACTION", "PURPOSE", "JUSTIFICATION", "OUTCOME"], rows: report.accesses.map {
                    [isoTime($0.time), $0.actor.rawValue, $0.role ?? "-", $0.action, $0.purpose, $0.justification ?? "-", $0.outcome.rawValue]
                })
            }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a request to erase a subject or a whole tenant, due within 30 days.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "The subject to erase.") var subject: SubjectID?
        @Option(name: .long, help: "The tenant to erase whole: every subject, object and key of it.") var tenant: TenantID?
        @Option(name: .long, help: "The request's reference (no personal data).") var reason: String

        func validate() throws {
            guard (subject == nil) != (tenant == nil) else { throw ValidationError("give one of --subject ID or --tenant T") }
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let context = try options.context(defaultPurpose: .subjectRequest)
                let request = if let subject {
                    try await vault.requestErasure(subject: subject, reason: reason, context: context)
                } else {
                    try await vault.requestErasure(tenant: tenant!, reason: reason, context: context)
                }
                print("\(request.id) erases \(erasureTarget(request.subject, request.tenant)) by \(isoTime(request.deadline))")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Carry out every open erasure request no legal hold covers, writing signed receipts.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let run = try await vault.runErasures(context: options.context(defaultPurpose: .subjectRequest))
                if json { print(try jsonText(run)); return }
                for receipt in run.completed {
                    print("erased \(erasureTarget(receipt.subject, receipt.tenant)) (\(receipt.requestID)): \(receipt.destroyedKeys.count) keys destroyed, "
                          + "\(receipt.deletedFields.count) fields deleted"
                          + (receipt.deletedObjects.map { ", \($0) objects deleted" } ?? "")
                          + "\(receipt.retained.isEmpty ? "" : ", billing records kept under legal retention")"
                          + ", \(receipt.scrubbedBackups?.count ?? 0) backups reached")
                }
                for request in run.held { print("held: \(request.id) (\(erasureTarget(request.subject, request.tenant))) stays open under a legal hold") }
                for (id, error) in run.failed.sorted(by: { $0.key < $1.key }) { print("failed: \(id): \(display(error))") }
                if !run.failed.isEmpty { throw ExitCode(1) }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open erasure requests, their deadlines and the overdue ones.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Also the requests carried out.") var all = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let requests = try await vault.erasureRequests(includeCompleted: all, context: options.context(defaultPurpose: .subjectRequest))
                if json { print(try jsonText(requests)); return }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                printTable(header: ["REQUEST", "TENANT", "SUBJECT", "REQUESTED", "DEADLINE", "STATE"], rows: requests.map { request in
                    let state = request.completedAt.map { "done \(isoTime($0))" } ?? (request.isOverdue(at: now) ? "OVERDUE" : "open")
                    return [request.id, request.tenant.rawValue, request.subject?.rawValue ?? "(whole tenant)", isoTime(request.requestedAt), isoTime(request.deadline), state]
                })
            }
        }
    }

    struct Receipt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erasure receipts.", subcommands: [Show.self, Verify.self])

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print (or write) the signed receipt of a request carried out.")
            @OptionGroup var options: VaultOptions
            @Argument(help: "The erasure request's id.") var id: String
            @Option(name: .long, help: "Write it to this file instead.") var out: String?

            func run() async throws {
                try await runReportingErrors {
                    let vault = try await options.openVault()
                    let receipt = try await vault.erasureReceipt(id, context: options.context(defaultPurpose: .subjectRequest))
                    if let out {
                        let file = try AtomicOutputFile(path: out)
                        try Array(receipt.utf8).withUnsafeBytes { try FileDescriptorIO.writeAll(file.fd, $0) }
                        try file.commit()
                        print("wrote \(display(out))")
                    } else {
                        print(receipt, terminator: "")
                    }
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check a receipt's signature (against --public-key, or the vault's own key) and print what it says.")
            @OptionGroup var location: LocationOptions
            @Argument(help: "The receipt file.") var file: String
            @Option(name: .customLong("public-key"), help: "A verifier key file (from `coffer audit public-key`); without it, the vault's key.")
            var publicKey: String?
            @Flag(name: .long, help: "Print JSON.") var json = false

            func run() async throws {
                try await runReportingErrors {
                    let key: NoteVerifierKey = if let publicKey {
                        try NoteVerifierKey(parsing: try readText(publicKey))
                    } else {
                        try await location.openVault().auditVerifierKey
                    }
                    let receipt = try ErasureReceipt.verify(try readText(file), key: key)
                    if json { print(try jsonText(receipt)); return }
                    print("valid receipt signed by \(key.name): \(erasureTarget(receipt.subject, receipt.tenant)) erased \(isoTime(receipt.erasedAt))")
                    if let objects = receipt.deletedObjects { print("objects deleted: \(objects); subjects erased: \(receipt.erasedSubjects?.count ?? 0)") }
                    if let backups = receipt.scrubbedBackups { print("backups reached: \(backups.isEmpty ? "none recorded" : backups.joined(separator: ", "))") }
                    print("keys destroyed: \(receipt.destroyedKeys.joined(separator: ", "))")
                    print("deleted: \(receipt.deletedFields.joined(separator: ", ")); \(receipt.deletedConsents) consents, "
                          + "\(receipt.deletedIdentifiers) identifiers, \(receipt.deletedIndexEntries) index entries")
                    for kept in receipt.retained {
                        print("kept until \(isoTime(kept.until)): \(kept.fields.joined(separator: ", ")) (\(kept.reason))")
                    }
                    print("log checkpoint: size \(receipt.checkpoint.treeSize), root \(receipt.checkpoint.rootHash)")
                }
            }
        }
    }
}

/// "subject S of tenant T", or "tenant T (whole)".
private func erasureTarget(_ subject: SubjectID?, _ tenant: TenantID) -> String {
    subject.map { "\(display($0)) of \(display(tenant))" } ?? "tenant \(display(tenant)) (whole)"
}
