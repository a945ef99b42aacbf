import Foundation

/// A set of named 256-bit keys loaded from a keyring file, one key-encryption key marked active.
///
/// The file format is described in `docs/keyring.md`. Loading refuses a file that group or
/// others can read unless the file declares itself the development keyring.
public struct Keyring: Sendable {
    /// What a key in the keyring is for.
    public struct Purpose: Hashable, Sendable, CustomStringConvertible {
        /// The key's name in the file.
        public let rawValue: String
        /// Wraps data keys (the default).
        public static let keyEncryption = Purpose(rawValue: "kek")
        /// Keys the blind index used to look up PII without storing it in plaintext.
        public static let blindIndex = Purpose(rawValue: "blind-index")
        /// Seeds the Ed25519 key that signs access-log checkpoints.
        public static let auditSigning = Purpose(rawValue: "audit-signing")
        /// Wraps the keys of data subjects (PII), apart from the content KEKs (P2: PII has keys
        /// of its own). The newest one is the active one.
        public static let piiKeyEncryption = Purpose(rawValue: "pii-kek")
        static let all: [Purpose] = [.keyEncryption, .blindIndex, .auditSigning, .piiKeyEncryption]
        /// Whether keys of this purpose wrap other keys (and are rotated and retired).
        public var wrapsKeys: Bool { self == .keyEncryption || self == .piiKeyEncryption }
        public var description: String { rawValue }
    }

    /// One key of the keyring.
    public struct Entry: Sendable {
        /// Its id, unique in the keyring.
        public let id: String
        /// What it is for.
        public let purpose: Purpose
        /// When it was made (ISO 8601), if the file says.
        public let created: String?
        let material: SecureBytes
    }

    /// The file format tag this version writes and reads.
    public static let formatTag = "coffer-keyring-v1"

    /// Every key, in file order.
    public let entries: [Entry]
    /// The id of the active key-encryption key, which wraps every new data key.
    public let activeKeyID: String
    /// True for the development keyring: never protect real data with it.
    public let isDevelopment: Bool
    /// How many times the file has been changed through Coffer's key manager (0 for a file that
    /// never was). A vault records the generation that its keys were last rewrapped for, so a
    /// process holding an older copy knows to reload the file.
    public let generation: Int

    init(entries: [Entry], activeKeyID: String, isDevelopment: Bool, generation: Int = 0) {
        self.entries = entries
        self.activeKeyID = activeKeyID
        self.isDevelopment = isDevelopment
        self.generation = generation
    }

    /// The active key-encryption key.
    public var activeKey: KeyEncryptionKey {
        let entry = entries.first { $0.id == activeKeyID }!
        return KeyEncryptionKey(id: entry.id, material: entry.material)
    }

    /// The active PII key-encryption key (the newest `pii-kek`), or nil in a keyring made before
    /// PII had keys of its own.
    public var activePIIKey: KeyEncryptionKey? {
        entries.last { $0.purpose == .piiKeyEncryption }.map { KeyEncryptionKey(id: $0.id, material: $0.material) }
    }

    /// The key-encryption key (content `kek` or `pii-kek`) with id `id`. What a key may be
    /// unwrapped with is bound by its wrap context; which family wraps it is the vault's rule.
    /// - Parameter id: The KEK's id.
    /// - Returns: The key.
    /// - Throws: ``CofferError`` `keyNotFound` when the keyring has no such KEK.
    public func keyEncryptionKey(id: String) throws -> KeyEncryptionKey {
        guard let entry = entries.first(where: { $0.id == id && $0.purpose.wrapsKeys }) else {
            throw CofferError(.keyNotFound,
                              "keyring has no key-encryption key '\(id)'; data wrapped under it needs the keyring that holds it")
        }
        return KeyEncryptionKey(id: entry.id, material: entry.material)
    }

    /// The newest key with `purpose`, or nil when the keyring has none.
    /// - Parameter purpose: The key's purpose.
    /// - Returns: The key material, or nil.
    public func secret(for purpose: Purpose) -> SecureBytes? {
        entries.last { $0.purpose == purpose }?.material
    }

    /// The ids of every content key-encryption key.
    public var keyEncryptionKeyIDs: [String] {
        entries.filter { $0.purpose == .keyEncryption }.map(\.id)
    }

    /// The ids of every PII key-encryption key, oldest first (the last is the active one).
    public var piiKeyEncryptionKeyIDs: [String] {
        entries.filter { $0.purpose == .piiKeyEncryption }.map(\.id)
    }

    /// A keyring with one fresh random active key-encryption key, plus one key for each other
    /// purpose (the blind index, the audit-log signing seed and the PII key-encryption key).
    /// - Parameter development: Marks the keyring as a development keyring.
    /// - Returns: The new keyring (generation 0), held in memory only.
    /// - Throws: ``CofferError`` `cryptoFailure` if the random generator fails.
    public static func generate(development: Bool = false) throws -> Keyring {
        let entry = try newEntry(purpose: .keyEncryption)
        return Keyring(entries: [entry, try newEntry(purpose: .blindIndex), try newEntry(purpose: .auditSigning),
                                 try newEntry(purpose: .piiKeyEncryption)],
                       activeKeyID: entry.id, isDevelopment: development)
    }

    /// The key `id`, which must have `purpose`.
    /// - Parameters:
    ///   - id: The key's id.
    ///   - purpose: The purpose it must have.
    /// - Returns: The key material.
    /// - Throws: ``CofferError`` `keyNotFound`.
    public func secret(id: String, purpose: Purpose) throws -> SecureBytes {
        guard let entry = entries.first(where: { $0.id == id && $0.purpose == purpose }) else {
            throw CofferError(.keyNotFound, "the keyring has no \(purpose) key '\(id)'; use the keyring this vault was created with")
        }
        return entry.material
    }

    /// The newest key for `purpose` with its id.
    /// - Parameter purpose: The key's purpose.
    /// - Returns: The newest such key's id and material.
    /// - Throws: ``CofferError`` `keyNotFound` naming the command that adds one.
    public func requiredSecret(for purpose: Purpose) throws -> (id: String, material: SecureBytes) {
        guard let entry = entries.last(where: { $0.purpose == purpose }) else {
            throw CofferError(.keyNotFound, "the keyring has no \(purpose) key; add one with `coffer keys add --purpose \(purpose)`")
        }
        return (entry.id, entry.material)
    }

    /// This keyring plus a fresh key-encryption key, made active. Older keys stay so existing
    /// data keys can still be unwrapped until they are rewrapped.
    /// - Returns: The new keyring (same generation; saving it raises the generation).
    /// - Throws: ``CofferError`` `cryptoFailure` if the random generator fails.
    public func addingActiveKey() throws -> Keyring {
        let entry = try Keyring.newEntry(purpose: .keyEncryption)
        return Keyring(entries: entries + [entry], activeKeyID: entry.id, isDevelopment: isDevelopment, generation: generation)
    }

    /// This keyring plus a fresh key for `purpose` (for purposes other than content key
    /// encryption). A new `pii-kek` becomes the active PII KEK.
    /// - Parameter purpose: `blindIndex`, `auditSigning` or `piiKeyEncryption`.
    /// - Returns: The new keyring.
    /// - Throws: ``CofferError`` `cryptoFailure` if the random generator fails.
    public func addingKey(for purpose: Purpose) throws -> Keyring {
        Keyring(entries: entries + [try Keyring.newEntry(purpose: purpose)], activeKeyID: activeKeyID,
                isDevelopment: isDevelopment, generation: generation)
    }

    /// This keyring without the key-encryption key `id` (never an active one).
    /// - Parameter id: The KEK (content or PII) to remove.
    /// - Returns: The keyring without it.
    /// - Throws: ``CofferError`` `invalidArgument` for an active key or a key of another purpose,
    ///   `keyNotFound` for an unknown id.
    public func removingKey(id: String) throws -> Keyring {
        guard id != activeKeyID, id != activePIIKey?.id else { throw CofferError(.invalidArgument, "key '\(id)' is an active key; rotate first") }
        guard let entry = entries.first(where: { $0.id == id }) else { throw CofferError(.keyNotFound, "keyring has no key '\(id)'") }
        guard entry.purpose.wrapsKeys else {
            throw CofferError(.invalidArgument, "key '\(id)' is a \(entry.purpose) key; a vault needs it for its whole life, so it is never removed")
        }
        return Keyring(entries: entries.filter { $0.id != id }, activeKeyID: activeKeyID, isDevelopment: isDevelopment,
                       generation: generation)
    }

    /// This keyring with its generation one higher (what the key manager saves).
    /// - Returns: The same keys, generation plus one.
    public func nextGeneration() -> Keyring {
        Keyring(entries: entries, activeKeyID: activeKeyID, isDevelopment: isDevelopment, generation: generation + 1)
    }

    /// True when this keyring holds every key of `other` (same id, purpose and material, compared
    /// in constant time) and names the same active key: what the key manager checks after reading
    /// back a file it saved, before anything is wrapped under a new key.
    /// - Parameter other: The keyring that must be contained.
    /// - Returns: Whether every key of `other` is here and the active key is the same.
    public func holdsEveryKey(of other: Keyring) -> Bool {
        guard activeKeyID == other.activeKeyID else { return false }
        return other.entries.allSatisfy { wanted in
            entries.contains { $0.id == wanted.id && $0.purpose == wanted.purpose && $0.material.constantTimeEquals(wanted.material) }
        }
    }

    private static func newEntry(purpose: Purpose) throws -> Entry {
        let suffix = try SecureRandom.bytes(4).map { String(format: "%02x", $0) }.joined()
        let stamp = ISO8601DateFormatter().string(from: Date())
        let prefix = purpose == .keyEncryption ? "kek" : purpose.rawValue
        return Entry(id: "\(prefix)-\(stamp.prefix(10))-\(suffix)", purpose: purpose, created: stamp,
                     material: try SecureBytes.random(count: 32))
    }
}
