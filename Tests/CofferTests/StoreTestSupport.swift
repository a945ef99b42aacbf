import Foundation
import GRDB
import Testing
@testable import Coffer
import CofferCrypto
import CofferSQL
import CofferScaleOut
import CofferScaleOutTestSupport

/// The segment size most store tests use, so segment boundaries are cheap to reach.
let testSegmentSize = 4096
/// Its layout: 4040 plaintext bytes in segment 0, 4080 in every later one.
let testLayout = try! SegmentLayout(segmentSize: testSegmentSize)

/// A plaintext size that spans more than one encryptor batch at ``testSegmentSize``
/// (a batch is 8 MiB / 4096 = 2048 segments): 2102 segments, the last one holding 5 bytes.
let multiBatchSize = 4040 + 4080 * 2100 + 5

extension AccessContext {
    /// The context the store tests act under.
    static let test = try! AccessContext(actor: "store-tests", purpose: .serviceOperation)
    /// The same principal acting as administrator (keys, tenants listing).
    static let admin = try! AccessContext(actor: "store-tests", purpose: .administration)
}

/// A vault in its own temporary directory, with the keyring that opens it.
struct TestVault: Sendable {
    let directory: URL
    let keyring: Keyring
    let vault: Vault
    /// Where the vault is when the suites run on PostgreSQL + S3; nil for an embedded vault.
    var configuration: ScaleOutConfiguration? = nil

    /// Opens the same vault again as a second `Vault` (as another process would), on its engine.
    func reopen(keyring: Keyring? = nil) async throws -> Vault {
        if let configuration {
            return try await Vault.open(configuration, keyring: keyring ?? self.keyring)
        }
        return try Vault.open(at: directory, keyring: keyring ?? self.keyring)
    }

    /// Every regular file under the vault directory, recursively.
    func allFiles() throws -> [URL] {
        let enumerator = try #require(FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]))
        return try enumerator.compactMap { item in
            let url = try #require(item as? URL)
            return try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true ? url : nil
        }
    }
}

/// Creates a vault (segment size ``testSegmentSize`` unless told) in a fresh temporary directory
/// with `tenants` registered, runs `body`, and removes the directory afterwards.
func withTestVault<R>(segmentSize: Int = testSegmentSize, tenants: [TenantID] = ["acme"],
                      _ body: (TestVault) async throws -> R) async throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let keyring = try Keyring.generate()
    if ScaleOutTestServers.engineIsScaleOut {
        // The same tests on PostgreSQL and S3 (`COFFER_TEST_ENGINE=scale-out`, testing.md).
        var result: R?
        // The directory holds only what a test writes itself (input files, exports).
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await ScaleOutTestServers.withFreshConfiguration { configuration in
            let vault = try await Vault.open(configuration, keyring: keyring, creator: "store-tests", segmentSize: segmentSize)
            defer { try? vault.close() }
            for tenant in tenants { try await vault.createTenant(tenant, context: .test) }
            result = try await body(TestVault(directory: directory, keyring: keyring, vault: vault, configuration: configuration))
        }
        guard let result else { throw CofferError(.storage, "the scale-out test vault did not run") }
        return result
    }
    let vault = try Vault.create(at: directory, keyring: keyring, operator: "store-tests", segmentSize: segmentSize)
    for tenant in tenants { try await vault.createTenant(tenant, context: .test) }
    return try await body(TestVault(directory: directory, keyring: keyring, vault: vault))
}

/// A fresh temporary directory path (not created), removed after `body` returns.
func withTemporaryPath<R>(_ body: (URL) async throws -> R) async throws -> R {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// `count` deterministic pseudo-random bytes (SplitMix64 from `seed`): the same every run, and
/// different seeds give different bytes, so a segment moved between objects is noticed.
func testBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x2545_F491_4F6C_DD1D
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            if buffer.count - offset >= 8 {
                buffer.storeBytes(of: z.littleEndian, toByteOffset: offset, as: UInt64.self)
            } else {
                for k in 0..<(buffer.count - offset) {
                    buffer[offset + k] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(k)))
                }
            }
            offset += 8
        }
    }
    return out
}

/// The ``CofferError`` `body` throws, or nil (with an issue recorded) when it throws nothing or
/// something else.
@discardableResult
func expectCofferError(_ code: CofferError.Code, _ comment: Comment? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () async throws -> Void) async -> CofferError? {
    do {
        try await body()
        Issue.record("\(comment.map { "\($0): " } ?? "")expected CofferError \(code), nothing was thrown",
                     sourceLocation: sourceLocation)
        return nil
    } catch let error as CofferError {
        #expect(error.code == code, "\(comment.map { "\($0): " } ?? "")\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("\(comment.map { "\($0): " } ?? "")expected CofferError \(code), got \(error)",
                     sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `actual == expected` without printing megabytes when they differ.
func expectSameBytes(_ actual: [UInt8], _ expected: some Collection<UInt8>, _ comment: Comment? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = Array(expected)
    guard actual != expected else { return }
    let first = (0..<min(actual.count, expected.count)).first { actual[$0] != expected[$0] } ?? min(actual.count, expected.count)
    Issue.record("\(comment.map { "\($0): " } ?? "")got \(actual.count) bytes, expected \(expected.count); first difference at offset \(first)",
                 sourceLocation: sourceLocation)
}

extension Vault {
    /// A read that keeps whatever reached the sink, and the error that ended it (nil on success).
    func readCapturing(tenant: TenantID, objectID: ObjectID, version: Int? = nil,
                       range: ClosedRange<Int64>? = nil) async -> (released: [UInt8], error: (any Error)?) {
        var released: [UInt8] = []
        do {
            try await read(tenant: tenant, objectID: objectID, version: version, range: range, context: .test) {
                released.append(contentsOf: $0)
            }
            return (released, nil)
        } catch {
            return (released, error)
        }
    }

    /// Reads `range` of a version into memory.
    func readRange(tenant: TenantID, objectID: ObjectID, version: Int? = nil, _ range: ClosedRange<Int64>) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await read(tenant: tenant, objectID: objectID, version: version, range: range, context: .test) {
            out.append(contentsOf: $0)
        }
        return out
    }

    /// The `version` table's row id of a version, pending or committed.
    func versionRowID(objectID: ObjectID, version: Int) async throws -> Int64? {
        try await content.read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM version WHERE object_id = ? AND version = ?",
                               arguments: [objectID, version])
        }
    }

    /// How many `segment` rows a version row has.
    /// On PostgreSQL + S3, the segments the version's recorded groups hold.
    func segmentRowCount(versionRowID: Int64) async throws -> Int {
        try await content.read { db in
            let sql = db.engine == .sqlite ? "SELECT count(*) FROM segment WHERE version_id = ?"
                : "SELECT coalesce(CAST(sum(segment_count) AS BIGINT), 0) FROM segment_group WHERE version_id = ?"
            return try Int.fetchOne(db, sql: sql, arguments: [versionRowID]) ?? 0
        }
    }

    /// A count from the content file.
    func contentCount(_ sql: String, _ arguments: SQLArguments = []) async throws -> Int {
        try await content.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// The stored bytes of one segment row.
    func segmentData(versionRowID: Int64, idx: Int) async throws -> [UInt8] {
        let data = try await content.read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM segment WHERE version_id = ? AND idx = ?",
                              arguments: [versionRowID, idx])
        }
        return [UInt8](try #require(data, "no segment \(idx) for version row \(versionRowID)"))
    }

    /// Replaces the stored bytes of one segment row (as someone editing the file would).
    func setSegmentData(versionRowID: Int64, idx: Int, _ bytes: [UInt8]) async throws {
        let changed = try await content.write { db in
            try db.execute(sql: "UPDATE segment SET data = ? WHERE version_id = ? AND idx = ?",
                           arguments: [Data(bytes), versionRowID, idx])
        }
        #expect(changed == 1, "segment \(idx) of version row \(versionRowID) was not updated")
    }
}

/// Writes `bytes` to `writer` in pieces of `piece` bytes.
func write(_ bytes: [UInt8], to writer: ObjectWriter, piece: Int) async throws {
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + piece)
        try await writer.write(Array(bytes[offset..<end]))
        offset = end
    }
}

/// An async sequence yielding `bytes` in pieces of `piece` bytes.
func pieces(_ bytes: [UInt8], piece: Int) -> AsyncStream<[UInt8]> {
    AsyncStream { continuation in
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            continuation.yield(Array(bytes[offset..<end]))
            offset = end
        }
        continuation.finish()
    }
}

/// True when `haystack` contains `needle`.
func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
    haystack.range(of: Data(needle)) != nil
}
