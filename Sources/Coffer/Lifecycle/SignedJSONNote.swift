import CofferCrypto
import Foundation

/// A value as a C2SP signed note: a header line, the value's canonical JSON (sorted keys) on one
/// line, then the signature block, signed with the access log's Ed25519 key. Erasure receipts
/// and backup manifests are such notes, checked with `coffer audit public-key`'s verifier key.
enum SignedJSONNote {
    /// The canonical text (header and JSON line) of `value`.
    static func text(_ value: some Encodable, header: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return header + "\n" + String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// `value` signed under the log's name.
    static func sign(_ value: some Encodable, header: String, origin: String, key: Ed25519SigningKey) throws -> String {
        let text = try text(value, header: header)
        return text + "\n" + (try CheckpointNote.Signature(name: origin, key: key, text: text)).line
    }

    /// Reads a note, checking its form and, when `key` is given, its signature.
    /// - Throws: `CofferError` `invalidFormat` for something that is not such a note (or not in
    ///   canonical form), `authenticationFailed` when no signature by `key` holds.
    static func open<T: Codable>(_ note: String, header: String, key: NoteVerifierKey?, as type: T.Type, what: String) throws -> T {
        guard let split = note.range(of: "\n\n") else { throw CofferError(.invalidFormat, "not \(what): no signature block") }
        let text = String(note[..<split.lowerBound]) + "\n"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 3, lines[0] == header, lines[2].isEmpty else {
            throw CofferError(.invalidFormat, "not \(what): it must start with \(header) and hold one JSON line")
        }
        guard let signatures = CheckpointNote.Signature.parseLines(note[split.upperBound...]), !signatures.isEmpty else {
            throw CofferError(.invalidFormat, "not \(what): a bad signature line")
        }
        if let key, !signatures.contains(where: { $0.isValid(by: key, text: text) }) {
            throw CofferError(.authenticationFailed, "\(what) is not signed by \(key.name)'s key, or was changed after it was signed")
        }
        let value: T
        do {
            value = try JSONDecoder().decode(T.self, from: Data(lines[1].utf8))
        } catch {
            throw CofferError(.invalidFormat, "the JSON of \(what) does not decode: \(error)")
        }
        // Only the canonical form is signed: anything else was not written by Coffer.
        guard try Self.text(value, header: header) == text else { throw CofferError(.invalidFormat, "the JSON of \(what) is not in its canonical form") }
        return value
    }
}
