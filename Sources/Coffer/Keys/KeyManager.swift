import CofferCrypto
import Foundation
import Logging
import Synchronization

/// Where a vault's keyring comes from.
enum KeyringSource: Sendable {
    /// A keyring file: reloaded when the vault meets a newer generation or a KEK it does not
    /// hold, and changed only under the file's lock.
    case file(KeyringFile)
    /// A keyring the embedding process holds in memory (from its own secret store); the caller
    /// saves new keyrings itself and passes them to ``Vault/rotateKeys(to:context:)``.
    case memory
}

/// The key manager: the keyring, the vault's wrapped keys, and every change to either.
///
/// It alone unwraps data keys (and caches what it unwrapped), wraps new ones under the vault's
/// wrap target, rotates and retires KEKs. Its invariants:
/// - nothing is wrapped under a KEK until the keyring file holding it has been saved and read
///   back (``KeyringFile/save(_:)``);
/// - new keys are wrapped under the vault's wrap target, checked in the transaction that stores
///   them, so a rotation running in another process never leaves one behind;
/// - a rotation rewraps in batches and can be resumed after a crash (``WrapState/rotationTarget``);
/// - a process whose keyring is older than the vault's reloads it and carries on.
final class KeyManager: Sendable {
    let source: KeyringSource
    let store: KeyStore
    let logger: Logger
    private let current: Mutex<Keyring>
    /// Unwrapped content keys by tenant, class and id (or period), at most
    /// ``subjectKeyCacheLimit``.
    private let classKeyCache = Mutex(BoundedCache<ClassKeys>(limit: KeyManager.subjectKeyCacheLimit))
    /// Unwrapped subject field keys by (tenant, subject, key id), at most
    /// ``subjectKeyCacheLimit``; a destroyed key leaves it at once.
    private let subjectKeyCache = Mutex(BoundedCache<SecureBytes>(limit: KeyManager.subjectKeyCacheLimit))

    /// How many subject keys stay unwrapped in memory.
    static let subjectKeyCacheLimit = 4096

    /// How long this process may go on holding unwrapped a key another process destroyed: at
    /// most this long after its last check, the next key lookup reads the key epoch and, when
    /// it moved, drops every unwrapped key (tests set it to zero).
    let destroyedKeyRecheck = Mutex<Duration>(.seconds(1))
    /// The key epoch last read, and when.
    private let epoch = Mutex<(seen: String, at: ContinuousClock.Instant)?>(nil)

    /// Keys rewrapped per transaction.
    static let rewrapBatchSize = 256
    /// Test hook: runs after each rewrap batch with the number rewrapped so far.
    let afterRewrapBatch = Mutex<(@Sendable (Int) throws -> Void)?>(nil)

    init(keyring: Keyring, source: KeyringSource, store: KeyStore, logger: Logger) {
        self.current = Mutex(keyring)
        self.source = source
        self.store = store
        self.logger = logger
    }

    /// The keyring in use.
    var keyring: Keyring { current.withLock { $0 } }

    /// Refuses a development keyring unless the caller opted in.
    static func checkDevelopment(_ keyring: Keyring, allowed: Bool) throws {
        guard keyring.isDevelopment, !allowed else { return }
        throw CofferError(.keyringInsecure,
                          "this is a development keyring: its keys are public, so nothing it protects is secret. Pass a real keyring (make one with `coffer keys generate --out FILE`), or opt in to the development keyring explicitly (--allow-development-keyring)")
    }

    /// Re-reads the keyring file (a file source only) when it is newer than the copy in memory.
    /// - Returns: True when the copy in memory changed.
    @discardableResult
    func reload() throws -> Bool {
        guard case .file(let file) = source else { return false }
        let loaded = try file.load()
        return current.withLock { keyring in
            guard loaded.generation > keyring.generation || !loaded.holdsEveryKey(of: keyring) || !keyring.holdsEveryKey(of: loaded) else {
                return false
            }
            keyring = loaded
            logger.debug("keyring reloaded", metadata: ["generation": "\(loaded.generation)"])
            return true
        }
    }

    /// The KEK `id`, reloading the keyring file once when the copy in memory lacks it.
    func keyEncryptionKey(id: String) throws -> KeyEncryptionKey {
        do {
            return try keyring.keyEncryptionKey(id: id)
        } catch let error as CofferError where error.code == .keyNotFound {
            guard try reload() else { throw error }
            return try keyring.keyEncryptionKey(id: id)
        }
    }

    /// Proves at open that the keyring holds every KEK the vault depends on, with the right
    /// material; reloads first when the vault was rotated with a newer generation.
    func verifyKeyring() throws {
        let state = try store.wrapState()
        if state.keyringGeneration > keyring.generation { try reload() }
        try checkCanary(try store.canary(), context: "vault-canary", naming: "key")
        if let piiCanary = try store.piiCanary() {
            try checkCanary(piiCanary, context: "vault-pii-canary", naming: "PII key-encryption key")
        }
        var needed = try store.kekIDsInUse()
        if let target = state.rotationTarget { needed.insert(target) }
        if let target = state.piiRotationTarget { needed.insert(target) }
        for id in needed.sorted() where (try? keyEncryptionKey(id: id)) == nil {
            throw CofferError(.keyNotFound, "this keyring does not hold key '\(id)', which wraps some of the vault's data keys; \(Self.wrongKeyring)")
        }
        if let target = state.rotationTarget {
            logger.debug("a key rotation is under way or was interrupted", metadata: ["target": "\(target)"])
        }
    }

    private static let wrongKeyring = "pass the keyring this vault was created with (--keyring or COFFER_KEYRING)"

    /// Unwraps a canary: `key-not-found` when the keyring lacks its KEK, `invalid-key` when the
    /// KEK of that id has other material.
    private func checkCanary(_ canary: WrappedKey, context: String, naming what: String) throws {
        do {
            _ = try keyEncryptionKey(id: canary.kekID).unwrap(canary, context: context)
        } catch let error as CofferError where error.code == .keyNotFound {
            throw CofferError(.keyNotFound, "this keyring does not hold the \(what) '\(canary.kekID)' the vault was checked with; \(Self.wrongKeyring)")
        } catch let error as CofferError where error.code == .authenticationFailed {
            throw CofferError(.invalidKey, "this keyring's \(what) '\(canary.kekID)' is not the one the vault was made with; \(Self.wrongKeyring)")
        }
    }

    /// Gives a vault made before PII had KEKs of its own its PII KEK: the keyring's active
    /// `pii-kek` becomes the one new subject keys are wrapped under (the subjects themselves move
    /// to fresh keys under it when the vault opens, ``People/upgradeLegacySubjects()``).
    /// - Throws: `CofferError` `keyNotFound` when the keyring has no `pii-kek`.
    func preparePIIKeys() throws {
        guard try store.wrapState().piiSettledKEK == nil else { return }
        guard let kek = keyring.activePIIKey else {
            throw CofferError(.keyNotFound, "this keyring has no PII key-encryption key (pii-kek): PII keys are wrapped under keys of their own. Add one with `coffer keys add --purpose pii-kek` (or Keyring.addingKey(for: .piiKeyEncryption) for a keyring held in memory), then open the vault again; it moves every subject to a fresh key under it")
        }
        try store.initializePIICanary(try kek.wrap(SecureBytes.random(count: 32), context: "vault-pii-canary"))
    }

    // MARK: Unwrapping

    /// The index keys of `tenant`'s data class `kind` (name lookup and content digests; also
    /// what was sealed before content keys had periods), unwrapped once and cached; nil when the
    /// tenant has no such key.
    func indexKeys(tenant: String, kind: ObjectKind) throws -> ClassKeys? {
        try dropKeysDestroyedElsewhere()
        let cacheKey = tenant + "\u{0}" + kind.code + "\u{0}index"
        if let cached = classKeyCache.withLock({ $0[cacheKey] }) { return cached }
        guard let stored = try store.dataKey(tenant: tenant, dataClass: kind.code) else { return nil }
        return try unwrapContentKey(stored, caching: cacheKey)
    }

    /// The data key `id` of `tenant`'s `kind` (what a version or a name records), cached; nil
    /// when it was destroyed.
    func dataKeys(id: String, tenant: String, kind: ObjectKind) throws -> ClassKeys? {
        try dropKeysDestroyedElsewhere()
        let cacheKey = tenant + "\u{0}" + kind.code + "\u{0}" + id
        if let cached = classKeyCache.withLock({ $0[cacheKey] }) { return cached }
        guard let stored = try store.dataKey(id: id, tenant: tenant, dataClass: kind.code) else { return nil }
        return try unwrapContentKey(stored, caching: cacheKey)
    }

    /// The key of `tenant`'s `kind` for the period containing `time`, made on first use.
    /// - Throws: `CofferError` `notFound` for an erased tenant, `unknownTenant`.
    func periodKeys(tenant: String, kind: ObjectKind, at time: Int64) throws -> ClassKeys {
        let period = KeyPeriod.containing(time, kind: kind)
        try dropKeysDestroyedElsewhere()
        let cacheKey = tenant + "\u{0}" + kind.code + "\u{0}@\(period.start)"
        if let cached = classKeyCache.withLock({ $0[cacheKey] }) { return cached }
        if let stored = try store.periodKey(tenant: tenant, dataClass: kind.code, periodStart: period.start) {
            return try unwrapContentKey(stored, caching: cacheKey)
        }
        try wrappingUnderTarget { kek in
            let id = try makeIdentifier("dk")
            let wrapped = try kek.wrap(try SecureBytes.random(count: 32), context: dataKeyContext(id: id, tenant: tenant, dataClass: kind.code))
            try store.insertPeriodKey(StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: kind.code), wrapped: wrapped),
                                      period: period, now: time)
        }
        // The one stored: this writer's, or one another writer stored first.
        guard let stored = try store.periodKey(tenant: tenant, dataClass: kind.code, periodStart: period.start) else {
            throw CofferError(.storage, "the data key of \(kind.code) for the period from \(period.start) was not stored")
        }
        return try unwrapContentKey(stored, caching: cacheKey)
    }

    private func unwrapContentKey(_ stored: StoredKey, caching cacheKey: String) throws -> ClassKeys {
        guard case .dataClass(let id, _, _) = stored.owner else { throw CofferError(.storage, "not a content key") }
        let dataKey = try keyEncryptionKey(id: stored.wrapped.kekID).unwrap(stored.wrapped, context: stored.wrapContext)
        let keys = try ClassKeys(id: id, dataKey: dataKey)
        classKeyCache.withLock { $0[cacheKey] = keys }
        return keys
    }

    /// Destroys data keys of `tenant` and forgets them; the ledger records it.
    func destroyDataKeys(_ ids: [String], tenant: String, kind: LedgerKind) throws {
        try store.deleteDataKeys(ids, tenant: tenant, kind: kind, now: nowMilliseconds())
        forgetDataKeys(of: tenant)
    }

    /// Destroys every data key of `tenant` for erasure request `requestID`, recording `objects`
    /// with them (``KeyStore/deleteTenantKeys(tenant:requestID:objects:now:)``), and forgets them.
    func destroyTenantKeys(_ tenant: String, requestID: String, objects: Int) throws {
        try store.deleteTenantKeys(tenant: tenant, requestID: requestID, objects: objects, now: nowMilliseconds())
        forgetDataKeys(of: tenant)
    }

    private func forgetDataKeys(of tenant: String) {
        let prefix = tenant + "\u{0}"
        classKeyCache.withLock { cache in cache.removeAll { $0.hasPrefix(prefix) } }
    }

    /// The field key of data subject `subject` of `tenant` under its key `keyID` (a legacy key
    /// when nil), cached; nil when that key is gone.
    func subjectFieldKey(keyID: String?, subject: String, tenant: String) throws -> SecureBytes? {
        try dropKeysDestroyedElsewhere()
        let cacheKey = [tenant, subject, keyID ?? "legacy"].joined(separator: "\u{0}")
        if let cached = subjectKeyCache.withLock({ $0[cacheKey] }) { return cached }
        let found = if let keyID { try store.subjectKey(id: keyID, subject: subject, tenant: tenant) } else {
            try store.legacySubjectKey(subject: subject, tenant: tenant)
        }
        guard let stored = found else { return nil }
        let key = try keyEncryptionKey(id: stored.wrapped.kekID).unwrap(stored.wrapped, context: stored.wrapContext)
        let fieldKey = try HKDF.deriveKey(from: key, salt: [UInt8](), info: Array("coffer/v1/pii-fields".utf8), length: 32)
        subjectKeyCache.withLock { $0[cacheKey] = fieldKey }
        return fieldKey
    }

    /// Drops every unwrapped key and re-reads the keyring file when the key epoch moved since the
    /// last check (another process, or this one, destroyed keys or finished a rotation), checking
    /// at most once per ``destroyedKeyRecheck``.
    private func dropKeysDestroyedElsewhere() throws {
        let now = ContinuousClock.now
        let recheck = destroyedKeyRecheck.withLock { $0 }
        if let last = epoch.withLock({ $0 }), now - last.at < recheck { return }
        let current = try store.keyEpoch()
        let moved = epoch.withLock { state -> Bool in
            defer { state = (current, now) }
            return state.map { $0.seen != current } ?? false
        }
        guard moved else { return }
        classKeyCache.withLock { $0.removeAll { _ in true } }
        subjectKeyCache.withLock { $0.removeAll { _ in true } }
        // A rotation moves the epoch too: the keyring file then holds the new KEK (and may no
        // longer hold a retired one).
        try reload()
        logger.debug("unwrapped keys dropped: keys were destroyed", metadata: ["epoch": "\(current)"])
    }

    /// True when a content key of `tenant` is unwrapped in memory now.
    func holdsDataKeys(of tenant: String) -> Bool {
        classKeyCache.withLock { cache in cache.contains { $0.hasPrefix(tenant + "\u{0}") } }
    }

    /// Forgets a subject's cached keys (after they are destroyed).
    func forgetSubject(_ subject: String, tenant: String) {
        let prefix = tenant + "\u{0}" + subject + "\u{0}"
        subjectKeyCache.withLock { $0.removeAll { $0.hasPrefix(prefix) } }
    }

    /// How many subject keys are unwrapped in memory now.
    var cachedSubjectKeyCount: Int { subjectKeyCache.withLock { $0.count } }

    // MARK: New keys

    /// Registers `tenant` on `plan` with one fresh data key per object kind, wrapped under the
    /// wrap target.
    func createTenant(_ tenant: String, plan: Plan = .free, location: String? = nil, now: Int64) throws {
        try wrappingUnderTarget { kek in
            let keys = try ObjectKind.all.map { kind -> StoredKey in
                let id = try makeIdentifier("dk")
                let context = dataKeyContext(id: id, tenant: tenant, dataClass: kind.code)
                return StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: kind.code),
                                 wrapped: try kek.wrap(try SecureBytes.random(count: 32), context: context))
            }
            try store.insertTenant(tenant, plan: plan, location: location, keys: keys, now: now)
        }
    }

    /// Makes and stores a fresh key for data subject `subject`: a field key, pending until
    /// ``settleSubjectKey(_:subject:tenant:)`` (the PII file names a key only once it is
    /// stored), or a key for what a legal retention keeps until `retainUntil`.
    /// - Returns: The new key's id.
    func createSubjectKey(subject: String, tenant: String, role: SubjectKeyRole = .fields, retainUntil: Int64? = nil,
                          now: Int64) throws -> String {
        let id = try makeIdentifier(role == .fields ? "sk" : "rk")
        for _ in 0..<4 {
            guard let target = try store.wrapState().piiWrapTarget else {
                throw CofferError(.keyNotFound, "this vault has no PII key-encryption key yet; open it with a keyring that has a pii-kek")
            }
            let kek = try keyEncryptionKey(id: target)
            let owner = StoredKey.Owner.subject(keyID: id, subject: subject, tenant: tenant)
            let wrapped = try kek.wrap(try SecureBytes.random(count: 32), context: subjectKeyContext(keyID: id, subject: subject, tenant: tenant))
            do {
                try store.insertSubjectKey(StoredKey(owner: owner, wrapped: wrapped), role: role, retainUntil: retainUntil, now: now)
                return id
            } catch is StaleWrapKEK { try reload() }
        }
        throw CofferError(.storage, "the vault's PII key-encryption key kept changing while a new key was stored; try again")
    }

    /// Makes `keyID` the subject's only key, destroying every other (the key it replaces).
    func settleSubjectKey(_ keyID: String, subject: String, tenant: String) throws {
        try store.settleSubjectKey(keyID, subject: subject)
        forgetSubject(subject, tenant: tenant)
    }

    /// Destroys a key the PII file never came to name.
    func discardSubjectKey(_ keyID: String) throws {
        try store.deleteSubjectKey(id: keyID)
    }

    /// Destroys every key of a subject and forgets them (erasure).
    func destroySubjectKeys(subject: String, tenant: String) throws {
        try store.deleteSubjectKeys(subject: subject, tenant: tenant)
        forgetSubject(subject, tenant: tenant)
    }

    /// Runs `body` with the vault's wrap target; when a rotation moved the target on between the
    /// read and the store, reloads the keyring and runs it again.
    private func wrappingUnderTarget(_ body: (KeyEncryptionKey) throws -> Void) throws {
        for _ in 0..<4 {
            let kek = try keyEncryptionKey(id: try store.wrapState().wrapTarget)
            do { return try body(kek) } catch is StaleWrapKEK { try reload() }
        }
        throw CofferError(.storage, "the vault's key-encryption key kept changing while a new key was stored; try again")
    }

    // MARK: Rotation and retirement

    /// Rotates the vault to a fresh KEK in its keyring file (or finishes an interrupted
    /// rotation), holding the file's lock throughout. Blocks: run it on the blocking pool.
    func rotate() throws -> KeyRotation {
        guard case .file(let file) = source else {
            throw CofferError(.invalidArgument, "this vault's keyring is held in memory; save a keyring with a new active key and call rotateKeys(to:context:)")
        }
        return try file.withLock {
            var keyring = try file.load()
            let state = try store.wrapState()
            let targets: RotationTargets
            let resumed: Bool
            if let pending = state.rotationTarget {
                let pendingPII = state.piiRotationTarget ?? state.piiSettledKEK ?? ""
                guard let kek = try? keyring.keyEncryptionKey(id: pending), let piiKEK = try? keyring.keyEncryptionKey(id: pendingPII) else {
                    throw CofferError(.keyNotFound, "an interrupted rotation was rewrapping keys under '\(pending)' and '\(pendingPII)', which \(file.path) does not hold both of; restore the keyring from \(file.previousPath) or a backup")
                }
                (targets, resumed) = (RotationTargets(content: kek, pii: piiKEK), true)
            } else {
                keyring = try file.save(keyring.addingActiveKey().addingKey(for: .piiKeyEncryption))
                targets = RotationTargets(content: keyring.activeKey, pii: keyring.activePIIKey!)
                resumed = false
                try store.beginRotation(target: targets.content.id, piiTarget: targets.pii.id, keyringGeneration: keyring.generation)
            }
            current.withLock { $0 = keyring }
            let count = try rewrapAll(under: targets, using: keyring)
            return try finish(targets: targets, keyring: keyring, rewrapped: count, resumed: resumed)
        }
    }

    /// Rotates a vault with a keyring held in memory to `newKeyring`'s active KEK. The caller has
    /// saved `newKeyring`; it must hold every KEK the vault's keys are wrapped under now.
    func rotate(to newKeyring: Keyring) throws -> KeyRotation {
        guard case .memory = source else {
            throw CofferError(.invalidArgument, "this vault's keyring is a file; rotate with rotateKeys(context:), which saves the new key under the file's lock first")
        }
        let state = try store.wrapState()
        var needed = try store.kekIDsInUse()
        needed.insert(state.settledKEK)
        for id in [state.rotationTarget, state.piiSettledKEK, state.piiRotationTarget].compactMap({ $0 }) { needed.insert(id) }
        for id in needed.sorted() where (try? newKeyring.keyEncryptionKey(id: id)) == nil {
            throw CofferError(.keyNotFound, "the new keyring does not hold key '\(id)', which wraps some of the vault's keys; it must keep every KEK until the rotation is done")
        }
        guard let piiTarget = newKeyring.activePIIKey else {
            throw CofferError(.keyNotFound, "the new keyring has no PII key-encryption key (pii-kek); subject keys are wrapped under one")
        }
        let targets = RotationTargets(content: newKeyring.activeKey, pii: piiTarget)
        try store.beginRotation(target: targets.content.id, piiTarget: targets.pii.id, keyringGeneration: newKeyring.generation)
        current.withLock { $0 = newKeyring }
        let count = try rewrapAll(under: targets, using: newKeyring)
        return try finish(targets: targets, keyring: newKeyring, rewrapped: count, resumed: false)
    }

    /// The KEKs a rotation moves keys to: content keys under one, subject keys under the other.
    private struct RotationTargets {
        let content: KeyEncryptionKey
        let pii: KeyEncryptionKey
    }

    private func rewrapAll(under targets: RotationTargets, using keyring: Keyring) throws -> Int {
        var total = 0
        while true {
            let batch = try store.keys(notWrappedUnder: targets.content.id, pii: targets.pii.id, limit: Self.rewrapBatchSize)
            if batch.isEmpty { return total }
            let rewrapped = try batch.map { key -> (old: StoredKey, new: WrappedKey) in
                let plain = try keyring.keyEncryptionKey(id: key.wrapped.kekID).unwrap(key.wrapped, context: key.wrapContext)
                return (key, try (key.isPII ? targets.pii : targets.content).wrap(plain, context: key.wrapContext))
            }
            total += try store.rewrap(rewrapped, now: nowMilliseconds())
            CrashPoint.hit("rotate.after-batch")
            try afterRewrapBatch.withLock { $0 }?(total)
        }
    }

    private func finish(targets: RotationTargets, keyring: Keyring, rewrapped: Int, resumed: Bool) throws -> KeyRotation {
        let canary = try targets.content.wrap(SecureBytes.random(count: 32), context: "vault-canary")
        let piiCanary = try targets.pii.wrap(SecureBytes.random(count: 32), context: "vault-pii-canary")
        try store.finishRotation(canary: canary, piiCanary: piiCanary, keyringGeneration: keyring.generation)
        let inUse = try store.kekIDsInUse()
        let retirable = (keyring.keyEncryptionKeyIDs + keyring.piiKeyEncryptionKeyIDs).filter { ![targets.content.id, targets.pii.id].contains($0) && !inUse.contains($0) }
        logger.debug("keys rewrapped", metadata: ["count": "\(rewrapped)", "kek": "\(targets.content.id)", "pii-kek": "\(targets.pii.id)",
                                                  "resumed": "\(resumed)"])
        return KeyRotation(activeKEK: targets.content.id, activePIIKEK: targets.pii.id, rewrapped: rewrapped, resumed: resumed,
                           retirable: retirable, keyringGeneration: keyring.generation)
    }

    /// Removes KEK `id` from the keyring file, after checking under the file's lock that no key
    /// of this vault depends on it and that it is not the one new keys are wrapped under.
    func retire(_ id: String) throws -> Keyring {
        guard case .file(let file) = source else {
            throw CofferError(.invalidArgument, "this vault's keyring is held in memory; remove the key from your copy once keyStatus shows nothing depends on it")
        }
        let saved = try file.withLock { () throws -> Keyring in
            let keyring = try file.load()
            let state = try store.wrapState()
            guard ![state.wrapTarget, state.settledKEK, state.piiWrapTarget, state.piiSettledKEK].contains(id) else {
                throw CofferError(.invalidArgument, "key '\(id)' is the one this vault wraps its keys under; rotate first")
            }
            let dependents = try store.status().filter { $0.kekID == id }.count
            guard dependents == 0 else {
                throw CofferError(.invalidArgument, "\(dependents) of this vault's keys are still wrapped under '\(id)'; run `coffer keys rotate` first")
            }
            return try file.save(keyring.removingKey(id: id))
        }
        current.withLock { $0 = saved }
        return saved
    }
}

/// What a key rotation did.
public struct KeyRotation: Sendable, Codable, Hashable {
    /// The KEK every content key of the vault is now wrapped under.
    public let activeKEK: String
    /// The PII KEK every subject key of the vault is now wrapped under.
    public let activePIIKEK: String
    /// How many data and subject keys were rewrapped.
    public let rewrapped: Int
    /// True when this finished a rotation that had been interrupted, instead of starting one.
    public let resumed: Bool
    /// KEKs of the keyring that no key of this vault depends on any more (they can be retired).
    public let retirable: [String]
    /// The keyring file's generation after the rotation.
    public let keyringGeneration: Int
}
