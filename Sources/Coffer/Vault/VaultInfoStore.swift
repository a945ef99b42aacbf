import CofferCrypto
import Foundation
import GRDB

/// The vault's own bookkeeping in `control.sqlite`'s `vault_info` table: its format, creation
/// time and segment size, the keyring canary, the access log's key, and which files it has
/// created (so a missing file is reported, never recreated empty). The only code that knows the
/// SQL of that table, apart from the key rows `KeyStore` keeps there.
struct VaultInfoStore: Sendable {
    /// A vault file whose creation the vault records.
    enum CreatedFile: String, Sendable {
        case content = "content_created"
        case audit = "audit_created"
        case pii = "pii_created"
    }

    let pool: DatabasePool

    /// Writes a new vault's first rows inside the caller's transaction `db`.
    /// - Parameters:
    ///   - segmentSize: The segment size of new objects.
    ///   - canary: The canary wrapped under the active KEK (it proves the keyring at open).
    ///   - auditKey: The id of the keyring's audit-signing key the access log uses.
    ///   - keyringGeneration: The keyring's generation when the vault was made.
    ///   - time: Creation time (Unix milliseconds).
    static func initialize(_ db: Database, segmentSize: Int, canary: WrappedKey, auditKey: String, keyringGeneration: Int,
                           at time: Int64) throws {
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('format', 'coffer-vault-v1'), ('created_at', ?), ('segment_size', ?), ('canary_kek', ?), ('canary', ?)",
                       arguments: [String(time), String(segmentSize), canary.kekID, Data(canary.sealed).base64EncodedString()])
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_key', ?), ('keyring_generation', ?)",
                       arguments: [auditKey, String(keyringGeneration)])
    }

    /// Every row, by name.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL or malformed column.
    func all() throws -> [String: String] {
        try pool.read { db in
            try Dictionary(Row.fetchAll(db, sql: "SELECT name, value FROM vault_info")
                .map { row -> (String, String) in (try row.stored("name", in: "vault_info"), try row.stored("value", in: "vault_info")) },
                uniquingKeysWith: { first, _ in first })
        }
    }

    /// True when the vault recorded creating `file`; false when it did not, or the table cannot
    /// be read.
    func hasCreated(_ file: CreatedFile) -> Bool {
        (try? pool.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM vault_info WHERE name = ?", arguments: [file.rawValue]) }) == true
    }

    /// Records that the vault created `file`.
    func recordCreated(_ file: CreatedFile) throws {
        try insert(file.rawValue, "1")
    }

    /// Records the audit-signing key of a vault made before the access log existed.
    func recordAuditKey(_ id: String) throws {
        try insert("audit_key", id)
    }

    private func insert(_ name: String, _ value: String) throws {
        try pool.write { db in try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES (?, ?)", arguments: [name, value]) }
    }
}
