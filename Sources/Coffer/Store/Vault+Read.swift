import CofferCrypto
import Foundation
import GRDB

extension Vault {
    /// Reads a committed version, checking every segment before any of its bytes reach `sink`.
    ///
    /// A whole read streams the segments in order on two threads (one copies a batch out of SQLite
    /// while the other authenticates the previous one), with memory bounded by two batches; a range read fetches and opens only the segments the range touches. Either way the
    /// read sees one consistent snapshot, whatever writers do meanwhile.
    /// - Parameters:
    ///   - tenant: The tenant.
    ///   - objectID: The object.
    ///   - version: The version (default: the newest).
    ///   - range: Plaintext byte offsets, both ends inclusive: it must start at 0 or later and
    ///     before the end of the version (at 0 for an empty one); its end is clamped to the size.
    ///   - context: Who reads and why.
    ///   - sink: Receives the plaintext in order.
    /// - Returns: The version read.
    /// - Throws: ``CofferError`` `invalidArgument` for a malformed tenant or object id or a range
    ///   outside the version (refused before anything is recorded), `notFound`, `unknownTenant`,
    ///   `tamperDetected` when stored
    ///   ciphertext fails authentication (the sink has then received only authenticated bytes).
    @discardableResult
    public func read(tenant: String, objectID: String, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                     context: AccessContext, to sink: (UnsafeRawBufferPointer) throws -> Void) async throws -> ObjectVersionInfo {
        try Self.validateTenantID(tenant)
        try IdentifierRules.validateReference(objectID, as: "object id")
        if let range, range.lowerBound < 0 { throw CofferError(.invalidArgument, "a range must start at 0 or later") }
        var request = AccessRequest(action: .read, dataClass: .content, tenant: tenant, objectID: objectID, objectVersion: version)
        let decision = try decide(context, request)
        if case .success = decision, let target = try? versionForLog(tenant: tenant, objectID: objectID, version: version) {
            request.objectKind = target.kind
            request.objectVersion = target.version
            request.bytes = try Self.bytesServed(range: range, size: target.size)
        }
        // Durable before a byte leaves: a refusal, or a log that cannot be written, ends here.
        try await record(context, request, decision: decision)
        return try await performing(context, request) {
            do {
                return try readSnapshot(tenant: tenant, objectID: objectID, version: version, range: range, sink: sink)
            } catch {
                throw VaultDatabase.translate(error)
            }
        }
    }

    /// How many bytes a read of `range` (nil: all) serves from a version of `size` bytes.
    /// - Throws: ``CofferError`` `invalidArgument` when the range starts past the end (an empty
    ///   version only takes ranges starting at 0), so no bogus count is ever recorded.
    static func bytesServed(range: ClosedRange<Int64>?, size: Int64) throws -> Int64 {
        guard size >= 0 else { throw CofferError(.tamperDetected, "a version records a negative size") }
        guard let range else { return size }
        guard range.lowerBound >= 0, range.lowerBound < max(size, 1) else {
            throw CofferError(.invalidArgument, "range starts at \(range.lowerBound), past the end of the object (\(size) bytes)")
        }
        return size == 0 ? 0 : min(range.upperBound, size - 1) - range.lowerBound + 1
    }

    /// Kind, version number and size of what a read will serve, for its log record.
    private func versionForLog(tenant: String, objectID: String, version: Int?) throws -> (kind: String, version: Int, size: Int64)? {
        try content.read { db in
            try Row.fetchOne(db, sql: """
                SELECT o.kind, v.version, v.plaintext_size FROM object o JOIN version v ON v.object_id = o.id
                WHERE o.id = ? AND o.tenant_id = ? AND v.state = 1 AND v.version = coalesce(?, o.latest_version)
                """, arguments: [objectID, tenant, version])
        }.map { (try $0.stored(at: 0, in: "object"), try $0.stored(at: 1, in: "version"), try $0.stored(at: 2, in: "version")) }
    }

    /// The synchronous body of ``read(tenant:objectID:version:range:context:to:)``: one read
    /// transaction (a WAL snapshot) for the whole read, with `sink` called inside it.
    private func readSnapshot(tenant: String, objectID: String, version: Int?, range: ClosedRange<Int64>?,
                              sink: (UnsafeRawBufferPointer) throws -> Void) throws -> ObjectVersionInfo {
        try content.read { db in
            guard let object = try Row.fetchOne(db, sql: "SELECT kind, latest_version FROM object WHERE id = ? AND tenant_id = ? AND latest_version > 0",
                                                arguments: [objectID, tenant]) else {
                throw try self.notFound(tenant: tenant, objectID: objectID)
            }
            let number = try version ?? object.stored("latest_version", in: "object")
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, plaintext_size, ciphertext_size, segment_size, digest, committed_at FROM version
                WHERE object_id = ? AND version = ? AND state = 1
                """, arguments: [objectID, number]) else {
                throw CofferError(.notFound, "object \(objectID) has no version \(number)")
            }
            let rowID: Int64 = try row.stored("id", in: "version")
            let info = try Self.versionInfo(row, number: number)
            let keys = try self.classKeys(tenant: tenant, kind: Self.storedKind(object))
            let aead = try StreamingAEAD(key: keys.stream, segmentSize: info.segmentSize)
            let aad = Self.contentAAD(tenant: tenant, objectID: objectID, version: number)
            do {
                if let range {
                    try Self.readRange(db, rowID: rowID, info: info, aead: aead, aad: aad, range: range, sink: sink)
                } else {
                    try Self.readWhole(db, rowID: rowID, info: info, aead: aead, aad: aad, sink: sink)
                }
            } catch let error as CofferError where [.authenticationFailed, .truncated, .invalidFormat].contains(error.code) {
                throw CofferError(.tamperDetected,
                                  "object \(objectID) version \(number): stored ciphertext failed its check (\(error.message)); the content file was changed outside Coffer")
            }
            return info
        }
    }

    /// A committed version's details from its `version` row.
    /// - Throws: ``CofferError`` `tamperDetected` for a NULL, malformed or negative column.
    static func versionInfo(_ row: Row, number: Int) throws -> ObjectVersionInfo {
        let info = ObjectVersionInfo(version: number, size: try row.stored("plaintext_size", in: "version"),
                                     storedSize: try row.stored("ciphertext_size", in: "version"),
                                     segmentSize: try row.stored("segment_size", in: "version"),
                                     digest: try row.storedBytes("digest", in: "version").hexString,
                                     createdAt: try row.stored("committed_at", in: "version"))
        guard info.size >= 0, info.storedSize >= 0 else {
            throw CofferError(.tamperDetected, "a version row records a negative size: the vault file was changed outside Coffer")
        }
        return info
    }

    /// The kind of an `object` row.
    /// - Throws: ``CofferError`` `tamperDetected` when it is NULL or not a kind Coffer knows.
    static func storedKind(_ row: Row) throws -> ObjectKind {
        do { return try ObjectKind(parsing: row.stored("kind", in: "object")) } catch let error as CofferError where error.code == .invalidArgument {
            throw CofferError(.tamperDetected, "an object row has an unknown kind: the vault file was changed outside Coffer")
        }
    }

    /// Reads a whole version into memory. For small objects; use the streaming form for large ones.
    public func readAll(tenant: String, objectID: String, version: Int? = nil, context: AccessContext) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await read(tenant: tenant, objectID: objectID, version: version, context: context) { out.append(contentsOf: $0) }
        return out
    }

    private static func readWhole(_ db: Database, rowID: Int64, info: ObjectVersionInfo, aead: StreamingAEAD, aad: [UInt8],
                                  sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        // The segment count follows from the recorded size; if that was altered, the segment
        // taken as final was not sealed as final and fails authentication.
        let opener = try PipelinedSegmentOpener(aead: aead, aad: aad,
                                                segmentCount: aead.layout.segmentCount(ciphertextSize: info.storedSize))
        let rows = try Row.fetchCursor(db, sql: "SELECT idx, data FROM segment WHERE version_id = ? ORDER BY idx",
                                       arguments: [rowID])
        var expected = 0
        while let row = try rows.next() {
            guard try row.stored(at: 0, in: "segment", as: Int.self) == expected else {
                throw CofferError(.truncated, "segment \(expected) is missing")
            }
            try row.withUnsafeData(atIndex: 1) { data in
                guard let data else { throw CofferError(.truncated, "segment \(expected) is empty") }
                try data.withUnsafeBytes { try opener.add($0, to: sink) }
            }
            expected += 1
        }
        try opener.finish(to: sink)
    }

    private static func readRange(_ db: Database, rowID: Int64, info: ObjectVersionInfo, aead: StreamingAEAD, aad: [UInt8],
                                  range: ClosedRange<Int64>, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard range.lowerBound >= 0 else { throw CofferError(.invalidArgument, "range must start at 0 or later") }
        guard range.lowerBound < max(info.size, 1) else {
            throw CofferError(.invalidArgument, "range starts at \(range.lowerBound), past the end of the object (\(info.size) bytes)")
        }
        let statement = try db.cachedStatement(sql: "SELECT data FROM segment WHERE version_id = ? AND idx = ?")
        func fetch(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard let row = try Row.fetchOne(statement, arguments: [rowID, index]) else {
                throw CofferError(.truncated, "segment \(index) is missing")
            }
            return try row.withUnsafeData(atIndex: 0) { data -> Int in
                guard let data, data.count <= buffer.count else { throw CofferError(.truncated, "segment \(index) has the wrong size") }
                data.copyBytes(to: buffer.bindMemory(to: UInt8.self), count: data.count)
                return data.count
            }
        }
        var header = [UInt8](repeating: 0, count: aead.layout.segmentSize)
        let first = try header.withUnsafeMutableBytes { try fetch(0, into: $0) }
        guard first >= SegmentLayout.headerSize else { throw CofferError(.truncated, "segment 0 is shorter than the header") }
        let reader = try RandomAccessDecryptor(aead: aead, aad: aad, header: Array(header.prefix(SegmentLayout.headerSize)),
                                               ciphertextSize: info.storedSize)
        let end = range.upperBound == .max ? Int64.max : range.upperBound + 1
        try reader.read(range.lowerBound..<end, segment: { index, buffer in
            let n = try fetch(index, into: buffer)
            // Row 0 holds the header too; the decryptor wants segment 0's body only.
            guard index == 0 else { return n }
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + SegmentLayout.headerSize, byteCount: n - SegmentLayout.headerSize)
            return n - SegmentLayout.headerSize
        }, to: sink)
    }
}
