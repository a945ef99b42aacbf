import Foundation
import Testing
import ZIPFoundation
@testable import Coffer
import CofferCrypto

// Helpers of the export tests (Export*Tests.swift): reading an archive back with ZIPFoundation,
// opening its entries with the key from its Tink keyset, checking the manifest.

/// A reporting principal (aggregates only), which must be refused an export.
let exportReporter: PrincipalID = "export-reporting"

/// A PII test vault (``withPIIVault(tenants:breached:_:)``) with a reporting principal and a
/// fresh directory for archives, removed afterwards.
func withExportVault(tenants: [TenantID] = ["acme"], _ body: (TestVault, URL) async throws -> Void) async throws {
    try await withPIIVault(tenants: tenants) { t in
        try await t.vault.addPrincipal(exportReporter, roles: [.reporting], context: .admin)
        try await withTemporaryPath { out in
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try await body(t, out)
        }
    }
}

/// The key of an encrypted export, from its keyset file, after checking the keyset is the one
/// Tink expects: one ENABLED, RAW, SYMMETRIC `AesGcmHkdfStreamingKey` whose value is
/// `AesGcmHkdfStreamingKey { params { segment size, 32, SHA256 }, key_value }`, mode 0600.
func exportKey(keyset path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> StreamingAEAD {
    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    #expect(mode == 0o600, sourceLocation: sourceLocation)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    let keys = try #require(json["key"] as? [[String: Any]])
    try #require(keys.count == 1, sourceLocation: sourceLocation)
    let key = keys[0]
    let data = try #require(key["keyData"] as? [String: Any])
    #expect(data["typeUrl"] as? String == "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey", sourceLocation: sourceLocation)
    #expect(data["keyMaterialType"] as? String == "SYMMETRIC" && key["status"] as? String == "ENABLED", sourceLocation: sourceLocation)
    #expect(key["outputPrefixType"] as? String == "RAW", sourceLocation: sourceLocation)
    #expect((key["keyId"] as? Int).map { $0 > 0 && $0 == json["primaryKeyId"] as? Int } == true, sourceLocation: sourceLocation)
    let value = try #require(data["value"] as? String)
    let proto = [UInt8](try #require(Data(base64Encoded: value)))
    // params (field 2): segment size 1 MiB (varint 80 80 40), derived key size 32, HKDF SHA256; key_value (field 3), 32 bytes.
    let prefix: [UInt8] = [0x12, 0x08, 0x08, 0x80, 0x80, 0x40, 0x10, 0x20, 0x18, 0x03, 0x1A, 0x20]
    try #require(proto.count == prefix.count + 32 && Array(proto.prefix(prefix.count)) == prefix, "\(proto.prefix(12))",
                 sourceLocation: sourceLocation)
    return try StreamingAEAD(key: SecureBytes(copying: proto.suffix(32)), segmentSize: 1 << 20)
}

/// Every entry of the archive at `path` by name, in archive order, read with ZIPFoundation and
/// opened with `aead` (empty associated data) when given.
func exportEntries(_ path: String, aead: StreamingAEAD? = nil) throws -> [(path: String, bytes: [UInt8])] {
    let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read, pathEncoding: nil)
    return try archive.map { entry in
        var bytes: [UInt8] = []
        _ = try archive.extract(entry) { bytes.append(contentsOf: $0) }
        return (entry.path, try aead.map { try $0.open(bytes, aad: [UInt8]()) } ?? bytes)
    }
}

/// The manifest of an archive's entries, after checking it lists every other entry (and only
/// those) with its SHA-256 and size, and that the names are safe.
func exportManifest(_ entries: [(path: String, bytes: [UInt8])], sourceLocation: SourceLocation = #_sourceLocation) throws -> ExportManifest {
    #expect(entries.last?.path == "manifest.json", sourceLocation: sourceLocation)
    let manifest = try JSONDecoder().decode(ExportManifest.self, from: Data(try #require(entries.last).bytes))
    #expect(manifest.format == "coffer-export/v1", sourceLocation: sourceLocation)
    let files = entries.dropLast()
    #expect(manifest.files.map(\.path) == files.map(\.path), sourceLocation: sourceLocation)
    for (file, entry) in zip(manifest.files, files) {
        #expect(file.sha256 == (try SHA256.hash(entry.bytes)).hexString && file.size == Int64(entry.bytes.count), "\(file.path)",
                sourceLocation: sourceLocation)
        #expect(!file.path.hasPrefix("/") && !file.path.contains("..") && !file.path.unicodeScalars.contains(where: DisplayText.needsEscaping),
                "\(file.path)", sourceLocation: sourceLocation)
    }
    return manifest
}

/// The bytes of the entry named `path`.
func exportEntry(_ entries: [(path: String, bytes: [UInt8])], _ path: String) throws -> [UInt8] {
    try #require(entries.first { $0.path == path }, "no entry \(path)").bytes
}

/// The names of the files in `directory`, sorted.
func exportDirectoryListing(_ directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
}

/// The progress reports an export made, in order.
final class ExportProgressLog: @unchecked Sendable {
    // @unchecked: `reports` is touched only with `lock` held.
    private let lock = NSLock()
    private var reports: [ExportProgress] = []

    func append(_ progress: ExportProgress) { lock.withLock { reports.append(progress) } }
    var all: [ExportProgress] { lock.withLock { reports } }
}
