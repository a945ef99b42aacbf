import Foundation
import GRDB

extension Vault {
    /// Rewraps every data key (and the vault's keyring check) under `newKeyring`'s active KEK,
    /// in one transaction, without touching content. The new keyring must still hold the KEKs the
    /// keys are wrapped under now; afterwards those can be retired once ``keyStatus(context:)``
    /// shows nothing depends on them.
    /// - Parameters:
    ///   - newKeyring: The keyring with the new active KEK (already saved by the caller).
    ///   - context: Who asks and why.
    /// - Returns: How many data keys were rewrapped.
    public func rotateKeys(to newKeyring: Keyring, context: AccessContext) async throws -> Int {
        let request = AccessRequest(action: .keyOperation, dataClass: .administration)
        try await authorize(context, request)
        return try await performing(context, request) {
            let target = newKeyring.activeKey
            let now = nowMilliseconds()
            let count = try await control.write { db -> Int in
                let rows = try Row.fetchAll(db, sql: "SELECT id, tenant_id, data_class, kek_id, wrapped FROM data_key")
                for row in rows {
                    let id: String = row["id"], tenant: String = row["tenant_id"], dataClass: String = row["data_class"]
                    let context = dataKeyContext(id: id, tenant: tenant, dataClass: dataClass)
                    let old = WrappedKey(kekID: row["kek_id"], sealed: [UInt8](row["wrapped"] as Data))
                    let key = try newKeyring.keyEncryptionKey(id: old.kekID).unwrap(old, context: context)
                    let rewrapped = try target.wrap(key, context: context)
                    try db.execute(sql: "UPDATE data_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE id = ?",
                                   arguments: [target.id, Data(rewrapped.sealed), now, id])
                }
                let subjects = try Row.fetchAll(db, sql: "SELECT subject_id, tenant_id, kek_id, wrapped FROM subject_key")
            for row in subjects {
                let subject: String = row["subject_id"], tenant: String = row["tenant_id"]
                let context = subjectKeyContext(subject: subject, tenant: tenant)
                let old = WrappedKey(kekID: row["kek_id"], sealed: [UInt8](row["wrapped"] as Data))
                let key = try newKeyring.keyEncryptionKey(id: old.kekID).unwrap(old, context: context)
                let rewrapped = try target.wrap(key, context: context)
                try db.execute(sql: "UPDATE subject_key SET kek_id = ?, wrapped = ?, rewrapped_at = ? WHERE subject_id = ?",
                               arguments: [target.id, Data(rewrapped.sealed), now, subject])
            }
            let canary = try target.wrap(SecureBytes.random(count: 32), context: "vault-canary")
                try db.execute(sql: "UPDATE vault_info SET value = ? WHERE name = 'canary_kek'", arguments: [target.id])
                try db.execute(sql: "UPDATE vault_info SET value = ? WHERE name = 'canary'",
                               arguments: [Data(canary.sealed).base64EncodedString()])
                return rows.count + subjects.count
            }
            // From now on the keys are wrapped under the new KEK, which only the new keyring holds.
            currentKeyring.withLock { $0 = newKeyring }
            forgetCachedKeys()
            // Checkpoint so the old wrapped keys leave the WAL too (secure_delete zeroes freed pages).
            await VaultDatabase.truncateWAL(control, logger: logger)
            logger.debug("data keys rewrapped", metadata: ["count": "\(count)", "kek": "\(target.id)", "actor": "\(context.actor)"])
            return count
        }
    }

    /// Every data key and the KEK it depends on.
    public func keyStatus(context: AccessContext) async throws -> [DataKeyStatus] {
        let request = AccessRequest(action: .keyOperation, dataClass: .administration)
        try await authorize(context, request)
        return try await performing(context, request) {
            try await control.readReleasingEarly { db in
                // Per-subject PII keys are listed with data class `pii-subject` and the subject id.
                try Row.fetchAll(db, sql: """
                    SELECT id, tenant_id, data_class, kek_id, created_at, rewrapped_at FROM data_key
                    UNION ALL
                    SELECT subject_id, tenant_id, 'pii-subject', kek_id, created_at, rewrapped_at FROM subject_key
                    ORDER BY 2, 3, 1
                    """)
                    .map { DataKeyStatus(id: $0["id"], tenant: $0["tenant_id"], dataClass: $0["data_class"], kekID: $0["kek_id"],
                                         createdAt: $0["created_at"], rewrappedAt: $0["rewrapped_at"]) }
            }
        }
    }
}
