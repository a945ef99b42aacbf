import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Query, verify and review the access log (auditors).",
        subcommands: [Query.self, Verify.self, Prove.self, Checkpoint.self, PublicKey.self, Review.self, Prune.self, Retention.self])

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Records matching filters, newest first.")
        enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

        @OptionGroup var location: LocationOptions
        @Option(name: .customLong("as"), help: "Who is querying (env COFFER_ACTOR; default $USER). --actor filters the records.")
        var caller: String?
        @Option(name: .customLong("as-purpose"), help: "The querying principal's purpose (default audit; privacy officers use subject-request or legal).")
        var callerPurpose: String = "audit"
        @Option(name: .customLong("tenant"), help: "Tenant id.") var tenantFilter: TenantID?
        @Option(name: .customLong("actor"), help: "Only accesses by this principal.") var actorFilter: PrincipalID?
        @Option(name: .long, help: "Subject id.") var subject: SubjectID?
        @Option(name: .long, help: "Object id.") var object: String?
        @Option(name: .long, help: "Action: read, write, delete, list, stat, grant, ...") var action: String?
        @Option(name: .customLong("purpose"), help: "Only accesses with this purpose code.") var purposeFilter: String?
        @Option(name: .long, help: "allowed, denied or error.") var outcome: String?
        @Option(name: .long, help: "From this date or RFC 3339 date-time (2026-11-01T12:00:00.5Z) or date (2026-11-01, midnight UTC).") var since: String?
        @Option(name: .long, help: "Before this date or RFC 3339 date-time (2026-11-01T12:00:00.5Z) or date (2026-11-01, midnight UTC).") var until: String?
        @Option(name: .long, help: "Only records before this sequence number (paging).") var before: Int64?
        @Option(name: .long, help: "At most this many records.") var limit: Int = 100
        @Option(name: .long, help: "table, json (JSON lines) or csv.") var format: Format = .table

        func run() async throws {
            try await runReportingErrors {
                let vault = try await location.openVault()
                var outcomeFilter: AuditRecord.Outcome?
                if let outcome {
                    guard let parsed = AuditRecord.Outcome(rawValue: outcome) else { throw ValidationError("--outcome is allowed, denied or error") }
                    outcomeFilter = parsed
                }
                let query = AuditQuery(tenant: tenantFilter, actor: actorFilter, subject: subject, objectID: object, action: action,
                                       purpose: purposeFilter, outcome: outcomeFilter, since: try since.map(parseTime),
                                       until: try until.map(parseTime), before: before, limit: limit)
                let environment = ProcessInfo.processInfo.environment
                let context = try AccessContext(actor: PrincipalID(caller ?? environment["COFFER_ACTOR"] ?? environment["USER"] ?? "operator"),
                                                purpose: try Purpose(parsing: callerPurpose), client: "coffer-cli")
                let records = try await vault.auditRecords(query, context: context)
                switch format {
                case .json:
                    for line in try AuditExport.lines(records, format: .jsonLines) { print(line) }
                case .csv:
                    for line in try AuditExport.lines(records, format: .csv) { print(line) }
                case .table:
                    printTable(header: ["#", "TIME", "ACTOR", "ROLE", "ACTION", "CLASS", "TENANT", "OBJECT/SUBJECT", "PURPOSE", "OUTCOME", "BYTES"],
                               rows: records.map { r in
                                   [String(r.sequence), isoTime(r.time), r.actor.rawValue, r.role ?? "-", r.action, r.dataClass, r.tenant?.rawValue ?? "-",
                                    r.objectID ?? r.subject?.rawValue ?? "-", r.purpose,
                                    r.outcome.rawValue + (r.errorCode.map { " (\($0))" } ?? ""), r.bytes.map(String.init) ?? "-"]
                               })
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every record, the MAC chain, the Merkle tree and the checkpoints; name the first bad record.",
            discussion: """
            With --public-key (a verifier key kept apart from the vault, from `coffer audit public-key`), the \
            log is checked against a witnessed checkpoint note (--checkpoint, default the vault's witness \
            file) trusting only that key: a truncated, replaced, or rewritten and re-signed log fails.
            """)
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "A checkpoint kept elsewhere (a witness note, or a JSON checkpoint): prove today's log extends it.")
        var checkpoint: String?
        @Option(name: .customLong("public-key"), help: "A verifier key file (name+keyid+base64) to trust instead of the vault's own key.")
        var publicKey: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let context = try options.context(defaultPurpose: .audit)
                let result: AuditVerification
                var extended: Int64?
                if let publicKey {
                    let key = try NoteVerifierKey(parsing: try readText(publicKey))
                    let note: CheckpointNote
                    if let checkpoint {
                        note = try CheckpointNote(parsing: try readText(checkpoint))
                    } else if let witnessed = try await vault.witnessedCheckpoint(context: context) {
                        note = witnessed
                    } else {
                        throw CofferError(.notFound, "the vault has no witnessed checkpoint; pass --checkpoint FILE")
                    }
                    result = try await vault.verifyAuditLog(against: note, pinnedKey: key, context: context)
                    extended = note.treeSize
                } else {
                    let external = try checkpoint.map { path -> AuditCheckpoint in
                        guard let data = FileManager.default.contents(atPath: path) else { throw CofferError(.io, "cannot read \(path)") }
                        do { return try JSONDecoder().decode(AuditCheckpoint.self, from: data) } catch {
                            throw CofferError(.invalidFormat, "\(path) is not a Coffer audit checkpoint (a witness note needs --public-key)")
                        }
                    }
                    result = try await vault.verifyAuditLog(extending: external, context: context)
                    extended = external?.treeSize
                }
                if json { print(try jsonText(result)) } else if result.ok {
                    print("ok: \(result.treeSize) records, root \(result.rootHash), \(result.checkpointsChecked) signed checkpoints matched"
                          + (extended.map { "; extends the checkpoint at size \($0)" } ?? ""))
                } else {
                    print("FAILED at record \(result.firstBadRecord ?? 0): \(display(result.problem ?? ""))")
                }
                if !result.ok { throw ExitCode(3) }
            }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an inclusion proof of one record, or with --consistency a consistency proof between two sizes (RFC 9162).")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Prove the log's first N records are a prefix of the log (or of its first NEW records).")
        var consistency: Int64?
        @Argument(help: "The record's sequence number; with --consistency, the newer size (default: the log as it is now).")
        var id: Int64?

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let context = try options.context(defaultPurpose: .audit)
                if let consistency {
                    print(try jsonText(try await vault.auditConsistencyProof(from: consistency, to: id, context: context)))
                    return
                }
                guard let id else { throw ValidationError("give a record's sequence number, or --consistency OLD_SIZE [NEW_SIZE]") }
                print(try jsonText(try await vault.auditProof(sequence: id, context: context)))
            }
        }
    }

    struct PublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the verifier key of the log's checkpoints, to keep apart from the vault and pass to `audit verify --public-key`.")
        @OptionGroup var options: VaultOptions

        func run() async throws {
            try await runReportingErrors {
                print(try await options.openVault().auditVerifierKey.description)
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a checkpoint of the log now and print or save it.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Write the checkpoint to this file (keep it away from the vault).") var out: String?

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let checkpoint = try await vault.auditCheckpoint(context: options.context(defaultPurpose: .audit))
                let text = try jsonText(checkpoint)
                if let out {
                    let file = try AtomicOutputFile(path: out)
                    try Array(text.utf8).withUnsafeBytes { try FileDescriptorIO.writeAll(file.fd, $0) }
                    try file.commit()
                    print("checkpoint of \(checkpoint.treeSize) records written to \(out)")
                } else {
                    print(text)
                }
            }
        }
    }

    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The access review for a period, as Markdown or JSON.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Start date (inclusive).") var from: String
        @Option(name: .long, help: "End date (exclusive).") var to: String
        @Flag(name: .long, help: "Print JSON instead of Markdown.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let review = try await vault.accessReview(from: try parseTime(from), to: try parseTime(to),
                                                          context: options.context(defaultPurpose: .audit))
                print(json ? try jsonText(review) : review.markdown)
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete log records older than a date, keeping the hashes and checkpoints verification needs (admin).",
            discussion: """
            While the vault has two or more admins without a tenant limit, the prune waits for a second \
            admin's approval (`coffer principal approve CHANGE`); nothing is deleted until then.
            """)
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Delete records before this date.") var before: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let time = try parseTime(before)
                switch try await vault.pruneAuditLog(before: time, context: options.context(defaultPurpose: .administration)) {
                case .pruned(let count): print("pruned \(count) records")
                case .pending(let change): printAwaiting("the prune before \(isoTime(time))", change)
                }
            }
        }
    }

    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the log's minimum retention in days, or raise it (admin; it can never be lowered).")
        @OptionGroup var options: VaultOptions
        @Option(name: .customLong("raise-to"), help: "The new minimum, in days (at least the current one).") var raiseTo: Int?

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                if let raiseTo {
                    try await vault.raiseAuditRetention(toDays: raiseTo, context: options.context(defaultPurpose: .administration))
                    print("the access log now keeps every record for at least \(raiseTo) days")
                } else {
                    print(try await vault.auditRetentionDays(context: options.context(defaultPurpose: .audit)))
                }
            }
        }
    }
}

/// The text of the file at `path`.
/// - Throws: `CofferError` `io` when it cannot be read as UTF-8.
func readText(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw CofferError(.io, "cannot read \(path)")
    }
    return text
}
