import CofferCrypto
import CofferSQL
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

    let pool: any SQLDatabase

    /// Writes a new vault's first rows inside the caller's transaction `db`.
    /// - Parameters:
    ///   - segmentSize: The segment size of new objects.
    ///   - canary: The canary wrapped under the active KEK (it proves the keyring at open).
    ///   - auditKey: The id of the keyring's audit-signing key the access log uses.
    ///   - keyringGeneration: The keyring's generation when the vault was made.
    ///   - time: Creation time (Unix milliseconds).
    ///   - witness: The witness directory of the access log, if any.
    static func initialize(_ db: any SQLSession, segmentSize: Int, canary: WrappedKey, auditKey: String, keyringGeneration: Int,
                           witness: URL?, at time: Int64) throws {
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('format', 'coffer-vault-v1'), ('created_at', ?), ('segment_size', ?), ('canary_kek', ?), ('canary', ?)",
                       arguments: [String(time), String(segmentSize), canary.kekID, Data(canary.sealed).base64EncodedString()])
        try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('audit_key', ?), ('keyring_generation', ?)",
                       arguments: [auditKey, String(keyringGeneration)])
        if let witness {
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('witness', ?)", arguments: [witness.path])
        }
    }

    /// Every row, by name.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL or malformed column.
    func all() throws -> [String: String] {
        try pool.read { db in
            try Dictionary(db.fetchAll(sql: "SELECT name, value FROM vault_info")
                .map { row -> (String, String) in (try row.stored("name", in: "vault_info"), try row.stored("value", in: "vault_info")) },
                uniquingKeysWith: { first, _ in first })
        }
    }

    /// True when the vault recorded creating `file`; false when it did not, or the table cannot
    /// be read.
    func hasCreated(_ file: CreatedFile) -> Bool {
        (try? pool.read { db in try db.fetchOne(Bool.self, sql: "SELECT 1 FROM vault_info WHERE name = ?", arguments: [file.rawValue]) }) == true
    }

    /// Records that the vault created `file`.
    func recordCreated(_ file: CreatedFile) throws {
        try insert(file.rawValue, "1")
    }

    /// Records the audit-signing key of a vault made before the access log existed.
    func recordAuditKey(_ id: String) throws {
        try insert("audit_key", id)
    }

    /// Records the public key the access log signs with (the audit key's canary).
    func recordAuditPublicKey(_ hex: String) throws {
        try insert("audit_public_key", hex)
    }

    /// Records (or replaces) the witness directory; the caller seals the rows again.
    func recordWitness(_ path: String) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('witness', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", arguments: [path])
        }
    }

    private func insert(_ name: String, _ value: String) throws {
        try pool.write { db in try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES (?, ?)", arguments: [name, value]) }
    }

    // MARK: Authentication

    /// The rows whose values decide what the vault trusts at open (which files it made, the
    /// access log's key, the witness): a MAC covers them, so an edit or a deletion of one is
    /// detected. Rows the key manager rewrites (the canary, rotation state) authenticate
    /// themselves and are not covered.
    static let sealedNames = ["format", "created_at", "segment_size", "audit_key", "audit_public_key", "witness",
                              CreatedFile.content.rawValue, CreatedFile.audit.rawValue, CreatedFile.pii.rawValue]

    /// The key of the rows' MAC: derived from the keyring's audit-signing key `auditKeyID`, so
    /// nobody without the keyring can make a valid one.
    static func sealKey(keyring: Keyring, auditKeyID: String) throws -> SecureBytes {
        let seed = try keyring.secret(id: auditKeyID, purpose: .auditSigning)
        return try HKDF.deriveKey(from: seed, salt: [UInt8](), info: Array("coffer/vault-info/mac".utf8), length: 32)
    }

    private static func mac(_ info: [String: String], key: SecureBytes) throws -> String {
        var text = "coffer-vault-info-v1\n"
        for name in sealedNames { text += "\(name)=\(info[name].map { "1:" + $0 } ?? "0")\n" }
        return try HMACSHA256.authenticate(Array(text.utf8), key: key).hexString
    }

    /// Checks the rows' MAC.
    /// - Returns: False when the rows were never sealed (a vault from before sealing).
    /// - Throws: `CofferError` `tamperDetected` when the MAC does not match.
    func checkSeal(_ info: [String: String], key: SecureBytes) throws -> Bool {
        guard let stored = info["state_mac"] else { return false }
        guard ConstantTime.equals(Array(try Self.mac(info, key: key).utf8), Array(stored.utf8)) else {
            throw CofferError(.tamperDetected, "the vault's own records in control.sqlite (which files it made, the access log's key or witness) were changed outside Coffer: restore control.sqlite from a backup")
        }
        return true
    }

    /// Seals the rows as they are now.
    func seal(key: SecureBytes) throws {
        let value = try Self.mac(try all(), key: key)
        try pool.write { db in
            try db.execute(sql: "INSERT INTO vault_info (name, value) VALUES ('state_mac', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", arguments: [value])
        }
    }
}
