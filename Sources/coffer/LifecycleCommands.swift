import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

extension Plan: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
}

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Register tenants and follow their lifecycle: plan, closure, retention, usage.",
        subcommands: [Add.self, List.self, Show.self, Close.self, SetPlan.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a tenant on a plan and make its data keys.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Tenant id: lower-case letters, digits, '-', '_', '.'.") var tenant: TenantID
        @Option(name: .long, help: "free (default), team or scale: how long run telemetry is kept.") var plan: Plan = .free

        func run() async throws {
            try await runReportingErrors {
                // `--location NAME` pins the tenant; `--location NAME=s3://...` defines one (VaultOptions).
                let pins = options.location.locations.filter { !$0.contains("=") }
                guard pins.count <= 1 else { throw ValidationError("a tenant is pinned to one location, not \(pins.joined(separator: ", "))") }
                let vault = try await options.openVault()
                try await vault.createTenant(tenant, plan: plan, location: pins.first, context: options.context(defaultPurpose: .administration))
                print("registered tenant \(display(tenant)) on the \(plan) plan" + (pins.first.map { " in location \($0)" } ?? ""))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @OptionGroup var options: VaultOptions

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                for tenant in try await vault.tenants(context: options.context(defaultPurpose: .administration)) {
                    print(display(tenant))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A tenant's plan, status, dates, retention in force, holds, counts and sizes.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Tenant id.") var tenant: TenantID
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let info = try await vault.tenantInfo(tenant, context: options.context(defaultPurpose: .administration))
                if json { print(try jsonText(info)); return }
                print("tenant   \(display(info.id))")
                print("plan     \(info.plan)")
                print("status   \(info.status)\(info.closedAt.map { " since \(isoTime($0))" } ?? "")")
                print("created  \(isoTime(info.createdAt))")
                print("subjects \(info.subjects)")
                print("")
                printTable(header: ["CLASS", "OBJECTS", "VERSIONS", "BYTES"],
                           rows: info.content.map { [$0.dataClass, String($0.objects), String($0.versions), String($0.bytes)] })
                print("")
                printRetention(info.retention)
                print("")
                printHolds(info.holds)
            }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the account's closure, which starts the retention clocks that count from it.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Tenant id.") var tenant: TenantID
        @Option(name: .long, help: "When it closed (RFC 3339 or YYYY-MM-DD, not in the future); now if omitted.") var at: String?

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let time = try at.map(parseTime)
                let closed = try await vault.closeTenant(tenant, at: time, context: options.context(defaultPurpose: .administration))
                print("closed tenant \(display(tenant)) at \(isoTime(closed))")
            }
        }
    }

    struct SetPlan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "plan", abstract: "Move a tenant to another plan.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "Tenant id.") var tenant: TenantID
        @Argument(help: "free, team or scale.") var plan: Plan

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                try await vault.setPlan(plan, tenant: tenant, context: options.context(defaultPurpose: .administration))
                print("tenant \(display(tenant)) is on the \(plan) plan")
            }
        }
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "How long each class of data is kept, and the run that removes what is due.",
        subcommands: [Show.self, Set.self, Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove what is due (admin); --dry-run lists exactly what a real run would remove.")
        @OptionGroup var options: VaultOptions
        @Flag(name: .long, help: "List what is due; remove nothing.") var dryRun = false
        @Option(name: .long, help: "Apply the periods at this date (RFC 3339 or YYYY-MM-DD) instead of now.") var asOf: String?
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let given = try options.context(defaultPurpose: .administration)
                let context = try AccessContext(actor: given.actor, purpose: given.purpose, justification: given.justification ?? "retention run",
                                                client: given.client)
                let report = try await vault.runRetention(asOf: try asOf.map(parseTime), dryRun: dryRun, context: context)
                if json { print(try jsonText(report)); return }
                printTable(header: ["DUE", "TENANT", "CLASS", "WHAT"], rows: report.items.map { item in
                    let what = switch item.kind {
                    case .objectVersions: "\(item.objectID?.rawValue ?? "") versions \(item.versions?.map(String.init).joined(separator: ",") ?? "")"
                    case .identifier: "identifier \(item.identifier ?? "") of \(item.subject?.rawValue ?? "")"
                    case .subject: "subject \(item.subject?.rawValue ?? "")"
                    case .retained: "billing records of \(item.subject?.rawValue ?? "")"
                    }
                    return [isoTime(item.dueAt), item.tenant.rawValue, item.dataClass.code, what]
                })
                for held in report.held { print("held: \(held)") }
                for failure in report.failed { print("failed: \(display(failure))") }
                print("\(report.dryRun ? "would remove" : "removed") \(report.items.count) items as of \(isoTime(report.asOf))")
                if !report.failed.isEmpty { throw ExitCode(1) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The retention in force for a tenant, or the policies' defaults.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Tenant id; without it, the defaults (for --plan).") var tenant: TenantID?
        @Option(name: .long, help: "The plan whose defaults to show without --tenant (free unless told).") var plan: Plan = .free
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let rules = if let tenant {
                    try await vault.retention(tenant: tenant, context: options.context(defaultPurpose: .administration))
                } else {
                    try await vault.defaultRetention(plan: plan)
                }
                if json { print(try jsonText(rules)); return }
                printRetention(rules)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a tenant's retention for one content class.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Tenant id.") var tenant: TenantID
        @Option(name: .long, help: "A content class: \(ObjectKind.all.map(\.code).joined(separator: ", ")).") var `class`: String
        @Option(name: .long, help: "Days to keep it, counted from the class's clock.") var days: Int

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let dataClass = try RetentionClass(parsing: self.class)
                try await vault.setRetention(tenant: tenant, dataClass: dataClass, days: days,
                                             context: options.context(defaultPurpose: .administration))
                print("tenant \(display(tenant)) keeps \(dataClass) \(days) days")
            }
        }
    }
}

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Legal holds: nothing held is purged or erased (privacy officer, purpose legal).",
        subcommands: [Place.self, Lift.self, List.self])

    struct Place: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Place a hold on a tenant or one of its subjects.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "Tenant id.") var tenant: TenantID
        @Option(name: .long, help: "A subject of that tenant; omit to hold the whole tenant.") var subject: SubjectID?
        @Option(name: .long, help: "Why: a matter or case reference (no personal data).") var reason: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let hold = try await vault.placeHold(tenant: tenant, subject: subject, reason: reason, context: options.context(defaultPurpose: .legal))
                print("\(hold.id) holds \(hold.subject.map { "subject \(display($0)) of " } ?? "")tenant \(display(hold.tenant))")
            }
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a hold.")
        @OptionGroup var options: VaultOptions
        @Argument(help: "The hold's id.") var id: String

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let hold = try await vault.liftHold(id, context: options.context(defaultPurpose: .legal))
                print("lifted \(hold.id)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Holds in force (and, with --all, lifted ones).")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "One tenant only.") var tenant: TenantID?
        @Flag(name: .long, help: "Also holds lifted since.") var all = false
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let holds = try await vault.holds(tenant: tenant, includeLifted: all, context: options.context(defaultPurpose: .legal))
                if json { print(try jsonText(holds)); return }
                printHolds(holds)
            }
        }
    }
}

/// The retention table of `tenant show` and `retention show`.
func printRetention(_ rules: [RetentionRule]) {
    printTable(header: ["CLASS", "KEPT", "FROM", "SOURCE", "PROMISE"], rows: rules.map { rule in
        [rule.dataClass.code, rule.days.map { "\($0) days" } ?? "no limit", rule.clock.rawValue, rule.source.rawValue, rule.promise]
    })
}

/// The holds table of `tenant show` and `hold list`.
func printHolds(_ holds: [LegalHold]) {
    printTable(header: ["HOLD", "TENANT", "SUBJECT", "PLACED", "BY", "LIFTED", "REASON"], rows: holds.map { hold in
        [hold.id, hold.tenant.rawValue, hold.subject?.rawValue ?? "-", isoTime(hold.placedAt), hold.placedBy.rawValue,
         hold.liftedAt.map(isoTime) ?? "-", hold.reason]
    })
}
