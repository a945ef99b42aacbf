import CofferCrypto
import CofferSQL

/// The key epoch: a counter in `vault_info` that every transaction destroying keys (erasure,
/// retention, a correction's superseded key) or finishing a rotation moves on, so that each
/// process sharing the vault drops the keys it holds unwrapped, and re-reads its keyring file,
/// within ``KeyManager/destroyedKeyRecheck`` of another doing so.
extension KeyStore {
    static let epochName = "key-epoch"

    /// Moves the epoch on, within the caller's transaction.
    static func advanceKeyEpoch(_ db: any SQLSession) throws {
        try db.execute(sql: """
            INSERT INTO vault_info (name, value) VALUES (?, '1')
            ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(vault_info.value AS BIGINT) + 1 AS TEXT)
            """, arguments: [epochName])
    }

    /// The epoch now ("0" before any key was destroyed).
    func keyEpoch() throws -> String {
        try VaultDatabase.guardedSync {
            try pool.read { db in try db.fetchOne(String.self, sql: "SELECT value FROM vault_info WHERE name = ?", arguments: [Self.epochName]) ?? "0" }
        }
    }
}
