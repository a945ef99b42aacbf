import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// One wrapped key the vault keeps: a (tenant, data class) data key or a data subject's key.
struct StoredKey: Sendable {
    enum Owner: Sendable, Hashable {
        /// A content data key (`data_key` row), wrapped under a content KEK.
        case dataClass(keyID: String, tenant: String, dataClass: String)
        /// A data subject's key (`subject_key` row), wrapped under a PII KEK.
        case subject(keyID: String, subject: String, tenant: String)
        /// A data subject's key from before PII had KEKs of its own (`legacy_subject_key`),
        /// wrapped under a content KEK until its subject moves to a fresh key.
        case legacySubject(subject: String, tenant: String)
    }

    let owner: Owner
    let wrapped: WrappedKey

    /// The context the key is wrapped with (binds it to its id, tenant and class or subject).
    var wrapContext: String {
        switch owner {
        case .dataClass(let id, let tenant, let dataClass): dataKeyContext(id: id, tenant: tenant, dataClass: dataClass)
        case .subject(let id, let subject, let tenant): subjectKeyContext(keyID: id, subject: subject, tenant: tenant)
        case .legacySubject(let subject, let tenant): legacySubjectKeyContext(subject: subject, tenant: tenant)
        }
    }

    /// Whether a PII KEK wraps it (the others are wrapped under content KEKs).
    var isPII: Bool {
        if case .subject = owner { return true }
        return false
    }
}

/// Which KEKs the vault wraps new keys under, and whether a rotation is under way.
struct WrapState: Sendable {
    /// The content KEK every content key was wrapped under after the last finished rotation
    /// (the canary's).
    let settledKEK: String
    /// The content KEK an unfinished rotation is moving keys to.
    let rotationTarget: String?
    /// The PII KEK every subject key was wrapped under after the last finished rotation (the PII
    /// canary's); nil in a vault made before PII had KEKs of its own, until it is opened with one.
    let piiSettledKEK: String?
    /// The PII KEK an unfinished rotation is moving subject keys to.
    let piiRotationTarget: String?
    /// The keyring generation the vault last rotated with (0 before any).
    let keyringGeneration: Int

    /// New content keys are wrapped under this one, so a rotation never leaves one behind.
    var wrapTarget: String { rotationTarget ?? settledKEK }
    /// New subject keys are wrapped under this one.
    var piiWrapTarget: String? { piiRotationTarget ?? piiSettledKEK }
}

/// What a subject key seals: the subject's fields, or what a legal retention keeps of it after
/// erasure.
enum SubjectKeyRole: String, Sendable {
    case fields
    case retained
}

/// A KEK other than the vault's current one was used for a new key: reload and wrap again.
struct StaleWrapKEK: Error {}

/// The key manager's persistence: wrapped keys and the wrap state in `control.sqlite`. The only
/// code that knows the SQL of `data_key`, `subject_key` and the key rows of `vault_info`.
struct KeyStore: Sendable {
    let pool: any SQLDatabase

    // MARK: Reading

    /// The wrap state.
    /// - Throws: `CofferError` `schemaMismatch` when the control file has no keyring check.
    func wrapState() throws -> WrapState {
        try guardedRead { db in try Self.wrapState(db) }
    }

    static func wrapState(_ db: any SQLSession) throws -> WrapState {
        let rows = try db.fetchAll(sql: """
            SELECT name, value FROM vault_info
            WHERE name IN ('canary_kek', 'rotation_target', 'pii_canary_kek', 'pii_rotation_target', 'keyring_generation')
            """)
        var values: [String: String] = [:]
        for row in rows {
            values[try row.stored("name", in: "vault_info")] = try row.stored("value", in: "vault_info")
        }
        guard let settled = values["canary_kek"] else {
            throw CofferError(.schemaMismatch, "control.sqlite has no keyring check (canary_kek); it is not a Coffer vault control file")
        }
        return WrapState(settledKEK: settled, rotationTarget: values["rotation_target"],
                         piiSettledKEK: values["pii_canary_kek"], piiRotationTarget: values["pii_rotation_target"],
                         keyringGeneration: values["keyring_generation"].flatMap(Int.init) ?? 0)
    }

    /// The vault's keyring check: a random key wrapped under the settled KEK.
    func canary() throws -> WrappedKey {
        guard let canary = try canary(named: "canary") else {
            throw CofferError(.schemaMismatch, "control.sqlite has no keyring check; it is not a Coffer vault control file")
        }
        return canary
    }

    /// The PII KEKs' check: a random key wrapped under the settled PII KEK; nil before the vault
    /// had one.
    func piiCanary() throws -> WrappedKey? {
        try canary(named: "pii_canary")
    }

    private func canary(named name: String) throws -> WrappedKey? {
        let row = try guardedRead { db in
            try db.fetchOne(sql: "SELECT (SELECT value FROM vault_info WHERE name = ?1 || '_kek') AS kek, (SELECT value FROM vault_info WHERE name = ?1) AS sealed",
                             arguments: [name])
        }
        guard let row, let kek = try row.storedIfPresent("kek", in: "vault_info", as: String.self),
              let text = try row.storedIfPresent("sealed", in: "vault_info", as: String.self) else { return nil }
        guard let sealed = Data(base64Encoded: text) else {
            throw CofferError(.tamperDetected, "control.sqlite's \(name) is not base64: the control file was changed outside Coffer")
        }
        return WrappedKey(kekID: kek, sealed: [UInt8](sealed))
    }

    /// The key `keyID` of data subject `subject` of `tenant`, or nil when there is none (erased,
    /// replaced, or not this subject's).
    func subjectKey(id keyID: String, subject: String, tenant: String) throws -> StoredKey? {
        try guardedRead { db in
            guard let row = try db.fetchOne(sql: "SELECT kek_id, wrapped FROM subject_key WHERE key_id = ? AND subject_id = ? AND tenant_id = ?",
                                             arguments: [keyID, subject, tenant]) else { return nil }
            let kek: String = try row.stored("kek_id", in: "subject_key"), wrapped: Data = try row.stored("wrapped", in: "subject_key")
            return StoredKey(owner: .subject(keyID: keyID, subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: kek, sealed: [UInt8](wrapped)))
        }
    }

    /// The key data subject `subject` of `tenant` had before PII had KEKs of its own, or nil.
    func legacySubjectKey(subject: String, tenant: String) throws -> StoredKey? {
        try guardedRead { db in
            guard let row = try db.fetchOne(sql: "SELECT kek_id, wrapped FROM legacy_subject_key WHERE subject_id = ? AND tenant_id = ?",
                                             arguments: [subject, tenant]) else { return nil }
            let t = "legacy_subject_key"
            let kek: String = try row.stored("kek_id", in: t), wrapped: Data = try row.stored("wrapped", in: t)
            return StoredKey(owner: .legacySubject(subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: kek, sealed: [UInt8](wrapped)))
        }
    }

    /// Up to `limit` subjects after `after` that still have a legacy key, with their tenants.
    func legacySubjects(after: String, limit: Int) throws -> [(subject: String, tenant: String)] {
        try guardedRead { db in
            try db.fetchAll(sql: "SELECT subject_id, tenant_id FROM legacy_subject_key WHERE subject_id > ? ORDER BY subject_id LIMIT ?",
                             arguments: [after, limit]).map { row in
                (subject: try row.stored("subject_id", in: "legacy_subject_key"), tenant: try row.stored("tenant_id", in: "legacy_subject_key"))
            }
        }
    }

    /// Subject keys stored but not yet named by the PII file (a subject being added or moved to
    /// a fresh key, or one a crash interrupted).
    func pendingSubjectKeys() throws -> [(keyID: String, subject: String, tenant: String, createdAt: Int64)] {
        try guardedRead { db in
            try db.fetchAll(sql: "SELECT key_id, subject_id, tenant_id, created_at FROM subject_key WHERE pending = 1 ORDER BY key_id").map { row in
                let t = "subject_key"
                return (keyID: try row.stored("key_id", in: t), subject: try row.stored("subject_id", in: t), tenant: try row.stored("tenant_id", in: t),
                        createdAt: try row.stored("created_at", in: t))
            }
        }
    }

    /// Every KEK id a key of the vault is wrapped under.
    func kekIDsInUse() throws -> Set<String> {
        Set(try guardedRead { db in
            try db.fetchAll(String.self, sql: "SELECT kek_id FROM data_key UNION SELECT kek_id FROM subject_key UNION SELECT kek_id FROM legacy_subject_key")
        })
    }

    /// Up to `limit` keys not wrapped under their family's target: content keys (and legacy
    /// subject keys) not under `content`, subject keys not under `pii`; in a stable order.
    func keys(notWrappedUnder content: String, pii: String, limit: Int) throws -> [StoredKey] {
        try guardedRead { db in
            var keys: [StoredKey] = []
            for row in try db.fetchAll(sql: "SELECT id, tenant_id, data_class, kek_id, wrapped FROM data_key WHERE kek_id != ? ORDER BY id LIMIT ?",
                                        arguments: [content, limit]) {
                let t = "data_key"
                let id: String = try row.stored("id", in: t), tenant: String = try row.stored("tenant_id", in: t)
                let dataClass: String = try row.stored("data_class", in: t), old: String = try row.stored("kek_id", in: t)
                let wrapped: Data = try row.stored("wrapped", in: t)
                keys.append(StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: dataClass),
                                      wrapped: WrappedKey(kekID: old, sealed: [UInt8](wrapped))))
            }
            if keys.count < limit {
                for row in try db.fetchAll(sql: "SELECT key_id, subject_id, tenant_id, kek_id, wrapped FROM subject_key WHERE kek_id != ? ORDER BY key_id LIMIT ?",
                                            arguments: [pii, limit - keys.count]) {
                    let t = "subject_key"
                    let id: String = try row.stored("key_id", in: t), subject: String = try row.stored("subject_id", in: t)
                    let tenant: String = try row.stored("tenant_id", in: t)
                    let old: String = try row.stored("kek_id", in: t), wrapped: Data = try row.stored("wrapped", in: t)
                    keys.append(StoredKey(owner: .subject(keyID: id, subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: old, sealed: [UInt8](wrapped))))
                }
            }
            if keys.count < limit {
                for row in try db.fetchAll(sql: "SELECT subject_id, tenant_id, kek_id, wrapped FROM legacy_subject_key WHERE kek_id != ? ORDER BY subject_id LIMIT ?",
                                            arguments: [content, limit - keys.count]) {
                    let t = "legacy_subject_key"
                    let subject: String = try row.stored("subject_id", in: t), tenant: String = try row.stored("tenant_id", in: t)
                    let old: String = try row.stored("kek_id", in: t), wrapped: Data = try row.stored("wrapped", in: t)
                    keys.append(StoredKey(owner: .legacySubject(subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: old, sealed: [UInt8](wrapped))))
                }
            }
            return keys
        }
    }

    /// Every key and the KEK it depends on (subject keys with data class `pii-subject`, or
    /// `pii-subject-legacy` before their subject moves under a PII KEK).
    func status() throws -> [DataKeyStatus] {
        try guardedRead { db in
            try db.fetchAll(sql: """
                SELECT id, tenant_id, data_class, kek_id, created_at, rewrapped_at FROM data_key
                UNION ALL
                SELECT key_id, tenant_id, CASE role WHEN 'retained' THEN 'pii-retained' ELSE 'pii-subject' END, kek_id, created_at, rewrapped_at
                FROM subject_key
                UNION ALL
                SELECT subject_id, tenant_id, 'pii-subject-legacy', kek_id, created_at, rewrapped_at FROM legacy_subject_key
                ORDER BY 2, 3, 1
                """).map { row in
                let t = "data_key"
                return DataKeyStatus(id: try row.stored("id", in: t), tenant: try row.stored("tenant_id", in: t),
                                     dataClass: try row.stored("data_class", in: t), kekID: try row.stored("kek_id", in: t),
                                     createdAt: try row.stored("created_at", in: t), rewrappedAt: try row.storedIfPresent("rewrapped_at", in: t))
            }
        }
    }

    // MARK: Writing

    /// Registers `tenant` with its data keys in one transaction, provided they are wrapped under
    /// the vault's wrap target.
    /// - Throws: ``StaleWrapKEK`` when the wrap target has moved on; `CofferError`
    ///   `alreadyExists`.
    func insertTenant(_ tenant: String, plan: Plan, location: String? = nil, keys: [StoredKey], now: Int64) throws {
        try guardedWrite { db in
            try Self.requireWrapTarget(keys.map(\.wrapped.kekID), db)
            if try db.fetchOne(Bool.self, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) == true {
                throw CofferError(.alreadyExists, "tenant '\(tenant)' already exists")
            }
            try db.execute(sql: "INSERT INTO tenant (id, plan, created_at) VALUES (?, ?, ?)", arguments: [tenant, plan.rawValue, now])
            if let location {  // the scale-out engine's column: residency
                try db.execute(sql: "UPDATE tenant SET location = ? WHERE id = ?", arguments: [location, tenant])
            }
            for key in keys {
                guard case .dataClass(let id, _, let dataClass) = key.owner else { continue }
                try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [id, tenant, dataClass, key.wrapped.kekID, Data(key.wrapped.sealed), now])
            }
        }
    }

    /// Stores a new subject key, pending until the PII file names it, provided it is wrapped
    /// under the vault's PII wrap target.
    /// - Throws: ``StaleWrapKEK`` when the wrap target has moved on.
    /// A key kept until `retainUntil` (``SubjectKeyRole/retained``) is stored settled.
    func insertSubjectKey(_ key: StoredKey, role: SubjectKeyRole = .fields, retainUntil: Int64? = nil, now: Int64) throws {
        guard case .subject(let id, let subject, let tenant) = key.owner else { return }
        try guardedWrite { db in
            guard try Self.wrapState(db).piiWrapTarget == key.wrapped.kekID else { throw StaleWrapKEK() }
            // No subject of an erased tenant gets a key again (what a legal retention keeps of
            // one being erased does).
            if role == .fields, try db.fetchOne(Bool.self, sql: "SELECT 1 FROM tenant WHERE id = ? AND erased_at IS NOT NULL", arguments: [tenant]) == true {
                throw CofferError(.notFound, "tenant '\(tenant)' was erased")
            }
            try db.execute(sql: """
                INSERT INTO subject_key (key_id, subject_id, tenant_id, kek_id, wrapped, pending, role, retain_until, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, subject, tenant, key.wrapped.kekID, Data(key.wrapped.sealed), role == .fields ? 1 : 0, role.rawValue,
                                 retainUntil, now])
        }
    }

    /// Makes `keyID` the subject's only key: every other key of the subject (and its legacy key)
    /// is destroyed, in one transaction.
    /// - Returns: The ids of the keys destroyed.
    @discardableResult
    func settleSubjectKey(_ keyID: String, subject: String) throws -> [String] {
        try guardedWrite { db in
            // Only settled keys go: a key another move of the same subject is storing right now
            // is pending, and that move settles (or discards) it itself.
            let others = try db.fetchAll(String.self, sql: """
                SELECT key_id FROM subject_key WHERE subject_id = ? AND key_id != ? AND role = 'fields' AND pending = 0
                """, arguments: [subject, keyID])
            try db.execute(sql: "DELETE FROM subject_key WHERE subject_id = ? AND key_id != ? AND role = 'fields' AND pending = 0",
                           arguments: [subject, keyID])
            if !others.isEmpty { try Self.advanceKeyEpoch(db) }
            try db.execute(sql: "DELETE FROM legacy_subject_key WHERE subject_id = ?", arguments: [subject])
            let settled = try db.execute(sql: "UPDATE subject_key SET pending = 0 WHERE key_id = ? AND subject_id = ?", arguments: [keyID, subject])
            guard settled == 1 else {
                throw CofferError(.storage, "subject key \(keyID) of \(subject) is gone before it was settled; the subject's values may be unreadable")
            }
            return others
        }
    }

    /// Destroys one pending field key (one the PII file never came to name).
    func deleteSubjectKey(id keyID: String) throws {
        try guardedWrite { db in try db.execute(sql: "DELETE FROM subject_key WHERE key_id = ? AND pending = 1", arguments: [keyID]) }
    }

    /// Retained keys of `tenant` whose retention ended at or before `time`, as this file says.
    func retainedKeysDue(tenant: String, before time: Int64) throws -> [(keyID: String, subject: String, until: Int64)] {
        try guardedRead { db in
            try db.fetchAll(sql: """
                SELECT key_id, subject_id, retain_until FROM subject_key WHERE tenant_id = ? AND role = 'retained' AND retain_until <= ?
                ORDER BY subject_id, key_id
                """, arguments: [tenant, time]).map { row in
                (keyID: try row.stored("key_id", in: "subject_key"), subject: try row.stored("subject_id", in: "subject_key"),
                 until: try row.stored("retain_until", in: "subject_key"))
            }
        }
    }

    /// The subjects of `tenant` that have a field key.
    func subjectsWithFieldKeys(tenant: String) throws -> Set<String> {
        Set(try guardedRead { db in
            try db.fetchAll(String.self, sql: "SELECT DISTINCT subject_id FROM subject_key WHERE tenant_id = ? AND role = 'fields'", arguments: [tenant])
        })
    }

    /// Destroys a retained key of `subject` of `tenant`.
    func deleteRetainedKey(_ keyID: String, subject: String, tenant: String) throws {
        try guardedWrite { db in
            let deleted = try db.execute(sql: "DELETE FROM subject_key WHERE key_id = ? AND subject_id = ? AND tenant_id = ? AND role = 'retained'",
                                         arguments: [keyID, subject, tenant])
            guard deleted > 0 else { return }
            try Self.appendLedger(db, LedgerEntry(at: nowMilliseconds(), kind: .retained, tenant: tenant, subject: subject, keyIDs: [keyID],
                                                  requestID: nil))
        }
    }

    /// Destroys every field key of a subject (erasure); a key a legal retention keeps stays. The
    /// ledger entry names the erasure request (nil: a retention run's or a restore's) and holds
    /// `tally`, what the erasure removed besides keys.
    /// - Returns: The ids of the keys destroyed.
    @discardableResult
    func deleteSubjectKeys(subject: String, tenant: String, requestID: String? = nil, tally: ErasureTally? = nil) throws -> [String] {
        try guardedWrite { db in
            let ids = try db.fetchAll(String.self, sql: "SELECT key_id FROM subject_key WHERE subject_id = ? AND role = 'fields'", arguments: [subject])
            try db.execute(sql: "DELETE FROM subject_key WHERE subject_id = ? AND role = 'fields'", arguments: [subject])
            try db.execute(sql: "DELETE FROM legacy_subject_key WHERE subject_id = ?", arguments: [subject])
            // Recorded even when no key was left (an erasure finished again): a restore erases the
            // subject's rows from an older copy of the PII file.
            try Self.appendLedger(db, LedgerEntry(at: nowMilliseconds(), kind: .subject, tenant: tenant, subject: subject, keyIDs: ids,
                                                  requestID: requestID), tally: tally)
            return ids
        }
    }

    /// Records the PII canary of a vault that had none (the first open with a PII KEK).
    func initializePIICanary(_ canary: WrappedKey) throws {
        try guardedWrite { db in
            guard try Self.wrapState(db).piiSettledKEK == nil else { return }
            try Self.setInfo("pii_canary_kek", canary.kekID, db)
            try Self.setInfo("pii_canary", Data(canary.sealed).base64EncodedString(), db)
        }
    }

    /// Records that a rotation to `target` (content) and `piiTarget` has begun: from now on new
    /// keys are wrapped under them.
    func beginRotation(target: String, piiTarget: String, keyringGeneration: Int) throws {
        try guardedWrite { db in
            try Self.setInfo("rotation_target", target, db)
            try Self.setInfo("pii_rotation_target", piiTarget, db)
            try Self.setInfo("keyring_generation", String(keyringGeneration), db)
        }
    }

    /// Replaces the wrapping of `keys` (each still under the KEK it was read with) in one
    /// transaction. A key rewrapped meanwhile by someone else is left as it is.
    /// - Returns: How many rows changed.
    func rewrap(_ keys: [(old: StoredKey, new: WrappedKey)], now: Int64) throws -> Int {
        try guardedWrite { db in
            var changed = 0
            for (old, new) in keys {
                switch old.owner {
                case .dataClass(let id, _, _):
                    changed += try db.execute(sql: "UPDATE data_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE id = ? AND kek_id = ?",
                                   arguments: [new.kekID, Data(new.sealed), now, id, old.wrapped.kekID])
                case .subject(let id, _, _):
                    changed += try db.execute(sql: "UPDATE subject_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE key_id = ? AND kek_id = ?",
                                   arguments: [new.kekID, Data(new.sealed), now, id, old.wrapped.kekID])
                case .legacySubject(let subject, _):
                    changed += try db.execute(sql: "UPDATE legacy_subject_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE subject_id = ? AND kek_id = ?",
                                   arguments: [new.kekID, Data(new.sealed), now, subject, old.wrapped.kekID])
                }
            }
            return changed
        }
    }

    /// Ends a rotation: the canaries move to `canary`'s and `piiCanary`'s KEKs, which become the
    /// settled ones.
    func finishRotation(canary: WrappedKey, piiCanary: WrappedKey, keyringGeneration: Int) throws {
        try guardedWrite { db in
            try Self.setInfo("canary_kek", canary.kekID, db)
            try Self.setInfo("canary", Data(canary.sealed).base64EncodedString(), db)
            try Self.setInfo("pii_canary_kek", piiCanary.kekID, db)
            try Self.setInfo("pii_canary", Data(piiCanary.sealed).base64EncodedString(), db)
            try Self.setInfo("keyring_generation", String(keyringGeneration), db)
            try db.execute(sql: "DELETE FROM vault_info WHERE name IN ('rotation_target', 'pii_rotation_target')")
            // Other processes reload the keyring at their next key lookup, forgetting a retired KEK.
            try Self.advanceKeyEpoch(db)
        }
    }

    // MARK: Helpers

    private static func requireWrapTarget(_ keks: [String], _ db: any SQLSession) throws {
        let target = try wrapState(db).wrapTarget
        guard keks.allSatisfy({ $0 == target }) else { throw StaleWrapKEK() }
    }

    private static func setInfo(_ name: String, _ value: String, _ db: any SQLSession) throws {
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       arguments: [name, value])
    }

    private func guardedRead<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.read(body) }
    }

    @discardableResult

    private func guardedWrite<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.write(body) }
    }
}
