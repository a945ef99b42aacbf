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
    ///   - range: Plaintext byte offsets, both ends inclusive (clamped to the object's size).
    ///   - context: Who reads and why.
    ///   - sink: Receives the plaintext in order.
    /// - Returns: The version read.
    /// - Throws: ``CofferError`` `notFound`, `unknownTenant`, `tamperDetected` when stored
    ///   ciphertext fails authentication (the sink has then received only authenticated bytes).
    @discardableResult
    public func read(tenant: String, objectID: String, version: Int? = nil, range: ClosedRange<Int64>? = nil,
                     context: AccessContext, to sink: (UnsafeRawBufferPointer) throws -> Void) async throws -> ObjectVersionInfo {
        try Self.validateTenantID(tenant)
        var request = AccessRequest(action: .read, dataClass: .content, tenant: tenant, objectID: objectID, objectVersion: version)
        let decision = try decide(context, request)
        if case .success = decision, let target = try? versionForLog(tenant: tenant, objectID: objectID, version: version) {
            request.objectKind = target.kind
            request.objectVersion = target.version
            request.bytes = range.map { min($0.upperBound, max(target.size - 1, 0)) - $0.lowerBound + 1 } ?? target.size
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

    /// Kind, version number and size of what a read will serve, for its log record.
    private func versionForLog(tenant: String, objectID: String, version: Int?) throws -> (kind: String, version: Int, size: Int64)? {
        try content.read { db in
            try Row.fetchOne(db, sql: """
                SELECT o.kind, v.version, v.plaintext_size FROM object o JOIN version v ON v.object_id = o.id
                WHERE o.id = ? AND o.tenant_id = ? AND v.state = 1 AND v.version = coalesce(?, o.latest_version)
                """, arguments: [objectID, tenant, version])
        }.map { ($0[0], $0[1], $0[2]) }
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
            let number = version ?? object["latest_version"]
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, plaintext_size, ciphertext_size, segment_size, digest, committed_at FROM version
                WHERE object_id = ? AND version = ? AND state = 1
                """, arguments: [objectID, number]) else {
                throw CofferError(.notFound, "object \(objectID) has no version \(number)")
            }
            let rowID: Int64 = row["id"]
            let info = ObjectVersionInfo(version: number, size: row["plaintext_size"], storedSize: row["ciphertext_size"],
                                         segmentSize: row["segment_size"], digest: [UInt8](row["digest"] as Data).hexString,
                                         createdAt: row["committed_at"])
            let keys = try self.classKeys(tenant: tenant, kind: ObjectKind(parsing: object["kind"]))
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
            guard row[0] as Int == expected else {
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
