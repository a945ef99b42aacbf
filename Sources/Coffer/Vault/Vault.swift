import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging
import Synchronization

/// An open vault: a directory of separate SQLite files and the keyring that unlocks them.
///
/// - `control.sqlite`: tenants, wrapped data keys (content classes and data subjects), principals
///   and grants;
/// - `content.sqlite`: customer content as Tink-format ciphertext, one segment per row;
/// - `pii.sqlite`: data subjects, every field sealed under the subject's own key;
/// - `audit.sqlite`: the tamper-evident access log;
/// - `writers/`: one lock file per put in progress, so a crashed writer's leftovers are found.
///
/// Every operation takes an ``AccessContext``, is decided by policy, and is recorded in the access
/// log before any data leaves or changes. All methods are safe to call from any task.
public final class Vault: Sendable {
    /// The vault directory.
    public let directory: URL
    /// The keyring in use (reloaded when another process rotates the vault's keys).
    public var keyring: Keyring { keys.keyring }
    // The subsystems. Each public method checks its identifiers, decides and records the access
    // through the gate (`guarded`), and leaves the work to one of them.
    /// The key manager: keyring, wrapped keys, rotation.
    let keys: KeyManager
    /// The content store: objects, versions and their segments (`content.sqlite`).
    let contentStore: ContentStore
    /// The PII vault: data subjects, their sealed fields and the blind index (`pii.sqlite`).
    let people: People
    /// Principals, grants and the tenant registry.
    let administration: AccessAdministration
    /// Tenants' plans and closures, retention settings, legal holds.
    let lifecycle: LifecycleStore
    /// The access log: the log file, its group committer, whether accesses are recorded.
    package let accessLog: AccessLog

    /// Where the vault's data is: its SQLite files, or its PostgreSQL databases and object stores.
    package let storage: VaultStorage
    /// Set by the first ``close()``; later calls do nothing.
    private let closed = Mutex(false)
    /// Empties WALs after deletes, corrections and rotations, retrying while readers hold them.
    let janitor: WALJanitor
    let logger: Logger
    /// The memory all writers' batch buffers hold together (``configureWriterMemory(_:)``).
    let writerBudget = MemoryBudget(capacity: Vault.defaultWriterMemory)

    /// File names inside the vault directory.
    enum FileName {
        static let control = "control.sqlite"
        static let content = "content.sqlite"
        static let audit = "audit.sqlite"
        static let pii = "pii.sqlite"
        static let writers = "writers"
        /// Every database file; `init` refuses a directory holding any of them (or their WALs).
        static let databases = [control, content, audit, pii]
    }

    /// Tuning of the content file: 4 KiB pages, chosen by measurement (docs/benchmarks.md,
    /// "2026-12-04 (afternoon)", `scripts/bench-page-size.sh`): a small put is one transaction
    /// that writes every page it touches (about fourteen, in the catalog's tables and indexes and
    /// the outbox) to the WAL and syncs them, so its cost follows the page size (4 KiB pages:
    /// 30-60% more audited puts than 16 KiB), while a 1 MiB segment over 4 KiB pages streams
    /// about a quarter slower (still above the large-object goals). A small page cache, because
    /// segments stream through once and memory must stay bounded. (SQLite fixes the page size
    /// when a file is made: older vaults keep theirs, 16 or 64 KiB.)
    static let contentTuning = VaultDatabase.Tuning(pageSize: 4096, cacheKiB: 4 * 1024, mmapSize: 0)
    static let controlTuning = VaultDatabase.Tuning(pageSize: 4096, cacheKiB: 2 * 1024, mmapSize: 0)

    init(directory: URL, keys: KeyManager, storage: VaultStorage, audit: AuditLog, auditing: Bool, logger: Logger, segmentSize: Int) {
        self.directory = directory
        self.keys = keys
        self.storage = storage
        // On the embedded engine a small put's record commits in the put's own transaction.
        let outbox = storage.files.flatMap { files in storage.contentCommits.map { AuditOutbox(pool: files.content, commits: $0) } }
        self.accessLog = AccessLog(log: audit, auditing: auditing, outbox: outbox)
        // Principals are cached where every writer of control.sqlite announces its changes.
        let stamp = storage.files.flatMap { files in PrincipalStamp.observing(files.control, in: directory) }
        self.administration = AccessAdministration(pool: storage.control, principalStamp: stamp)
        self.lifecycle = LifecycleStore(pool: storage.control)
        self.logger = logger
        if let files = storage.files {
            janitor = WALJanitor(control: files.control, content: files.content, pii: files.pii, logger: logger)
        } else {
            janitor = WALJanitor(nothingToDo: logger)
        }
        self.people = People(pool: storage.pii, keys: keys, janitor: janitor)
        self.contentStore = ContentStore(catalog: storage.content, segments: storage.segments, segmentSize: segmentSize,
                                         writersDirectory: storage.writersDirectory, keys: keys, administration: administration,
                                         janitor: janitor, logger: logger, writerLocksAreShared: storage.writerLocksAreShared)
    }

    /// The vault's background work as a `Service` for a swift-service-lifecycle `ServiceGroup`:
    /// retrying WAL truncations, removing dead writers' leftovers, signing log checkpoints.
    /// - Parameter interval: Time between passes (default one minute).
    /// - Returns: The service; run one per vault.
    public func makeMaintenance(interval: Duration = .seconds(60)) -> VaultMaintenance {
        let audit = accessLog.log
        return VaultMaintenance(interval: interval, janitor: janitor, removeAbandonedWrites: {
            let removed = try self.contentStore.removeAbandonedWrites()
            try self.storage.collect?()
            return removed
        },
                                signCheckpoint: { try audit.checkpointIfBehind() }, logger: logger)
    }

    /// Creates a new vault whose keyring is a file, and registers the operator who made it as
    /// its first administrator. The file is reloaded when another process changes it, and key
    /// rotation (``rotateKeys(context:)``) saves new keys to it under its lock.
    /// - Parameters:
    ///   - directory: Where to create it (made with mode 0700 if missing; must hold no vault files).
    ///   - keyringFile: The keyring whose active KEK wraps the vault's data keys.
    ///   - operatorID: The principal id of the person or service creating it.
    ///   - segmentSize: Ciphertext segment size for new objects (default 1 MiB).
    ///   - allowDevelopmentKeyring: Accept a development keyring (its keys are public): only for
    ///     demos and tests.
    ///   - witness: Where every checkpoint of the access log is also written, outside the vault
    ///     (default: beside the keyring file, ``defaultWitness(for:vault:)``); it must hold no
    ///     checkpoint yet.
    ///   - logger: Where Coffer logs (debug and trace only; never secrets).
    ///   - contentPageSize: The page size of `content.sqlite`, a power of two from 512 to 65536
    ///     (nil: 4096, best for small objects; 16384 streams large objects about a third faster
    ///     and makes small puts about a third slower: docs/benchmarks.md, the page-size curve).
    ///     Fixed once the vault exists.
    /// - Returns: The open vault.
    /// - Throws: `CofferError` `alreadyExists`, `keyringInsecure` (a development keyring
    ///   without the opt-in), keyring loading errors, `invalidArgument`, `storage`, `io`.
    public static func create(at directory: URL, keyringFile: KeyringFile, operator operatorID: String,
                              segmentSize: Int = SegmentLayout.defaultSegmentSize, allowDevelopmentKeyring: Bool = false,
                              witness: URL? = nil, logger: Logger = Logger(label: "coffer"), contentPageSize: Int? = nil) throws -> Vault {
        try create(at: directory, keyring: keyringFile.load(), source: .file(keyringFile), operator: operatorID,
                   segmentSize: segmentSize, allowDevelopmentKeyring: allowDevelopmentKeyring,
                   witness: witness ?? defaultWitness(for: keyringFile, vault: directory), logger: logger, contentPageSize: contentPageSize)
    }

    /// The witness directory a vault keyed by `keyringFile` uses unless told otherwise: beside
    /// the keyring, `<keyring file>.witness/<first 16 hex digits of SHA-256 of the vault's
    /// absolute path>`. Opening such a vault checks it even when the vault's own record of its
    /// witness is gone.
    /// - Parameters:
    ///   - keyringFile: The vault's keyring file.
    ///   - vault: The vault directory.
    /// - Returns: The directory.
    public static func defaultWitness(for keyringFile: KeyringFile, vault: URL) -> URL {
        let path = vault.standardizedFileURL.path
        let name = Array(((try? SHA256.hash(Array(path.utf8))) ?? []).prefix(8)).hexString
        return URL(fileURLWithPath: keyringFile.path + ".witness").appendingPathComponent(name)
    }

    /// Creates a new vault whose keyring the caller holds in memory, and registers the operator
    /// who made it as its first administrator.
    /// - Parameters:
    ///   - directory: Where to create it (made with mode 0700 if missing; must hold no vault files).
    ///   - keyring: The keyring whose active KEK wraps the vault's data keys.
    ///   - operatorID: The principal id of the person or service creating it.
    ///   - segmentSize: Ciphertext segment size for new objects (default 1 MiB).
    ///   - allowDevelopmentKeyring: Accept a development keyring (its keys are public).
    ///   - witness: Where every checkpoint of the access log is also written, outside the vault
    ///     (nil: the log is not witnessed, and only stored and exported checkpoints protect it).
    ///   - logger: Where Coffer logs (debug and trace only; never secrets).
    /// - Returns: The open vault.
    /// - Throws: `CofferError` `alreadyExists`, `keyringInsecure`, `invalidArgument`, `storage`, `io`.
    public static func create(at directory: URL, keyring: Keyring, operator operatorID: String,
                              segmentSize: Int = SegmentLayout.defaultSegmentSize, allowDevelopmentKeyring: Bool = false,
                              witness: URL? = nil, logger: Logger = Logger(label: "coffer")) throws -> Vault {
        try create(at: directory, keyring: keyring, source: .memory, operator: operatorID, segmentSize: segmentSize,
                   allowDevelopmentKeyring: allowDevelopmentKeyring, witness: witness, logger: logger)
    }

    /// ``create(at:keyring:operator:segmentSize:allowDevelopmentKeyring:witness:logger:)`` with
    /// `content.sqlite` made with pages of `contentPageSize` bytes (nil: the default) instead of the
    /// default's, for the benchmarks that chose that default (docs/benchmarks.md).
    package static func create(at directory: URL, keyring: Keyring, operator operatorID: String, segmentSize: Int,
                               contentPageSize: Int?, logger: Logger = Logger(label: "coffer")) throws -> Vault {
        try create(at: directory, keyring: keyring, source: .memory, operator: operatorID, segmentSize: segmentSize,
                   allowDevelopmentKeyring: false, witness: nil, logger: logger, contentPageSize: contentPageSize)
    }

    private static func create(at directory: URL, keyring: Keyring, source: KeyringSource, operator operatorID: String,
                               segmentSize: Int, allowDevelopmentKeyring: Bool, witness: URL?, logger: Logger,
                               contentPageSize: Int? = nil) throws -> Vault {
        if let contentPageSize, !(512...65536).contains(contentPageSize) || contentPageSize & (contentPageSize - 1) != 0 {
            throw CofferError(.invalidArgument, "a page size is a power of two from 512 to 65536 bytes")
        }
        try KeyManager.checkDevelopment(keyring, allowed: allowDevelopmentKeyring)
        try IdentifierRules.validatePrincipal(operatorID, as: "operator")
        _ = try SegmentLayout(segmentSize: segmentSize)
        let present = FileName.databases.flatMap { [$0, $0 + "-wal"] }
            .filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
        guard present.isEmpty else {
            throw CofferError(.alreadyExists, "\(directory.path) already holds vault files (\(present.joined(separator: ", "))); choose an empty directory")
        }
        if let witness, try AuditWitness(directory: witness).latest() != nil {
            throw CofferError(.alreadyExists, "the witness \(witness.path) already holds a checkpoint of another vault's log (or of a vault that was here before); give a new witness directory, or remove that one if its vault is gone")
        }
        let controlURL = directory.appendingPathComponent(FileName.control)
        do {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(FileName.writers),
                                                    withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        } catch {
            throw CofferError(.io, "cannot create vault directory \(directory.path): \(error.localizedDescription)")
        }
        let control = try VaultDatabase.open(controlURL, migrator: VaultSchema.control, tuning: controlTuning)
        let kek = keyring.activeKey
        let auditKey = try keyring.requiredSecret(for: .auditSigning).id
        let canary = try kek.wrap(SecureBytes.random(count: 32), context: "vault-canary")
        let now = nowMilliseconds()
        try SQLiteDatabase(control).write { db in
            try VaultInfoStore.initialize(db, segmentSize: segmentSize, canary: canary, auditKey: auditKey,
                                          keyringGeneration: keyring.generation, witness: witness, at: now)
            // The operator who creates the vault can use it at once; a production vault gives
            // these roles to different people with `coffer principal add`.
            let admin = PrincipalID(operatorID)
            try AccessStore.insertPrincipal(db, admin, roles: [.admin, .auditor, .service], tenants: nil, createdBy: admin, at: now)
        }
        try control.close()
        if let contentPageSize {
            // SQLite fixes the page size when the file is made; `open` then keeps it.
            var tuning = contentTuning
            tuning.pageSize = contentPageSize
            try VaultDatabase.open(directory.appendingPathComponent(FileName.content), migrator: VaultSchema.content, tuning: tuning).close()
        }
        let vault = try open(at: directory, keyring: keyring, source: source, allowDevelopmentKeyring: allowDevelopmentKeyring,
                             logger: logger, auditing: true)
        let info = VaultInfoStore(pool: vault.storage.control)
        try info.recordCreated(.content)
        try info.seal(key: VaultInfoStore.sealKey(keyring: keyring, auditKeyID: auditKey))
        // The witness starts with the empty log, so a log deleted and begun again is caught.
        try vault.accessLog.log.witnessGenesis()
        return vault
    }

    /// Opens an existing vault with a keyring file, migrating its files if needed, checking that
    /// the keyring holds every key the vault depends on, and clearing what crashed writers left
    /// behind. When another process rotates the vault's keys, this vault reloads the file.
    /// - Parameters:
    ///   - directory: The vault directory.
    ///   - keyringFile: The vault's keyring file.
    ///   - allowDevelopmentKeyring: Accept a development keyring (its keys are public).
    ///   - logger: Where Coffer logs.
    /// - Returns: The open vault.
    /// - Throws: `CofferError` `notFound` when there is no vault, `keyNotFound` or `invalidKey`
    ///   for the wrong keyring, `keyringInsecure`, `schemaMismatch`, `storage`.
    public static func open(at directory: URL, keyringFile: KeyringFile, allowDevelopmentKeyring: Bool = false,
                            logger: Logger = Logger(label: "coffer")) throws -> Vault {
        try open(at: directory, keyring: keyringFile.load(), source: .file(keyringFile),
                 allowDevelopmentKeyring: allowDevelopmentKeyring, logger: logger, auditing: true)
    }

    /// Opens an existing vault with a keyring the caller holds in memory.
    /// - Parameters:
    ///   - directory: The vault directory.
    ///   - keyring: The vault's keyring.
    ///   - allowDevelopmentKeyring: Accept a development keyring (its keys are public).
    ///   - logger: Where Coffer logs.
    /// - Returns: The open vault.
    /// - Throws: `CofferError` `notFound` when there is no vault, `keyNotFound` or `invalidKey`
    ///   for the wrong keyring, `keyringInsecure`, `schemaMismatch`, `storage`.
    public static func open(at directory: URL, keyring: Keyring, allowDevelopmentKeyring: Bool = false,
                            logger: Logger = Logger(label: "coffer")) throws -> Vault {
        try open(at: directory, keyring: keyring, source: .memory, allowDevelopmentKeyring: allowDevelopmentKeyring,
                 logger: logger, auditing: true)
    }

    /// `auditing: false` exists for the benchmark that measures what the log costs, on a scratch
    /// vault; nothing else turns the log off.
    static func open(at directory: URL, keyring: Keyring, source: KeyringSource, allowDevelopmentKeyring: Bool,
                     logger: Logger, auditing: Bool) throws -> Vault {
        #if COFFER_STUB_CIPHER
        // A benchmark build whose cipher is a copy would store plaintext: scratch vaults only.
        guard directory.standardizedFileURL.path.hasPrefix(FileManager.default.temporaryDirectory.standardizedFileURL.path) else {
            throw CofferError(.invalidArgument, "this build's cipher is a copy (COFFER_STUB_CIPHER, for benchmarks): it opens only scratch vaults in the temporary directory")
        }
        #endif
        try KeyManager.checkDevelopment(keyring, allowed: allowDevelopmentKeyring)
        let controlURL = directory.appendingPathComponent(FileName.control)
        guard FileManager.default.fileExists(atPath: controlURL.path) else {
            let others = FileName.databases.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
            if !others.isEmpty {
                throw CofferError(.notFound, "\(controlURL.path) is missing, though \(others.joined(separator: ", ")) is there: it holds the vault's keys and principals; restore it from a backup (without it nothing in this vault can be read)")
            }
            throw CofferError(.notFound, "no vault at \(directory.path); create one with `coffer init`")
        }
        let contentURL = directory.appendingPathComponent(FileName.content)
        let control = try VaultDatabase.open(controlURL, migrator: VaultSchema.control, tuning: controlTuning)
        let infoStore = VaultInfoStore(pool: SQLiteDatabase(control))
        let info = try infoStore.all()
        guard info["canary_kek"] != nil, info["canary"] != nil, let segmentSize = info["segment_size"].flatMap(Int.init) else {
            throw CofferError(.schemaMismatch, "\(controlURL.path) is not a Coffer vault control file")
        }
        let keys = KeyManager(keyring: keyring, source: source, store: KeyStore(pool: SQLiteDatabase(control)), logger: logger)
        try keys.verifyKeyring()
        try keys.preparePIIKeys()
        var changed = false
        let auditKey: String
        if let recorded = info["audit_key"] {
            auditKey = recorded
        } else {  // a vault made before the access log existed
            auditKey = try keys.keyring.requiredSecret(for: .auditSigning).id
            try infoStore.recordAuditKey(auditKey)
            changed = true
        }
        // The audit key's canary: the same id with other material would sign a log nobody can
        // verify, and break the one there.
        let publicKey = try AuditLog.publicKey(keyring: keys.keyring, keyID: auditKey).hexString
        if let recorded = info["audit_public_key"], !ConstantTime.equals(Array(recorded.utf8), Array(publicKey.utf8)) {
            throw CofferError(.invalidKey, "the keyring's audit-signing key '\(auditKey)' is not the key this vault's access log was made with (the same id holds other material): use the vault's own keyring")
        }
        // The flags below decide what a missing file means: they are trusted only when sealed.
        let sealKey = try VaultInfoStore.sealKey(keyring: keys.keyring, auditKeyID: auditKey)
        let sealed = try infoStore.checkSeal(info, key: sealKey)
        if infoStore.hasCreated(.content), !FileManager.default.fileExists(atPath: contentURL.path) {
            throw CofferError(.notFound, "\(contentURL.path) is missing; restore it from a backup (the vault will not recreate it empty)")
        }
        let content = try VaultDatabase.open(contentURL,
                                             migrator: VaultSchema.content, tuning: contentTuning)
        let auditURL = directory.appendingPathComponent(FileName.audit)
        if info[VaultInfoStore.CreatedFile.audit.rawValue] != nil && !FileManager.default.fileExists(atPath: auditURL.path) {
            throw CofferError(.auditUnavailable, "the access log \(auditURL.path) is missing; restore it from a backup (no access is allowed without it)")
        }
        let audit = try AuditLog(url: auditURL, keyring: keys.keyring, keyID: auditKey, logger: logger,
                                 witness: witness(recorded: info["witness"], source: source, vault: directory))
        if info["audit_public_key"] == nil {
            try infoStore.recordAuditPublicKey(publicKey)
            changed = true
        }
        try audit.checkExtendsWitness(required: info["witness"] != nil)
        if info[VaultInfoStore.CreatedFile.audit.rawValue] == nil { try infoStore.recordCreated(.audit); changed = true }
        let piiURL = directory.appendingPathComponent(FileName.pii)
        if info[VaultInfoStore.CreatedFile.pii.rawValue] != nil && !FileManager.default.fileExists(atPath: piiURL.path) {
            throw CofferError(.notFound, "\(piiURL.path) is missing; restore it from a backup (the vault will not recreate it empty)")
        }
        let pii = try VaultDatabase.open(piiURL, migrator: VaultSchema.pii, tuning: controlTuning)
        if info[VaultInfoStore.CreatedFile.pii.rawValue] == nil { try infoStore.recordCreated(.pii); changed = true }
        if changed || !sealed { try infoStore.seal(key: sealKey) }
        let files = VaultStorage.SQLiteFiles(control: control, content: content, pii: pii)
        let vault = Vault(directory: directory, keys: keys, storage: VaultStorage(files, writersDirectory: directory.appendingPathComponent(FileName.writers)),
                          audit: audit, auditing: auditing, logger: logger, segmentSize: segmentSize)
        try vault.accessLog.takeOutbox()
        try vault.contentStore.removeAbandonedWrites()
        // Subjects from before PII had keys of its own move to fresh keys under the PII KEK, and
        // subject keys a crashed process left pending are settled or destroyed.
        try vault.people.upgradeLegacySubjects()
        try vault.people.settlePendingKeys()
        // A process that died between a delete (or correction, or rotation) and its checkpoint
        // left old pages in a WAL and the database file: empty every WAL now (or soon, if a
        // reader in another process is in the way).
        vault.janitor.markAllPending()
        vault.janitor.retryPendingNow()
        return vault
    }

    /// Closes the vault's files, after signing a checkpoint of the log if it grew (so the witness
    /// holds its final size). Closing again does nothing; other calls fail afterwards.
    public func close() throws {
        guard closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        // The records waiting in the outbox are taken first, so the closing checkpoint holds them.
        accessLog.stopRecording()
        do { _ = try accessLog.log.checkpointIfBehind() } catch {
            logger.error("no closing checkpoint of the access log", metadata: ["error": "\(error)"])
        }
        janitor.retryPendingNow()
        storage.close()
        try accessLog.closeFile()
    }

    /// The witness of a vault's log: the directory recorded at `init`, or for a vault keyed by
    /// a file without one recorded, the default beside that file when it holds this log's
    /// checkpoints (so deleting the recorded name does not turn the witness off).
    private static func witness(recorded: String?, source: KeyringSource, vault: URL) -> URL? {
        if let recorded { return URL(fileURLWithPath: recorded) }
        guard case .file(let file) = source else { return nil }
        let directory = defaultWitness(for: file, vault: vault)
        return FileManager.default.fileExists(atPath: directory.path) ? directory : nil
    }

    // MARK: - Tenants

    /// Registers a tenant on a plan and makes its data keys (one per data class), wrapped under
    /// the active KEK.
    /// - Parameters:
    ///   - tenant: Tenant id (``IdentifierRules/validateTenant(_:)``): 1-64 lower-case letters,
    ///     digits, `-`, `_` or `.`, not `.` or `..`, not starting with `-`.
    ///   - plan: Its plan (free unless told: the stricter telemetry retention).
    ///   - location: The object-store location its segments are pinned to (data residency, P22):
    ///     they never land in another, and a put that cannot reach it fails. Only on the scale-out
    ///     engine, and only a location the vault was opened with; nil: the default location.
    ///   - context: Who asks and why.
    /// - Throws: `CofferError` `invalidArgument` (also for a location this vault does not have),
    ///   `alreadyExists`.
    public func createTenant(_ tenant: TenantID, plan: Plan = .free, location: String? = nil, context: AccessContext) async throws {
        try tenant.validate()
        if let location, !storage.locations.contains(location) {
            throw CofferError(.invalidArgument, storage.locations.isEmpty
                ? "tenants are pinned to object-store locations on the scale-out engine (PostgreSQL and S3); this vault keeps its segments in its own files"
                : "no object-store location '\(location)' (this vault has \(storage.locations.sorted().joined(separator: ", ")))")
        }
        let reason = "plan=\(plan)" + (location.map { " location=\($0)" } ?? "")
        let request = AccessRequest(action: .tenantCreate, dataClass: .administration, tenant: tenant, reason: reason)
        try await guarded(context, request) { _ in
            let keys = self.keys
            try await BlockingPool.shared.run { try keys.createTenant(tenant.rawValue, plan: plan, location: location, now: nowMilliseconds()) }
            logger.debug("tenant created", metadata: ["tenant": "\(tenant)", "actor": "\(context.actor)"])
        }
    }

    /// The registered tenants, sorted by id; a tenant-limited caller sees only its own.
    public func tenants(context: AccessContext) async throws -> [TenantID] {
        let request = AccessRequest(action: .list, dataClass: .administration)
        return try await guarded(context, request) { _ in
            let scope = try await callerScope(context)
            return try await administration.allTenants().filter { scope?.contains($0) ?? true }
        }
    }

    // MARK: - What ObjectWriter reaches

    /// The segment size of new versions (``ContentStore/segmentSize``), which the writer seals with.
    var segmentSize: Int { contentStore.segmentSize }

    /// Deletes a pending version (``ContentStore/deletePendingVersion(rowID:objectID:releasingNumber:)``):
    /// how a writer abandons its version.
    func deletePendingVersion(rowID: Int64, objectID: ObjectID, releasingNumber: Int? = nil) throws {
        try contentStore.deletePendingVersion(rowID: rowID, objectID: objectID, releasingNumber: releasingNumber)
    }
}
