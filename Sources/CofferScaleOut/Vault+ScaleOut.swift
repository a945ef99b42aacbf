import Coffer
import CofferCrypto
import CofferObjectStore
import CofferPostgres
import CofferSQL
import Foundation
import Logging

extension Vault {
    /// Opens a vault on PostgreSQL and S3-compatible object storage, shared with every other
    /// instance opened on the same configuration; creates it on first use when `creator` is given.
    /// The library API is the same as on the embedded default.
    /// - Parameters:
    ///   - configuration: The databases, object stores and witness.
    ///   - keyringFile: The vault's keyring (reloaded when another process rotates it).
    ///   - creator: The operator who creates the vault if there is none yet (nil: it must exist).
    ///   - allowDevelopmentKeyring: Accept a development keyring (its keys are public).
    /// - Throws: `CofferError` `accessDenied` or `storage` for a database or store that refuses or
    ///   cannot be reached, `notFound` for no vault without a creator, and the keyring errors of
    ///   ``Vault/open(at:keyringFile:allowDevelopmentKeyring:logger:)``.
    public static func open(_ configuration: ScaleOutConfiguration, keyringFile: KeyringFile, creator: String? = nil,
                            allowDevelopmentKeyring: Bool = false, logger: Logger = Logger(label: "coffer")) async throws -> Vault {
        let keyring = try keyringFile.load()
        return try await open(configuration, keyring: keyring, keyringFile: keyringFile, creator: creator,
                              segmentSize: SegmentLayout.defaultSegmentSize, allowDevelopmentKeyring: allowDevelopmentKeyring, logger: logger)
    }

    /// ``open(_:keyringFile:creator:allowDevelopmentKeyring:logger:)`` with a keyring held in memory.
    /// - Parameter segmentSize: Ciphertext segment size of a vault created now (default 1 MiB).
    public static func open(_ configuration: ScaleOutConfiguration, keyring: Keyring, creator: String? = nil,
                            segmentSize: Int = SegmentLayout.defaultSegmentSize, allowDevelopmentKeyring: Bool = false,
                            logger: Logger = Logger(label: "coffer")) async throws -> Vault {
        try await open(configuration, keyring: keyring, keyringFile: nil, creator: creator, segmentSize: segmentSize,
                       allowDevelopmentKeyring: allowDevelopmentKeyring, logger: logger)
    }

    private static func open(_ configuration: ScaleOutConfiguration, keyring: Keyring, keyringFile: KeyringFile?, creator: String?,
                             segmentSize: Int, allowDevelopmentKeyring: Bool, logger: Logger) async throws -> Vault {
        let databases = try await PostgresVaultDatabases.open(main: configuration.database, pii: configuration.piiDatabase,
                                                              connections: configuration.connectionsPerDatabase, logger: logger)
        do {
            var stores: [String: S3ObjectStore] = [:]
            for (name, location) in configuration.locations {
                let store = try S3ObjectStore(location: location, credentials: configuration.credentials, retry: configuration.retry)
                // `init` makes the buckets it needs (one that exists already is fine).
                if creator != nil { try await store.createBucket() }
                stores[name] = store
            }
            let control = databases.control
            let residency = TenantLocations(control: control)
            let segments = S3SegmentStore(catalog: databases.content, locations: stores, location: { try residency.location(of: $0) })
            let collector = S3SegmentCollector(catalog: databases.content, store: segments, staleAfter: configuration.abandonedAfter,
                                                grace: configuration.collectionGrace)
            let writers = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-writers-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: writers, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let storage = VaultStorage(control: control, content: databases.content, pii: databases.pii, segments: segments,
                                       writersDirectory: writers, locations: Set(stores.keys), collect: { _ = try collector.collect() })
            let name = URL(string: configuration.database.description) ?? URL(fileURLWithPath: "/")
            let audit = databases.audit
            return try await Task.detached {
                try Vault.open(storage: storage, audit: audit, name: name, keyring: keyring, keyringFile: keyringFile, creator: creator,
                               segmentSize: segmentSize, allowDevelopmentKeyring: allowDevelopmentKeyring, witness: configuration.witness, logger: logger)
            }.value
        } catch {
            databases.close()
            throw error
        }
    }
}

/// The location of each tenant's segments (`tenant.location`, nil: `default`), read once per
/// tenant: a tenant's location never changes.
final class TenantLocations: @unchecked Sendable {
    // @unchecked: `known` is touched only with `lock` held.
    private let control: any SQLDatabase
    private let lock = NSLock()
    private var known: [String: String] = [:]

    init(control: any SQLDatabase) {
        self.control = control
    }

    func location(of tenant: TenantID) throws -> String {
        if let found = lock.withLock({ known[tenant.rawValue] }) { return found }
        let stored = try control.read { db in
            try db.fetchOne(sql: "SELECT location FROM tenant WHERE id = ?", arguments: [tenant.rawValue])
        }
        guard let stored else { throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'") }
        let name = try stored.storedIfPresent("location", in: "tenant", as: String.self) ?? "default"
        lock.withLock { known[tenant.rawValue] = name }
        return name
    }
}
