import Foundation
import Testing
@testable import Coffer

// Roots and inclusion proofs computed by an independent RFC 9162 implementation
// (scripts/make-merkle-vectors.py), including the Certificate Transparency reference data.

private struct MerkleFile: Decodable {
    struct Root: Decodable { let size: Int; let root: String }
    struct Proof: Decodable, Sendable { let index: Int; let size: Int; let proof: [String] }
    struct Consistency: Decodable, Sendable { let oldSize: Int; let newSize: Int; let proof: [String] }
    struct CT: Decodable {
        let leaves: [String]
        let leafHashes: [String]
        let roots: [Root]
        let inclusion: [Proof]
        let publishedInclusion: [Proof]
        let consistency: [Consistency]
        let publishedConsistency: [Consistency]
    }
    struct Generated: Decodable {
        let leafRule: String
        let leafHashes: [String]
        let roots: [Root]
        let inclusion: [Proof]
        let consistency: [Consistency]
    }
    let ct: CT
    let generated: Generated
}

private let merkleFile = try? JSONDecoder().decode(MerkleFile.self, from: testResource("merkle_rfc9162.json"))

/// Leaf i of the generated set: the UTF-8 text "coffer leaf <i>".
private let generatedLeaves: [[UInt8]] = (0..<1000).map { MerkleTree.leafHash(Array("coffer leaf \($0)".utf8)) }

@Suite("Merkle vectors (RFC 9162, independent implementation)")
struct MerkleVectorTests {
    @Test("the vector file loads, with the CT reference set and the larger trees")
    func fileLoads() throws {
        let file = try #require(merkleFile)
        #expect(file.ct.leaves.count == 8)
        #expect(file.ct.roots.map(\.size) == Array(0...8))
        #expect(file.ct.publishedInclusion.count == 4)
        #expect(file.generated.leafRule == "leaf i is the UTF-8 text 'coffer leaf <i>' (decimal i, from 0)")
        #expect(file.generated.roots.map(\.size).contains(1000))
        #expect(file.generated.inclusion.count > 100)
    }

    @Test("leaf hashes: SHA-256(0x00 || data)")
    func leafHashes() throws {
        let file = try #require(merkleFile)
        for (data, expected) in zip(file.ct.leaves, file.ct.leafHashes) {
            #expect(MerkleTree.leafHash(bytes(hex: data)).hexString == expected, "leaf \(data)")
        }
        for (i, expected) in file.generated.leafHashes.enumerated() {
            #expect(generatedLeaves[i].hexString == expected)
        }
    }

    @Test("roots of every size, computed recursively and by the log's frontier")
    func roots() throws {
        let file = try #require(merkleFile)
        let ct = file.ct.leaves.map { MerkleTree.leafHash(bytes(hex: $0)) }
        for root in file.ct.roots {
            #expect(MerkleTree.root(ct[0..<root.size]).hexString == root.root, "CT size \(root.size)")
            #expect(frontierRoot(ct[0..<root.size]) == root.root, "CT frontier size \(root.size)")
        }
        for root in file.generated.roots {
            #expect(MerkleTree.root(generatedLeaves[0..<root.size]).hexString == root.root, "size \(root.size)")
            #expect(frontierRoot(generatedLeaves[0..<root.size]) == root.root, "frontier size \(root.size)")
        }
    }

    @Test("inclusion proofs are the RFC's PATH, and verify")
    func inclusionProofs() throws {
        let file = try #require(merkleFile)
        let ct = file.ct.leaves.map { MerkleTree.leafHash(bytes(hex: $0)) }
        let sets: [([[UInt8]], [MerkleFile.Proof])] = [(ct, file.ct.inclusion), (ct, file.ct.publishedInclusion),
                                                        (generatedLeaves, file.generated.inclusion)]
        var checked = 0
        for (leaves, proofs) in sets {
            for p in proofs {
                let tree = leaves[0..<p.size]
                #expect(MerkleTree.inclusionProof(index: p.index, tree).map(\.hexString) == p.proof, "proof \(p.index)/\(p.size)")
                let root = MerkleTree.root(tree)
                #expect(MerkleTree.verifyInclusion(leafHash: leaves[p.index], index: Int64(p.index), treeSize: Int64(p.size),
                                                   proof: p.proof.map { bytes(hex: $0) }, root: root), "verify \(p.index)/\(p.size)")
                checked += 1
            }
        }
        #expect(checked > 150)
    }

    @Test("a tampered proof, leaf, index, size or root fails verification")
    func tamperedProofs() throws {
        let file = try #require(merkleFile)
        let ct = file.ct.leaves.map { MerkleTree.leafHash(bytes(hex: $0)) }
        let sets: [([[UInt8]], [MerkleFile.Proof])] = [(ct, file.ct.publishedInclusion), (generatedLeaves, file.generated.inclusion)]
        for (leaves, proofs) in sets {
            for p in proofs where p.size > 1 {
                let root = MerkleTree.root(leaves[0..<p.size])
                let proof = p.proof.map { bytes(hex: $0) }
                let leaf = leaves[p.index], index = Int64(p.index), size = Int64(p.size)
                func valid(_ leaf: [UInt8], _ index: Int64, _ size: Int64, _ proof: [[UInt8]], _ root: [UInt8]) -> Bool {
                    MerkleTree.verifyInclusion(leafHash: leaf, index: index, treeSize: size, proof: proof, root: root)
                }
                let label = "\(p.index)/\(p.size)"
                for k in proof.indices {
                    var bad = proof
                    bad[k][k % 32] ^= 0x80
                    #expect(!valid(leaf, index, size, bad, root), "flipped proof element \(k), \(label)")
                }
                #expect(!valid(leaf, index, size, Array(proof.dropLast()), root), "short proof \(label)")
                #expect(!valid(leaf, index, size, proof + [root], root), "long proof \(label)")
                var badLeaf = leaf
                badLeaf[0] ^= 1
                #expect(!valid(badLeaf, index, size, proof, root), "leaf \(label)")
                #expect(!valid(leaves[(p.index + 1) % p.size], index, size, proof, root), "another leaf \(label)")
                #expect(!valid(leaf, index ^ 1, size, proof, root), "index \(label)")
                #expect(!valid(leaf, index, index, proof, root), "index == size \(label)")
                var badRoot = root
                badRoot[31] ^= 1
                #expect(!valid(leaf, index, size, proof, badRoot), "root \(label)")
                #expect(!valid(leaf, index, size, proof, MerkleTree.root(leaves[0..<(p.size - 1)])), "smaller tree's root \(label)")
                if proof.count > 1 {
                    #expect(!valid(leaf, index, size, proof.reversed(), root), "reordered proof \(label)")
                }
            }
        }
    }

    @Test("consistency proofs are the RFC's PROOF, including the published CT ones, and verify")
    func consistencyProofs() throws {
        let file = try #require(merkleFile)
        let ct = file.ct.leaves.map { MerkleTree.leafHash(bytes(hex: $0)) }
        #expect(file.ct.publishedConsistency.count == 5)
        let sets: [([[UInt8]], [MerkleFile.Consistency])] = [(ct, file.ct.consistency), (ct, file.ct.publishedConsistency),
                                                              (generatedLeaves, file.generated.consistency)]
        var checked = 0
        for (leaves, proofs) in sets {
            for p in proofs {
                let label = "\(p.oldSize) -> \(p.newSize)"
                #expect(MerkleTree.consistencyProof(oldSize: p.oldSize, leaves[0..<p.newSize]).map(\.hexString) == p.proof, "\(label)")
                #expect(MerkleTree.verifyConsistency(oldSize: Int64(p.oldSize), newSize: Int64(p.newSize),
                                                     oldRoot: MerkleTree.root(leaves[0..<p.oldSize]),
                                                     newRoot: MerkleTree.root(leaves[0..<p.newSize]),
                                                     proof: p.proof.map { bytes(hex: $0) }), "verify \(label)")
                checked += 1
            }
        }
        #expect(checked > 300)
    }

    @Test("a tampered consistency proof, root or size fails: a rewritten or truncated history is caught")
    func tamperedConsistency() throws {
        let file = try #require(merkleFile)
        for p in file.generated.consistency where p.oldSize < p.newSize {
            let oldRoot = MerkleTree.root(generatedLeaves[0..<p.oldSize])
            let newRoot = MerkleTree.root(generatedLeaves[0..<p.newSize])
            let proof = p.proof.map { bytes(hex: $0) }
            func valid(_ m: Int, _ n: Int, _ old: [UInt8], _ new: [UInt8], _ proof: [[UInt8]]) -> Bool {
                MerkleTree.verifyConsistency(oldSize: Int64(m), newSize: Int64(n), oldRoot: old, newRoot: new, proof: proof)
            }
            let label = "\(p.oldSize) -> \(p.newSize)"
            for k in proof.indices {
                var bad = proof
                bad[k][k % 32] ^= 0x80
                #expect(!valid(p.oldSize, p.newSize, oldRoot, newRoot, bad), "flipped element \(k), \(label)")
            }
            if !proof.isEmpty {
                #expect(!valid(p.oldSize, p.newSize, oldRoot, newRoot, Array(proof.dropLast())), "short \(label)")
            }
            #expect(!valid(p.oldSize, p.newSize, oldRoot, newRoot, proof + [newRoot]), "long \(label)")
            // An old tree with another history: its first leaf changed.
            var rewritten = Array(generatedLeaves[0..<p.oldSize])
            rewritten[0][0] ^= 1
            #expect(!valid(p.oldSize, p.newSize, MerkleTree.root(rewritten[...]), newRoot, proof), "rewritten old tree \(label)")
            var badNew = newRoot
            badNew[0] ^= 1
            #expect(!valid(p.oldSize, p.newSize, oldRoot, badNew, proof), "new root \(label)")
            #expect(!valid(p.oldSize, p.newSize - 1, oldRoot, MerkleTree.root(generatedLeaves[0..<(p.newSize - 1)]), proof)
                    || p.newSize - 1 == p.oldSize, "another new size \(label)")
            #expect(!valid(p.newSize, p.oldSize, newRoot, oldRoot, proof), "sizes swapped \(label)")
        }
        // Sizes: equal trees need no proof and equal roots; everything extends the empty tree.
        let root5 = MerkleTree.root(generatedLeaves[0..<5])
        #expect(MerkleTree.verifyConsistency(oldSize: 5, newSize: 5, oldRoot: root5, newRoot: root5, proof: []))
        #expect(!MerkleTree.verifyConsistency(oldSize: 5, newSize: 5, oldRoot: root5, newRoot: MerkleTree.root(generatedLeaves[0..<4]), proof: []))
        #expect(MerkleTree.verifyConsistency(oldSize: 0, newSize: 5, oldRoot: MerkleTree.root([]), newRoot: root5, proof: []))
    }
}

/// The root the access log keeps: its Merkle frontier, appended leaf by leaf.
private func frontierRoot(_ leaves: ArraySlice<[UInt8]>) -> String {
    var frontier = MerkleFrontier()
    for leaf in leaves { frontier.append(leaf) }
    return frontier.root.hexString
}
