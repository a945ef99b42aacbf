import Foundation

/// The shared dialect's `?` placeholders as PostgreSQL's `$1, $2, ...` (and SQLite's numbered
/// `?NNN` as `$NNN`). Question marks inside
/// string literals, quoted identifiers and comments are left alone. Each distinct statement is
/// numbered once and remembered (the stores' SQL is a fixed set of constant texts).
enum SQLPlaceholders {
    private static let cache = NumberedCache()

    static func numbered(_ sql: String) -> String {
        if let known = cache[sql] { return known }
        let result = number(sql)
        cache[sql] = result
        return result
    }

    static func number(_ sql: String) -> String {
        let characters = Array(sql)
        var output = ""
        output.reserveCapacity(sql.utf8.count + 16)
        var count = 0
        var quote: Character? = nil
        var lineComment = false
        var i = 0
        while i < characters.count {
            let character = characters[i]
            if lineComment {
                if character == "\n" { lineComment = false }
            } else if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "-" && i + 1 < characters.count && characters[i + 1] == "-" {
                lineComment = true
            } else if character == "?" {
                var j = i + 1
                while j < characters.count, characters[j].isASCII, characters[j].isNumber { j += 1 }
                if j > i + 1 {
                    output += "$" + String(characters[(i + 1)..<j])  // SQLite's ?NNN
                } else {
                    count += 1
                    output += "$\(count)"
                }
                i = j
                continue
            }
            output.append(character)
            i += 1
        }
        return output
    }

    /// A bounded, locked map from statement to numbered statement.
    private final class NumberedCache: @unchecked Sendable {
        // @unchecked: `entries` is touched only with `lock` held.
        private let lock = NSLock()
        private var entries: [String: String] = [:]

        subscript(sql: String) -> String? {
            get { lock.withLock { entries[sql] } }
            set {
                lock.withLock {
                    if entries.count >= 4096 { entries.removeAll(keepingCapacity: true) }
                    entries[sql] = newValue
                }
            }
        }
    }
}

/// The numbering, for tests.
package enum SQLPlaceholderProbe {
    package static func number(_ sql: String) -> String { SQLPlaceholders.number(sql) }
}
