import CofferCrypto
import Foundation

/// Access-log records as text for other tools: JSON lines, or CSV a spreadsheet can open
/// safely. `coffer audit query --format json|csv` prints exactly this.
public enum AuditExport {
    /// An export format.
    public enum Format: String, Sendable, CaseIterable {
        /// One JSON object per line, keys sorted, times as Unix milliseconds.
        case jsonLines = "json"
        /// RFC 4180 CSV with ``csvHeader`` first; times in RFC 3339.
        case csv
    }

    /// The CSV header line: the columns of ``csvLine(_:)``, in order.
    public static let csvHeader = "sequence,time,actor,role,tenant,subject,object_id,object_version,object_kind,action,data_class,purpose,justification,outcome,error_code,bytes,request_id,client,grant_id,reason"

    /// One record as a CSV line (no line break). Every cell goes through
    /// ``DisplayText/csvCell(_:)``: control and bidirectional characters are escaped, so a
    /// record is always one line, and a cell that would start a spreadsheet formula is prefixed
    /// with `'`.
    /// - Parameter record: The record.
    /// - Returns: The line.
    public static func csvLine(_ record: AuditRecord) -> String {
        let r = record
        let fields: [String?] = [String(r.sequence), Timestamp(milliseconds: r.time).rfc3339, r.actor.rawValue, r.role, r.tenant?.rawValue, r.subject?.rawValue,
                                 r.objectID, r.objectVersion.map(String.init), r.objectKind, r.action, r.dataClass, r.purpose,
                                 r.justification, r.outcome.rawValue, r.errorCode, r.bytes.map(String.init), r.requestID, r.client,
                                 r.grantID?.rawValue, r.reason]
        return fields.map(DisplayText.csvCell).joined(separator: ",")
    }

    /// One record as a JSON object on one line (keys sorted; JSON escapes control characters).
    /// - Parameter record: The record.
    /// - Returns: The line.
    /// - Throws: `CofferError` `invalidFormat` if the record cannot be encoded.
    public static func jsonLine(_ record: AuditRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(record), as: UTF8.self)
        } catch {
            throw CofferError(.invalidFormat, "access-log record \(record.sequence) cannot be encoded as JSON")
        }
    }

    /// The export of `records` in `format`: a header line for CSV, then one line per record.
    /// - Parameters:
    ///   - records: The records, in the order to write them.
    ///   - format: JSON lines or CSV.
    /// - Returns: The lines, without line breaks.
    /// - Throws: `CofferError` `invalidFormat` if a record cannot be encoded.
    public static func lines(_ records: [AuditRecord], format: Format) throws -> [String] {
        switch format {
        case .jsonLines: return try records.map(jsonLine)
        case .csv: return [csvHeader] + records.map(csvLine)
        }
    }
}
