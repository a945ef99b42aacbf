import ArgumentParser
import Coffer
import Foundation

/// Where the vault is and which keyring opens it.
struct LocationOptions: ParsableArguments {
    static let developmentKeyring = "keys-example/development-keyring.json"

    @Option(name: .long, help: "Vault directory (env COFFER_VAULT; default ./coffer-data).")
    var vault: String?

    @Option(name: .long, help: "Keyring file (env COFFER_KEYRING; default the development keyring in keys-example/, with a warning).")
    var keyring: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    var vaultURL: URL {
        URL(fileURLWithPath: vault ?? environment["COFFER_VAULT"] ?? "./coffer-data")
    }

    /// Loads the keyring, warning on stderr when it is the development keyring.
    func loadKeyring() throws -> (keyring: Keyring, path: String) {
        let path = keyring ?? environment["COFFER_KEYRING"] ?? Self.developmentKeyring
        let loaded = try Keyring.load(from: path)
        if loaded.isDevelopment {
            warn("warning: using the development keyring \(path); its keys are public. Use --keyring or COFFER_KEYRING for real data.")
        }
        return (loaded, path)
    }

    func openVault() throws -> Vault {
        try Vault.open(at: vaultURL, keyring: loadKeyring().keyring)
    }
}

/// Options every vault command shares: where the vault is, which keyring opens it, and the
/// access context (actor and purpose) of the operation.
struct VaultOptions: ParsableArguments {
    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: "Principal id of the caller (env COFFER_ACTOR; default $USER).")
    var actor: String?

    @Option(name: .long, help: "Purpose of the access (env COFFER_PURPOSE): service-operation, customer-request, support, security-investigation, legal, subject-request, administration, audit.")
    var purpose: String?

    @Option(name: .long, help: "Justification of the access (free text; required for PII; env COFFER_JUSTIFICATION).")
    var justification: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    var vaultURL: URL { location.vaultURL }

    var actorID: String {
        actor ?? environment["COFFER_ACTOR"] ?? environment["USER"] ?? "operator"
    }

    func loadKeyring() throws -> (keyring: Keyring, path: String) { try location.loadKeyring() }

    /// The access context. The purpose comes from --purpose; else from the command's own purpose
    /// (audit commands are for `audit`, key commands for `administration`); else from
    /// COFFER_PURPOSE. Content commands have no purpose of their own: without one they are refused.
    func context(defaultPurpose: Purpose? = nil) throws -> AccessContext {
        let code = purpose ?? (defaultPurpose == nil ? environment["COFFER_PURPOSE"] : nil)
        let purpose = try code.map(Purpose.init(parsing:)) ?? defaultPurpose ?? Purpose(parsing: "")
        return try AccessContext(actor: actorID, purpose: purpose, justification: justification ?? environment["COFFER_JUSTIFICATION"],
                                 client: "coffer-cli")
    }

    func openVault() throws -> Vault { try location.openVault() }
}

/// A progress line on stderr for long transfers, shown only when stderr is a terminal.
final class ProgressLine {
    private let label: String
    private let enabled = isatty(STDERR_FILENO) == 1
    private let start = ContinuousClock.now
    private var lastShown = ContinuousClock.now
    private(set) var bytes: Int64 = 0

    init(_ label: String) { self.label = label }

    func add(_ count: Int) {
        bytes += Int64(count)
        guard enabled, ContinuousClock.now - lastShown > .milliseconds(250) else { return }
        lastShown = ContinuousClock.now
        show()
    }

    private func show() {
        let elapsed = Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - start).components.seconds)
        let mib = Double(bytes) / 1_048_576
        let line = String(format: "\r%@ %.1f MiB (%.0f MiB/s)   ", label, mib, elapsed > 0 ? mib / elapsed : 0)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled, bytes > 0 else { return }
        show()
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
