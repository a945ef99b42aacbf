import Coffer
import CofferCrypto
import CofferObjectStore
import CofferSQL
import Foundation

/// Segments as objects in S3-compatible storage; the content catalog on PostgreSQL says which
/// object holds which segments (`segment_group`). Each object is a run of a version's segments
/// (at least `groupBytes` unless the version is smaller), under a key made of 128 random bits
/// that is never used again; objects are never overwritten, so conditional writes are never
/// needed.
///
/// A writer records each group's row before uploading it (so a killed writer's uploads are
/// known), uploads up to `uploadsInFlight` groups at once (bounded memory), and commits the
/// version in one transaction after every upload has succeeded: readers follow only committed
/// versions. Deleting a version removes its rows, and a trigger lists their objects for the
/// collector (`S3SegmentCollector`), in the same transaction.
final class S3SegmentStore: SegmentStore {
    /// Planned reads fetch groups ahead (`GroupReadAhead`): readers ask one batch at a time.
    var readsAhead: Bool { true }
    /// The content tables.
    let catalog: any SQLDatabase
    /// The object stores by location name.
    let locations: [String: S3ObjectStore]
    /// The location of a tenant's segments (residency): a put goes there or fails.
    let location: @Sendable (TenantID) throws -> String
    /// The least size of a group (the last group of a version may be smaller).
    let groupBytes: Int
    /// Groups a writer uploads at once.
    let uploadsInFlight: Int
    /// Groups a sequential reader fetches beyond the one it is reading.
    let readAhead = 3
    /// The group fetches under way or waiting to be read, across every reader.
    let fetches = GroupReadAhead(limit: 12)

    init(catalog: any SQLDatabase, locations: [String: S3ObjectStore], location: @escaping @Sendable (TenantID) throws -> String,
         groupBytes: Int = 8 << 20, uploadsInFlight: Int = 4) {
        self.catalog = catalog
        self.locations = locations
        self.location = location
        self.groupBytes = groupBytes
        self.uploadsInFlight = uploadsInFlight
    }

    /// The object store of location `name`.
    /// - Throws: `CofferError` `invalidArgument` for a location this vault was not configured with.
    func store(_ name: String) throws -> S3ObjectStore {
        guard let store = locations[name] else {
            throw CofferError(.invalidArgument, "the object-store location '\(name)' is not configured (--location \(name)=s3://...)")
        }
        return store
    }

    func withSegments(version: Int64, in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for group in try groups(of: version, overlapping: range) {
            let first = max(group.firstIndex, range.lowerBound), last = min(group.lastIndex, range.upperBound)
            let (bytes, offsets) = group.byteRange(first, last)
            let (objects, key) = (try store(group.location), group.key)
            let data = try BlockingWait.result { try await Self.fetch(key, bytes, from: objects) }
            try Self.deliver(data, of: group, fetched: first, offsets: offsets, segments: first...last, to: body)
        }
    }

    /// The groups of `version` holding segments of `range`, in order.
    private func groups(of version: Int64, overlapping range: ClosedRange<Int>) throws -> [SegmentGroup] {
        try catalog.read { db in
            try db.fetchAll(sql: """
                SELECT first_idx, lengths, location, object_key FROM segment_group
                WHERE version_id = ? AND first_idx <= ? AND first_idx + segment_count - 1 >= ? ORDER BY first_idx
                """, arguments: [version, range.upperBound, range.lowerBound]).map(Self.group)
        }
    }

    /// The bytes `bytes` of object `key`, all of them.
    private static func fetch(_ key: String, _ bytes: ClosedRange<Int64>, from objects: S3ObjectStore) async throws -> [UInt8] {
        let data = try await objects.get(key, range: bytes)
        guard data.count == Int(bytes.upperBound - bytes.lowerBound + 1) else {
            throw CofferError(.truncated, "segment object \(key) is shorter than its catalog row says")
        }
        return data
    }

    /// Passes `segments` of `group` to `body`, from `data`, the group's segments from `fetched` on
    /// (each at its offset in `offsets`).
    private static func deliver(_ data: [UInt8], of group: SegmentGroup, fetched: Int, offsets: [Int], segments: ClosedRange<Int>,
                                to body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        try data.withUnsafeBytes { all in
            for index in segments {
                let n = index - fetched
                let length = group.lengths[index - group.firstIndex]
                try body(index, UnsafeRawBufferPointer(rebasing: all[offsets[n]..<offsets[n] + length]))
            }
        }
    }

    func withSegments(version: Int64, in range: ClosedRange<Int>, planned: ClosedRange<Int>,
                      _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        guard planned.lowerBound < range.lowerBound || planned.upperBound > range.upperBound else {
            return try withSegments(version: version, in: range, body)
        }
        // The groups the batch needs, and the next few of the planned read, fetched as far as
        // the plan goes; each batch takes its segments from these fetches.
        let plan = "\(version):\(planned.lowerBound)-\(planned.upperBound)"
        let all = try fetches.groups(of: plan) { try self.groups(of: version, overlapping: planned) }
        if range.upperBound >= planned.upperBound { fetches.dropPlan(plan) }
        let groups = all.filter { $0.lastIndex >= range.lowerBound }
        let needed = groups.filter { $0.firstIndex <= range.upperBound }
        // A version deleted while it is read ends the read where its next group starts (on SQLite,
        // at its next batch): its groups are fetched ahead, and their objects outlive it by the
        // grace period, so a batch entering a new group first asks whether it is still committed.
        if needed.contains(where: { $0.firstIndex > planned.lowerBound && range.contains($0.firstIndex) }), try !isCommitted(version: version) {
            fetches.dropPlan(plan)
            return
        }
        var started: [(group: SegmentGroup, name: String, task: Task<[UInt8], any Error>, span: ClosedRange<Int>, offsets: [Int])] = []
        for group in groups.prefix(needed.count + readAhead) {
            // What the plan reads of this group: the same for every batch, so each finds the fetch.
            let span = max(group.firstIndex, planned.lowerBound)...min(group.lastIndex, planned.upperBound)
            let (bytes, offsets) = group.byteRange(span.lowerBound, span.upperBound)
            let (objects, key) = (try store(group.location), group.key)
            let name = "\(key)#\(bytes.lowerBound)-\(bytes.upperBound)"
            let task = fetches.fetch(name) { try await Self.fetch(key, bytes, from: objects) }
            started.append((group, name, task, span, offsets))
        }
        for fetch in started.prefix(needed.count) {
            let last = min(fetch.group.lastIndex, range.upperBound)
            do {
                let data = try BlockingWait.result { try await fetch.task.value }
                try Self.deliver(data, of: fetch.group, fetched: fetch.span.lowerBound, offsets: fetch.offsets,
                                 segments: max(range.lowerBound, fetch.span.lowerBound)...last, to: body)
            } catch {
                fetches.drop(fetch.name)
                fetches.dropPlan(plan)
                throw error
            }
            if last >= fetch.span.upperBound { fetches.drop(fetch.name) }
        }
    }

    func isCommitted(version: Int64) throws -> Bool {
        try catalog.read { db in try CatalogStore.isCommitted(db, version: version) }
    }

    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) throws -> PinnedVersion? {
        try catalog.read { db in try CatalogStore.pinnedVersion(db, tenant: tenant, objectID: objectID, version: version) }
    }

    func sink(version: Int64, tenant: TenantID, objectID: ObjectID, number: Int) throws -> any SegmentSink {
        let name = try location(tenant)
        return S3SegmentSink(store: self, objects: try store(name), location: name, version: version, tenant: tenant,
                             objectID: objectID, number: number)
    }

    private static func group(_ row: SQLRow) throws -> SegmentGroup {
        let t = "segment_group"
        guard let lengths = SegmentGroup.decode(try row.stored("lengths", in: t, as: Data.self)) else {
            throw CofferError(.tamperDetected, "a segment_group row has malformed lengths: the content database was changed outside Coffer")
        }
        return SegmentGroup(firstIndex: try row.stored("first_idx", in: t), lengths: lengths, location: try row.stored("location", in: t),
                            key: try row.stored("object_key", in: t))
    }
}
