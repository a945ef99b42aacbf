import CofferCrypto
import Foundation

/// The file names and the record files (JSON and CSV) of an export.
enum ExportRecords {
    // MARK: - Names

    /// The archive name of an object's file: `objects/KIND/OBJECTID-NAME`. The object id keeps
    /// names unique; the name is the tenant's, made safe by ``safeName(_:)``.
    static func objectPath(_ object: ObjectInfo) -> String {
        "objects/\(object.kind.code)/\(object.id.rawValue)-\(safeName(object.name))"
    }

    /// `name` as one safe path component: `/`, `\`, control, format and bidirectional characters
    /// and U+FFFD become `_`, every `..` becomes `__` (so no component walks up), and it is cut to
    /// 120 UTF-8 bytes on a character boundary; an empty result is `object`.
    static func safeName(_ name: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            let unsafe = scalar == "/" || scalar == "\\" || scalar == "\u{FFFD}" || DisplayText.needsEscaping(scalar)
                || scalar.properties.generalCategory == .format || scalar.properties.generalCategory == .control
            out.append(unsafe ? "_" : scalar)
        }
        var safe = String(out)
        while safe.contains("..") { safe = safe.replacingOccurrences(of: "..", with: "__") }
        var cut = ""
        for character in safe {
            guard cut.utf8.count + character.utf8.count <= 120 else { break }
            cut.append(character)
        }
        return cut.isEmpty ? "object" : cut
    }

    // MARK: - JSON

    /// `value` as JSON: sorted keys, indented, a line break at the end.
    static func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value)) + [0x0A]
        } catch {
            throw CofferError(.invalidFormat, "an export record cannot be encoded as JSON")
        }
    }

    /// One object of the catalogue (`records/objects.json`): its ``ObjectInfo`` with its file
    /// in the archive (`path`) beside the other keys.
    struct CatalogEntry: Encodable {
        let object: ObjectInfo

        init(_ object: ObjectInfo) { self.object = object }

        private enum Key: String, CodingKey { case path }

        func encode(to encoder: any Encoder) throws {
            try object.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(ExportRecords.objectPath(object), forKey: .path)
        }
    }

    // MARK: - CSV

    /// A CSV file: the header, then one line per row; cells through ``DisplayText/csvCell(_:)``.
    static func csv(_ header: [String], _ rows: [[String?]]) -> [UInt8] {
        var text = header.joined(separator: ",") + "\n"
        for row in rows { text += row.map(DisplayText.csvCell).joined(separator: ",") + "\n" }
        return Array(text.utf8)
    }

    private static func time(_ milliseconds: Int64) -> String { Timestamp(milliseconds: milliseconds).rfc3339 }

    /// `records/subjects.csv` (or `subject.csv`): one line per subject.
    static func subjectsCSV(_ records: [SubjectRecord]) -> [UInt8] {
        csv(["subject_id", "tenant", "status", "name", "email", "company", "billing_last4", "billing_address", "has_password",
             "created_at", "updated_at"], records.map { r in
            [r.id.rawValue, r.tenant.rawValue, r.status.rawValue, r.name, r.email, r.company, r.billingLast4, r.billingAddress,
             r.hasPassword ? "true" : "false", time(r.createdAt), time(r.updatedAt)]
        })
    }

    /// `records/consents.csv`: every consent event of the subjects, oldest first per subject.
    static func consentsCSV(_ records: [SubjectRecord]) -> [UInt8] {
        csv(["subject_id", "kind", "granted", "time", "policy_version"], records.flatMap { r in
            r.consents.map { [r.id.rawValue, $0.kind, $0.granted ? "true" : "false", time($0.time), $0.policyVersion] }
        })
    }

    /// `records/identifiers.csv`: every technical identifier of the subjects.
    static func identifiersCSV(_ records: [SubjectRecord]) -> [UInt8] {
        csv(["subject_id", "identifier_id", "ip", "user_agent", "device", "first_seen", "last_seen"], records.flatMap { r in
            r.identifiers.map { [r.id.rawValue, $0.id, $0.ip, $0.userAgent, $0.device, time($0.firstSeen), time($0.lastSeen)] }
        })
    }

    /// `records/objects.csv`: one line per object, its latest version.
    static func objectsCSV(_ objects: [ObjectInfo]) -> [UInt8] {
        csv(["object_id", "kind", "name", "path", "latest_version", "size", "created_at", "updated_at", "versions"], objects.map { o in
            [o.id.rawValue, o.kind.code, o.name, objectPath(o), String(o.latestVersion), o.latest.map { String($0.size) },
             time(o.createdAt), time(o.updatedAt), String(o.versions.count)]
        })
    }
}
