import Coffer
import CofferCrypto
import CofferObjectStore
import CofferSQL
import Foundation

/// One writer's segments on their way to object storage: gathered into groups, each group's row
/// written (with the writer's heartbeat) before its upload starts, up to the store's limit of
/// uploads at once, and the version committed only once every upload has succeeded.
final class S3SegmentSink: SegmentSink {
    private let store: S3SegmentStore
    private let objects: S3ObjectStore
    private let location: String
    private let version: Int64
    private let tenant: TenantID
    private let objectID: ObjectID
    private let number: Int
    private var group: [UInt8] = []
    private var lengths: [Int] = []
    private var groupStart = 0
    private var uploads: [Task<Void, any Error>] = []

    init(store: S3SegmentStore, objects: S3ObjectStore, location: String, version: Int64, tenant: TenantID, objectID: ObjectID, number: Int) {
        self.store = store
        self.objects = objects
        self.location = location
        self.version = version
        self.tenant = tenant
        self.objectID = objectID
        self.number = number
    }

    deinit {
        for upload in uploads { upload.cancel() }
    }

    func append(_ batch: CiphertextSegments) throws {
        for j in 0..<batch.count {
            if lengths.isEmpty { groupStart = batch.firstSegment + j }
            group.append(contentsOf: batch[j])
            lengths.append(batch[j].count)
            if group.count >= store.groupBytes { try flush() }
        }
    }

    func commit(digest: [UInt8], at time: Int64, final: (_ store: (CiphertextSegments) throws -> Void) throws -> VersionTotals,
                beforeCommit: () -> Void) throws {
        let totals = try final { try append($0) }
        if !lengths.isEmpty { try flush() }
        try waitForUploads(keeping: 0)
        let (version, objectID, number) = (self.version, self.objectID, self.number)
        try store.catalog.write { db in
            try CatalogStore.commitVersion(db, version: version, objectID: objectID, number: number, digest: digest, at: time, totals: totals)
            beforeCommit()
        }
    }

    /// Records the gathered group under a new key, then starts its upload.
    private func flush() throws {
        let key = "segments/\(tenant.rawValue)/" + (try SecureRandom.bytes(16)).map { String(format: "%02x", $0) }.joined()
        let (version, first, count, encoded, location) = (self.version, groupStart, lengths.count, SegmentGroup.encode(lengths), self.location)
        try store.catalog.write { db in
            // The heartbeat says the writer is alive; no row means the version was removed.
            guard try db.execute(sql: "UPDATE version SET heartbeat_at = ? WHERE id = ? AND state = 0", arguments: [nowMilliseconds(), version]) == 1 else {
                throw CofferError(.notFound, "the pending version was removed while it was being written")
            }
            try db.execute(sql: """
                INSERT INTO segment_group (version_id, first_idx, segment_count, lengths, location, object_key) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [version, first, count, encoded, location, key])
        }
        try waitForUploads(keeping: store.uploadsInFlight - 1)
        let (objects, bytes) = (self.objects, group)
        uploads.append(Task { try await objects.put(key, bytes: bytes) })
        group.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
    }

    /// Waits until at most `keeping` uploads are running; the first failure is thrown.
    private func waitForUploads(keeping: Int) throws {
        while uploads.count > max(0, keeping) {
            let upload = uploads.removeFirst()
            try BlockingWait.result { try await upload.value }
        }
    }
}
