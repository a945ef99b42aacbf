import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// The result of checking the whole access log.
public struct AuditVerification: Sendable, Codable, Hashable {
    /// True when every check passed.
    public let ok: Bool
    /// Records (leaves) in the log.
    public let treeSize: Int64
    /// Merkle root over all leaves (hex).
    public let rootHash: String
    /// Records whose content was re-hashed (pruned ones keep only their leaf).
    public let recordsChecked: Int64
    /// Records before this sequence number were pruned by an authenticated purge.
    public let prunedBefore: Int64
    /// Stored checkpoints whose root and signature were checked.
    public let checkpointsChecked: Int
    /// The first record that failed, when one did.
    public let firstBadRecord: Int64?
    /// What failed, for people.
    public let problem: String?
}

extension AuditLog {
    /// Recomputes every leaf, the MAC chain, the Merkle tree and every checkpoint, and names the
    /// first bad record. With `external`, also proves the log extends that checkpoint.
    /// - Parameter external: A checkpoint kept elsewhere that the log must extend.
    /// - Returns: The verdict; a failed check is a verdict, not an error.
    /// - Throws: `CofferError` `storage` when the log cannot be read.
    package func verify(extending external: AuditCheckpoint? = nil) throws -> AuditVerification {
        try verify(extending: external.map { ExternalHead(treeSize: $0.treeSize, rootHash: $0.rootHash, checkpoint: $0) })
    }

    /// ``verify(extending:)`` against a witnessed checkpoint note whose signature the caller has
    /// checked against a key it pinned.
    func verify(extendingNote note: CheckpointNote) throws -> AuditVerification {
        try verify(extending: ExternalHead(treeSize: note.treeSize, rootHash: note.rootHash.hexString, checkpoint: nil))
    }

    /// A tree head kept outside the log; `checkpoint` when its signature is still to be checked
    /// under the vault's own key.
    private struct ExternalHead {
        let treeSize: Int64
        let rootHash: String
        let checkpoint: AuditCheckpoint?
    }

    private func verify(extending external: ExternalHead?) throws -> AuditVerification {
        try pool.read { db in
            guard let state = try db.fetchOne(sql: "SELECT tree_size, last_mac, frontier FROM log_state WHERE id = 1") else {
                return failure(0, 0, "the log's state row is missing", size: 0, root: [], checkpoints: 0, pruned: 1)
            }
            let checkpoints = try db.fetchAll(sql: "SELECT * FROM checkpoint ORDER BY tree_size").map(Self.checkpoint)
            let prunedBefore = try Self.prunedBefore(db)
            let orphans = try db.fetchOne(Int64.self, sql: "SELECT min(seq) FROM record WHERE seq NOT IN (SELECT seq FROM leaf)")
            var frontier = MerkleFrontier()
            var previous = [UInt8](repeating: 0, count: 32)
            var checked: Int64 = 0, nextCheckpoint = 0, externalRoot: [UInt8]?
            let publicKey = signingKey.publicKey.hexString
            func bad(_ seq: Int64, _ problem: String) -> AuditVerification {
                failure(seq, checked, problem, size: frontier.size, root: frontier.root, checkpoints: nextCheckpoint, pruned: prunedBefore)
            }
            // A checkpoint of the empty log (the one a new vault gives its witness).
            while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].treeSize == 0 {
                let checkpoint = checkpoints[nextCheckpoint]
                guard checkpoint.rootHash == MerkleTree.root([]).hexString, checkpoint.hasValidSignature(publicKey: publicKey) else {
                    return bad(1, "the signed checkpoint of the empty log does not match: it was forged or edited")
                }
                nextCheckpoint += 1
            }
            let rows = try db.cursor(sql: """
                SELECT l.seq AS leaf_seq, l.hash AS leaf_hash, l.mac AS leaf_mac, r.*
                FROM leaf l LEFT JOIN record r ON r.seq = l.seq ORDER BY l.seq
                """, arguments: [])
            while let row = try rows.next() {
                let expected = frontier.size + 1
                guard let seq: Int64 = try? row.stored("leaf_seq", in: "leaf"), let leaf = try? row.storedBytes("leaf_hash", in: "leaf"),
                      let leafMAC = try? row.storedBytes("leaf_mac", in: "leaf") else {
                    return bad(expected, "the leaf after record \(frontier.size) was altered (a NULL or malformed column)")
                }
                if let orphan = orphans, orphan < seq { return bad(orphan, "record \(orphan) has no leaf: it was inserted outside Coffer") }
                guard seq == expected else {
                    return bad(expected, seq > expected ? "record \(expected) is missing: deleted from the log" : "record \(seq) appears twice")
                }
                if (try? row.storedIfPresent("seq", in: "record", as: Int64.self)) != nil {
                    // A row that no longer decodes (an outcome edited to an unknown value) is a bad
                    // record to report, not a reason to abandon the verification.
                    guard let record = try? Self.record(row) else {
                        return bad(seq, "record \(seq) was altered after it was written (it no longer reads as a record)")
                    }
                    guard MerkleTree.leafHash(record.canonicalBytes) == leaf else {
                        return bad(seq, "record \(seq) was altered after it was written")
                    }
                    checked += 1
                } else if seq >= prunedBefore {
                    return bad(seq, "record \(seq) is missing: deleted from the log (only records before \(prunedBefore) were pruned)")
                }
                let mac = try chainMAC(sequence: seq, leaf: leaf, previous: previous)
                guard ConstantTime.equals(mac, leafMAC) else {
                    return bad(seq, "record \(seq) is not authentic: forged, reordered, or the records before it were changed")
                }
                frontier.append(leaf)
                previous = mac
                while nextCheckpoint < checkpoints.count && checkpoints[nextCheckpoint].treeSize == frontier.size {
                    let checkpoint = checkpoints[nextCheckpoint]
                    guard checkpoint.rootHash == frontier.root.hexString, checkpoint.hasValidSignature(publicKey: publicKey) else {
                        return bad(seq, "the signed checkpoint at size \(checkpoint.treeSize) does not match the log: history before record \(seq) was rewritten")
                    }
                    nextCheckpoint += 1
                }
                if let external, external.treeSize == frontier.size { externalRoot = frontier.root }
            }
            if let orphan = orphans { return bad(orphan, "record \(orphan) has no leaf: it was inserted outside Coffer") }
            if nextCheckpoint < checkpoints.count {
                let next = checkpoints[nextCheckpoint]
                return bad(frontier.size + 1, "a signed checkpoint covers \(next.treeSize) records but the log holds \(frontier.size): records were removed from the end")
            }
            let stateSize: Int64 = (try? state.stored("tree_size", in: "log_state")) ?? -1
            guard stateSize == frontier.size, (try? state.storedBytes("last_mac", in: "log_state")) == previous,
                  (try? state.storedBytes("frontier", in: "log_state")) == frontier.encoded else {
                return bad(min(stateSize, frontier.size) + 1, "the log's state (\(stateSize) records) does not match its records (\(frontier.size)): records were removed from the end or the state was edited")
            }
            if let external {
                guard external.checkpoint?.hasValidSignature(publicKey: publicKey) ?? true else {
                    return bad(0, "the checkpoint's signature is not valid under this vault's audit key")
                }
                if external.treeSize == 0 { externalRoot = MerkleTree.root([]) }
                guard let externalRoot else {
                    return bad(frontier.size + 1, "the checkpoint covers \(external.treeSize) records but the log holds only \(frontier.size): records were removed")
                }
                guard externalRoot.hexString == external.rootHash else {
                    return bad(external.treeSize, "the log does not extend the checkpoint: its first \(external.treeSize) records differ from what was signed")
                }
            }
            return AuditVerification(ok: true, treeSize: frontier.size, rootHash: frontier.root.hexString, recordsChecked: checked,
                                     prunedBefore: prunedBefore, checkpointsChecked: nextCheckpoint, firstBadRecord: nil, problem: nil)
        }
    }

    private func failure(_ seq: Int64, _ checked: Int64, _ problem: String, size: Int64, root: [UInt8], checkpoints: Int,
                         pruned: Int64) -> AuditVerification {
        AuditVerification(ok: false, treeSize: size, rootHash: root.hexString, recordsChecked: checked, prunedBefore: pruned,
                          checkpointsChecked: checkpoints, firstBadRecord: seq, problem: problem)
    }

    /// Where authenticated pruning stopped: the boundary named by the newest purge record of
    /// the log itself (the record is covered by the MAC chain like any other).
    static func prunedBefore(_ db: any SQLSession) throws -> Int64 {
        guard let reason = try db.fetchOne(String.self, sql: """
            SELECT reason FROM record WHERE action = 'purge' AND data_class = 'audit-log' AND outcome = 'allowed'
            AND reason LIKE 'pruned-before=%' ORDER BY seq DESC LIMIT 1
            """) else { return 1 }
        // `pruned-before=N`, or `pruned-before=N approved=ID` for a prune a second admin approved.
        let boundary = reason.dropFirst(prunedPrefix.count).prefix { $0 != " " }
        return Int64(boundary) ?? 1
    }

    /// What a purge record's reason starts with: the boundary it sets follows.
    static let prunedPrefix = "pruned-before="

    /// The reason of a purge record that sets `boundary`, naming the pending change it carries
    /// out when a second admin approved it.
    static func prunedReason(_ boundary: Int64, approved changeID: String?) -> String {
        prunedPrefix + String(boundary) + (changeID.map { " approved=\($0)" } ?? "")
    }
}
