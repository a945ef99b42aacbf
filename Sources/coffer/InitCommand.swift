import ArgumentParser
import Coffer
import CofferCrypto
import Foundation

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a vault and register the operator who ran it as its administrator.")

    @OptionGroup var options: VaultOptions

    @Option(name: .customLong("segment-size"), help: "Ciphertext segment size for new objects (4096 to 67108864).")
    var segmentSize: Int = SegmentLayout.defaultSegmentSize

    @Option(name: .customLong("content-page-size"),
            help: "Page size of content.sqlite, a power of two from 512 to 65536 (default 4096, best for small objects; 16384 for vaults of mostly large objects).")
    var contentPageSize: Int?

    func run() async throws {
        try await runReportingErrors {
            // Vault.create registers the operator as a principal: an id no context could carry
            // (empty, a comma, a control character) would lock everyone out of the new vault.
            try IdentifierRules.validatePrincipal(options.actorID, as: "operator (--actor, COFFER_ACTOR or $USER)")
            if options.location.isScaleOut {
                // The first instance to get here creates the vault; the others find it made.
                let vault = try await options.location.openVault(creator: options.actorID)
                let verifier = try vault.auditVerifierKey
                try vault.close()
                print("vault ready on \(options.location.vaultName.split(separator: "?").first ?? ""); operator '\(options.actorID)' registered as administrator if it was created now")
                print("access log verifier key (keep a copy apart from the vault): \(verifier)")
                return
            }
            let vault = try Vault.create(at: options.vaultURL, keyringFile: options.location.keyringFile(), operator: options.actorID,
                                         segmentSize: segmentSize, allowDevelopmentKeyring: options.location.developmentKeyringAllowed,
                                         witness: options.location.witness.map { URL(fileURLWithPath: $0) }, contentPageSize: contentPageSize)
            options.location.warnIfDevelopment(vault)
            let verifier = try vault.auditVerifierKey
            try vault.close()
            print("created vault \(options.vaultURL.path); operator '\(options.actorID)' registered as administrator")
            print("access log verifier key (keep a copy apart from the vault): \(verifier)")
        }
    }
}
