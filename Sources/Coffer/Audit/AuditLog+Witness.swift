import CofferCrypto
import CofferSQL
import Foundation
import GRDB

/// Proof that the log of `newSize` records extends its first `oldSize` records (RFC 9162
/// section 2.1.4): whoever kept the old root checks it without the records.
public struct AuditConsistencyProof: Sendable, Codable, Hashable {
    /// Records in the older tree.
    public let oldSize: Int64
    /// Records in the newer tree.
    public let newSize: Int64
    /// The older tree's root (hex).
    public let oldRoot: String
    /// The newer tree's root (hex).
    public let newRoot: String
    /// The proof's nodes (hex).
    public let path: [String]

    /// True when the proof shows the older tree is a prefix of the newer one.
    public var isValid: Bool {
        guard let old = [UInt8](hex: oldRoot), let new = [UInt8](hex: newRoot) else { return false }
        let nodes = path.compactMap { [UInt8](hex: $0) }
        return nodes.count == path.count
            && MerkleTree.verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: old, newRoot: new, proof: nodes)
    }
}

extension AuditLog {
    /// The consistency proof from the log's first `oldSize` records to its first `newSize`
    /// (all of it when nil).
    /// - Throws: `CofferError` `invalidArgument` for sizes outside 0 <= old <= new <= the log's size.
    func consistencyProof(from oldSize: Int64, to newSize: Int64?) throws -> AuditConsistencyProof {
        let leaves = try pool.read { db in
            try db.fetchAll(Data.self, sql: "SELECT hash FROM leaf ORDER BY seq").map { [UInt8]($0) }
        }
        let newSize = newSize ?? Int64(leaves.count)
        guard oldSize >= 0, oldSize <= newSize, newSize <= Int64(leaves.count) else {
            throw CofferError(.invalidArgument, "a consistency proof needs 0 <= old <= new <= \(leaves.count) (the log's size), not \(oldSize) -> \(newSize)")
        }
        let old = leaves[0..<Int(oldSize)], new = leaves[0..<Int(newSize)]
        return AuditConsistencyProof(oldSize: oldSize, newSize: newSize, oldRoot: MerkleTree.root(old).hexString,
                                     newRoot: MerkleTree.root(new).hexString,
                                     path: MerkleTree.consistencyProof(oldSize: Int(oldSize), new).map(\.hexString))
    }

    /// Proves, at open, that the log extends the newest checkpoint in its witness: the witness
    /// is signed by this log's key, the log holds at least as many records, the log's own
    /// checkpoint at that size has the witnessed root (its frontier hashes to it), and every
    /// record after it chains on from there to the log's state. Only the records after the
    /// witnessed checkpoint are read; `audit verify` checks the rest.
    /// - Parameter required: The vault recorded this witness: an empty witness beside a log that
    ///   holds records means the witness was deleted or moved.
    /// - Returns: The witnessed size, or nil when the log has no witness or the witness holds
    ///   no checkpoint yet.
    /// - Throws: `CofferError` `tamperDetected` naming what does not match.
    @discardableResult
    func checkExtendsWitness(required: Bool = false) throws -> Int64? {
        guard let witness else { return nil }
        guard let note = try witness.latest() else {
            let size = try pool.read { db in try db.fetchOne(Int64.self, sql: "SELECT tree_size FROM log_state WHERE id = 1") ?? 0 }
            if required && size > 0 {
                throw CofferError(.tamperDetected, "the witness \(witness.file.path) holds no checkpoint though the access log holds \(size) records: the witness was deleted or moved; restore it (the vault will not start witnessing afresh)")
            }
            return nil
        }
        guard note.isSigned(by: try verifierKey) else {
            throw CofferError(.tamperDetected, "the witnessed checkpoint \(witness.file.path) is not signed by this vault's audit key: the keyring's audit key was changed, or the log was replaced by one under another key")
        }
        try pool.read { db in
            guard let state = try db.fetchOne(sql: "SELECT tree_size, last_mac, frontier FROM log_state WHERE id = 1") else {
                throw CofferError(.tamperDetected, "the access log's state row is missing")
            }
            let size: Int64 = try state.stored("tree_size", in: "log_state")
            guard size >= note.treeSize else {
                throw CofferError(.tamperDetected, "the access log holds \(size) records but its witness saw \(note.treeSize): records were removed from its end, or the log was replaced")
            }
            var frontier = MerkleFrontier(), previous = [UInt8](repeating: 0, count: 32)
            if note.treeSize > 0 {
                guard let row = try db.fetchOne(sql: "SELECT root, frontier, last_mac FROM checkpoint WHERE tree_size = ?",
                                                 arguments: [note.treeSize]),
                      let stored = MerkleFrontier(encoded: try row.storedBytes("frontier", in: "checkpoint")),
                      try row.storedBytes("root", in: "checkpoint") == note.rootHash, stored.size == note.treeSize,
                      stored.root == note.rootHash else {
                    throw CofferError(.tamperDetected, "the access log does not extend its witnessed checkpoint of \(note.treeSize) records: the log was rewritten or replaced")
                }
                frontier = stored
                previous = try row.storedBytes("last_mac", in: "checkpoint")
            }
            let leaves = try db.cursor(sql: "SELECT seq, hash, mac FROM leaf WHERE seq > ? ORDER BY seq", arguments: [note.treeSize])
            while let leaf = try leaves.next() {
                let seq: Int64 = try leaf.stored("seq", in: "leaf")
                let hash = try leaf.storedBytes("hash", in: "leaf"), mac = try leaf.storedBytes("mac", in: "leaf")
                guard seq == frontier.size + 1,
                      ConstantTime.equals(try chainMAC(sequence: seq, leaf: hash, previous: previous), mac) else {
                    throw CofferError(.tamperDetected, "record \(frontier.size + 1) of the access log does not follow its witnessed checkpoint of \(note.treeSize) records")
                }
                frontier.append(hash)
                previous = mac
            }
            guard frontier.size == size, try state.storedBytes("frontier", in: "log_state") == frontier.encoded,
                  try state.storedBytes("last_mac", in: "log_state") == previous else {
                throw CofferError(.tamperDetected, "the access log's state (\(size) records) does not match its records after the witnessed checkpoint: records were removed or the state was edited")
            }
        }
        return note.treeSize
    }
}
