import CofferCrypto

/// The hashing of RFC 6962 (Certificate Transparency) Merkle trees over the access log.
///
/// leaf = SHA-256(0x00 || record), node = SHA-256(0x01 || left || right); the empty tree's root
/// is SHA-256 of nothing.
public enum MerkleTree {
    /// The hash of a leaf holding `data`.
    /// - Parameter data: The leaf's bytes (a record's canonical bytes).
    /// - Returns: SHA-256(0x00 || data).
    public static func leafHash(_ data: [UInt8]) -> [UInt8] {
        // SHA-256 of a short in-memory buffer cannot fail once the algorithm is fetched.
        (try? SHA256.hash([0x00] + data)) ?? []
    }

    /// The hash of an interior node.
    /// - Parameters:
    ///   - left: The left child's hash.
    ///   - right: The right child's hash.
    /// - Returns: SHA-256(0x01 || left || right).
    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        (try? SHA256.hash([0x01] + left + right)) ?? []
    }

    /// The root of the tree over `leaves` (already leaf-hashed).
    /// - Parameter leaves: Leaf hashes, in order.
    /// - Returns: The 32-byte root (SHA-256 of nothing for no leaves).
    public static func root(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        switch leaves.count {
        case 0: return (try? SHA256.hash([UInt8]())) ?? []
        case 1: return leaves.first!
        default:
            let k = largestPowerOfTwo(below: leaves.count)
            let start = leaves.startIndex
            return nodeHash(root(leaves[start..<start + k]), root(leaves[(start + k)...]))
        }
    }

    /// The inclusion proof (audit path) of leaf `index` in the tree over `leaves` (RFC 6962 PATH).
    /// - Parameters:
    ///   - index: The leaf, from 0.
    ///   - leaves: Leaf hashes, in order.
    /// - Returns: The sibling hashes from the leaf up to the root.
    public static func inclusionProof(index: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        guard leaves.count > 1 else { return [] }
        let k = largestPowerOfTwo(below: leaves.count)
        let start = leaves.startIndex
        if index < k {
            return inclusionProof(index: index, leaves[start..<start + k]) + [root(leaves[(start + k)...])]
        }
        return inclusionProof(index: index - k, leaves[(start + k)...]) + [root(leaves[start..<start + k])]
    }

    /// Checks an inclusion proof (RFC 9162, section 2.1.3.2).
    /// - Parameters:
    ///   - leafHash: The leaf's hash.
    ///   - index: The leaf, from 0.
    ///   - treeSize: Leaves in the tree.
    ///   - proof: The audit path, from the leaf up.
    ///   - root: The root the proof must lead to.
    /// - Returns: True when the proof leads from the leaf to `root`.
    public static func verifyInclusion(leafHash: [UInt8], index: Int64, treeSize: Int64, proof: [[UInt8]],
                                       root: [UInt8]) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index, sn = treeSize - 1, r = leafHash
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// The consistency proof from the tree's first `oldSize` leaves to all of `leaves` (RFC 9162
    /// section 2.1.4.1, PROOF(m, D[n])): the nodes that let a verifier holding only the old root
    /// check that the new tree is the old one with leaves appended.
    /// - Parameters:
    ///   - oldSize: Leaves in the old tree, from 0 to `leaves.count` (0 and the full size give an
    ///     empty proof).
    ///   - leaves: Leaf hashes of the new tree, in order.
    /// - Returns: The proof's nodes.
    public static func consistencyProof(oldSize: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        guard oldSize > 0, oldSize < leaves.count else { return [] }
        return subproof(oldSize, leaves, complete: true)
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 section 2.1.4.1.
    private static func subproof(_ m: Int, _ leaves: ArraySlice<[UInt8]>, complete: Bool) -> [[UInt8]] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = largestPowerOfTwo(below: n)
        let start = leaves.startIndex
        if m <= k {
            return subproof(m, leaves[start..<start + k], complete: complete) + [root(leaves[(start + k)...])]
        }
        return subproof(m - k, leaves[(start + k)...], complete: false) + [root(leaves[start..<start + k])]
    }

    /// Checks a consistency proof (RFC 9162 section 2.1.4.2): the tree of `newSize` leaves with
    /// root `newRoot` extends the tree of `oldSize` leaves with root `oldRoot`.
    /// - Parameters:
    ///   - oldSize: Leaves in the old tree.
    ///   - newSize: Leaves in the new tree (at least `oldSize`).
    ///   - oldRoot: The old tree's root.
    ///   - newRoot: The new tree's root.
    ///   - proof: The proof's nodes.
    /// - Returns: True when the proof shows the old tree is a prefix of the new one.
    public static func verifyConsistency(oldSize: Int64, newSize: Int64, oldRoot: [UInt8], newRoot: [UInt8],
                                         proof: [[UInt8]]) -> Bool {
        guard oldSize >= 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        // Every tree extends the empty one; RFC 9162 gives no proof for it.
        if oldSize == 0 { return proof.isEmpty }
        var path = proof
        // An old tree that is a complete subtree is its own first node.
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard let first = path.first else { return false }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = first, sr = first
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == oldRoot && sr == newRoot
    }

    static func largestPowerOfTwo(below n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}

/// The right edge of a growing Merkle tree: the roots of its perfect subtrees, largest first.
/// Appending is O(log n) and the root is available at any size without the leaves.
struct MerkleFrontier: Equatable {
    private(set) var size: Int64 = 0
    private(set) var nodes: [[UInt8]] = []

    mutating func append(_ leaf: [UInt8]) {
        var hash = leaf, n = size
        while n & 1 == 1 {
            hash = MerkleTree.nodeHash(nodes.removeLast(), hash)
            n >>= 1
        }
        nodes.append(hash)
        size += 1
    }

    var root: [UInt8] {
        guard var r = nodes.last else { return MerkleTree.root([]) }
        for node in nodes.dropLast().reversed() { r = MerkleTree.nodeHash(node, r) }
        return r
    }

    /// 8-byte big-endian size, then the nodes.
    var encoded: [UInt8] {
        var out = (0..<8).map { UInt8(truncatingIfNeeded: size >> (56 - 8 * $0)) }
        for node in nodes { out += node }
        return out
    }

    init() {}

    init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 8, (bytes.count - 8) % 32 == 0 else { return nil }
        size = bytes[0..<8].reduce(0) { $0 << 8 | Int64($1) }
        nodes = stride(from: 8, to: bytes.count, by: 32).map { Array(bytes[$0..<$0 + 32]) }
        guard nodes.count == size.nonzeroBitCount else { return nil }
    }
}
