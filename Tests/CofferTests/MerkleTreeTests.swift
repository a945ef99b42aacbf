import Foundation
import Testing
@testable import Coffer

/// `n` distinct leaf hashes.
private func leaves(_ n: Int) -> [[UInt8]] {
    (0..<n).map { MerkleTree.leafHash([UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0), 0x5A]) }
}

/// Where the siblings of leaf `index` sit in a tree of `size` leaves, bottom up (true: on the
/// right), straight from RFC 6962's recursive PATH definition. An inclusion proof checked against
/// a wrong size still passes exactly when this shape is the same: the size is only bound by the
/// signed root it comes with.
private func shape(_ index: Int, _ size: Int) -> [Bool] {
    guard size > 1 else { return [] }
    let k = MerkleTree.largestPowerOfTwo(below: size)
    return index < k ? shape(index, k) + [true] : shape(index - k, size - k) + [false]
}

@Suite("RFC 6962 Merkle tree")
struct MerkleTreeTests {
    @Test("the empty tree's root is SHA-256 of nothing; one leaf's root is the leaf hash")
    func emptyAndSingle() throws {
        #expect(MerkleTree.root([]).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let leaf = MerkleTree.leafHash(Array("one record".utf8))
        #expect(leaf.count == 32)
        #expect(MerkleTree.root([leaf][...]) == leaf)
        #expect(MerkleTree.inclusionProof(index: 0, [leaf][...]) == [])
        #expect(MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 1, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 0, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 1, treeSize: 1, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: -1, treeSize: 1, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 1, proof: [leaf], root: leaf))
    }

    @Test("leaf, node and root hashes match values computed independently with Python's hashlib")
    func knownValues() {
        // Computed while writing this test with:
        //   python3 -c "import hashlib; H=lambda b: hashlib.sha256(b).digest(); leaf=lambda d: H(b'\x00'+d);
        //     node=lambda l,r: H(b'\x01'+l+r); L=[leaf(b''),leaf(b'\x00'),leaf(b'\x10')];
        //     print([l.hex() for l in L], node(L[0],L[1]).hex(), node(node(L[0],L[1]),L[2]).hex())"
        // (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right); the three-leaf tree
        // is node(node(L0, L1), L2). These are also RFC 6962's Certificate Transparency test vectors.)
        let l = [MerkleTree.leafHash([]), MerkleTree.leafHash([0x00]), MerkleTree.leafHash([0x10])]
        #expect(l[0].hexString == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        #expect(l[1].hexString == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
        #expect(l[2].hexString == "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7")
        #expect(MerkleTree.root(l[0..<2]).hexString == "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
        #expect(MerkleTree.nodeHash(l[0], l[1]).hexString == "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
        #expect(MerkleTree.root(l[...]).hexString == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")
        // The proof of the last leaf is the root of the first two; of the first, leaf 1 then leaf 2.
        #expect(MerkleTree.inclusionProof(index: 2, l[...]).map(\.hexString) == ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"])
        #expect(MerkleTree.inclusionProof(index: 0, l[...]) == [l[1], l[2]])
    }

    @Test("for 1...40 leaves every inclusion proof verifies, and fails for any other leaf, index, size, path or root")
    func inclusionProofs() {
        let stranger = MerkleTree.leafHash(Array("not in the tree".utf8))
        var wrongSizesRefused = 0, wrongSizesAccepted = 0
        for n in 1...40 {
            let all = leaves(n)
            let root = MerkleTree.root(all[...])
            for i in 0..<n {
                let proof = MerkleTree.inclusionProof(index: i, all[...])
                let size = Int64(n), index = Int64(i)
                #expect(proof.count == shape(i, n).count, "n=\(n) i=\(i)")
                #expect(MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: proof, root: root),
                        "n=\(n) i=\(i)")
                // Wrong leaf: one from outside and every other leaf of the tree.
                #expect(!MerkleTree.verifyInclusion(leafHash: stranger, index: index, treeSize: size, proof: proof, root: root))
                for j in 0..<n where j != i {
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[j], index: index, treeSize: size, proof: proof, root: root),
                            "n=\(n) i=\(i) leaf \(j)")
                }
                // Wrong index: every other position, and positions outside the tree.
                for j in -1...n where j != i {
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: Int64(j), treeSize: size, proof: proof, root: root),
                            "n=\(n) i=\(i) index \(j)")
                }
                // Wrong size: sizes that cannot hold the leaf always fail; larger or smaller sizes
                // fail unless the path has the very same shape there (RFC 6962 binds the size
                // through the signed root, not through the path).
                for s in 0...i {
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: Int64(s), proof: proof, root: root))
                }
                for s in (i + 1)...(2 * n + 2) where s != n {
                    let accepted = MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: Int64(s), proof: proof, root: root)
                    #expect(accepted == (shape(i, s) == shape(i, n)), "n=\(n) i=\(i) size \(s)")
                    if accepted { wrongSizesAccepted += 1 } else { wrongSizesRefused += 1 }
                }
                // A flipped byte anywhere in the path, a truncated path, an extended path.
                for (k, sibling) in proof.enumerated() {
                    for byte in [0, k % 32, 31] {
                        var flipped = proof
                        flipped[k][byte] ^= 0x01
                        #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: flipped, root: root),
                                "n=\(n) i=\(i) path[\(k)] byte \(byte)")
                    }
                    #expect(sibling.count == 32)
                }
                if !proof.isEmpty {
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: Array(proof.dropLast()), root: root))
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: Array(proof.dropFirst()), root: root))
                    if proof.count > 1 {
                        #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: proof.reversed(), root: root))
                    }
                }
                #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: proof + [stranger], root: root))
                // Wrong root: the tree one leaf shorter or longer.
                if n > 1 {
                    #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: proof,
                                                        root: MerkleTree.root(all[0..<(n - 1)])))
                }
                #expect(!MerkleTree.verifyInclusion(leafHash: all[i], index: index, treeSize: size, proof: proof,
                                                    root: MerkleTree.root((all + [stranger])[...])))
            }
        }
        // Both cases occur: the check above is not vacuous either way.
        #expect(wrongSizesRefused > 1000)
        #expect(wrongSizesAccepted > 0)
        // A concrete case of each: leaf 2 of 3 has one sibling (on its left); in a tree of 4 it has two.
        let three = leaves(3)
        let last = MerkleTree.inclusionProof(index: 2, three[...])
        #expect(!MerkleTree.verifyInclusion(leafHash: three[2], index: 2, treeSize: 4, proof: last, root: MerkleTree.root(three[...])))
        // ...while leaf 0's path (leaf 1, then leaf 2 as the right subtree) has the same shape in a tree of 4.
        let first = MerkleTree.inclusionProof(index: 0, three[...])
        #expect(MerkleTree.verifyInclusion(leafHash: three[0], index: 0, treeSize: 4, proof: first, root: MerkleTree.root(three[...])))
    }

    @Test("proofs of a slice that does not start at 0 equal those of the same leaves as an array")
    func slices() {
        let all = leaves(30)
        let slice = all[7..<26]
        let copy = Array(slice)
        #expect(MerkleTree.root(slice) == MerkleTree.root(copy[...]))
        for i in 0..<copy.count {
            #expect(MerkleTree.inclusionProof(index: i, slice) == MerkleTree.inclusionProof(index: i, copy[...]))
        }
    }

    @Test("the frontier's root equals the tree's root at every size 0...70, and its encoding round-trips")
    func frontier() throws {
        let all = leaves(70)
        var frontier = MerkleFrontier()
        for size in 0...70 {
            if size > 0 { frontier.append(all[size - 1]) }
            let expected = MerkleTree.root(all[0..<size])
            #expect(frontier.size == Int64(size))
            #expect(frontier.root == expected, "size \(size)")
            #expect(frontier.nodes.count == size.nonzeroBitCount)
            let encoded = frontier.encoded
            #expect(encoded.count == 8 + 32 * size.nonzeroBitCount)
            #expect(Array(encoded.prefix(8)) == (0..<8).map { UInt8(truncatingIfNeeded: size >> (56 - 8 * $0)) })
            let decoded = try #require(MerkleFrontier(encoded: encoded), "size \(size)")
            #expect(decoded == frontier)
            #expect(decoded.root == expected)
            // A decoded frontier keeps growing like the original.
            var resumed = decoded
            for leaf in all[size...] { resumed.append(leaf) }
            #expect(resumed.root == MerkleTree.root(all[...]), "resumed from size \(size)")
        }
        #expect(MerkleFrontier().root.hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("malformed frontier encodings are refused")
    func malformedFrontier() {
        var three = MerkleFrontier()
        for leaf in leaves(3) { three.append(leaf) }
        let encoded = three.encoded  // size 3: two nodes
        #expect(MerkleFrontier(encoded: []) == nil)
        #expect(MerkleFrontier(encoded: Array(encoded.prefix(7))) == nil)
        #expect(MerkleFrontier(encoded: Array(encoded.dropLast())) == nil)  // not a whole node
        #expect(MerkleFrontier(encoded: Array(encoded.dropLast(32))) == nil)  // one node short for size 3
        var wrongSize = encoded
        wrongSize[7] = 4  // size 4 needs one node, not two
        #expect(MerkleFrontier(encoded: wrongSize) == nil)
        #expect(MerkleFrontier(encoded: encoded + [UInt8](repeating: 0, count: 32)) == nil)
        #expect(MerkleFrontier(encoded: [UInt8](repeating: 0, count: 8)) == MerkleFrontier())
    }
}
