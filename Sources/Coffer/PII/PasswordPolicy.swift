import CofferCrypto
import Foundation

/// Policy P13: a password is accepted if it has at least 8 characters with a digit, a lower-case
/// and an upper-case letter; or at least 12 characters without sequential ("1234", "dcba") or
/// repeated ("aaaa") runs of four. Either way it must not be in the breached-password list
/// (the policy asks this of the 12-character form; Coffer applies it to both by default, the
/// stricter reading, settable with ``breachCheckForBothForms``).
public struct PasswordPolicy: Sendable {
    /// Passwords known from breaches.
    public var breached: BreachedPasswordList
    /// Check the breached list for the 8-character form too (default true).
    public var breachCheckForBothForms: Bool

    /// Creates a policy.
    /// - Parameters:
    ///   - breached: Passwords known from breaches (default: none).
    ///   - breachCheckForBothForms: Check the list for the 8-character form too.
    public init(breached: BreachedPasswordList = BreachedPasswordList(), breachCheckForBothForms: Bool = true) {
        self.breached = breached
        self.breachCheckForBothForms = breachCheckForBothForms
    }

    /// Checks `password`.
    /// - Parameter password: The candidate password.
    /// - Throws: `CofferError` `passwordPolicy` naming every rule the password breaks.
    public func check(_ password: String) throws {
        let characters = Array(password)
        let inBreach = breached.contains(password)
        let shortForm = characters.count >= 8 && characters.contains(where: \.isNumber)
            && characters.contains(where: \.isLowercase) && characters.contains(where: \.isUppercase)
        let run = Self.longestRun(characters)
        let longForm = characters.count >= 12 && run.sequential < 4 && run.repeated < 4 && !inBreach
        if (shortForm && !(breachCheckForBothForms && inBreach)) || longForm { return }
        var problems: [String] = []
        if inBreach { problems.append("it appears in a list of breached passwords") }
        if characters.count < 8 {
            problems.append("it has \(characters.count) characters; at least 8 (with a digit, a lower-case and an upper-case letter) or 12 are needed")
        } else if !shortForm {
            var missing: [String] = []
            if !characters.contains(where: \.isNumber) { missing.append("a digit") }
            if !characters.contains(where: \.isLowercase) { missing.append("a lower-case letter") }
            if !characters.contains(where: \.isUppercase) { missing.append("an upper-case letter") }
            if characters.count < 12 {
                problems.append("with fewer than 12 characters it needs \(missing.joined(separator: ", "))")
            }
        }
        if characters.count >= 12 && !shortForm {
            if run.sequential >= 4 { problems.append("it contains a sequential run such as \"1234\" or \"abcd\"") }
            if run.repeated >= 4 { problems.append("it contains a repeated run such as \"aaaa\"") }
        }
        if problems.isEmpty { problems.append("it meets neither form of the policy") }
        throw CofferError(.passwordPolicy, "password refused: " + problems.joined(separator: "; "))
    }

    /// Longest run of consecutive code points going up or down by one, and of one repeated character.
    static func longestRun(_ characters: [Character]) -> (sequential: Int, repeated: Int) {
        let values = characters.map { $0.unicodeScalars.first!.value }
        var bestSequential = values.isEmpty ? 0 : 1, bestRepeated = bestSequential
        var up = 1, down = 1, same = 1
        for i in values.indices.dropFirst() {
            let (a, b) = (values[i - 1], values[i])
            up = b == a &+ 1 ? up + 1 : 1
            down = a == b &+ 1 ? down + 1 : 1
            same = a == b ? same + 1 : 1
            bestSequential = max(bestSequential, up, down)
            bestRepeated = max(bestRepeated, same)
        }
        return (bestSequential, bestRepeated)
    }
}

/// A list of breached passwords, loaded from a file.
///
/// Format: UTF-8 text, one entry per line. A line of 40 hex digits (optionally followed by
/// `:count`, as in the Have I Been Pwned downloads) is the SHA-1 of a password; any other line is
/// a password itself. Blank lines and lines starting with `#` are ignored.
public struct BreachedPasswordList: Sendable {
    private var sha1: Set<String> = []
    private var plain: Set<String> = []

    /// An empty list.
    public init() {}

    /// Loads a list file.
    /// - Parameter path: The list file.
    /// - Throws: `CofferError` `io` when the file cannot be read.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CofferError(.io, "cannot read the breached-password list \(path)")
        }
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let entry = line.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            let hash = entry.split(separator: ":").first.map(String.init) ?? entry
            if hash.count == 40, hash.allSatisfy(\.isHexDigit) { sha1.insert(hash.uppercased()) } else { plain.insert(entry) }
        }
    }

    /// Number of entries.
    public var count: Int { sha1.count + plain.count }

    /// True when `password` is in the list.
    /// - Parameter password: The candidate password.
    /// - Returns: True when listed, in clear or as its SHA-1 (and, failing closed, when the SHA-1 cannot be computed).
    public func contains(_ password: String) -> Bool {
        if plain.contains(password) { return true }
        guard !sha1.isEmpty else { return false }
        // SHA-1 is what breach corpora publish; it is used here only to look entries up.
        guard let hex = try? BreachCorpusSHA1.hex(Array(password.utf8)) else { return true }  // fail closed
        return sha1.contains(hex)
    }
}
