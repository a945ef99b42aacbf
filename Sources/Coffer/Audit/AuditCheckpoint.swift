import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// A signed statement of the access log's size and Merkle root at a moment. Kept elsewhere, it
/// lets anyone with the vault's public key prove later that the log only grew since.
public struct AuditCheckpoint: Sendable, Codable, Hashable {
    /// The format tag.
    public var format = "coffer-audit-checkpoint-v1"
    /// Records in the tree.
    public let treeSize: Int64
    /// Merkle root (hex).
    public let rootHash: String
    /// When it was signed (Unix milliseconds).
    public let time: Int64
    /// The keyring id of the audit-signing key.
    public let keyID: String
    /// Ed25519 public key (hex).
    public let publicKey: String
    /// Ed25519 signature over ``signedText`` (hex).
    public let signature: String

    /// The exact text that is signed.
    public var signedText: String { Self.signedText(treeSize: treeSize, rootHash: rootHash, time: time) }

    static func signedText(treeSize: Int64, rootHash: String, time: Int64) -> String {
        "coffer-audit-checkpoint-v1\n\(treeSize)\n\(rootHash)\n\(time)\n"
    }

    /// True when the signature is valid under `publicKey` (hex), or under the checkpoint's own key.
    /// - Parameter expected: The public key to trust (hex), nil to use the checkpoint's own ``publicKey``.
    /// - Returns: False for a bad signature or malformed hex.
    public func hasValidSignature(publicKey expected: String? = nil) -> Bool {
        guard let key = [UInt8](hex: expected ?? publicKey), let signature = [UInt8](hex: signature) else { return false }
        return Ed25519.isValid(signature: signature, message: Array(signedText.utf8), publicKey: key)
    }
}

extension AuditLog {
    /// Signs a checkpoint of the log at `frontier` and stores it with the frontier and chain MAC
    /// it was made at.
    /// - Returns: The same checkpoint as a signed note, for the witness once the transaction commits.
    @discardableResult
    func insertCheckpoint(_ db: any SQLSession, frontier: MerkleFrontier, lastMAC: [UInt8]) throws -> CheckpointNote {
        let time = nowMilliseconds()
        let (size, root) = (frontier.size, frontier.root)
        let text = AuditCheckpoint.signedText(treeSize: size, rootHash: root.hexString, time: time)
        let signature = try signingKey.sign(Array(text.utf8))
        try db.execute(sql: """
            INSERT INTO checkpoint (tree_size, root, time, key_id, public_key, signature, frontier, last_mac)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tree_size) DO UPDATE SET root = excluded.root, time = excluded.time, key_id = excluded.key_id,
                public_key = excluded.public_key, signature = excluded.signature, frontier = excluded.frontier, last_mac = excluded.last_mac
            """, arguments: [size, Data(root), time, keyID, Data(signingKey.publicKey), Data(signature),
                             Data(frontier.encoded), Data(lastMAC)])
        return try CheckpointNote(origin: origin, treeSize: size, rootHash: root, time: time, signingKey: signingKey)
    }

    /// Signs a checkpoint of the log as it is now, stores it and hands it to the witness.
    func checkpointNow() throws -> AuditCheckpoint {
        var signed: CheckpointNote?
        let checkpoint = try pool.write { db in
            guard let state = try db.fetchOne(sql: "SELECT frontier, last_mac FROM log_state WHERE id = 1"),
                  let frontier = MerkleFrontier(encoded: try state.storedBytes("frontier", in: "log_state")) else {
                throw CofferError(.tamperDetected, "the access log's state row is missing or corrupt")
            }
            signed = try insertCheckpoint(db, frontier: frontier, lastMAC: try state.storedBytes("last_mac", in: "log_state"))
            guard let row = try db.fetchOne(sql: "SELECT * FROM checkpoint WHERE tree_size = ?", arguments: [frontier.size]) else {
                throw CofferError(.storage, "the checkpoint just signed at size \(frontier.size) could not be read back")
            }
            return try Self.checkpoint(row)
        }
        if let signed { publish(signed) }
        return checkpoint
    }

    /// Gives a new log's witness its first checkpoint: the empty tree, signed. It is not stored
    /// in the log (a tree of no records needs no row to be checked against).
    /// - Throws: `CofferError` `tamperDetected` when the witness already holds a larger tree, `io`.
    func witnessGenesis() throws {
        guard let witness else { return }
        try witness.record(try CheckpointNote(origin: origin, treeSize: 0, rootHash: MerkleTree.root([]), time: nowMilliseconds(),
                                              signingKey: signingKey))
    }

    /// The verifier key of this log's checkpoint notes (what an operator pins).
    var verifierKey: NoteVerifierKey {
        get throws { try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey) }
    }

    /// Writes a checkpoint to the witness. A failure does not undo the accesses the checkpoint
    /// covers (they are durable in the log); it is logged, and the next maintenance pass or
    /// close writes a newer checkpoint.
    func publish(_ note: CheckpointNote) {
        guard let witness else { return }
        do {
            try witness.record(note)
        } catch {
            logger.error("the access log's checkpoint could not be witnessed", metadata: ["size": "\(note.treeSize)", "error": "\(error)"])
        }
    }

    func checkpoints() throws -> [AuditCheckpoint] {
        try pool.read { db in try db.fetchAll(sql: "SELECT * FROM checkpoint ORDER BY tree_size").map(Self.checkpoint) }
    }

    /// A checkpoint from its row.
    /// - Throws: `CofferError` `tamperDetected` for a NULL or malformed column.
    static func checkpoint(_ row: SQLRow) throws -> AuditCheckpoint {
        let t = "checkpoint"
        return AuditCheckpoint(treeSize: try row.stored("tree_size", in: t), rootHash: try row.storedBytes("root", in: t).hexString,
                               time: try row.stored("time", in: t), keyID: try row.stored("key_id", in: t),
                               publicKey: try row.storedBytes("public_key", in: t).hexString,
                               signature: try row.storedBytes("signature", in: t).hexString)
    }
}

extension Array where Element == UInt8 {
    /// Bytes from lower- or upper-case hex, or nil.
    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.nibble(digits[i]), let low = Self.nibble(digits[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        self = out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
