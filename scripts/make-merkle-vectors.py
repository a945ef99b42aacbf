#!/usr/bin/env python3
"""Generate Tests/CofferTests/Resources/merkle_rfc9162.json: Merkle tree roots and inclusion
proofs, computed by an implementation written here from RFC 9162 section 2.1 (not by Coffer).

  MTH({})     = SHA-256()
  MTH({d0})   = SHA-256(0x00 || d0)
  MTH(D[n])   = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n
  PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])     if m < k
                = PATH(m - k, D[k:n]) : MTH(D[0:k])  if m >= k      (PATH(0, {d0}) = {})

Two leaf sets:
  - "ct": the eight leaves of the Certificate Transparency reference test data (also used by
    transparency-dev/merkle's tests), with their published roots for sizes 0 to 8 and four
    published inclusion proofs, all asserted here against this implementation before writing;
  - "generated": leaf i is the UTF-8 text "coffer leaf <i>", for sizes 1 to 20 and larger trees
    around powers of two (31, 32, 33, 64, 100, 127, 128, 129, 1000).

Consistency proofs: PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 section 2.1.4.1,
checked with the verification of section 2.1.4.2 written out here; for the ct set the four
proofs published with the reference data (as transparency-dev/merkle's tests use them, plus
3 -> 7 from its generated set) are asserted too.
Usage: python3 scripts/make-merkle-vectors.py [--check]
"""
import hashlib
import random

import vectorgen

OUT = vectorgen.resource("CofferTests", "merkle_rfc9162.json")


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    """MTH over leaves given already leaf-hashed (so large trees are cheap to recurse)."""
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = split_point(len(hashes))
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def path(m, hashes):
    if len(hashes) <= 1:
        return []
    k = split_point(len(hashes))
    if m < k:
        return path(m, hashes[:k]) + [mth(hashes[k:])]
    return path(m - k, hashes[k:]) + [mth(hashes[:k])]


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def subproof(m, hashes, b):
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = split_point(n)
    if m <= k:
        return subproof(m, hashes[:k], b) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def consistency(m, hashes):
    if m == 0 or m >= len(hashes):
        return []
    return subproof(m, hashes, True)


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2, step by step."""
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path = [first_hash] + path
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index from 0, tree size, proof), as published with the reference data.
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]

# (old size, new size, proof), as published with the reference data.
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (3, 7, ["0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"]),
]

GENERATED_SIZES = list(range(1, 21)) + [31, 32, 33, 64, 100, 127, 128, 129, 1000]


def generated_data(i):
    return ("coffer leaf %d" % i).encode()


def proofs_for(hashes, sizes, rng):
    out = []
    for n in sizes:
        k = split_point(n)
        indices = sorted({0, 1, k - 1, k, n // 2, n - 2, n - 1, rng.randrange(n)} & set(range(n))) if n > 8 else range(n)
        for m in indices:
            proof = path(m, hashes[:n])
            root = mth(hashes[:n])
            assert verify_inclusion(m, n, hashes[m], proof, root)
            out.append({"index": m, "size": n, "proof": [p.hex() for p in proof]})
    return out


def consistencies_for(hashes, pairs):
    out = []
    for m, n in pairs:
        proof = consistency(m, hashes[:n])
        assert verify_consistency(m, n, mth(hashes[:m]), mth(hashes[:n]), proof), f"consistency {m}/{n}"
        out.append({"oldSize": m, "newSize": n, "proof": [p.hex() for p in proof]})
    return out


CONSISTENCY_PAIRS = ([(m, n) for n in range(1, 21) for m in range(1, n + 1)]
                     + [(m, n) for n in (31, 32, 33, 64, 100, 127, 128, 129, 1000)
                        for m in sorted({1, 2, 3, n // 2, n // 2 + 1, n - 2, n - 1, n} & set(range(1, n + 1)))])


def build():
    ct_data = [bytes.fromhex(h) for h in CT_LEAVES]
    ct_hashes = [leaf_hash(d) for d in ct_data]
    for n in range(0, 9):
        assert mth(ct_hashes[:n]).hex() == CT_ROOTS[n], f"CT root {n}"
    for m, n, proof in CT_INCLUSION:
        assert [p.hex() for p in path(m, ct_hashes[:n])] == proof, f"CT proof {m}/{n}"
    for m, n, proof in CT_CONSISTENCY:
        assert [p.hex() for p in consistency(m, ct_hashes[:n])] == proof, f"CT consistency {m}/{n}"
    rng = random.Random(9162)
    gen_hashes = [leaf_hash(generated_data(i)) for i in range(max(GENERATED_SIZES))]
    return {
        "source": "RFC 9162 section 2.1, implemented independently in scripts/make-merkle-vectors.py; the ct set is "
                  "the Certificate Transparency reference test data (leaves, roots for sizes 0-8, four inclusion "
                  "proofs), checked against that implementation",
        "ct": {
            "leaves": CT_LEAVES,
            "leafHashes": [h.hex() for h in ct_hashes],
            "roots": [{"size": n, "root": mth(ct_hashes[:n]).hex()} for n in range(0, 9)],
            "inclusion": proofs_for(ct_hashes, range(1, 9), rng),
            "publishedInclusion": [{"index": m, "size": n, "proof": p} for m, n, p in CT_INCLUSION],
            "consistency": consistencies_for(ct_hashes, [(m, n) for n in range(1, 9) for m in range(1, n + 1)]),
            "publishedConsistency": [{"oldSize": m, "newSize": n, "proof": p} for m, n, p in CT_CONSISTENCY],
        },
        "generated": {
            "leafRule": "leaf i is the UTF-8 text 'coffer leaf <i>' (decimal i, from 0)",
            "leafHashes": [h.hex() for h in gen_hashes[:3]],
            "roots": [{"size": n, "root": mth(gen_hashes[:n]).hex()} for n in GENERATED_SIZES],
            "inclusion": proofs_for(gen_hashes, GENERATED_SIZES, rng),
            "consistency": consistencies_for(gen_hashes, CONSISTENCY_PAIRS),
        },
    }


def main():
    vectorgen.main([(OUT, build())])


if __name__ == "__main__":
    main()
