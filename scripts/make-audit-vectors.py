#!/usr/bin/env python3
"""Generate Tests/CofferTests/Resources/audit_golden.json: access-log records' canonical bytes,
RFC 6962 leaf hashes and chain MACs, and a signed checkpoint, all computed here from the format
in docs/audit-log.md (not by Coffer), so a silent change of the format fails the Swift test.

  canonical = "coffer-audit-record-v1" || field_1 || ... || field_20, in AuditRecord's order:
              sequence, time, actor, role, tenant, subject, object_id, object_version,
              object_kind, action, data_class, purpose, justification, outcome, error_code,
              bytes, request_id, client, grant_id, reason;
              each field absent: 0x00; present: 0x01 || uint32_be(len) || UTF-8 (numbers in decimal)
  leaf      = SHA-256(0x00 || canonical)
  K_mac     = HKDF-SHA256(ikm = audit-signing key, salt = empty, info = "coffer/audit/mac", 32)
  mac_n     = HMAC-SHA256(K_mac, "coffer-audit-mac-v1" || uint64_be(n) || leaf_n || mac_{n-1})
  seed      = HKDF-SHA256(ikm = audit-signing key, salt = empty, info = "coffer/audit/ed25519", 32)
  checkpoint signature = Ed25519(seed, "coffer-audit-checkpoint-v1\\n<size>\\n<root hex>\\n<time ms>\\n")

Usage: python3 scripts/make-audit-vectors.py [--check]
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import vectorgen

OUT = vectorgen.resource("CofferTests", "audit_golden.json")

FIELDS = ["sequence", "time", "actor", "role", "tenant", "subject", "objectID", "objectVersion", "objectKind",
          "action", "dataClass", "purpose", "justification", "outcome", "errorCode", "bytes", "requestID",
          "client", "grantID", "reason"]

# The audit-signing key of the keyring the vectors are made with (a test key, public on purpose).
AUDIT_KEY_ID = "audit-signing-golden-0001"
AUDIT_KEY = bytes.fromhex("5c0ffee0d15ea5e5a1b2c3d4e5f60718293a4b5c6d7e8f901122334455667788")
KEK_ID = "kek-golden-0001"
KEK = hashlib.sha256(b"coffer golden kek").digest()

RECORDS = [
    {   # an allowed content read, with non-ASCII text and an empty (present) request id
        "sequence": 1, "time": 1764000000123, "actor": "svc-backend", "role": "service", "tenant": "acme",
        "subject": None, "objectID": "obj_0123456789abcdef0123456789abcdef", "objectVersion": 3,
        "objectKind": "test-result", "action": "read", "dataClass": "content", "purpose": "service-operation",
        "justification": "ticket #4711 \u2014 caf\u00e9 \U0001F512", "outcome": "allowed", "errorCode": None,
        "bytes": 1048576, "requestID": "", "client": "coffer-cli", "grantID": None, "reason": None,
    },
    {   # a refused PII read: no role, an error code and a reason
        "sequence": 2, "time": 1764000000456, "actor": "support-7", "role": None, "tenant": "acme",
        "subject": "subj_fedcba9876543210fedcba9876543210", "objectID": None, "objectVersion": None,
        "objectKind": None, "action": "read", "dataClass": "pii", "purpose": "support",
        "justification": "customer called", "outcome": "denied", "errorCode": "access-denied", "bytes": None,
        "requestID": "req-7f3a", "client": None, "grantID": None,
        "reason": "no role of support-7 allows read on pii for support",
    },
    {   # every optional field absent; a large sequence number (8 bytes in the MAC)
        "sequence": 4294967301, "time": 0, "actor": "a", "role": None, "tenant": None, "subject": None,
        "objectID": None, "objectVersion": None, "objectKind": None, "action": "audit-read",
        "dataClass": "audit-log", "purpose": "audit", "justification": None, "outcome": "error",
        "errorCode": "storage", "bytes": None, "requestID": None, "client": None,
        "grantID": "grant_00112233445566778899aabbccddeeff", "reason": None,
    },
]
CHECKPOINT_TIME = 1764000000999


def canonical(record):
    out = bytearray(b"coffer-audit-record-v1")
    for name in FIELDS:
        value = record[name]
        if value is None:
            out.append(0)
            continue
        text = str(value).encode("utf-8")
        out.append(1)
        out += struct.pack(">I", len(text)) + text
    return bytes(out)


def hkdf(info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(AUDIT_KEY)


def build():
    mac_key = hkdf("coffer/audit/mac")
    seed = hkdf("coffer/audit/ed25519")
    signing = Ed25519PrivateKey.from_private_bytes(seed)
    public = signing.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    previous = bytes(32)
    out = []
    leaves = []
    for record in RECORDS:
        data = canonical(record)
        leaf = hashlib.sha256(b"\x00" + data).digest()
        message = b"coffer-audit-mac-v1" + struct.pack(">Q", record["sequence"]) + leaf + previous
        mac = hmac.new(mac_key, message, hashlib.sha256).digest()
        out.append({"record": record, "canonical": data.hex(), "leafHash": leaf.hex(), "previousMAC": previous.hex(),
                    "mac": mac.hex()})
        leaves.append(leaf)
        previous = mac
    # The three leaves' RFC 6962 root: node(node(l0, l1), l2).
    node = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()
    root = node(node(leaves[0], leaves[1]), leaves[2])
    text = "coffer-audit-checkpoint-v1\n%d\n%s\n%d\n" % (len(leaves), root.hex(), CHECKPOINT_TIME)
    return {
        "source": "computed by scripts/make-audit-vectors.py from docs/audit-log.md's format (Python hashlib, hmac, "
                  "cryptography's HKDF and Ed25519); the records are chained in order, the first after 32 zero bytes",
        "keyring": {"kekID": KEK_ID, "kek": KEK.hex(), "auditKeyID": AUDIT_KEY_ID, "auditKey": AUDIT_KEY.hex()},
        "macKey": mac_key.hex(),
        "records": out,
        "checkpoint": {"treeSize": len(leaves), "rootHash": root.hex(), "time": CHECKPOINT_TIME,
                       "signedText": text, "publicKey": public.hex(), "signature": signing.sign(text.encode()).hex()},
    }


def main():
    vectorgen.main([(OUT, build())])


if __name__ == "__main__":
    main()
