import CofferCrypto
import Foundation

/// A checkpoint of the access log in the C2SP `tlog-checkpoint` text format, signed as a C2SP
/// `signed-note`: what the vault writes to its witness directory and what a verifier pins.
///
/// ```text
/// coffer.vault/3f2a…            origin: the log's name
/// 1027                          tree size
/// 6T3H…=                        root hash, base64
/// time 1764633600000            extension: when it was signed (Unix milliseconds)
///
/// — coffer.vault/3f2a… AbCd…    signature: key ID (4 bytes) and Ed25519 signature, base64
/// ```
public struct CheckpointNote: Sendable, Hashable {
    /// The log's name (first line); also the signing key's name.
    public let origin: String
    /// Records in the tree.
    public let treeSize: Int64
    /// The Merkle root (32 bytes).
    public let rootHash: [UInt8]
    /// When it was signed (Unix milliseconds), from the `time` extension line.
    public let time: Int64?
    /// The signatures: key name, 4-byte key ID, 64-byte Ed25519 signature.
    public let signatures: [Signature]

    /// One signature line of a note.
    public struct Signature: Sendable, Hashable {
        /// The signer's key name.
        public let name: String
        /// The first 4 bytes of SHA-256(name, newline, 0x01, public key).
        public let keyID: [UInt8]
        /// The Ed25519 signature over the note's text.
        public let signature: [UInt8]

        /// A signature by `key` under `name` over `text`.
        init(name: String, key: Ed25519SigningKey, text: String) throws {
            self.name = name
            keyID = try NoteVerifierKey(name: name, publicKey: key.publicKey).keyID
            signature = try key.sign(Array(text.utf8))
        }

        init(name: String, keyID: [UInt8], signature: [UInt8]) {
            self.name = name
            self.keyID = keyID
            self.signature = signature
        }

        /// The signature line: an em dash, the name, base64 of key ID and signature.
        var line: String { "\u{2014} \(name) \(Data(keyID + signature).base64EncodedString())\n" }

        /// The signature lines after a note's blank line; nil when one is malformed.
        static func parseLines(_ text: Substring) -> [Signature]? {
            var signatures: [Signature] = []
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 3, parts[0] == "\u{2014}", let blob = Data(base64Encoded: String(parts[2])), blob.count == 68 else { return nil }
                let bytes = [UInt8](blob)
                signatures.append(Signature(name: String(parts[1]), keyID: Array(bytes[0..<4]), signature: Array(bytes[4...])))
            }
            return signatures
        }

        /// True when this is a valid signature by `key` over `text`.
        func isValid(by key: NoteVerifierKey, text: String) -> Bool {
            name == key.name && ConstantTime.equals(keyID, key.keyID)
                && Ed25519.isValid(signature: signature, message: Array(text.utf8), publicKey: key.publicKey)
        }
    }

    /// The signed text: origin, size, root and extension lines, each ending in a newline.
    public var text: String {
        var out = "\(origin)\n\(treeSize)\n\(Data(rootHash).base64EncodedString())\n"
        if let time { out += "time \(time)\n" }
        return out
    }

    /// The whole note as a file holds it: the text, a blank line, the signature lines.
    public var encoded: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// A signed note of size `treeSize` and root `rootHash`.
    /// - Parameters:
    ///   - origin: The log's name.
    ///   - treeSize: Records in the tree.
    ///   - rootHash: The 32-byte Merkle root.
    ///   - time: When (Unix milliseconds).
    ///   - key: The audit-signing key; the note is signed under the name `origin`.
    /// - Throws: `CofferError` `cryptoFailure` when signing fails.
    init(origin: String, treeSize: Int64, rootHash: [UInt8], time: Int64, signingKey key: Ed25519SigningKey) throws {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.time = time
        let unsigned = CheckpointNote(origin: origin, treeSize: treeSize, rootHash: rootHash, time: time, signatures: [])
        signatures = [try Signature(name: origin, key: key, text: unsigned.text)]
    }

    private init(origin: String, treeSize: Int64, rootHash: [UInt8], time: Int64?, signatures: [Signature]) {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.time = time
        self.signatures = signatures
    }

    /// Parses a note: the checkpoint lines, an optional `time` extension, the signature lines.
    /// - Parameter encoded: The note's text as read from a file.
    /// - Throws: `CofferError` `invalidArgument` naming what is malformed.
    public init(parsing encoded: String) throws {
        func malformed(_ what: String) -> CofferError {
            CofferError(.invalidArgument, "not a checkpoint note (C2SP tlog-checkpoint): \(what)")
        }
        guard let split = encoded.range(of: "\n\n") else { throw malformed("no blank line before the signatures") }
        let body = encoded[..<split.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard body.count >= 3 else { throw malformed("fewer than three lines (origin, size, root)") }
        guard !body[0].isEmpty, !body[0].unicodeScalars.contains(where: { $0.value < 0x20 }) else { throw malformed("a bad origin line") }
        guard let size = Int64(body[1]), size >= 0, String(size) == body[1] else { throw malformed("a bad tree size '\(body[1])'") }
        guard let root = Data(base64Encoded: body[2]), root.count == 32 else { throw malformed("the root is not 32 bytes of base64") }
        var time: Int64?
        for line in body.dropFirst(3) where line.hasPrefix("time ") { time = Int64(line.dropFirst(5)) }
        guard let signatures = Signature.parseLines(encoded[split.upperBound...]) else { throw malformed("a bad signature line") }
        guard !signatures.isEmpty else { throw malformed("no signature") }
        self.init(origin: body[0], treeSize: size, rootHash: [UInt8](root), time: time, signatures: signatures)
        // Extension lines other than `time` are kept out of `text`: refuse them rather than
        // verify a signature over text this parser would not reproduce.
        guard body.count == 3 + (time == nil ? 0 : 1) else { throw malformed("unknown extension lines") }
    }

    /// True when a signature by `key` (matched by name and key ID) is valid over the text.
    /// - Parameter key: The verifier key to trust.
    /// - Returns: False when no signature is by that key or it does not verify.
    public func isSigned(by key: NoteVerifierKey) -> Bool {
        let text = self.text
        return signatures.contains { $0.isValid(by: key, text: text) }
    }
}

/// A C2SP signed-note verifier key, `name+keyid+base64(0x01 || public key)`: what an operator
/// keeps apart from the vault to check its checkpoints (`coffer audit public-key`).
public struct NoteVerifierKey: Sendable, Hashable, CustomStringConvertible {
    /// The key's name (the log's origin).
    public let name: String
    /// The Ed25519 public key (32 bytes).
    public let publicKey: [UInt8]
    /// The first 4 bytes of SHA-256(name, newline, 0x01, public key).
    public let keyID: [UInt8]

    /// A verifier key for `publicKey` under `name`.
    /// - Parameters:
    ///   - name: The key's name: no spaces, no `+`.
    ///   - publicKey: The 32-byte Ed25519 public key.
    /// - Throws: `CofferError` `invalidArgument` for a bad name or key length.
    public init(name: String, publicKey: [UInt8]) throws {
        guard !name.isEmpty, !name.contains("+"), !name.unicodeScalars.contains(where: { $0.value <= 0x20 }), publicKey.count == 32 else {
            throw CofferError(.invalidArgument, "a verifier key needs a name without spaces or '+' and a 32-byte Ed25519 key")
        }
        self.name = name
        self.publicKey = publicKey
        keyID = Array(try SHA256.hash(Array(name.utf8) + [0x0A, 0x01] + publicKey).prefix(4))
    }

    /// Parses `name+keyid+base64`.
    /// - Parameter text: The key, surrounding whitespace ignored.
    /// - Throws: `CofferError` `invalidArgument` when malformed or when its key ID does not match.
    public init(parsing text: String) throws {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = [UInt8](hex: String(parts[1])), id.count == 4,
              let blob = Data(base64Encoded: String(parts[2])), blob.count == 33, blob.first == 0x01 else {
            throw CofferError(.invalidArgument, "not a verifier key (name+keyid+base64 of an Ed25519 key)")
        }
        try self.init(name: String(parts[0]), publicKey: [UInt8](blob.dropFirst()))
        guard keyID == id else { throw CofferError(.invalidArgument, "the verifier key's id does not match its name and key") }
    }

    /// `name+keyid+base64(0x01 || public key)`.
    public var description: String {
        "\(name)+\(keyID.hexString)+\(Data([0x01] + publicKey).base64EncodedString())"
    }
}
