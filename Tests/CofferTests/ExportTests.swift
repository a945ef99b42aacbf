import Foundation
import Testing
@testable import Coffer
import CofferCrypto

// P18: a tenant or subject export read back with ZIPFoundation, plain and sealed (opened with
// CofferCrypto and the key from the Tink keyset); the manifest's hashes; every access recorded.

/// What ``fillForExport(_:)`` stored: each object's latest bytes, and the subjects.
struct ExportFixture {
    var objects: [ObjectID: (bytes: [UInt8], version: Int, name: String)] = [:]
    var ada: SubjectID = ""
    var bob: SubjectID = ""
}

/// Objects (one spanning several stream batches with a newer small version, an empty one, names
/// with `/`, `..` and a bidirectional override) and two subjects of `acme`; one of each in `other`.
func fillForExport(_ t: TestVault) async throws -> ExportFixture {
    var f = ExportFixture()
    let v = t.vault
    let (script, _) = try await v.put(tenant: "acme", kind: .testScript, name: "scripts/login.js", bytes: testBytes(multiBatchSize, seed: 1), context: .test)
    let newer = testBytes(5000, seed: 2)
    _ = try await v.put(tenant: "acme", kind: .testScript, name: "scripts/login.js", bytes: newer, context: .test)
    f.objects[script] = (newer, 2, "scripts/login.js")
    for (kind, name, bytes) in [(ObjectKind.scanResult, "../../etc/passwd", [UInt8]()), (.testResult, "r\u{202E}txt.exe", testBytes(4040, seed: 3))] {
        let (id, version) = try await v.put(tenant: "acme", kind: kind, name: name, bytes: bytes, context: .test)
        f.objects[id] = (bytes, version.version, name)
    }
    _ = try await v.put(tenant: "other", kind: .testScript, name: "elsewhere", bytes: testBytes(10, seed: 4), context: .test)
    f.ada = try await v.addSubject(tenant: "acme", name: "Ada", email: "ada@example.com", company: "Engines", context: .piiService)
    try await v.recordConsent(f.ada, kind: "marketing", granted: true, policyVersion: "v2", context: .piiService)
    _ = try await v.addIdentifier(f.ada, ip: "203.0.113.7", userAgent: "=cmd", device: nil, context: .piiService)
    f.bob = try await v.addSubject(tenant: "acme", name: "Bob", email: "bob@example.com", company: nil, context: .piiService)
    try await v.restrictSubject(f.bob, context: .piiOfficer)
    _ = try await v.addSubject(tenant: "other", name: "Carol", email: "carol@example.com", company: nil, context: .piiService)
    return f
}

@Suite("Export (P18)")
struct ExportTests {
    @Test("a tenant export holds every object's latest version byte for byte, the catalogue, its subjects and its access history",
          arguments: [false, true])
    func tenantExport(encrypt: Bool) async throws {
        try await withExportVault(tenants: ["acme", "other"]) { t, out in
            let f = try await fillForExport(t)
            let path = out.appendingPathComponent("acme.zip").path
            let summary = try await t.vault.export(.tenant("acme"), to: path, options: ExportOptions(encrypt: encrypt), context: .piiOfficer)
            #expect(summary.objects == 3 && summary.subjects == 2 && summary.encrypted == encrypt && summary.files == 12)
            #expect(try exportDirectoryListing(out) == (encrypt ? ["acme.zip", "acme.zip.keyset.json"] : ["acme.zip"]))
            let raw = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Int64(raw.count) == summary.archiveBytes)
            #expect((raw.range(of: Data("ada@example.com".utf8)) == nil) == encrypt, "sealed entries hide the plaintext")

            let entries = try exportEntries(path, aead: encrypt ? try exportKey(keyset: summary.keysetPath ?? "") : nil)
            let manifest = try exportManifest(entries)
            #expect(manifest.tenant == "acme" && manifest.subject == nil && (manifest.encryption?.associatedData == "") == encrypt)
            let objectFiles = manifest.files.filter { $0.objectID != nil }
            #expect(Set(objectFiles.compactMap(\.objectID)) == Set(f.objects.keys))
            for file in objectFiles {
                let id = try #require(file.objectID)
                let kind = try #require(file.kind)
                let expected = try #require(f.objects[id])
                expectSameBytes(try exportEntry(entries, file.path), expected.bytes, "\(file.path)")
                #expect(file.version == expected.version && file.name == expected.name)
                #expect(file.path.hasPrefix("objects/\(kind.code)/\(id.rawValue)-"))
            }
            #expect(Array(manifest.files.map(\.path).dropFirst(3)) == ["records/objects.json", "records/objects.csv", "records/subjects.json",
                                                               "records/subjects.csv", "records/consents.csv", "records/identifiers.csv",
                                                               "access-history.json", "access-history.csv"])
            let subjects = try JSONDecoder().decode([SubjectRecord].self, from: Data(try exportEntry(entries, "records/subjects.json")))
            #expect(Set(subjects.map(\.id)) == [f.ada, f.bob])
            #expect(subjects.first { $0.id == f.bob }?.status == .restricted)
            let identifiers = String(decoding: try exportEntry(entries, "records/identifiers.csv"), as: UTF8.self)
            #expect(identifiers.contains("203.0.113.7,'=cmd"), "CSV cells cannot start a formula")
            let listed = try JSONDecoder().decode([ObjectInfo].self, from: Data(try exportEntry(entries, "records/objects.json")))
            #expect(Set(listed.map(\.id)) == Set(f.objects.keys) && listed.first { $0.name == "scripts/login.js" }?.versions.count == 2)
            let catalogue = String(decoding: try exportEntry(entries, "records/objects.csv"), as: UTF8.self)
            #expect(catalogue.split(separator: "\n").count == 4 && !catalogue.contains("elsewhere"))

            let history = try JSONDecoder().decode([AuditRecord].self, from: Data(try exportEntry(entries, "access-history.json")))
            #expect(history.allSatisfy { $0.tenant == "acme" } && history.map(\.sequence) == history.map(\.sequence).sorted())
            #expect(history.contains { $0.action == "export" && $0.dataClass == "content" && $0.actor == PIIPrincipal.officer })
            #expect(history.filter { $0.action == "read" && $0.dataClass == "content" }.count == 3, "the export's own reads")
            let csv = String(decoding: try exportEntry(entries, "access-history.csv"), as: UTF8.self).split(separator: "\n")
            #expect(csv.first.map(String.init) == AuditExport.csvHeader && csv.count == history.count + 1)
        }
    }

    @Test("a subject export holds their record and the access history about them, and no content", arguments: [false, true])
    func subjectExport(encrypt: Bool) async throws {
        try await withExportVault(tenants: ["acme", "other"]) { t, out in
            let f = try await fillForExport(t)
            let path = out.appendingPathComponent("ada.zip").path
            let summary = try await t.vault.export(.subject(f.ada), to: path, options: ExportOptions(encrypt: encrypt), context: .piiOfficer)
            #expect(summary.subject == f.ada && summary.tenant == "acme" && summary.objects == 0 && summary.subjects == 1)
            let entries = try exportEntries(path, aead: encrypt ? try exportKey(keyset: path + ".keyset.json") : nil)
            let manifest = try exportManifest(entries)
            #expect(manifest.subject == f.ada)
            #expect(entries.map(\.path) == ["records/subject.json", "records/subject.csv", "records/consents.csv", "records/identifiers.csv",
                                            "access-history.json", "access-history.csv", "manifest.json"])
            let record = try JSONDecoder().decode(SubjectRecord.self, from: Data(try exportEntry(entries, "records/subject.json")))
            #expect(record.email == "ada@example.com" && record.currentConsents == ["marketing": true] && record.identifiers.count == 1)
            let history = try JSONDecoder().decode([AuditRecord].self, from: Data(try exportEntry(entries, "access-history.json")))
            #expect(history.allSatisfy { $0.subject == f.ada })
            #expect(history.map(\.action).prefix(3) == ["write", "write", "write"], "creation, consent, identifier")
            #expect(history.suffix(2).map(\.action) == ["export", "read"], "the export and its read of the record")
        }
    }

    @Test("every read of an export is its own record: the decisions, each object with its bytes, each subject, the catalogue, the log")
    func accessesAreRecorded() async throws {
        try await withExportVault(tenants: ["acme", "other"]) { t, out in
            let f = try await fillForExport(t)
            let before = try await t.vault.piiAuditRecords(AuditQuery(limit: 1)).last?.sequence ?? 0
            let seen = ExportProgressLog()
            let options = ExportOptions(progress: { seen.append($0) })
            _ = try await t.vault.export(.tenant("acme"), to: out.appendingPathComponent("a.zip").path, options: options, context: .piiOfficer)
            let records = try await t.vault.piiAuditRecords(AuditQuery(actor: PIIPrincipal.officer, limit: 1000)).filter { $0.sequence > before }
            #expect(records.prefix(2).map { "\($0.action)/\($0.dataClass)" } == ["export/content", "export/pii"])
            #expect(records.contains { $0.action == "list" && $0.dataClass == "metadata" })
            for (id, expected) in f.objects {
                #expect(records.contains { $0.action == "read" && $0.objectID == id.rawValue && $0.bytes == Int64(expected.bytes.count) })
            }
            #expect(Set(records.filter { $0.action == "read" && $0.dataClass == "pii" }.compactMap(\.subject)) == [f.ada, f.bob])
            #expect(records.filter { $0.action == "audit-read" }.count == 3, "the history is read three times (sizes, JSON, CSV)")
            #expect(records.allSatisfy { $0.outcome == .allowed })
            let last = try #require(seen.all.last)
            #expect(last.files == 12 && last.objectsDone == 3 && last.objectsTotal == 3 && last.currentFile == nil)
        }
    }

    @Test("a stored segment that fails its check ends the export with tamper-detected: nothing is left, the failure is recorded", .segmentRowsOnly)
    func tamperedObjectLeavesNothing() async throws {
        try await withExportVault { t, out in
            let (id, _) = try await t.vault.put(tenant: "acme", kind: .testResult, name: "big", bytes: testBytes(multiBatchSize, seed: 9), context: .test)
            let row = try #require(try await t.vault.versionRowID(objectID: id, version: 1))
            var segment = try await t.vault.segmentData(versionRowID: row, idx: 1500)
            segment[10] ^= 1
            try await t.vault.setSegmentData(versionRowID: row, idx: 1500, segment)
            for encrypt in [false, true] {
                await expectCofferError(.tamperDetected) {
                    _ = try await t.vault.export(.tenant("acme"), to: out.appendingPathComponent("x.zip").path,
                                                 options: ExportOptions(encrypt: encrypt), context: .piiOfficer)
                }
                #expect(try exportDirectoryListing(out).isEmpty, "no archive, keyset or temporary file")
            }
            let exports = try await t.vault.piiAuditRecords(AuditQuery(action: "export", limit: 100))
            #expect(exports.contains { $0.outcome == .error && $0.errorCode == "tamper-detected" })
        }
    }
}
