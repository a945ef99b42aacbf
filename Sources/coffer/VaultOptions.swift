import ArgumentParser
import Coffer
import CofferCrypto
import CofferScaleOut
import Foundation

/// Where the vault is and which keyring opens it.
struct LocationOptions: ParsableArguments {
    @Option(name: .long, help: "Vault directory, or a PostgreSQL URL postgres://USER@HOST[:PORT]/DB[?sslmode=...&schema=...] with the password in PGPASSWORD or passfile= (env COFFER_VAULT; default ./coffer-data).")
    var vault: String?

    @Option(name: .customLong("pii-database"), help: "With a PostgreSQL vault: the PII database's URL, a role of its own; password in COFFER_PII_PGPASSWORD or passfile= (env COFFER_PII_DATABASE).")
    var piiDatabase: String?

    @Option(name: .customLong("object-store"), help: "With a PostgreSQL vault: where segments go, s3://BUCKET[/PREFIX]; endpoint and credentials from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (env COFFER_OBJECT_STORE).")
    var objectStore: String?

    @Option(name: .customLong("location"), help: "With a PostgreSQL vault: another object-store location, NAME=s3://BUCKET[/PREFIX] (repeatable; env COFFER_LOCATIONS, comma-separated); for `tenant add`, a bare NAME pins the tenant there.")
    var locations: [String] = []

    @Option(name: .long, help: "Witness directory outside the vault for the access log's checkpoints: for `init` (default beside the keyring, KEYRING.witness) and `backup restore` (default the one the backup recorded; a new one beside a running vault); with a PostgreSQL vault, this instance's, for every command (env COFFER_WITNESS; default KEYRING.witness/scale-out).")
    var witness: String?

    @Option(name: .long, help: "Keyring file (env COFFER_KEYRING). Required: there is no default keyring.")
    var keyring: String?

    @Flag(name: .customLong("allow-development-keyring"),
          help: "Accept a development keyring, whose keys are public (env COFFER_ALLOW_DEVELOPMENT_KEYRING=1). Demos and tests only.")
    var allowDevelopmentKeyring = false

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    var vaultURL: URL {
        URL(fileURLWithPath: vault ?? environment["COFFER_VAULT"] ?? "./coffer-data")
    }

    /// The vault as given: a directory, or a PostgreSQL URL.
    var vaultName: String { vault ?? environment["COFFER_VAULT"] ?? "./coffer-data" }

    /// True when the vault is on PostgreSQL (and S3-compatible object storage).
    var isScaleOut: Bool { vaultName.hasPrefix("postgres://") || vaultName.hasPrefix("postgresql://") }

    /// The scale-out configuration of a PostgreSQL vault.
    /// - Throws: `CofferError` `invalidArgument` naming what is missing.
    func scaleOutConfiguration() throws -> ScaleOutConfiguration {
        let extra = locations + (environment["COFFER_LOCATIONS"].map { $0.split(separator: ",").map(String.init) } ?? [])
        let defaultWitness = try keyringFile().path + ".witness/scale-out"
        let witness = witness ?? environment["COFFER_WITNESS"] ?? defaultWitness
        return try ScaleOutConfiguration.parse(vault: vaultName, piiDatabase: piiDatabase ?? environment["COFFER_PII_DATABASE"],
                                               objectStore: objectStore ?? environment["COFFER_OBJECT_STORE"], locations: extra,
                                               witness: URL(fileURLWithPath: witness))
    }

    /// True when the caller opted in to a development keyring.
    var developmentKeyringAllowed: Bool {
        allowDevelopmentKeyring || environment["COFFER_ALLOW_DEVELOPMENT_KEYRING"] == "1"
    }

    /// The keyring file named by --keyring or COFFER_KEYRING.
    /// - Throws: ``CofferError`` `keyringUnreadable` when neither names one.
    func keyringFile() throws -> KeyringFile {
        guard let path = keyring ?? environment["COFFER_KEYRING"], !path.isEmpty else {
            throw CofferError(.keyringUnreadable,
                              "no keyring given; pass --keyring FILE or set COFFER_KEYRING (make one with `coffer keys generate --out FILE`)")
        }
        return KeyringFile(path: path)
    }

    /// Opens the vault with its keyring file. The library refuses a development keyring
    /// without the opt-in; with it, a warning goes to stderr.
    func openVault(creator: String? = nil) async throws -> Vault {
        let vault: Vault
        if isScaleOut {
            vault = try await Vault.open(scaleOutConfiguration(), keyringFile: keyringFile(), creator: creator,
                                         allowDevelopmentKeyring: developmentKeyringAllowed)
        } else {
            vault = try Vault.open(at: vaultURL, keyringFile: keyringFile(), allowDevelopmentKeyring: developmentKeyringAllowed)
        }
        warnIfDevelopment(vault)
        OpenVaults.shared.add(vault)
        return vault
    }

    /// Warns on stderr when `vault` runs on a development keyring.
    func warnIfDevelopment(_ vault: Vault) {
        guard vault.keyring.isDevelopment else { return }
        warn("warning: using the development keyring \((try? keyringFile().path) ?? ""); its keys are public. Never put real data under it.")
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


    /// The access context. The purpose comes from --purpose; else from the command's own purpose
    /// (audit commands are for `audit`, key commands for `administration`); else from
    /// COFFER_PURPOSE. Content commands have no purpose of their own: without one they are refused.
    func context(defaultPurpose: Purpose? = nil) throws -> AccessContext {
        let code = purpose ?? (defaultPurpose == nil ? environment["COFFER_PURPOSE"] : nil)
        let purpose = try code.map(Purpose.init(parsing:)) ?? defaultPurpose ?? Purpose(parsing: "")
        return try AccessContext(actor: PrincipalID(actorID), purpose: purpose, justification: justification ?? environment["COFFER_JUSTIFICATION"],
                                 client: "coffer-cli")
    }

    func openVault() async throws -> Vault { try await location.openVault() }
}

/// A progress line on stderr for long transfers, shown only when stderr is a terminal. Updated
/// from the thread doing the transfer, so its state sits behind a lock.
final class ProgressLine: @unchecked Sendable {
    // @unchecked: `bytes` and `lastShown` are touched only with `lock` held.
    private let label: String
    private let enabled = isatty(STDERR_FILENO) == 1
    private let start = ContinuousClock.now
    private let lock = NSLock()
    private var lastShown = ContinuousClock.now
    private var bytes: Int64 = 0

    init(_ label: String) { self.label = label }

    /// Adds `count` bytes to the total.
    func add(_ count: Int) {
        lock.withLock { update(bytes + Int64(count)) }
    }

    /// Sets the total.
    func set(total: Int64) {
        lock.withLock { update(total) }
    }

    private func update(_ total: Int64) {
        bytes = total
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
        lock.withLock {
            guard enabled, bytes > 0 else { return }
            show()
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }
}
