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
    /// The keyring in use (the new one after ``rotateKeys(to:context:)``).
    public var keyring: Keyring { currentKeyring.withLock { $0 } }
    let currentKeyring: Mutex<Keyring>
    let control: DatabasePool
    let content: DatabasePool
    let audit: AuditLog
    let appender: AuditAppender
    /// `pii.sqlite`: data subjects, apart from content.
    let pii: DatabasePool
    let piiSettingsBox = Mutex(PIISettings())
    private let subjectKeyCache = Mutex<[String: SecureBytes]>([:])
    /// False only for the benchmark's unaudited twin, which measures what the log costs.
    let auditing: Bool
    let logger: Logger
    let segmentSize: Int
    private let keyCache = Mutex<[String: ClassKeys]>([:])
    /// What grants take as now (``VaultClock``; tests move it forward instead of sleeping).
    let clock = VaultClock()

    /// File names inside the vault directory.
    enum FileName {
        static let control = "control.sqlite"
        static let content = "content.sqlite"
        static let audit = "audit.sqlite"
        static let pii = "pii.sqlite"
        static let writers = "writers"
    }

    /// Tuning of the content file: 64 KiB pages hold large segments with few overflow pages; a
    /// small page cache, because segments stream through once and memory must stay bounded.
    static let contentTuning = VaultDatabase.Tuning(pageSize: 65536, cacheKiB: 4 * 1024, mmapSize: 0)
    static let controlTuning = VaultDatabase.Tuning(pageSize: 4096, cacheKiB: 2 * 1024, mmapSize: 0)

    private init(directory: URL, keyring: Keyring, control: DatabasePool, content: DatabasePool, pii: DatabasePool,
                 audit: AuditLog, auditing: Bool, logger: Logger, segmentSize: Int) {
        self.pii = pii
        self.directory = directory
        self.currentKeyring = Mutex(keyring)
        self.control = control
        self.content = content
        self.audit = audit
        self.appender = AuditAppender(log: audit)
        self.auditing = auditing
        self.logger = logger
        self.segmentSize = segmentSize
    }

    deinit { appender.stop() }

    /// Creates a new vault and registers the operator who made it as its first administrator.
    /// - Parameters:
    ///   - directory: Where to create it (made with mode 0700 if missing; must not hold a vault).
    ///   - keyring: The keyring whose active KEK wraps the vault's data keys.
    ///   - operator: The principal id of the person or service creating it.
    ///   - segmentSize: Ciphertext segment size for new objects (default 1 MiB).
    ///   - logger: Where Coffer logs (debug and trace only; never secrets).
    /// - Throws: ``CofferError`` `alreadyExists`, `storage`, `io`.
    public static func create(at directory: URL, keyring: Keyring, operator operatorID: String,
                              segmentSize: Int = SegmentLayout.defaultSegmentSize,
                              logger: Logger = Logger(label: "coffer")) throws -> Vault {
        _ = try SegmentLayout(segmentSize: segmentSize)
        let controlURL = directory.appendingPathComponent(FileName.control)
        if FileManager.default.fileExists(atPath: controlURL.path) {
            throw CofferError(.alreadyExists, "\(directory.path) already holds a vault")
        }
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
        try control.write { db in
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('format', 'coffer-vault-v1'), ('created_at', ?), ('segment_size', ?), ('canary_kek', ?), ('canary', ?)",
                           arguments: [String(now), String(segmentSize), kek.id, Data(canary.sealed).base64EncodedString()])
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_key', ?)", arguments: [auditKey])
            // The operator who creates the vault can use it at once; a production vault gives
            // these roles to different people with `coffer principal add`.
            try db.execute(sql: "INSERT INTO principal (id, roles, created_at, created_by) VALUES (?, ?, ?, ?)",
                           arguments: [operatorID, "admin,auditor,service", now, operatorID])
        }
        try control.close()
        let vault = try open(at: directory, keyring: keyring, logger: logger)
        try vault.control.write { db in
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('content_created', '1')")
        }
        return vault
    }

    /// Opens an existing vault, migrating its files if needed, checking that the keyring is the
    /// one its keys are wrapped under, and clearing what crashed writers left behind.
    /// - Throws: ``CofferError`` `notFound` when there is no vault, `keyNotFound` or
    ///   `authenticationFailed` for the wrong keyring, `schemaMismatch`, `storage`.
    public static func open(at directory: URL, keyring: Keyring, logger: Logger = Logger(label: "coffer")) throws -> Vault {
        try open(at: directory, keyring: keyring, logger: logger, auditing: true)
    }

    /// `auditing: false` exists for the benchmark that measures what the log costs, on a scratch
    /// vault; nothing else turns the log off.
    static func open(at directory: URL, keyring: Keyring, logger: Logger, auditing: Bool) throws -> Vault {
        let controlURL = directory.appendingPathComponent(FileName.control)
        guard FileManager.default.fileExists(atPath: controlURL.path) else {
            throw CofferError(.notFound, "no vault at \(directory.path); create one with `coffer init`")
        }
        let contentURL = directory.appendingPathComponent(FileName.content)
        let control = try VaultDatabase.open(controlURL, migrator: VaultSchema.control, tuning: controlTuning)
        if (try? control.read({ try Bool.fetchOne($0, sql: "SELECT 1 FROM vault_info WHERE name = 'content_created'") })) == true,
           !FileManager.default.fileExists(atPath: contentURL.path) {
            throw CofferError(.notFound, "\(contentURL.path) is missing; restore it from a backup (the vault will not recreate it empty)")
        }
        let content = try VaultDatabase.open(contentURL,
                                             migrator: VaultSchema.content, tuning: contentTuning)
        let info = try control.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT name, value FROM vault_info")
                .map { ($0["name"] as String, $0["value"] as String) })
        }
        guard let canaryKEK = info["canary_kek"], let canaryText = info["canary"], let canary = Data(base64Encoded: canaryText),
              let segmentSize = info["segment_size"].flatMap(Int.init) else {
            throw CofferError(.schemaMismatch, "\(controlURL.path) is not a Coffer vault control file")
        }
        try checkKeyring(keyring, control: control, canaryKEK: canaryKEK, canary: [UInt8](canary))
        let auditURL = directory.appendingPathComponent(FileName.audit)
        var auditKey = info["audit_key"]
        if info["audit_created"] != nil && !FileManager.default.fileExists(atPath: auditURL.path) {
            throw CofferError(.auditUnavailable, "the access log \(auditURL.path) is missing; restore it from a backup (no access is allowed without it)")
        }
        if auditKey == nil {  // a vault made before the access log existed
            let id = try keyring.requiredSecret(for: .auditSigning).id
            try control.write { db in try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_key', ?)", arguments: [id]) }
            auditKey = id
        }
        let audit = try AuditLog(url: auditURL, keyring: keyring, keyID: auditKey!, logger: logger)
        if info["audit_created"] == nil {
            try control.write { db in try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_created', '1')") }
        }
        let piiURL = directory.appendingPathComponent(FileName.pii)
        if info["pii_created"] != nil && !FileManager.default.fileExists(atPath: piiURL.path) {
            throw CofferError(.notFound, "\(piiURL.path) is missing; restore it from a backup (the vault will not recreate it empty)")
        }
        let pii = try VaultDatabase.open(piiURL, migrator: VaultSchema.pii, tuning: controlTuning)
        if info["pii_created"] == nil {
            try control.write { db in try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('pii_created', '1')") }
        }
        let vault = Vault(directory: directory, keyring: keyring, control: control, content: content, pii: pii, audit: audit,
                          auditing: auditing, logger: logger, segmentSize: segmentSize)
        try vault.removeAbandonedWrites()
        return vault
    }

    /// Proves the keyring holds every KEK the vault depends on, with the right material.
    private static func checkKeyring(_ keyring: Keyring, control: DatabasePool, canaryKEK: String, canary: [UInt8]) throws {
        let wrongKeyring = "pass the keyring this vault was created with (--keyring or COFFER_KEYRING)"
        do {
            let kek = try keyring.keyEncryptionKey(id: canaryKEK)
            _ = try kek.unwrap(WrappedKey(kekID: canaryKEK, sealed: canary), context: "vault-canary")
        } catch let error as CofferError where error.code == .keyNotFound {
            throw CofferError(.keyNotFound, "this keyring does not hold key '\(canaryKEK)' the vault was checked with; \(wrongKeyring)")
        } catch let error as CofferError where error.code == .authenticationFailed {
            throw CofferError(.invalidKey, "this keyring's key '\(canaryKEK)' is not the one the vault was made with; \(wrongKeyring)")
        }
        let needed = try control.read { db in
            try String.fetchAll(db, sql: "SELECT kek_id FROM data_key UNION SELECT kek_id FROM subject_key")
        }
        for id in needed where (try? keyring.keyEncryptionKey(id: id)) == nil {
            throw CofferError(.keyNotFound, "this keyring does not hold key '\(id)', which wraps some of the vault's data keys; \(wrongKeyring)")
        }
    }

    /// Closes the vault's files. Further calls fail.
    public func close() throws {
        appender.stopAndWait()
        try content.close()
        try pii.close()
        try control.close()
        try audit.pool.close()
    }

    // MARK: - Tenants

    /// Registers a tenant and makes its data keys (one per data class), wrapped under the active KEK.
    /// - Parameters:
    ///   - tenant: Tenant id (``IdentifierRules/validateTenant(_:)``): 1-64 lower-case letters,
    ///     digits, `-`, `_` or `.`, not `.` or `..`, not starting with `-`.
    ///   - context: Who asks and why.
    /// - Throws: ``CofferError`` `invalidArgument`, `alreadyExists`.
    public func createTenant(_ tenant: String, context: AccessContext) async throws {
        try Self.validateTenantID(tenant)
        let request = AccessRequest(action: .tenantCreate, dataClass: .administration, tenant: tenant)
        try await authorize(context, request)
        try await performing(context, request) {
            let kek = keyring.activeKey
            let now = nowMilliseconds()
            var rows: [(id: String, dataClass: String, wrapped: WrappedKey)] = []
            for kind in ObjectKind.all {
                let id = try makeIdentifier("dk")
                let wrapped = try kek.wrap(try SecureBytes.random(count: 32),
                                           context: dataKeyContext(id: id, tenant: tenant, dataClass: kind.code))
                rows.append((id, kind.code, wrapped))
            }
            let newKeys = rows
            try await control.write { db in
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) == true {
                    throw CofferError(.alreadyExists, "tenant '\(tenant)' already exists")
                }
                try db.execute(sql: "INSERT INTO tenant (id, created_at) VALUES (?, ?)", arguments: [tenant, now])
                for row in newKeys {
                    try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                   arguments: [row.id, tenant, row.dataClass, row.wrapped.kekID, Data(row.wrapped.sealed), now])
                }
            }
            logger.debug("tenant created", metadata: ["tenant": "\(tenant)", "actor": "\(context.actor)"])
        }
    }

    /// The registered tenants, sorted by id.
    public func tenants(context: AccessContext) async throws -> [String] {
        let request = AccessRequest(action: .list, dataClass: .administration)
        try await authorize(context, request)
        return try await performing(context, request) {
            try await control.readReleasingEarly { db in try String.fetchAll(db, sql: "SELECT id FROM tenant ORDER BY id") }
        }
    }

    /// Forwards to ``IdentifierRules/validateTenant(_:)``.
    static func validateTenantID(_ tenant: String) throws { try IdentifierRules.validateTenant(tenant) }

    /// The keys of `tenant`'s data class `kind`, unwrapped once and cached.
    /// - Throws: ``CofferError`` `unknownTenant` when the tenant is not registered.
    func classKeys(tenant: String, kind: ObjectKind) throws -> ClassKeys {
        let cacheKey = tenant + "\u{0}" + kind.code
        if let cached = keyCache.withLock({ $0[cacheKey] }) { return cached }
        let row = try control.read { db in
            try Row.fetchOne(db, sql: "SELECT id, kek_id, wrapped FROM data_key WHERE tenant_id = ? AND data_class = ?",
                             arguments: [tenant, kind.code])
        }
        guard let row else {
            let known = try control.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) }
            if known == true {
                throw CofferError(.notFound, "tenant '\(tenant)' has no data key for \(kind.code) (it was destroyed)")
            }
            throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'; register it with `coffer tenant add \(tenant)`")
        }
        let id: String = try row.stored("id", in: "data_key")
        let kekID: String = try row.stored("kek_id", in: "data_key")
        let wrapped = WrappedKey(kekID: kekID, sealed: try row.storedBytes("wrapped", in: "data_key"))
        let dataKey = try keyring.keyEncryptionKey(id: kekID)
            .unwrap(wrapped, context: dataKeyContext(id: id, tenant: tenant, dataClass: kind.code))
        let keys = try ClassKeys(id: id, dataKey: dataKey)
        keyCache.withLock { $0[cacheKey] = keys }
        return keys
    }

    /// The unwrapped key of one data subject, cached.
    func subjectKey(_ subject: String, tenant: String) throws -> SecureBytes {
        if let cached = subjectKeyCache.withLock({ $0[subject] }) { return cached }
        guard let row = try VaultDatabase.guardedSync({
            try control.read { db in
                try Row.fetchOne(db, sql: "SELECT kek_id, wrapped FROM subject_key WHERE subject_id = ? AND tenant_id = ?",
                                 arguments: [subject, tenant])
            }
        }) else {
            throw CofferError(.notFound, "subject \(subject) has no key: it was erased")
        }
        let wrapped = WrappedKey(kekID: try row.stored("kek_id", in: "subject_key"), sealed: try row.storedBytes("wrapped", in: "subject_key"))
        let key = try keyring.keyEncryptionKey(id: wrapped.kekID).unwrap(wrapped, context: subjectKeyContext(subject: subject, tenant: tenant))
        let fieldKey = try HKDF.deriveKey(from: key, salt: [UInt8](), info: Array("coffer/v1/pii-fields".utf8), length: 32)
        subjectKeyCache.withLock { $0[subject] = fieldKey }
        return fieldKey
    }

    func forgetCachedKeys() {
        subjectKeyCache.withLock { $0.removeAll() }
        keyCache.withLock { $0.removeAll() }
    }
}
