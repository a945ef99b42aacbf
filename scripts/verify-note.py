#!/usr/bin/env python3
"""Verify a Coffer witness checkpoint (C2SP tlog-checkpoint, signed as a C2SP signed-note) with an
implementation independent of Coffer, under a verifier key kept apart from the vault.

  verifier key:  <name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte Ed25519 public key)>
  key id:        the first 4 bytes of SHA-256(<name> || 0x0A || 0x01 || public key)
  note:          <text>\\n<signature lines>, the text being "<origin>\\n<size>\\n<base64 root>\\n" and
                 optional extension lines; a signature line is "\\u2014 <name> <base64(key id || sig)>"

Checks that the key id matches the key, that a signature line by that name and key id verifies
(Python `cryptography`) over the text, and prints "<origin> <size> <root hex>".
Exit status: 0 verified; 1 a check failed; 2 bad input or usage; 4 `cryptography` is missing.
Usage: python3 scripts/verify-note.py NOTE_FILE VERIFIER_KEY_FILE
"""
import base64
import hashlib
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print("verify-note: the Python package 'cryptography' is missing; python3 -m pip install cryptography", file=sys.stderr)
    sys.exit(4)


def fail(status, message):
    print("verify-note: " + message, file=sys.stderr)
    sys.exit(status)


def main():
    if len(sys.argv) != 3:
        fail(2, "usage: verify-note.py NOTE_FILE VERIFIER_KEY_FILE")
    note = open(sys.argv[1], encoding="utf-8").read()
    vkey = open(sys.argv[2], encoding="utf-8").read().strip()
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        fail(2, "the verifier key is not name+keyid+base64")
    name, key_id_hex, blob = parts[0], parts[1], base64.b64decode(parts[2])
    if len(blob) != 33 or blob[0] != 1:
        fail(2, "the verifier key is not an Ed25519 key")
    public = blob[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    if key_id.hex() != key_id_hex:
        fail(1, "the verifier key's id does not match its name and key")
    if "\n\n" not in note:
        fail(2, "the note has no blank line before its signatures")
    text, signatures = note.split("\n\n", 1)
    text += "\n"
    lines = text.split("\n")
    if len(lines) < 4:
        fail(2, "the note has fewer than three lines")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    if len(root) != 32:
        fail(2, "the root is not 32 bytes")
    for line in signatures.splitlines():
        dash, signer, sig = line.split(" ")
        if dash != "\u2014":
            fail(2, "a signature line does not start with an em dash")
        raw = base64.b64decode(sig)
        if signer != name or raw[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text.encode())
        except InvalidSignature:
            fail(1, "the signature by %s does not verify" % name)
        print("%s %d %s" % (origin, size, root.hex()))
        return
    fail(1, "no signature by %s (key id %s)" % (name, key_id_hex))


if __name__ == "__main__":
    main()
