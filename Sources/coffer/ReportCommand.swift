import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Aggregate reports from metadata and the log's counts (reporting role).", subcommands: [Usage.self])

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per tenant: objects, versions and bytes per class, subjects, and operations per action and class in a period.")
        @OptionGroup var options: VaultOptions
        @Option(name: .long, help: "One tenant only.") var tenant: TenantID?
        @Option(name: .long, help: "Start of the period of the operation counts (RFC 3339 or YYYY-MM-DD).") var from: String?
        @Option(name: .long, help: "End of the period (exclusive); now if omitted.") var to: String?
        @Flag(name: .long, help: "Print JSON.") var json = false
        @Flag(name: .long, help: "Print CSV (one row per figure).") var csv = false

        func validate() throws {
            if json && csv { throw ValidationError("--json and --csv exclude each other") }
        }

        func run() async throws {
            try await runReportingErrors {
                let vault = try await options.openVault()
                let report = try await vault.usageReport(tenant: tenant, from: try from.map(parseTime), to: try to.map(parseTime),
                                                         context: options.context(defaultPurpose: .audit))
                if json { print(try jsonText(report)); return }
                if csv {
                    print("tenant,plan,figure,class,action,objects,versions,bytes,count")
                    for row in report.tenants {
                        print("\(row.id),\(row.plan),subjects,,,,,,\(row.subjects)")
                        for usage in row.content {
                            print("\(row.id),\(row.plan),content,\(usage.dataClass),,\(usage.objects),\(usage.versions),\(usage.bytes),")
                        }
                        for operation in row.operations {
                            print("\(row.id),\(row.plan),operations,\(operation.dataClass),\(operation.action),,,\(operation.bytes),\(operation.count)")
                        }
                    }
                    return
                }
                print("operations from \(isoTime(report.from)) to \(isoTime(report.to))")
                printTable(header: ["TENANT", "PLAN", "SUBJECTS", "CLASS", "OBJECTS", "VERSIONS", "BYTES"], rows: report.tenants.flatMap { row in
                    [[row.id.rawValue, row.plan.rawValue, String(row.subjects), "-", "-", "-", "-"]]
                        + row.content.map { [row.id.rawValue, row.plan.rawValue, "", $0.dataClass, String($0.objects), String($0.versions), String($0.bytes)] }
                })
                print("")
                printTable(header: ["TENANT", "ACTION", "CLASS", "COUNT", "BYTES"], rows: report.tenants.flatMap { row in
                    row.operations.map { [row.id.rawValue, $0.action, $0.dataClass, String($0.count), String($0.bytes)] }
                })
            }
        }
    }
}
