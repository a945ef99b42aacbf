import CofferCrypto
import CofferSQL
import Foundation
import GRDB
import Logging

/// The content store: the catalog of objects and versions (``CatalogStore``), the segments of
/// the content pool (``SQLiteSegmentStore``), the segment size of new versions, and what turns
/// them into objects: reserving versions, decrypting names, pinning a version and planning its
/// read, deleting versions, and clearing what dead writers left.
///
/// It reaches the key manager only for a class's keys and access administration only to learn
/// whether a tenant exists; it decides and records nothing (the vault's gate does).
final class ContentStore: Sendable {
    /// Objects and versions.
    let catalog: CatalogStore
    /// The segments of every version.
    let segments: any SegmentStore
    /// Ciphertext segment size of new versions.
    let segmentSize: Int
    /// One lock file per put in progress (`writers/`).
    let writersDirectory: URL
    /// True when every writer's lock file is in `writersDirectory` (one machine's vault): a
    /// pending version without a held lock is then a dead writer's. Otherwise the engine
    /// collects leftovers itself (by heartbeat).
    let writerLocksAreShared: Bool
    private let keys: KeyManager
    private let administration: AccessAdministration
    private let janitor: WALJanitor
    private let logger: Logger

    init(catalog: any SQLDatabase, segments: any SegmentStore, segmentSize: Int, writersDirectory: URL, keys: KeyManager,
         administration: AccessAdministration, janitor: WALJanitor, logger: Logger, writerLocksAreShared: Bool = true) {
        self.catalog = CatalogStore(pool: catalog)
        self.segments = segments
        self.writerLocksAreShared = writerLocksAreShared
        self.segmentSize = segmentSize
        self.writersDirectory = writersDirectory
        self.keys = keys
        self.administration = administration
        self.janitor = janitor
        self.logger = logger
    }

    // MARK: Names and bindings

    /// Associated data of a version's stream: a segment moved to another tenant, object or
    /// version is opened under another key and fails.
    static func contentAAD(tenant: TenantID, objectID: ObjectID, version: Int) -> [UInt8] {
        Array("coffer/content/v1\u{0}\(tenant)\u{0}\(objectID)\u{0}\(version)".utf8)
    }

    /// Associated data of an object's sealed name.
    static func nameAAD(tenant: TenantID, objectID: ObjectID) -> [UInt8] {
        Array("coffer/name/v1\u{0}\(tenant)\u{0}\(objectID)".utf8)
    }

    /// The longest object name, in UTF-8 bytes.
    static let maximumNameBytes = 1024

    /// Refuses an empty or overlong name, and names holding U+FFFD (what undecodable bytes turn
    /// into, so two different byte strings would become one name), control characters (C0
    /// including tab and line feed, DEL, C1) or line and paragraph separators (U+2028, U+2029).
    static func validateName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maximumNameBytes,
              !name.unicodeScalars.contains(where: { $0 == "\u{FFFD}" || $0.value < 0x20 || (0x7F...0x9F).contains($0.value)
                                                     || $0 == "\u{2028}" || $0 == "\u{2029}" }) else {
            throw CofferError(.invalidArgument,
                              "object name must be 1 to \(maximumNameBytes) bytes of valid UTF-8 text without control characters (tabs and line breaks included), line separators or U+FFFD")
        }
    }

    /// The index keys of `tenant`'s data class `kind` (name lookup, digests), cached by the key
    /// manager.
    /// - Throws: ``CofferError`` `unknownTenant` when the tenant is not registered, `notFound`
    ///   when its keys were destroyed (an erased tenant).
    func indexKeys(tenant: TenantID, kind: ObjectKind) throws -> ClassKeys {
        if let found = try keys.indexKeys(tenant: tenant.rawValue, kind: kind) { return found }
        if try administration.tenantExists(tenant) {
            throw CofferError(.notFound, "tenant '\(tenant)' has no data key for \(kind.code) (it was destroyed)")
        }
        throw CofferError(.unknownTenant, "unknown tenant '\(tenant)'; register it with `coffer tenant add \(tenant)`")
    }

    /// The data key `id` that sealed a version or a name of `tenant`'s `kind` (nil: the class's
    /// index key, which sealed everything made before keys had periods).
    /// - Throws: ``CofferError`` `notFound` when that key was destroyed (retention or erasure).
    func sealingKeys(id: String?, tenant: TenantID, kind: ObjectKind) throws -> ClassKeys {
        guard let id else { return try indexKeys(tenant: tenant, kind: kind) }
        if let found = try keys.dataKeys(id: id, tenant: tenant.rawValue, kind: kind) { return found }
        _ = try indexKeys(tenant: tenant, kind: kind)  // an unknown or erased tenant is reported as such
        throw CofferError(.notFound, "the data key that sealed this \(kind.code) was destroyed (retention or erasure)")
    }

    // MARK: Writing

    /// A version reserved for a writer: its keys, object, number, row and writer lock.
    struct Reservation: Sendable {
        /// Seals the version's segments: the current period's key.
        let streamKey: SecureBytes
        /// Keys the content digest: the class's index key.
        let digestKey: SecureBytes
        let objectID: ObjectID, version: Int, rowID: Int64, lock: WriterLock
    }

    /// What a new version needs before its transaction: the keys, the name's MAC and sealer, a
    /// fresh object id (used when the name is new), and the time.
    struct VersionPlan: Sendable {
        let tenant: TenantID
        let kind: ObjectKind
        let nameMAC: [UInt8]
        let newID: ObjectID
        let sealName: @Sendable (ObjectID) throws -> [UInt8]
        /// The current period's data key.
        let period: ClassKeys
        /// Keys the content digest: the class's index key.
        let digestKey: SecureBytes
        let time: Int64
    }

    /// The plan of a new version of `name` (reads keys: call it off the cooperative pool).
    /// - Throws: `CofferError` `unknownTenant`, `notFound` (an erased tenant).
    func planVersion(tenant: TenantID, kind: ObjectKind, name: String) throws -> VersionPlan {
        let index = try indexKeys(tenant: tenant, kind: kind)
        let now = nowMilliseconds()
        let period = try keys.periodKeys(tenant: tenant.rawValue, kind: kind, at: now)
        let nameMAC = try HMACSHA256.authenticate(Array("\(kind.code)\u{0}\(name)".utf8), key: index.nameIndex)
        let nameKey = period.name
        return VersionPlan(tenant: tenant, kind: kind, nameMAC: nameMAC, newID: ObjectID(try makeIdentifier("obj")), sealName: { id in
            try AESGCM.seal(Array(name.utf8), key: nameKey, aad: Self.nameAAD(tenant: tenant, objectID: id))
        }, period: period, digestKey: index.digest, time: now)
    }

    /// Finds or creates the object and inserts a pending version row under a fresh writer lock.
    func reserveVersion(tenant: TenantID, kind: ObjectKind, name: String) async throws -> Reservation {
        let plan = try planVersion(tenant: tenant, kind: kind, name: name)
        let lock = try WriterLock(directory: writersDirectory)
        do {
            let (objectID, version, rowID) = try await catalog.reserveVersion(
                tenant: tenant, kind: kind, nameMAC: plan.nameMAC, newID: plan.newID, sealName: plan.sealName, writer: lock.token,
                dataKeyID: plan.period.id, segmentSize: segmentSize, at: plan.time)
            return Reservation(streamKey: plan.period.stream, digestKey: plan.digestKey, objectID: objectID, version: version, rowID: rowID, lock: lock)
        } catch {
            lock.release()
            throw VaultDatabase.translate(error)
        }
    }

    /// Deletes a pending version's rows, and its object if nothing else was ever committed
    /// (``CatalogStore/deletePendingVersion(row:objectID:releasingNumber:)``).
    func deletePendingVersion(rowID: Int64, objectID: ObjectID, releasingNumber: Int? = nil) throws {
        try catalog.deletePendingVersion(row: rowID, objectID: objectID, releasingNumber: releasingNumber)
    }

    /// Removes the pending versions of writers that no longer run (crashed or killed).
    /// - Returns: How many pending versions were removed.
    @discardableResult
    func removeAbandonedWrites() throws -> Int {
        guard writerLocksAreShared else { return 0 }
        var removed = 0
        for pending in try catalog.pendingVersions() {
            guard pending.writer.map({ WriterLock.isAbandoned(token: $0, directory: writersDirectory) }) ?? true else { continue }
            try deletePendingVersion(rowID: pending.row, objectID: pending.objectID)
            removed += 1
        }
        if removed > 0 {
            janitor.markPending(.content)
            janitor.retryPendingNow()
            logger.debug("removed abandoned writes", metadata: ["count": "\(removed)"])
        }
        return removed
    }

    // MARK: Catalog

    /// One committed object of `tenant` with its name decrypted.
    /// - Throws: ``CofferError`` `notFound` (another tenant's object too), `unknownTenant`,
    ///   `tamperDetected`.
    func object(tenant: TenantID, id: ObjectID) async throws -> ObjectInfo {
        guard let sealed = try await catalog.object(tenant: tenant, id: id) else { throw try notFound(tenant: tenant, objectID: id) }
        return try objectInfo(sealed, tenant: tenant)
    }

    /// A page of `tenant`'s objects, most recently updated first.
    /// - Throws: ``CofferError`` `unknownTenant`, `invalidArgument` for a malformed cursor.
    func page(tenant: TenantID, filter: ObjectFilter) async throws -> ObjectPage {
        try administration.requireTenant(tenant)
        var cursor: CatalogCursor?
        if let text = filter.cursor {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let time = Int64(parts[0]) else { throw CofferError(.invalidArgument, "malformed cursor") }
            cursor = CatalogCursor(updatedAt: time, id: ObjectID(String(parts[1])))
        }
        let (sealed, more) = try await catalog.page(tenant: tenant, kind: filter.kind, after: cursor, limit: filter.limit)
        let objects = try sealed.map { try objectInfo($0, tenant: tenant) }
        let next = more ? objects.last.map { "\($0.updatedAt):\($0.id)" } : nil
        return ObjectPage(objects: objects, nextCursor: next)
    }

    /// Deletes one version, or the whole object when `version` is nil, then empties the WAL.
    /// - Throws: ``CofferError`` `notFound`, `unknownTenant`, `storage`.
    func delete(tenant: TenantID, objectID: ObjectID, version: Int?) async throws -> DeletionOutcome {
        let deleted = try await catalog.delete(tenant: tenant, objectID: objectID, version: version)
        guard deleted else {
            if let version { throw CofferError(.notFound, "object \(objectID) has no version \(version)") }
            throw try notFound(tenant: tenant, objectID: objectID)
        }
        CrashPoint.hit("delete.before-wal-truncate")
        return DeletionOutcome(ciphertextCleared: await janitor.truncate(.content))
    }

    /// The error for an object `tenant` does not have (or `unknownTenant` for an unknown tenant).
    func notFound(tenant: TenantID, objectID: ObjectID) throws -> CofferError {
        try administration.requireTenant(tenant)  // an unknown tenant is reported as such
        return CofferError(.notFound, "tenant '\(tenant)' has no object \(objectID)")
    }

    /// The committed details of an object, with its name decrypted.
    func objectInfo(_ object: SealedObject, tenant: TenantID) throws -> ObjectInfo {
        let keys = try sealingKeys(id: object.nameKeyID, tenant: tenant, kind: object.kind)
        let name: String
        do {
            let plain = try AESGCM.open(object.nameSealed, key: keys.name, aad: Self.nameAAD(tenant: tenant, objectID: object.id))
            name = String(decoding: plain, as: UTF8.self)
        } catch {
            throw CofferError(.tamperDetected, "object \(object.id): its stored name failed authentication")
        }
        return ObjectInfo(id: object.id, tenant: tenant, kind: object.kind, name: name, latestVersion: object.latestVersion,
                          createdAt: object.createdAt, updatedAt: object.updatedAt, versions: object.versions)
    }

    // MARK: Reading

    /// The committed version `version` (nil: the newest) of `objectID`, pinned by its row, or nil;
    /// read on the blocking pool.
    func pinnedVersion(tenant: TenantID, objectID: ObjectID, version: Int?) async throws -> PinnedVersion? {
        let segments = self.segments
        return try await BlockingPool.shared.run { try segments.pinnedVersion(tenant: tenant, objectID: objectID, version: version) }
    }

    /// Why version `version` of `objectID` could not be pinned: the version is missing, or the
    /// whole object (or the tenant).
    func missingVersion(tenant: TenantID, objectID: ObjectID, version: Int?) async throws -> CofferError {
        if let version, try await pinnedVersion(tenant: tenant, objectID: objectID, version: nil) != nil {
            return CofferError(.notFound, "object \(objectID) has no version \(version)")
        }
        return try notFound(tenant: tenant, objectID: objectID)
    }

    /// What a read needs before its record, found in one synchronous step on the blocking pool:
    /// the version pinned, the plaintext range it serves, its stream key, and a small version's
    /// segments.
    struct PreparedRead: Sendable {
        let pinned: PinnedVersion
        /// The half-open plaintext range served.
        let range: Range<Int64>
        /// The version's stream cipher, or why its key cannot be had (destroyed, say): a failure
        /// of the allowed read, recorded as such, not a reason to record nothing.
        let aead: Result<StreamingAEAD, any Error>
        /// The segments of a version stored in ``prefetchLimit`` bytes or fewer.
        let prefetched: PrefetchedSegments?
    }

    /// The largest version whose segments are read with its pin (a 4 KiB object's read then
    /// costs one read transaction and no second trip to the blocking pool).
    static let prefetchLimit = 64 << 10

    /// Pins version `version` (nil: the newest) of `objectID` for a read of `range`, or nil when
    /// there is no such committed version. Blocks: call it on the blocking pool.
    /// - Throws: ``CofferError`` `invalidArgument` for a range that starts past the end,
    ///   `storage`, `tamperDetected` for a malformed version row.
    func prepareRead(tenant: TenantID, objectID: ObjectID, version: Int?, range: ClosedRange<Int64>?) throws -> PreparedRead? {
        guard let (pinned, prefetched) = try segments.pinnedVersion(tenant: tenant, objectID: objectID, version: version,
                                                                    prefetchingUpTo: Self.prefetchLimit) else { return nil }
        let served = try Self.plaintextRange(range, size: pinned.info.size)
        let aead = Result { () throws -> StreamingAEAD in
            let keys = try sealingKeys(id: pinned.dataKeyID, tenant: tenant, kind: pinned.kind)
            return try StreamingAEAD(key: keys.stream, segmentSize: pinned.info.segmentSize)
        }
        return PreparedRead(pinned: pinned, range: served, aead: aead, prefetched: prefetched)
    }

    /// The plan of a prepared read.
    /// - Parameter onFailure: Records a failure while streaming.
    func readPlan(tenant: TenantID, objectID: ObjectID, prepared: PreparedRead,
                  onFailure: @escaping @Sendable (any Error) async -> Void) throws -> ReadPlan {
        let pinned = prepared.pinned
        return try ReadPlan(store: segments, versionRow: pinned.row, objectID: objectID, info: pinned.info,
                            aead: try prepared.aead.get(),
                            aad: Self.contentAAD(tenant: tenant, objectID: objectID, version: pinned.info.version),
                            range: prepared.range, prefetched: prepared.prefetched, onFailure: onFailure)
    }

    /// The half-open plaintext range a read of `range` serves from an object of `size` bytes.
    /// - Throws: ``CofferError`` `invalidArgument` for a range that starts past the end.
    static func plaintextRange(_ range: ClosedRange<Int64>?, size: Int64) throws -> Range<Int64> {
        guard size >= 0 else { throw CofferError(.tamperDetected, "a version records a negative size") }
        guard let range else { return 0..<size }
        guard range.lowerBound >= 0 else { throw CofferError(.invalidArgument, "a range starts at offset 0 or later") }
        guard range.lowerBound < max(size, 1) else {
            throw CofferError(.invalidArgument, "range starts at \(range.lowerBound), past the end of the object (\(size) bytes)")
        }
        let end = range.upperBound >= size ? size : range.upperBound + 1
        return range.lowerBound..<end
    }
}
