import CofferCrypto
import CofferSQL
import Foundation
import Logging

extension Vault {
    /// Opens a vault whose data is on another engine (`CofferScaleOut`'s PostgreSQL and object
    /// storage), creating it on first use when `creator` is given. Several processes may do this
    /// at once: the first to take the control database's writers' lock creates the vault, the
    /// others find it made.
    /// - Parameters:
    ///   - storage: The engine's databases and segment store, migrated.
    ///   - audit: The access log's database, migrated and with its state row.
    ///   - name: How the vault is named in messages and its `directory` (the engine's address).
    ///   - keyring: The keyring; `keyringFile` is where it came from, if a file (reloaded on rotation).
    ///   - creator: The operator who creates the vault when it does not exist yet (nil: it must exist).
    ///   - witness: Where every checkpoint of the access log is also written (required: a shared
    ///     log is worth keeping a copy of outside its database).
    /// - Throws: `CofferError` `notFound` when there is no vault and no creator, the errors of
    ///   ``open(at:keyringFile:allowDevelopmentKeyring:logger:)``.
    package static func open(storage: VaultStorage, audit: any SQLDatabase, name: URL, keyring: Keyring, keyringFile: KeyringFile?,
                             creator: String?, segmentSize: Int = SegmentLayout.defaultSegmentSize, allowDevelopmentKeyring: Bool,
                             witness: URL, logger: Logger) throws -> Vault {
        try KeyManager.checkDevelopment(keyring, allowed: allowDevelopmentKeyring)
        let infoStore = VaultInfoStore(pool: storage.control)
        let auditKey = try keyring.requiredSecret(for: .auditSigning).id
        var created = false
        if let creator {
            try IdentifierRules.validatePrincipal(creator, as: "operator")
            _ = try SegmentLayout(segmentSize: segmentSize)
            let canary = try keyring.activeKey.wrap(SecureBytes.random(count: 32), context: "vault-canary")
            let publicKey = try AuditLog.publicKey(keyring: keyring, keyID: auditKey).hexString
            let now = nowMilliseconds()
            created = try storage.control.write { db in
                guard try db.fetchOne(Bool.self, sql: "SELECT 1 FROM vault_info WHERE name = 'format'") == nil else { return false }
                try VaultInfoStore.initialize(db, segmentSize: segmentSize, canary: canary, auditKey: auditKey,
                                              keyringGeneration: keyring.generation, witness: witness, at: now)
                try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_public_key', ?)", arguments: [publicKey])
                let admin = PrincipalID(creator)
                try AccessStore.insertPrincipal(db, admin, roles: [.admin, .auditor, .service], tenants: nil, createdBy: admin, at: now)
                return true
            }
            if created { try infoStore.seal(key: VaultInfoStore.sealKey(keyring: keyring, auditKeyID: auditKey)) }
        }
        let info = try infoStore.all()
        guard info["format"] != nil else {
            throw CofferError(.notFound, "no vault at \(name.absoluteString); create one with `coffer init`")
        }
        guard info["canary_kek"] != nil, info["canary"] != nil, let segmentSize = info["segment_size"].flatMap(Int.init),
              let recordedAuditKey = info["audit_key"] else {
            throw CofferError(.schemaMismatch, "\(name.absoluteString) is not a Coffer vault (its vault_info is incomplete)")
        }
        let source: KeyringSource = keyringFile.map { .file($0) } ?? .memory
        let keys = KeyManager(keyring: keyring, source: source, store: KeyStore(pool: storage.control), logger: logger)
        try keys.verifyKeyring()
        try keys.preparePIIKeys()
        let publicKey = try AuditLog.publicKey(keyring: keys.keyring, keyID: recordedAuditKey).hexString
        guard let recorded = info["audit_public_key"], ConstantTime.equals(Array(recorded.utf8), Array(publicKey.utf8)) else {
            throw CofferError(.invalidKey, "the keyring's audit-signing key '\(recordedAuditKey)' is not the key this vault's access log was made with: use the vault's own keyring")
        }
        let sealKey = try VaultInfoStore.sealKey(keyring: keys.keyring, auditKeyID: recordedAuditKey)
        guard try infoStore.checkSeal(info, key: sealKey) else {
            throw CofferError(.tamperDetected, "the vault's bookkeeping rows in \(name.absoluteString) are not sealed: they were written outside Coffer")
        }
        let recordedWitness = info["witness"].map { URL(fileURLWithPath: $0) } ?? witness
        let log = try AuditLog(database: audit, path: nil, keyring: keys.keyring, keyID: recordedAuditKey, logger: logger,
                               witness: recordedWitness)
        if created { try log.witnessGenesis() }
        try log.checkExtendsWitness(required: true)
        let vault = Vault(directory: name, keys: keys, storage: storage, audit: log, auditing: true, logger: logger, segmentSize: segmentSize)
        try vault.people.settlePendingKeys()
        return vault
    }
}
