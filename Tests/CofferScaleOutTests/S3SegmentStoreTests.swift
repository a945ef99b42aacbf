@testable import Coffer
import CofferCrypto
import CofferObjectStore
import CofferPostgres
@testable import CofferScaleOut
import CofferSQL
import Foundation
import Logging
import CofferScaleOutTestSupport
import CofferTestSupport
import Testing

/// A pending version of a new object in the catalog, as a put reserves it.
private func reserve(_ catalog: any SQLDatabase, tenant: String = "acme") throws -> (version: Int64, objectID: ObjectID) {
    let objectID = ObjectID("obj-" + (try SecureRandom.bytes(4)).map { String(format: "%02x", $0) }.joined())
    let row = try catalog.write { db in
        try db.execute(sql: """
            INSERT INTO object (id, tenant_id, kind, name_mac, name_sealed, latest_version, next_version, created_at, updated_at)
            VALUES (?, ?, 'test-result', ?, ?, 0, 2, 0, 0)
            """, arguments: [objectID, tenant, Data(try SecureRandom.bytes(32)), Data([1])])
        return try db.fetchOne(Int64.self, sql: """
            INSERT INTO version (object_id, version, state, writer, data_key_id, segment_size, created_at)
            VALUES (?, 1, 0, 'test', 'k', 4096, ?) RETURNING id
            """, arguments: [objectID, nowMilliseconds()])
    }
    return (try #require(row), objectID)
}

/// Seals `plaintext` in 4 KiB segments and hands each batch to `sink`, keeping a copy of every
/// segment as emitted.
private func write(_ plaintext: [UInt8], to sink: any SegmentSink) throws -> [[UInt8]] {
    let aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: 4096)
    let encryptor = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [UInt8]()), workers: 1, batchSegments: 3)
    var emitted: [[UInt8]] = []
    let keep: (CiphertextSegments) -> Void = { batch in for j in 0..<batch.count { emitted.append(Array(batch[j])) } }
    try encryptor.append(plaintext) { batch in keep(batch); try sink.append(batch) }
    try sink.commit(digest: [UInt8](repeating: 7, count: 32), at: nowMilliseconds(), final: { store in
        try encryptor.finish { batch in keep(batch); try store(batch) }
        return VersionTotals(plaintext: Int64(plaintext.count), ciphertext: Int64(emitted.map(\.count).reduce(0, +)), segments: emitted.count)
    }, beforeCommit: {})
    return emitted
}

/// A writer's sink kept alive (its writer lock held) while the test waits.
private struct LiveWriter: @unchecked Sendable {
    // @unchecked: the sink is only held, never used again.
    let sink: any SegmentSink
}

/// A segment store on fresh schemas and a new bucket, with groups of at least 10,000 bytes
/// (three 4 KiB segments each) and two uploads at once.
private func withSegmentStore(_ body: (PostgresVaultDatabases, S3ObjectStore, S3SegmentStore) async throws -> Void) async throws {
    try await ScaleOutTestServers.withFreshSchemas { main, pii in
        let databases = try await PostgresVaultDatabases.open(main: main, pii: pii, connections: 3, logger: Logger(label: "t"))
        defer { databases.close() }
        let bucket = try await ScaleOutTestServers.newBucket()
        let store = S3SegmentStore(catalog: databases.content, locations: ["default": bucket], location: { _ in "default" },
                                   groupBytes: 10_000, uploadsInFlight: 2)
        try await body(databases, bucket, store)
    }
}

@Suite("Segments in S3-compatible storage", .enabled(if: ScaleOutTestServers.available), .serialized)
struct S3SegmentStoreTests {
    @Test("a version's segments go up in groups and come back byte for byte, whole or by range; nothing is visible before the commit")
    func roundTrip() async throws {
        try await withSegmentStore { databases, bucket, store in
            let (version, objectID) = try reserve(databases.content)
            let plaintext = try SecureRandom.bytes(40_000)  // 10 segments
            let emitted = try await onOwnThread {
                try write(plaintext, to: try store.sink(version: version, tenant: TenantID("acme"), objectID: objectID, number: 1))
            }
            #expect(emitted.count == 10)
            #expect(try store.isCommitted(version: version))
            let groups = try await databases.content.read { try $0.fetchAll(Int64.self, sql: "SELECT first_idx FROM segment_group WHERE version_id = ? ORDER BY first_idx", arguments: [version]) }
            #expect(groups == [0, 3, 6, 9], "groups of three segments, the last one shorter")
            let listed = try await bucket.list(prefix: "segments/acme/")
            #expect(listed.objects.count == 4)
            for range in [0...9, 2...7, 5...5, 9...9, 0...0, 3...5] {
                let got = try await onOwnThread {
                    var got: [Int: [UInt8]] = [:]
                    try store.withSegments(version: version, in: range) { index, bytes in got[index] = Array(bytes) }
                    return got
                }
                #expect(got.keys.sorted() == Array(range), "range \(range)")
                for index in range { #expect(got[index] == emitted[index], "segment \(index)") }
            }
            let pinned = try store.pinnedVersion(tenant: TenantID("acme"), objectID: objectID, version: nil)
            #expect(pinned?.row == version)
            #expect(try store.pinnedVersion(tenant: TenantID("other"), objectID: objectID, version: nil) == nil, "another tenant's object is not found")
        }
    }

    @Test("a writer killed mid-put leaves nothing visible; its uploads and a deleted version's objects are collected after the grace period, by one instance at a time")
    func orphansCollected() async throws {
        try await withSegmentStore { databases, bucket, store in
            // The killed writer: groups uploaded, never committed.
            let (abandoned, abandonedID) = try reserve(databases.content)
            let writer = try await onOwnThread {
                let sink = try store.sink(version: abandoned, tenant: TenantID("acme"), objectID: abandonedID, number: 1)
                let aead = try StreamingAEAD(key: SecureBytes.random(count: 32), segmentSize: 4096)
                let encryptor = try StreamEncryptor(aead: aead, session: aead.newSession(aad: [UInt8]()), workers: 1, batchSegments: 3)
                try encryptor.append(try SecureRandom.bytes(30_000)) { try sink.append($0) }
                return LiveWriter(sink: sink)
            }
            // The killed writer's uploads land (its requests finished before it died): wait,
            // with the writer alive, until every group it recorded is in the bucket. The
            // grace period covers uploads that land later.
            let recorded = Set(try await databases.content.read {
                try $0.fetchAll(String.self, sql: "SELECT object_key FROM segment_group WHERE version_id = ?", arguments: [abandoned])
            })
            #expect(!recorded.isEmpty)
            while !recorded.isSubset(of: Set(try await bucket.list(prefix: "segments/").objects.map(\.key))) {
                try await Task.sleep(for: .milliseconds(50))
            }
            withExtendedLifetime(writer) {}
            #expect(try store.isCommitted(version: abandoned) == false)
            #expect(try store.pinnedVersion(tenant: TenantID("acme"), objectID: abandonedID, version: nil) == nil)
            // A committed version, then deleted: its objects are released by the delete's commit.
            let (deleted, deletedID) = try reserve(databases.content)
            _ = try await onOwnThread {
                try write(try SecureRandom.bytes(20_000), to: try store.sink(version: deleted, tenant: TenantID("acme"), objectID: deletedID, number: 1))
            }
            // A committed version that stays.
            let (kept, keptID) = try reserve(databases.content)
            _ = try await onOwnThread {
                try write(try SecureRandom.bytes(20_000), to: try store.sink(version: kept, tenant: TenantID("acme"), objectID: keptID, number: 1))
            }
            let keptKeys = Set(try await databases.content.read { try $0.fetchAll(String.self, sql: "SELECT object_key FROM segment_group WHERE version_id = ?", arguments: [kept]) })
            try await databases.content.write { db in try db.execute(sql: "DELETE FROM object WHERE id = ?", arguments: [deletedID]) }
            let before = Set(try await bucket.list(prefix: "segments/").objects.map(\.key))
            #expect(before.count > keptKeys.count)

            var collector = S3SegmentCollector(catalog: databases.content, store: store)
            // Within the grace period nothing is deleted, and a writer with a recent heartbeat is alive.
            let patient = collector
            let early = try await onOwnThread { try patient.collect() }
            #expect(early?.deletedObjects == 0)
            #expect(early?.abandonedVersions == 0, "the abandoned writer's heartbeat is recent")
            collector.staleAfter = .zero
            collector.grace = .zero
            let eager = collector
            // Another instance holding the lock: this one skips the pass.
            let other = PostgresSQLDatabase(databases.pools[1], writerLock: 1)
            let skipped = try await onOwnThread {
                try other.whileHolding(S3SegmentCollector.lockKey) { try eager.collect(now: nowMilliseconds() + 1000) }
            }
            #expect(skipped == .some(nil), "one collector at a time")
            let pass = try await onOwnThread { try eager.collect(now: nowMilliseconds() + 1000) }
            #expect(pass?.abandonedVersions == 1)
            let after = Set(try await bucket.list(prefix: "segments/").objects.map(\.key))
            #expect(after == keptKeys, "only the committed version's objects remain")
            #expect(try await databases.content.read { try $0.fetchOne(Int64.self, sql: "SELECT count(*) FROM segment_garbage") } == 0)
            // The version that stays still reads.
            let got = try await onOwnThread {
                var n = 0
                try store.withSegments(version: kept, in: 0...4) { _, _ in n += 1 }
                return n
            }
            #expect(got == 5)
        }
    }
}
