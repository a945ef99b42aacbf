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
        subcommands: [Add.self, List.self, Remove.self, Pending.self, Approve.self])

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
                let vault = try options.openVault()
                let roles = try self.roles.map(Role.init(parsing:))
                let pending = try await vault.addPrincipal(id, roles: roles, tenants: tenants.isEmpty ? nil : tenants,
                                                           context: options.context(defaultPurpose: .administration))
                if let pending {
                    print("principal \(display(id)) awaits a second admin's approval: coffer principal approve \(pending.changeID)")
                } else {
                    print("added principal \(display(id)) with roles \(roles.map(\.code).joined(separator: ", "))")
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
                let vault = try options.openVault()
                let all = try await vault.principals(context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(all)); return }
                printTable(header: ["PRINCIPAL", "ROLES", "TENANTS", "CREATED", "BY"], rows: all.map {
                    [$0.id.rawValue, $0.roles.map(\.code).joined(separator: ","), $0.tenants?.map(\.rawValue).joined(separator: ",") ?? "*", isoTime($0.createdAt), $0.createdBy.rawValue]
                })
            }
        }
    }

    struct Pending: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List principals waiting for a second admin's approval.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                let pending = try await vault.pendingPrincipals(context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(pending)); return }
                printTable(header: ["CHANGE", "PRINCIPAL", "ROLES", "TENANTS", "REQUESTED", "BY"], rows: pending.map {
                    [$0.changeID, $0.id.rawValue, $0.roles.map(\.code).joined(separator: ","),
                     $0.tenants?.map(\.rawValue).joined(separator: ",") ?? "*", isoTime($0.requestedAt), $0.requestedBy.rawValue]
                })
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a pending principal (a second, different admin).")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The change id (see `coffer principal pending`).") var change: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                try await vault.approvePrincipal(change, context: options.context(defaultPurpose: .administration))
                print("approved \(display(change))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a principal.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Principal id.") var id: PrincipalID

        func run() async throws {
            try await runReportingErrors {
                let vault = try options.openVault()
                try await vault.removePrincipal(id, context: options.context(defaultPurpose: .administration))
                print("removed principal \(id)")
            }
        }
    }
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
                let vault = try options.openVault()
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
                let vault = try options.openVault()
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
                let vault = try options.openVault()
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
