/// Text made safe to show on a terminal or in a spreadsheet: names, ids and reasons that came
/// from callers can hold control characters (which move the cursor, clear the screen or end a
/// line early) or bidirectional overrides (which make `exe.txt` look like `txt.exe`).
public enum DisplayText {
    /// Whether `scalar` is escaped by ``escaped(_:)``: C0 controls, DEL, C1 controls, the
    /// bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
    /// U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029).
    /// - Parameter scalar: A Unicode scalar.
    /// - Returns: True when it must not reach a terminal as it is.
    public static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// `text` with every character ``needsEscaping(_:)`` names written as an escape: `\t`, `\n`,
    /// `\r`, or `\u{` + the scalar's value in hexadecimal + `}` (an escape is `\u{1B}`). Other
    /// text is unchanged.
    /// - Parameter text: Text from a caller or from stored data.
    /// - Returns: Text that prints as what it is, on one line.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscaping) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard needsEscaping(scalar) else { out.append(scalar); continue }
            let escape: String
            switch scalar {
            case "\t": escape = "\\t"
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            default:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                escape = "\\u{" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "}"
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    /// One CSV cell: escaped like ``escaped(_:)``, prefixed with `'` when it would start with a
    /// character a spreadsheet reads as a formula (`=`, `+`, `-`, `@`, tab, carriage return; the
    /// OWASP rule against CSV injection), and quoted (RFC 4180) when it holds a comma or a quote.
    /// - Parameter value: The cell's value; nil is an empty cell.
    /// - Returns: The cell as it goes between the commas.
    public static func csvCell(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "" }
        var cell = escaped(value)
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { cell = "'" + cell }
        guard cell.contains(where: { $0 == "," || $0 == "\"" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
