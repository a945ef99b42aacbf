#!/usr/bin/env python3
"""Verify a Coffer access-log checkpoint with an implementation independent of Coffer.

Input: a JSON file holding either a checkpoint as `coffer audit checkpoint --out` writes it, or an
object {"checkpoint": {...}, "leaves": [hex, ...], "records": [record, ...]} where leaves (the
log's RFC 6962 leaf hashes, oldest first) and records (access-log records as JSON) are optional.

Checks, each from docs/audit-log.md:
  1. the Ed25519 signature (Python `cryptography`) over the signed text
     "coffer-audit-checkpoint-v1\\n<size>\\n<root hex>\\n<time ms>\\n", under the checkpoint's own
     public key or, with --public-key HEX, under that key (which the checkpoint must also name);
  2. with leaves: that there are at least <size> of them and that the RFC 9162 root of the first
     <size> equals the signed root;
  3. with records: that each record's canonical bytes hash to the leaf at its position.

Exit status: 0 verified; 1 a check failed (the message says which); 2 bad input or usage;
4 the `cryptography` package is missing (install it: python3 -m pip install cryptography).
Usage: python3 scripts/verify-checkpoint.py FILE [--public-key HEX]
"""
import hashlib
import json
import struct
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print("verify-checkpoint: the Python package 'cryptography' is missing; python3 -m pip install cryptography",
          file=sys.stderr)
    sys.exit(4)

RECORD_FIELDS = ["sequence", "time", "actor", "role", "tenant", "subject", "objectID", "objectVersion", "objectKind",
                 "action", "dataClass", "purpose", "justification", "outcome", "errorCode", "bytes", "requestID",
                 "client", "grantID", "reason"]


def fail(message, status=1):
    print("verify-checkpoint: " + message, file=sys.stderr)
    sys.exit(status)


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(hashes):
    """RFC 9162 section 2.1.1: MTH over already leaf-hashed entries."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(root(hashes[:k]), root(hashes[k:]))


def canonical(record):
    out = bytearray(b"coffer-audit-record-v1")
    for name in RECORD_FIELDS:
        value = record.get(name)
        if value is None:
            out.append(0)
            continue
        text = str(value).encode("utf-8")
        out.append(1)
        out += struct.pack(">I", len(text)) + text
    return bytes(out)


def unhex(text, what, length=None):
    try:
        value = bytes.fromhex(text)
    except (TypeError, ValueError):
        fail(f"{what} is not hex", 2)
    if length is not None and len(value) != length:
        fail(f"{what} is {len(value)} bytes, expected {length}", 2)
    return value


def main(argv):
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--public-key"):
        fail("usage: verify-checkpoint.py FILE [--public-key HEX]", 2)
    try:
        with open(argv[0], encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as error:
        fail(f"cannot read {argv[0]}: {error}", 2)
    checkpoint = document.get("checkpoint", document)
    try:
        size, root_hex, time = int(checkpoint["treeSize"]), str(checkpoint["rootHash"]), int(checkpoint["time"])
        public_hex, signature_hex = str(checkpoint["publicKey"]), str(checkpoint["signature"])
        tag = checkpoint.get("format", "coffer-audit-checkpoint-v1")
    except (KeyError, TypeError, ValueError) as error:
        fail(f"not a checkpoint: {error!r}", 2)
    if tag != "coffer-audit-checkpoint-v1":
        fail(f"unknown checkpoint format {tag!r}")
    public = unhex(public_hex, "publicKey", 32)
    if len(argv) == 3 and unhex(argv[2], "--public-key", 32) != public:
        fail("the checkpoint is signed by another key than the one given")
    text = "coffer-audit-checkpoint-v1\n%d\n%s\n%d\n" % (size, root_hex, time)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(unhex(signature_hex, "signature", 64), text.encode())
    except InvalidSignature:
        fail("the signature does not verify")
    report = [f"signature ok (size {size}, root {root_hex})"]
    leaves = document.get("leaves") if isinstance(document, dict) else None
    if leaves is not None:
        hashes = [unhex(h, f"leaf {i + 1}", 32) for i, h in enumerate(leaves)]
        if len(hashes) < size:
            fail(f"{len(hashes)} leaves given, the checkpoint covers {size}")
        if root(hashes[:size]).hex() != root_hex.lower():
            fail(f"the root of the first {size} leaves is not the signed root")
        report.append(f"root recomputed from {size} leaves")
        for record in document.get("records") or []:
            sequence = int(record["sequence"])
            if not 1 <= sequence <= len(hashes):
                fail(f"record {sequence} has no leaf")
            if leaf_hash(canonical(record)) != hashes[sequence - 1]:
                fail(f"record {sequence} does not hash to its leaf")
        if document.get("records"):
            report.append(f"{len(document['records'])} records hash to their leaves")
    print("verify-checkpoint: " + "; ".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
