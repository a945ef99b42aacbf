import Coffer
import Foundation

/// JSON text with sorted keys, for machine-readable output.
func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Unix milliseconds as RFC 3339 (UTC; milliseconds shown when not zero).
func isoTime(_ milliseconds: Int64) -> String {
    Timestamp(milliseconds: milliseconds).rfc3339
}

/// Text from callers or stored data made safe for the terminal: control and bidirectional
/// characters escaped (``DisplayText/escaped(_:)``).
func display(_ text: String) -> String { DisplayText.escaped(text) }

/// An identifier made safe for a terminal.
func display<Kind>(_ id: Identifier<Kind>) -> String { DisplayText.escaped(id.rawValue) }

/// Prints rows under a header, columns padded to their widest cell. Every cell is escaped
/// (``display(_:)``), so a name cannot move the cursor, end a row early or reverse the text.
func printTable(header: [String], rows: [[String]]) {
    let all = ([header] + rows).map { $0.map(display) }
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}
