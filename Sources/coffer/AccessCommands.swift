import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

/// Parses a time option: an RFC 3339 date-time or a plain date (``Timestamp``, strict).
func parseTime(_ text: String) throws -> Int64 {
    try Timestamp.milliseconds(parsing: text)
}

struct PrincipalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "principal", abstract: "Manage who may act on the vault (admin).",
        subcommands: [Add.self, List.self, Update.self, Remove.self, Pending.self, Approve.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a principal with roles.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Principal id.") var id: PrincipalID
        @Option(name: .customLong("role"), help: "A role: \(Role.all.map(\.code).joined(separator: ", ")). Repeat for several.")
        var roles: [String] = []
        @Option(name: .customLong("tenant"), help: "A tenant it may act on. Repeat for several; omit for all.")
        var tenants: [TenantID] = []

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let roles = try self.roles.map(Role.init(parsing:))
                let pending = try await vault.addPrincipal(id, roles: roles, tenants: tenants.isEmpty ? nil : tenants,
                                                           context: options.context(defaultPurpose: .administration))
                if let pending {
                    printAwaiting("principal \(display(id))", pending)
                } else {
                    print("added principal \(display(id)) with roles \(roles.map(\.code).joined(separator: ", "))")
                }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a principal other roles or tenants.",
            discussion: """
            What is not given is kept: without --role the principal keeps its roles, without --tenant or \
            --all-tenants its tenants. Widening it, or narrowing one of the last two admins without a tenant \
            limit, waits for a second admin's approval (`coffer principal approve CHANGE`).
            """)
        @OptionGroup var options: VaultOptions
        @Argument(help: "Principal id.") var id: PrincipalID
        @Option(name: .customLong("role"), help: "A role it will hold: \(Role.all.map(\.code).joined(separator: ", ")). Repeat for several; replaces its roles.")
        var roles: [String] = []
        @Option(name: .customLong("tenant"), help: "A tenant it may act on. Repeat for several; replaces its tenants.")
        var tenants: [TenantID] = []
        @Flag(name: .customLong("all-tenants"), help: "Lift its tenant limit: it may act on every tenant.") var allTenants = false

        func validate() throws {
            if allTenants && !tenants.isEmpty { throw ValidationError("give --tenant or --all-tenants, not both") }
            if roles.isEmpty && tenants.isEmpty && !allTenants { throw ValidationError("give --role, --tenant or --all-tenants") }
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let context = try options.context(defaultPurpose: .administration)
                var roles = try self.roles.map(Role.init(parsing:))
                var tenants: [TenantID]? = allTenants ? nil : self.tenants
                if roles.isEmpty || (tenants?.isEmpty ?? false) {
                    // Keep what was not given.
                    guard let current = try await vault.principals(context: context).first(where: { $0.id == id }) else {
                        throw CofferError(.notFound, "no principal '\(display(id))'")
                    }
                    if roles.isEmpty { roles = current.roles }
                    if tenants?.isEmpty ?? false { tenants = current.tenants }
                }
                if let pending = try await vault.updatePrincipal(id, roles: roles, tenants: tenants, context: context) {
                    printAwaiting("the change of principal \(display(id))", pending)
                } else {
                    print("updated principal \(display(id)): roles \(Set(roles).sorted().map(\.code).joined(separator: ", ")); tenants "
                          + (tenants.map { $0.map(\.rawValue).joined(separator: ", ") } ?? "*"))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List principals.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let all = try await vault.principals(context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(all)); return }
                printTable(header: ["PRINCIPAL", "ROLES", "TENANTS", "CREATED", "BY"], rows: all.map {
                    [$0.id.rawValue, $0.roles.map(\.code).joined(separator: ","), $0.tenants?.map(\.rawValue).joined(separator: ",") ?? "*", isoTime($0.createdAt), $0.createdBy.rawValue]
                })
            }
        }
    }

    struct Pending: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the changes waiting for a second admin's approval.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let pending = try await vault.pendingChanges(context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(pending)); return }
                printTable(header: ["CHANGE", "KIND", "PRINCIPAL", "ROLES", "TENANTS", "BEFORE", "REQUESTED", "BY"], rows: pending.map {
                    let scope = $0.roles == nil ? "-" : ($0.tenants?.map(\.rawValue).joined(separator: ",") ?? "*")
                    return [$0.changeID, $0.kind.code, $0.principal?.rawValue ?? "-", $0.roles?.map(\.code).joined(separator: ",") ?? "-",
                            scope, $0.pruneBefore.map(isoTime) ?? "-", isoTime($0.requestedAt), $0.requestedBy.rawValue]
                })
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Carry out a pending change (a second admin without a tenant limit, not the one who asked).")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The change id (see `coffer principal pending`).") var change: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let approved = try await vault.approveChange(change, context: options.context(defaultPurpose: .administration))
                let done = approved.prunedRecords.map { "pruned \($0) records" } ?? approved.change.principal.map { "principal \(display($0))" } ?? ""
                print("approved \(display(change)) (\(approved.change.kind)): \(done)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a principal.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Principal id.") var id: PrincipalID

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                if let pending = try await vault.removePrincipal(id, context: options.context(defaultPurpose: .administration)) {
                    printAwaiting("the removal of principal \(display(id))", pending)
                } else {
                    print("removed principal \(display(id))")
                }
            }
        }
    }
}

/// Prints that `what` waits for a second admin, ending with the command that approves it.
func printAwaiting(_ what: String, _ change: PendingChange) {
    print("\(what) awaits a second admin's approval: coffer principal approve \(change.changeID)")
}

struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant", abstract: "Temporary access to personal data (privacy officers).",
        subcommands: [Issue.self, Revoke.self, List.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a principal access to a tenant's (or one subject's) PII until a time.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Who receives the grant.") var to: PrincipalID
        @Option(name: .long, help: "Tenant id.") var tenant: TenantID
        @Option(name: .long, help: "One subject id (default: every subject of the tenant).") var subject: SubjectID?
        @Option(name: .customLong("for"), help: "The purpose the grant allows, e.g. support.") var grantedPurpose: String
        @Option(name: .long, help: "Expiry: an RFC 3339 date-time (2026-11-01T12:00:00Z) or date, or a duration such as 90m, 2h, 3d (at most 90 days).") var until: String
        @Option(name: .long, help: "Why the access is needed.") var reason: String

        func expiry() throws -> Int64 {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            if let unit = until.last, "mhd".contains(unit), !until.dropLast().isEmpty,
               until.dropLast().allSatisfy({ $0.isASCII && $0.isNumber }) {
                let ms: Int64 = unit == "m" ? 60_000 : unit == "h" ? 3_600_000 : 86_400_000
                // At most 90 days are allowed anyway; a longer duration is refused, never overflowed.
                guard let value = Int64(until.dropLast()), value <= 90 * 86_400_000 / ms else {
                    throw CofferError(.invalidArgument, "--until \(until) is longer than the 90 days a grant may last")
                }
                return now + value * ms
            }
            return try parseTime(until)
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let grant = try await vault.issueGrant(to: to, tenant: tenant, subject: subject,
                                                       purpose: Purpose(parsing: grantedPurpose), expiresAt: expiry(),
                                                       reason: reason, context: options.context(defaultPurpose: .subjectRequest))
                print("\(grant.id) expires \(isoTime(grant.expiresAt))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a grant at once.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Grant id.") var id: GrantID

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                try await vault.revokeGrant(id, context: options.context(defaultPurpose: .subjectRequest))
                print("revoked \(id)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List grants, newest first.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Only grants to this principal.") var grantee: PrincipalID?
        @Option(name: .long, help: "Only grants on this tenant.") var tenant: TenantID?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let grants = try await vault.grants(grantee: grantee, tenant: tenant, context: options.context(defaultPurpose: .subjectRequest))
                if json { print(try jsonText(grants)); return }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                printTable(header: ["GRANT", "TO", "TENANT", "SUBJECT", "PURPOSE", "EXPIRES", "STATE", "BY", "REASON"], rows: grants.map {
                    [$0.id.rawValue, $0.grantee.rawValue, $0.tenant.rawValue, $0.subject?.rawValue ?? "*", $0.purpose.code, isoTime($0.expiresAt),
                     $0.revokedAt != nil ? "revoked" : ($0.isActive(at: now) ? "active" : "expired"), $0.issuedBy.rawValue, $0.reason]
                })
            }
        }
    }
}
