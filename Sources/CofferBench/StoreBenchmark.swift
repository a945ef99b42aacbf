import Coffer
import CofferCrypto
import Foundation
import GRDB

/// Put and get throughput of the content store, beside the same bytes written to and read from
/// the same schema without encryption, in the same run (see docs/benchmarks.md).
public enum StoreBenchmark {
    /// One measurement.
    public struct Measurement: Codable, Sendable {
        /// What was measured, e.g. `put-large-encrypted`.
        public let name: String
        /// Median bytes per second (large objects) or operations per second (small objects).
        public let rate: Double
        /// `bytes/s` or `ops/s`.
        public let unit: String
        /// Timed repetitions.
        public let repetitions: Int
    }

    /// The report.
    public struct Report: Codable, Sendable {
        /// Large-object size in bytes.
        public let size: Int
        /// Number of 4 KiB objects.
        public let count: Int
        /// Segment size in bytes.
        public let segmentSize: Int
        /// The page size of `content.sqlite` (nil: the default).
        public let contentPageSize: Int?
        /// Every measurement.
        public let measurements: [Measurement]
        /// Encrypted over plain for each operation, and get against `openssl speed` when given.
        public let ratios: [String: Double]
    }

    /// Runs the benchmark in a scratch directory (removed afterwards).
    /// - Parameters:
    ///   - size: Bytes of the large object.
    ///   - count: How many 4 KiB objects.
    ///   - segmentSize: Segment size.
    ///   - repetitions: Timed repetitions of each large-object measurement.
    ///   - opensslSpeed: One core's `openssl speed -evp aes-256-gcm` figure at the segment size, in bytes/s.
    ///   - contentPageSize: The page size of both vaults' `content.sqlite` (nil: the default).
    public static func run(size: Int, count: Int, segmentSize: Int = SegmentLayout.defaultSegmentSize,
                           repetitions: Int = 3, opensslSpeed: Double? = nil, contentPageSize: Int? = nil) async throws -> Report {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let keyring = try Keyring.generate()
        let context = try AccessContext(actor: "bench", purpose: .serviceOperation)
        func vault(_ name: String) throws -> Vault {
            try Vault.create(at: scratch.appendingPathComponent(name), keyring: keyring, operator: "bench", segmentSize: segmentSize,
                             contentPageSize: contentPageSize)
        }
        let encrypted = try vault("encrypted")
        let plain = try vault("plain")
        try await encrypted.createTenant("bench", context: context)
        try await plain.createTenant("bench", context: context)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { payload.deallocate() }
        for i in 0..<size { payload[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 17) }
        let piece = 1 << 20
        let layout = try SegmentLayout(segmentSize: segmentSize)
        let plainStore = PlainStore(vault: plain, layout: layout)

        var results: [Measurement] = []
        func timed(_ name: String, unit: String, amount: Double, times: Int, _ body: () async throws -> Void) async throws {
            var rates: [Double] = []
            for _ in 0..<times {
                let elapsed = try await ContinuousClock().measure(body)
                rates.append(amount / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            }
            rates.sort()
            results.append(Measurement(name: name, rate: rates[rates.count / 2], unit: unit, repetitions: times))
        }

        // Large objects: interleave encrypted and plain so both see the same machine.
        var lastID: ObjectID = "", plainID: Int64 = 0
        for round in 0..<repetitions {
            try await timed("put-large-encrypted", unit: "bytes/s", amount: Double(size), times: 1) {
                let writer = try await encrypted.makeWriter(tenant: "bench", kind: .runTelemetry, name: "large-\(round)", context: context)
                var offset = 0
                while offset < size {
                    let n = min(piece, size - offset)
                    try await writer.write(unsafeBytes: UnsafeRawBufferPointer(rebasing: payload[offset..<offset + n]))
                    offset += n
                }
                _ = try await writer.commit()
                lastID = writer.objectID
            }
            try await timed("put-large-plain", unit: "bytes/s", amount: Double(size), times: 1) {
                plainID = try plainStore.put(UnsafeRawBufferPointer(payload), piece: piece)
            }
        }
        var checked = 0
        for _ in 0..<repetitions + 1 {  // the first read warms the cache
            try await timed("get-large-encrypted", unit: "bytes/s", amount: Double(size), times: 1) {
                checked = 0
                try await encrypted.read(tenant: "bench", objectID: lastID, context: context) { checked += $0.count }
            }
            try await timed("get-large-plain", unit: "bytes/s", amount: Double(size), times: 1) {
                _ = try plainStore.get(versionRowID: plainID)
            }
        }
        guard checked == size else { throw CofferError(.storage, "benchmark read \(checked) of \(size) bytes") }

        // Small objects: 4 KiB each.
        let small = UnsafeRawBufferPointer(rebasing: payload[0..<min(4096, size)])
        let smallBytes = Array(small)
        var ids: [ObjectID] = []
        try await timed("put-4k-encrypted", unit: "ops/s", amount: Double(count), times: 1) {
            for i in 0..<count {
                ids.append(try await encrypted.put(tenant: "bench", kind: .testResult, name: "small-\(i)", bytes: smallBytes, context: context).objectID)
            }
        }
        var plainIDs: [Int64] = []
        try await timed("put-4k-plain", unit: "ops/s", amount: Double(count), times: 1) {
            for _ in 0..<count { plainIDs.append(try plainStore.put(small, piece: small.count)) }
        }
        try await timed("get-4k-encrypted", unit: "ops/s", amount: Double(count), times: 1) {
            for id in ids { _ = try await encrypted.readAll(tenant: "bench", objectID: id, context: context) }
        }
        try await timed("get-4k-plain", unit: "ops/s", amount: Double(count), times: 1) {
            for id in plainIDs { _ = try plainStore.get(versionRowID: id) }
        }
        try encrypted.close()
        try plain.close()

        func rate(_ name: String) -> Double {
            // The first large get of each kind only warms the cache.
            let all = results.filter { $0.name == name }.map(\.rate)
            let matching = (name.hasPrefix("get-large") ? Array(all.dropFirst()) : all).sorted()
            return matching.isEmpty ? .nan : matching[matching.count / 2]
        }
        var merged: [Measurement] = []
        for name in ["put-large-encrypted", "put-large-plain", "get-large-encrypted", "get-large-plain",
                     "put-4k-encrypted", "put-4k-plain", "get-4k-encrypted", "get-4k-plain"] {
            let all = results.filter { $0.name == name }
            let timed = name.hasPrefix("get-large") ? all.count - 1 : all.count
            merged.append(Measurement(name: name, rate: rate(name), unit: all[0].unit, repetitions: timed))
        }
        var ratios = [
            "put-large encrypted/plain": rate("put-large-encrypted") / rate("put-large-plain"),
            "get-large encrypted/plain": rate("get-large-encrypted") / rate("get-large-plain"),
            "put-4k encrypted/plain": rate("put-4k-encrypted") / rate("put-4k-plain"),
            "get-4k encrypted/plain": rate("get-4k-encrypted") / rate("get-4k-plain"),
        ]
        if let opensslSpeed { ratios["get-large encrypted/openssl-speed"] = rate("get-large-encrypted") / opensslSpeed }
        return Report(size: size, count: count, segmentSize: segmentSize, contentPageSize: contentPageSize, measurements: merged, ratios: ratios)
    }
}

/// The unencrypted yardstick: the same schema, the same segmenting and batching, the same keyed
/// digest, one row per segment, but plaintext in the rows. Used only by the benchmark, in a
/// scratch directory.
private struct PlainStore {
    let vault: Vault
    let layout: SegmentLayout

    func put(_ bytes: UnsafeRawBufferPointer, piece: Int) throws -> Int64 {
        let now = nowMilliseconds()
        let objectID = try makeIdentifier("obj")
        let digestKey = try SecureBytes.random(count: 32)
        let mac = try HMACSHA256.Authenticator(key: digestKey)
        let rowID = try vault.contentDatabase.write { db -> Int64 in
            try db.execute(sql: """
                INSERT INTO object (id, tenant_id, kind, name_mac, name_sealed, latest_version, next_version, created_at, updated_at)
                VALUES (?, 'bench', 'run-telemetry', ?, ?, 0, 2, ?, ?)
                """, arguments: [objectID, Data(objectID.utf8), Data(), now, now])
            try db.execute(sql: "INSERT INTO version (object_id, version, state, data_key_id, segment_size, created_at) VALUES (?, 1, 0, 'plain', ?, ?)",
                           arguments: [objectID, layout.segmentSize, now])
            return db.lastInsertedRowID
        }
        // The caller's pieces are hashed as they arrive, as the writer does.
        var offset = 0
        while offset < bytes.count {
            let n = min(piece, bytes.count - offset)
            mac.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            offset += n
        }
        // Same segmenting and the same batches as the encrypted writer: ~8 MiB per transaction.
        let batch = max(2, 2 * StreamingAEAD.defaultWorkers, 8 * 1024 * 1024 / layout.segmentSize)
        var index = 0, position = 0
        func insert(_ segments: [(Int, UnsafeRawBufferPointer)], _ db: Database) throws {
            let statement = try db.cachedStatement(sql: "INSERT INTO segment (version_id, idx, data) VALUES (?, ?, ?)")
            for (i, segment) in segments {
                let blob = segment.isEmpty ? Data() : Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: segment.baseAddress!),
                                                           count: segment.count, deallocator: .none)
                try statement.execute(arguments: [rowID, i, blob])
            }
        }
        var segments: [(Int, UnsafeRawBufferPointer)] = []
        repeat {
            if segments.count == batch {  // a full batch with more to come gets its own transaction
                try vault.contentDatabase.write { db in try insert(segments, db) }
                segments.removeAll(keepingCapacity: true)
            }
            let n = min(layout.plaintextCapacity(ofSegment: index), bytes.count - position)
            segments.append((index, UnsafeRawBufferPointer(rebasing: bytes[position..<position + n])))
            position += n
            index += 1
        } while position < bytes.count
        let digest = try mac.finalize()
        // The last batch and the commit share a transaction, as in the encrypted writer.
        try vault.contentDatabase.write { db in
            try insert(segments, db)
            try db.execute(sql: "UPDATE version SET state = 1, plaintext_size = ?, ciphertext_size = ?, segment_count = ?, digest = ?, committed_at = ? WHERE id = ?",
                           arguments: [bytes.count, bytes.count, index, Data(digest), nowMilliseconds(), rowID])
            try db.execute(sql: "UPDATE object SET latest_version = 1 WHERE id = ?", arguments: [objectID])
        }
        return rowID
    }

    /// Reads every segment row of a version, in order, touching each byte once (as a sink would).
    func get(versionRowID: Int64) throws -> Int {
        try vault.contentDatabase.read { db in
            var total = 0, checksum: UInt8 = 0
            let rows = try Row.fetchCursor(db, sql: "SELECT idx, data FROM segment WHERE version_id = ? ORDER BY idx",
                                           arguments: [versionRowID])
            while let row = try rows.next() {
                try row.withUnsafeData(atIndex: 1) { data in
                    guard let data else { return }
                    total += data.count
                    checksum ^= data.last ?? 0
                }
            }
            return total + Int(checksum & 0)
        }
    }
}
