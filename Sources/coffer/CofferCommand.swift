import ArgumentParser
import Coffer
import CofferCrypto
import Foundation
import Synchronization

@main
struct CofferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coffer",
        abstract: "Coffer: an embeddable encrypted vault for customer content and PII.",
        discussion: "See docs/ for the format, the keyring and the architecture.",
        subcommands: [InitCommand.self, TenantCommand.self, PutCommand.self, GetCommand.self, ListCommand.self,
                      StatCommand.self, RemoveCommand.self, PIICommand.self, PrincipalCommand.self, GrantCommand.self, AuditCommand.self,
                      RetentionCommand.self, HoldCommand.self, DSRCommand.self, BackupCommand.self, ReportCommand.self,
                      KeysCommand.self, CryptoCommand.self, BenchCommand.self, MigrateCommand.self]
    )

    /// Refuses arguments that are not valid UTF-8 (``RawArguments``), then parses and runs.
    static func main() async {
        RawArguments.refuseInvalidUTF8()
        await main(nil)
    }
}

/// Runs a command body, turning a ``CofferError`` into one line on stderr and a non-zero exit.
/// The message is escaped (``display(_:)``): it may quote a path or value from the caller.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        defer { OpenVaults.shared.closeAll() }
        try await body()
    } catch let error as CofferError {
        FileHandle.standardError.write(Data("coffer: error [\(error.code)]: \(display(error.message))\n".utf8))
        let tampered: Set<CofferError.Code> = [.authenticationFailed, .tamperDetected, .truncated, .invalidFormat]
        throw ExitCode(tampered.contains(error.code) ? 3 : 1)
    }
}

/// The synchronous twin of ``runReportingErrors(_:)``, for commands that must run on their own
/// thread rather than on Swift concurrency's cooperative pool (CPU-bound parallel work).
func runReportingErrorsSync(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CofferError {
        FileHandle.standardError.write(Data("coffer: error [\(error.code)]: \(display(error.message))\n".utf8))
        let tampered: Set<CofferError.Code> = [.authenticationFailed, .tamperDetected, .truncated, .invalidFormat]
        throw ExitCode(tampered.contains(error.code) ? 3 : 1)
    }
}

/// Writes a line to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("coffer: \(message)\n".utf8))
}

/// The vaults a command opened, closed when it ends (success or failure): closing signs a
/// checkpoint of the access log, so its witness holds the log's size after every command.
final class OpenVaults: Sendable {
    static let shared = OpenVaults()
    private let vaults = Mutex<[Vault]>([])

    /// Registers a vault to close when the command ends.
    func add(_ vault: Vault) { vaults.withLock { $0.append(vault) } }

    /// Closes every registered vault, reporting a failure on stderr (the command's own result
    /// stands: what it did is already durable in the vault and its log).
    func closeAll() {
        for vault in vaults.withLock({ let all = $0; $0 = []; return all }) {
            do { try vault.close() } catch {
                FileHandle.standardError.write(Data("coffer: warning: closing the vault failed: \(display("\(error)"))\n".utf8))
            }
        }
    }
}
