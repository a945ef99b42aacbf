import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// Filters for ``Vault/auditRecords(_:context:)``. Every filter is optional; results are newest first.
public struct AuditQuery: Sendable, Hashable {
    /// Only records of this tenant.
    public var tenant: TenantID?
    /// Only records of this actor.
    public var actor: PrincipalID?
    /// Only records about this data subject.
    public var subject: SubjectID?
    /// Only records about this object (or principal, for administration records).
    public var objectID: String?
    /// Only records of this action (``AccessAction`` code).
    public var action: String?
    /// Only records of this purpose (``Purpose`` code).
    public var purpose: String?
    /// Only records with this outcome.
    public var outcome: AuditRecord.Outcome?
    /// From this time (Unix milliseconds, inclusive).
    public var since: Int64?
    /// Until this time (Unix milliseconds, exclusive).
    public var until: Int64?
    /// Only records older than this sequence number (the paging cursor).
    public var before: Int64?
    /// At most this many records (1...10000).
    public var limit: Int
    /// Only records of these tenants (the caller's tenant limit; set by the vault, not the caller).
    var scope: [TenantID]?

    /// Creates a query (by default the newest 100 records).
    /// - Parameters:
    ///   - tenant: Only records of this tenant.
    ///   - actor: Only records of this actor.
    ///   - subject: Only records about this data subject.
    ///   - objectID: Only records about this object.
    ///   - action: Only records of this action code.
    ///   - purpose: Only records of this purpose code.
    ///   - outcome: Only records with this outcome.
    ///   - since: From this time (Unix milliseconds, inclusive).
    ///   - until: Until this time (Unix milliseconds, exclusive).
    ///   - before: Only records older than this sequence number.
    ///   - limit: At most this many records (1...10000).
    public init(tenant: TenantID? = nil, actor: PrincipalID? = nil, subject: SubjectID? = nil, objectID: String? = nil,
                action: String? = nil, purpose: String? = nil, outcome: AuditRecord.Outcome? = nil, since: Int64? = nil,
                until: Int64? = nil, before: Int64? = nil, limit: Int = 100) {
        self.tenant = tenant
        self.actor = actor
        self.subject = subject
        self.objectID = objectID
        self.action = action
        self.purpose = purpose
        self.outcome = outcome
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }
}

extension AuditLog {
    /// The records matching `query`, newest first.
    /// - Throws: `CofferError` `invalidArgument` for a limit outside 1...10000, `storage`.
    package func records(_ query: AuditQuery) throws -> [AuditRecord] {
        guard (1...10_000).contains(query.limit) else { throw CofferError(.invalidArgument, "limit must be 1 to 10000") }
        var conditions: [String] = []
        var arguments: SQLArguments = []
        func match(_ column: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append("\(column) = ?")
            arguments += [value]
        }
        match("tenant", query.tenant?.rawValue)
        if let scope = query.scope {
            guard !scope.isEmpty else { return [] }
            conditions.append("tenant IN (\(Array(repeating: "?", count: scope.count).joined(separator: ", ")))")
            arguments += SQLArguments(scope.map(\.rawValue))
        }
        match("actor", query.actor?.rawValue)
        match("subject", query.subject?.rawValue)
        match("object_id", query.objectID)
        match("action", query.action)
        match("purpose", query.purpose)
        match("outcome", query.outcome?.rawValue)
        if let since = query.since { conditions.append("time >= ?"); arguments += [since] }
        if let until = query.until { conditions.append("time < ?"); arguments += [until] }
        if let before = query.before { conditions.append("seq < ?"); arguments += [before] }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [query.limit]
        let sql = "SELECT * FROM record \(filter) ORDER BY seq DESC LIMIT ?"
        let bound = arguments
        return try pool.read { db in try db.fetchAll(sql: sql, arguments: bound).map(Self.record) }
    }

    /// Every record with `from <= time < to`, oldest first (for reviews).
    func records(from: Int64, to: Int64) throws -> [AuditRecord] {
        try pool.read { db in
            try db.fetchAll(sql: "SELECT * FROM record WHERE time >= ? AND time < ? ORDER BY seq",
                             arguments: [from, to]).map(Self.record)
        }
    }

    /// An inclusion proof of record `sequence` in the tree as it is now.
    func inclusionProof(sequence: Int64) throws -> AuditInclusionProof {
        let leaves = try pool.read { db in
            try db.fetchAll(Data.self, sql: "SELECT hash FROM leaf ORDER BY seq").map { [UInt8]($0) }
        }
        guard sequence >= 1, sequence <= Int64(leaves.count) else {
            throw CofferError(.notFound, "the log has no record \(sequence) (it holds \(leaves.count))")
        }
        let index = Int(sequence - 1)
        let path = MerkleTree.inclusionProof(index: index, leaves[...])
        let root = MerkleTree.root(leaves[...])
        return AuditInclusionProof(sequence: sequence, leafIndex: Int64(index), treeSize: Int64(leaves.count),
                                   leafHash: leaves[index].hexString, rootHash: root.hexString, path: path.map(\.hexString))
    }

    /// The tenant of record `sequence`; nil when the record names none or is not there (pruned,
    /// or past the end).
    func recordTenant(sequence: Int64) throws -> TenantID? {
        try pool.read { db in try db.fetchOne(TenantID.self, sql: "SELECT tenant FROM record WHERE seq = ?", arguments: [sequence]) }
    }

    /// Deletes the records older than `time`, keeping every leaf, MAC and checkpoint, so the rest
    /// still verifies. The boundary itself is recorded (as a purge of the audit log) by the caller.
    func pruneBoundary(before time: Int64) throws -> Int64 {
        try pool.read { db in
            (try db.fetchOne(Int64.self, sql: "SELECT max(seq) FROM record WHERE time < ?", arguments: [time]) ?? 0) + 1
        }
    }

    func deleteRecords(before boundary: Int64) throws -> Int {
        try pool.write { db in
            // The log's own settings (its minimum retention) outlive any prune.
            return try db.execute(sql: "DELETE FROM record WHERE seq < ? AND NOT (action = 'configure' AND data_class = 'audit-log')",
                           arguments: [boundary])
        }
    }
}

/// Proof that one record is in the log: RFC 6962 audit path from its leaf to the root.
public struct AuditInclusionProof: Sendable, Codable, Hashable {
    /// The record.
    public let sequence: Int64
    /// Its leaf index (sequence - 1).
    public let leafIndex: Int64
    /// The tree size the proof is for.
    public let treeSize: Int64
    /// The record's leaf hash (hex).
    public let leafHash: String
    /// The root the path leads to (hex).
    public let rootHash: String
    /// Sibling hashes from the leaf up (hex).
    public let path: [String]

    /// Checks the path: true when it leads from the leaf to the root.
    public var isValid: Bool {
        guard let leaf = [UInt8](hex: leafHash), let root = [UInt8](hex: rootHash) else { return false }
        let hashes = path.compactMap { [UInt8](hex: $0) }
        guard hashes.count == path.count else { return false }
        return MerkleTree.verifyInclusion(leafHash: leaf, index: leafIndex, treeSize: treeSize, proof: hashes, root: root)
    }
}
