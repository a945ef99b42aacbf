import CofferCrypto
import Foundation
import GRDB

/// One wrapped key the vault keeps: a (tenant, data class) data key or a data subject's key.
struct StoredKey: Sendable {
    enum Owner: Sendable, Hashable {
        /// A content data key (`data_key` row).
        case dataClass(keyID: String, tenant: String, dataClass: String)
        /// A data subject's key (`subject_key` row).
        case subject(subject: String, tenant: String)
    }

    let owner: Owner
    let wrapped: WrappedKey

    /// The context the key is wrapped with (binds it to its id, tenant and class or subject).
    var wrapContext: String {
        switch owner {
        case .dataClass(let id, let tenant, let dataClass): dataKeyContext(id: id, tenant: tenant, dataClass: dataClass)
        case .subject(let subject, let tenant): subjectKeyContext(subject: subject, tenant: tenant)
        }
    }
}

/// Which KEK the vault wraps new keys under, and whether a rotation is under way.
struct WrapState: Sendable {
    /// The KEK every key was wrapped under after the last finished rotation (the canary's).
    let settledKEK: String
    /// The KEK an unfinished rotation is moving keys to.
    let rotationTarget: String?
    /// The keyring generation the vault last rotated with (0 before any).
    let keyringGeneration: Int

    /// New keys are wrapped under this one, so a rotation never leaves one behind.
    var wrapTarget: String { rotationTarget ?? settledKEK }
}

/// A KEK other than the vault's current one was used for a new key: reload and wrap again.
struct StaleWrapKEK: Error {}

/// The key manager's persistence: wrapped keys and the wrap state in `control.sqlite`. The only
/// code that knows the SQL of `data_key`, `subject_key` and the key rows of `vault_info`.
struct KeyStore: Sendable {
    let pool: DatabasePool

    // MARK: Reading

    /// The wrap state.
    /// - Throws: `CofferError` `schemaMismatch` when the control file has no keyring check.
    func wrapState() throws -> WrapState {
        try guardedRead { db in try Self.wrapState(db) }
    }

    private static func wrapState(_ db: Database) throws -> WrapState {
        let rows = try Row.fetchAll(db, sql: """
            SELECT name, value FROM vault_info WHERE name IN ('canary_kek', 'rotation_target', 'keyring_generation')
            """)
        var values: [String: String] = [:]
        for row in rows {
            values[try row.stored("name", in: "vault_info")] = try row.stored("value", in: "vault_info")
        }
        guard let settled = values["canary_kek"] else {
            throw CofferError(.schemaMismatch, "control.sqlite has no keyring check (canary_kek); it is not a Coffer vault control file")
        }
        return WrapState(settledKEK: settled, rotationTarget: values["rotation_target"],
                         keyringGeneration: values["keyring_generation"].flatMap(Int.init) ?? 0)
    }

    /// The vault's keyring check: a random key wrapped under the settled KEK.
    func canary() throws -> WrappedKey {
        let row = try guardedRead { db in
            try Row.fetchOne(db, sql: """
                SELECT (SELECT value FROM vault_info WHERE name = 'canary_kek') AS kek,
                       (SELECT value FROM vault_info WHERE name = 'canary') AS sealed
                """)
        }
        guard let row, let kek = try row.storedIfPresent("kek", in: "vault_info", as: String.self),
              let text = try row.storedIfPresent("sealed", in: "vault_info", as: String.self), let sealed = Data(base64Encoded: text) else {
            throw CofferError(.schemaMismatch, "control.sqlite has no keyring check; it is not a Coffer vault control file")
        }
        return WrappedKey(kekID: kek, sealed: [UInt8](sealed))
    }

    /// The data key of `tenant`'s `dataClass`, or nil when there is none.
    func dataKey(tenant: String, dataClass: String) throws -> StoredKey? {
        try guardedRead { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, kek_id, wrapped FROM data_key WHERE tenant_id = ? AND data_class = ?",
                                             arguments: [tenant, dataClass]) else { return nil }
            let id: String = try row.stored("id", in: "data_key"), kek: String = try row.stored("kek_id", in: "data_key")
            let wrapped: Data = try row.stored("wrapped", in: "data_key")
            return StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: dataClass),
                             wrapped: WrappedKey(kekID: kek, sealed: [UInt8](wrapped)))
        }
    }

    /// The key of data subject `subject` of `tenant`, or nil when there is none (erased).
    func subjectKey(subject: String, tenant: String) throws -> StoredKey? {
        try guardedRead { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT kek_id, wrapped FROM subject_key WHERE subject_id = ? AND tenant_id = ?",
                                             arguments: [subject, tenant]) else { return nil }
            let kek: String = try row.stored("kek_id", in: "subject_key"), wrapped: Data = try row.stored("wrapped", in: "subject_key")
            return StoredKey(owner: .subject(subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: kek, sealed: [UInt8](wrapped)))
        }
    }

    /// Every KEK id a key of the vault is wrapped under.
    func kekIDsInUse() throws -> Set<String> {
        Set(try guardedRead { db in
            try String.fetchAll(db, sql: "SELECT kek_id FROM data_key UNION SELECT kek_id FROM subject_key")
        })
    }

    /// Up to `limit` keys not wrapped under `kek`, in a stable order.
    func keys(notWrappedUnder kek: String, limit: Int) throws -> [StoredKey] {
        try guardedRead { db in
            var keys: [StoredKey] = []
            for row in try Row.fetchAll(db, sql: "SELECT id, tenant_id, data_class, kek_id, wrapped FROM data_key WHERE kek_id != ? ORDER BY id LIMIT ?",
                                        arguments: [kek, limit]) {
                let t = "data_key"
                let id: String = try row.stored("id", in: t), tenant: String = try row.stored("tenant_id", in: t)
                let dataClass: String = try row.stored("data_class", in: t), old: String = try row.stored("kek_id", in: t)
                let wrapped: Data = try row.stored("wrapped", in: t)
                keys.append(StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: dataClass),
                                      wrapped: WrappedKey(kekID: old, sealed: [UInt8](wrapped))))
            }
            guard keys.count < limit else { return keys }
            for row in try Row.fetchAll(db, sql: "SELECT subject_id, tenant_id, kek_id, wrapped FROM subject_key WHERE kek_id != ? ORDER BY subject_id LIMIT ?",
                                        arguments: [kek, limit - keys.count]) {
                let t = "subject_key"
                let subject: String = try row.stored("subject_id", in: t), tenant: String = try row.stored("tenant_id", in: t)
                let old: String = try row.stored("kek_id", in: t), wrapped: Data = try row.stored("wrapped", in: t)
                keys.append(StoredKey(owner: .subject(subject: subject, tenant: tenant), wrapped: WrappedKey(kekID: old, sealed: [UInt8](wrapped))))
            }
            return keys
        }
    }

    /// Every key and the KEK it depends on (subject keys with data class `pii-subject`).
    func status() throws -> [DataKeyStatus] {
        try guardedRead { db in
            try Row.fetchAll(db, sql: """
                SELECT id, tenant_id, data_class, kek_id, created_at, rewrapped_at FROM data_key
                UNION ALL
                SELECT subject_id, tenant_id, 'pii-subject', kek_id, created_at, rewrapped_at FROM subject_key
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
    func insertTenant(_ tenant: String, keys: [StoredKey], now: Int64) throws {
        try guardedWrite { db in
            try Self.requireWrapTarget(keys.map(\.wrapped.kekID), db)
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM tenant WHERE id = ?", arguments: [tenant]) == true {
                throw CofferError(.alreadyExists, "tenant '\(tenant)' already exists")
            }
            try db.execute(sql: "INSERT INTO tenant (id, created_at) VALUES (?, ?)", arguments: [tenant, now])
            for key in keys {
                guard case .dataClass(let id, _, let dataClass) = key.owner else { continue }
                try db.execute(sql: "INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [id, tenant, dataClass, key.wrapped.kekID, Data(key.wrapped.sealed), now])
            }
        }
    }

    /// Stores a new subject's key, provided it is wrapped under the vault's wrap target.
    /// - Throws: ``StaleWrapKEK`` when the wrap target has moved on.
    func insertSubjectKey(_ key: StoredKey, now: Int64) throws {
        guard case .subject(let subject, let tenant) = key.owner else { return }
        try guardedWrite { db in
            try Self.requireWrapTarget([key.wrapped.kekID], db)
            try db.execute(sql: "INSERT INTO subject_key (subject_id, tenant_id, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [subject, tenant, key.wrapped.kekID, Data(key.wrapped.sealed), now])
        }
    }

    /// Destroys a subject's key (a subject that could not be stored, or erasure).
    func deleteSubjectKey(subject: String) throws {
        try guardedWrite { db in try db.execute(sql: "DELETE FROM subject_key WHERE subject_id = ?", arguments: [subject]) }
    }

    /// Records that a rotation to `target` has begun: from now on new keys are wrapped under it.
    func beginRotation(target: String, keyringGeneration: Int) throws {
        try guardedWrite { db in
            try Self.setInfo("rotation_target", target, db)
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
                    try db.execute(sql: "UPDATE data_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE id = ? AND kek_id = ?",
                                   arguments: [new.kekID, Data(new.sealed), now, id, old.wrapped.kekID])
                case .subject(let subject, _):
                    try db.execute(sql: "UPDATE subject_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE subject_id = ? AND kek_id = ?",
                                   arguments: [new.kekID, Data(new.sealed), now, subject, old.wrapped.kekID])
                }
                changed += db.changesCount
            }
            return changed
        }
    }

    /// Ends a rotation: the canary moves to `canary`'s KEK, which becomes the settled one.
    func finishRotation(canary: WrappedKey, keyringGeneration: Int) throws {
        try guardedWrite { db in
            try Self.setInfo("canary_kek", canary.kekID, db)
            try Self.setInfo("canary", Data(canary.sealed).base64EncodedString(), db)
            try Self.setInfo("keyring_generation", String(keyringGeneration), db)
            try db.execute(sql: "DELETE FROM vault_info WHERE name = 'rotation_target'")
        }
    }

    // MARK: Helpers

    private static func requireWrapTarget(_ keks: [String], _ db: Database) throws {
        let target = try wrapState(db).wrapTarget
        guard keks.allSatisfy({ $0 == target }) else { throw StaleWrapKEK() }
    }

    private static func setInfo(_ name: String, _ value: String, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       arguments: [name, value])
    }

    private func guardedRead<T>(_ body: (Database) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.read(body) }
    }

    private func guardedWrite<T>(_ body: (Database) throws -> T) throws -> T {
        try VaultDatabase.guardedSync { try pool.write(body) }
    }
}
