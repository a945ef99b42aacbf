import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// The SQL of content data keys: the class's index key (no period) and the period keys.
extension KeyStore {
    /// The index key of `tenant`'s `dataClass` (the key with no period), or nil.
    func dataKey(tenant: String, dataClass: String) throws -> StoredKey? {
        try contentKey(sql: "SELECT id, kek_id, wrapped FROM data_key WHERE tenant_id = ? AND data_class = ? AND period_start IS NULL",
                       arguments: [tenant, dataClass], tenant: tenant, dataClass: dataClass)
    }

    /// The data key `id` of `tenant`'s `dataClass`, or nil (destroyed, or not that class's).
    func dataKey(id: String, tenant: String, dataClass: String) throws -> StoredKey? {
        try contentKey(sql: "SELECT id, kek_id, wrapped FROM data_key WHERE id = ? AND tenant_id = ? AND data_class = ?",
                       arguments: [id, tenant, dataClass], tenant: tenant, dataClass: dataClass)
    }

    /// The key of `tenant`'s `dataClass` for the period starting at `periodStart`, or nil.
    func periodKey(tenant: String, dataClass: String, periodStart: Int64) throws -> StoredKey? {
        try contentKey(sql: "SELECT id, kek_id, wrapped FROM data_key WHERE tenant_id = ? AND data_class = ? AND period_start = ?",
                       arguments: [tenant, dataClass, periodStart], tenant: tenant, dataClass: dataClass)
    }

    private func contentKey(sql: String, arguments: SQLArguments, tenant: String, dataClass: String) throws -> StoredKey? {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                guard let row = try db.fetchOne(sql: sql, arguments: arguments) else { return nil }
                let t = "data_key"
                let id: String = try row.stored("id", in: t), kek: String = try row.stored("kek_id", in: t)
                let wrapped: Data = try row.stored("wrapped", in: t)
                return StoredKey(owner: .dataClass(keyID: id, tenant: tenant, dataClass: dataClass),
                                 wrapped: WrappedKey(kekID: kek, sealed: [UInt8](wrapped)))
            }
        }
    }

    /// Stores a period key, provided it is wrapped under the wrap target and the tenant was not
    /// erased. When another writer stored one for the same period first, keeps that one.
    /// - Throws: ``StaleWrapKEK``; `CofferError` `notFound` for an erased tenant.
    func insertPeriodKey(_ key: StoredKey, period: KeyPeriod, now: Int64) throws {
        guard case .dataClass(let id, let tenant, let dataClass) = key.owner else { return }
        try VaultDatabase.guardedSync {
            try pool.write { db in
                guard try Self.wrapState(db).wrapTarget == key.wrapped.kekID else { throw StaleWrapKEK() }
                guard let erased = try db.fetchOne(sql: "SELECT erased_at FROM tenant WHERE id = ?", arguments: [tenant]) else {
                    throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'")
                }
                if try erased.storedIfPresent("erased_at", in: "tenant", as: Int64.self) != nil { throw CofferError(.notFound, "tenant '\(tenant)' was erased") }
                try db.execute(sql: """
                    INSERT INTO data_key (id, tenant_id, data_class, kek_id, wrapped, created_at, period_start, period_end)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """, arguments: [id, tenant, dataClass, key.wrapped.kekID, Data(key.wrapped.sealed), now, period.start, period.end])
            }
        }
    }

    /// Period keys whose period ended before `before`, with their tenants: the ones a retention
    /// run may destroy once no row of the content file uses them.
    func endedPeriodKeys(before: Int64) throws -> [(id: String, tenant: String, dataClass: String, periodEnd: Int64)] {
        try VaultDatabase.guardedSync {
            try pool.read { db in
                try db.fetchAll(sql: """
                    SELECT id, tenant_id, data_class, period_end FROM data_key WHERE period_end IS NOT NULL AND period_end < ? ORDER BY id
                    """, arguments: [before]).map { row in
                    let t = "data_key"
                    return (id: try row.stored("id", in: t), tenant: try row.stored("tenant_id", in: t), dataClass: try row.stored("data_class", in: t),
                            periodEnd: try row.stored("period_end", in: t))
                }
            }
        }
    }

    /// Destroys data keys and records them in the erasure ledger, in one transaction.
    func deleteDataKeys(_ ids: [String], tenant: String, kind: LedgerKind, now: Int64) throws {
        guard !ids.isEmpty else { return }
        try VaultDatabase.guardedSync {
            try pool.write { db in
                for id in ids { try db.execute(sql: "DELETE FROM data_key WHERE id = ? AND tenant_id = ?", arguments: [id, tenant]) }
                try Self.appendLedger(db, LedgerEntry(at: now, kind: kind, tenant: tenant, subject: nil, keyIDs: ids, requestID: nil))
            }
        }
    }

    /// Destroys every data key of `tenant` for erasure request `requestID` and records them in
    /// the ledger's tenant entry, with `objects` (the objects the erasure deletes), in one
    /// transaction. The request's first run writes that entry even when the tenant has no key; a
    /// run finishing it again writes one only for keys it finds, counting no object twice.
    /// - Returns: The ids of the keys destroyed.
    @discardableResult
    func deleteTenantKeys(tenant: String, requestID: String, objects: Int, now: Int64) throws -> [String] {
        try VaultDatabase.guardedSync {
            try pool.write { db in
                let ids = try db.fetchAll(String.self, sql: "SELECT id FROM data_key WHERE tenant_id = ? ORDER BY id", arguments: [tenant])
                let recorded = try db.fetchOne(Bool.self, sql: "SELECT 1 FROM erasure_ledger WHERE request_id = ? AND kind = 'tenant'",
                                                 arguments: [requestID]) ?? false
                guard !recorded || !ids.isEmpty else { return [] }
                try db.execute(sql: "DELETE FROM data_key WHERE tenant_id = ?", arguments: [tenant])
                try Self.appendLedger(db, LedgerEntry(at: now, kind: .tenant, tenant: tenant, subject: nil, keyIDs: ids, requestID: requestID),
                                      tally: ErasureTally(objects: recorded ? 0 : objects))
                return ids
            }
        }
    }
}
