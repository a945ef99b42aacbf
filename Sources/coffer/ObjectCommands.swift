import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Store a file (or standard input) as a new version of an object; prints its id and version.")

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: "Tenant id.") var tenant: TenantID
    @Option(name: .long, help: "Kind: \(ObjectKind.all.map(\.code).joined(separator: ", ")).") var kind: String
    @Option(name: .long, help: "Object name within the tenant and kind.") var name: String
    @Argument(help: "File to store, or - for standard input (the default).") var file: String = "-"

    func run() async throws {
        try await runReportingErrors {
            let kind = try ObjectKind(parsing: kind)
            let vault = try await options.openVault()
            let context = try options.context()
            var fd = STDIN_FILENO
            if file != "-" {
                fd = open(file, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw CofferError(.io, "cannot open \(file): \(String(cString: strerror(errno)))") }
            }
            defer { if fd != STDIN_FILENO { close(fd) } }
            // Small input is one transaction (Vault.put); larger goes through a writer, the
            // bytes read so far first.
            let head = try await Self.readHead(fd, limit: Vault.oneTransactionPutLimit)
            if head.count <= Vault.oneTransactionPutLimit {
                let (objectID, version) = try await vault.put(tenant: tenant, kind: kind, name: name, bytes: head, context: context)
                print("\(objectID) \(version.version)")
                return
            }
            let writer = try await vault.makeWriter(tenant: tenant, kind: kind, name: name, context: context)
            let progress = ProgressLine("put")
            try await writer.write(head)
            let offset = Int64(head.count)
            try await writer.write(readingFrom: fd) { total in progress.set(total: offset + total) }
            let version = try await writer.commit()
            progress.finish()
            print("\(writer.objectID) \(version.version)")
        }
    }
}

extension PutCommand {
    /// Up to `limit + 1` bytes of `fd`, read on the blocking pool (fewer: the input ended).
    static func readHead(_ fd: Int32, limit: Int) async throws -> [UInt8] {
        try await BlockingPool.shared.run {
            var head = [UInt8](repeating: 0, count: limit + 1)
            let n = try head.withUnsafeMutableBytes { try FileDescriptorIO.readFully(fd, into: $0) }
            head.removeLast(head.count - n)
            return head
        }
    }
}

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Write an object's content (or a byte range of it) to standard output or a file.")

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: "Tenant id.") var tenant: TenantID
    @Argument(help: "Object id.") var id: ObjectID
    @Option(name: .long, help: "Version (default: the newest).") var version: Int?
    @Option(name: .long, help: "Byte range START-END, END inclusive (like HTTP ranges).") var range: String?
    @Option(name: .long, help: "Output file (appears only when complete).") var out: String?

    /// `--range START-END`: two decimal numbers (digits only, no sign or spaces), START <= END.
    func parsedRange() throws -> ClosedRange<Int64>? {
        guard let range else { return nil }
        let parts = range.split(separator: "-", omittingEmptySubsequences: false)
        func number(_ part: Substring) -> Int64? {
            guard !part.isEmpty, part.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
            return Int64(part)
        }
        guard parts.count == 2, let start = number(parts[0]), let end = number(parts[1]), end >= start else {
            throw CofferError(.invalidArgument, "--range must be START-END in decimal digits with START <= END, e.g. 0-1023 (END inclusive)")
        }
        return start...end
    }

    func run() async throws {
        try await runReportingErrors {
            let range = try parsedRange()
            let vault = try await options.openVault()
            let context = try options.context()
            let file = try out.map(AtomicOutputFile.init(path:))
            let fd = file?.fd ?? STDOUT_FILENO
            let progress = ProgressLine("get")
            do {
                try await vault.read(tenant: tenant, objectID: id, version: version, range: range, context: context) { bytes in
                    try FileDescriptorIO.writeAll(fd, bytes)
                    progress.add(bytes.count)
                }
                progress.finish()
                try file?.commit()
            } catch {
                file?.discard()
                throw error
            }
        }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a tenant's objects, newest first.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: "Tenant id.") var tenant: TenantID
    @Option(name: .long, help: "Only this kind.") var kind: String?
    @Option(name: .long, help: "Objects per page (1-1000).") var limit: Int = 100
    @Option(name: .long, help: "Continue from this cursor (printed after a full page).") var cursor: String?
    @Option(name: .long, help: "table or json.") var format: Format = .table

    func run() async throws {
        try await runReportingErrors {
            let vault = try await options.openVault()
            let filter = ObjectFilter(kind: try kind.map(ObjectKind.init(parsing:)), limit: limit, cursor: cursor)
            let page = try await vault.list(tenant: tenant, filter: filter, context: options.context())
            switch format {
            case .json:
                print(try jsonText(page))
            case .table:
                let rows = page.objects.map { o in
                    [o.id.rawValue, o.kind.code, String(o.latestVersion), String(o.latest?.size ?? 0), isoTime(o.updatedAt), o.name]
                }
                printTable(header: ["ID", "KIND", "VERSION", "SIZE", "UPDATED", "NAME"], rows: rows)
                if let next = page.nextCursor { print("more: --cursor \(next)") }
            }
        }
    }
}

struct StatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show an object's details and versions.")

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: "Tenant id.") var tenant: TenantID
    @Argument(help: "Object id.") var id: ObjectID
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        try await runReportingErrors {
            let vault = try await options.openVault()
            let info = try await vault.stat(tenant: tenant, objectID: id, context: options.context())
            if json { print(try jsonText(info)); return }
            print("id       \(display(info.id))\ntenant   \(display(info.tenant))\nkind     \(info.kind)\nname     \(display(info.name))")
            print("created  \(isoTime(info.createdAt))\nupdated  \(isoTime(info.updatedAt))")
            printTable(header: ["VERSION", "SIZE", "STORED", "SEGMENT", "COMMITTED", "DIGEST (HMAC-SHA256)"],
                       rows: info.versions.map { v in
                           [String(v.version), String(v.size), String(v.storedSize), String(v.segmentSize), isoTime(v.createdAt), v.digest]
                       })
        }
    }
}

struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete an object, or one version of it.")

    @OptionGroup var options: VaultOptions
    @Option(name: .long, help: "Tenant id.") var tenant: TenantID
    @Argument(help: "Object id.") var id: ObjectID
    @Option(name: .long, help: "Delete only this version.") var version: Int?

    func run() async throws {
        try await runReportingErrors {
            let vault = try await options.openVault()
            let outcome = try await vault.delete(tenant: tenant, objectID: id, version: version, context: options.context())
            let what = version.map { "\(id) version \($0)" } ?? id.rawValue
            // A reader in another process may hold the WAL for a moment: retry for a few
            // seconds before saying where the ciphertext still is.
            let maintenance = vault.makeMaintenance()
            var cleared = outcome.ciphertextCleared
            for _ in 0..<8 where !cleared {
                try await Task.sleep(for: .milliseconds(125))
                cleared = await maintenance.runOnce().walsCleared
            }
            if cleared {
                print("deleted \(what); its ciphertext is gone from content.sqlite and its WAL")
            } else {
                print("deleted \(what); a reader still holds the WAL, so the old ciphertext stays in content.sqlite and its WAL until Coffer's next checkpoint (the next delete, close or open of the vault retries it)")
            }
        }
    }
}
