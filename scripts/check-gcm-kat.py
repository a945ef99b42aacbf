#!/usr/bin/env python3
"""Validate Tests/CofferCryptoTests/Resources/aes_gcm_256_kat.json with `cryptography`.

The file was assembled by hand from pages of Wycheproof's aes_gcm_test.json (read through a
code-search tool, not downloaded), so every vector is re-checked here:
  - valid: AESGCM decrypts ct||tag to msg, and encrypting msg gives back ct||tag;
  - invalid: decryption must fail; additionally ct must equal the real encryption of msg and
    the stored tag must differ from the real tag exactly as the comment says ("Flipped bit N",
    "all bits of tag flipped", "msbs changed", ...), which also catches transcription slips.
Also checks key/iv/tag sizes (256/96/128 bits). Prints counts; exits 1 on any failure.
Usage: python3 scripts/check-gcm-kat.py [PATH_TO_JSON]
"""
import json
import os
import re
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "Tests", "CofferCryptoTests", "Resources", "aes_gcm_256_kat.json")


def flip(tag, comment):
    """The tag a Wycheproof 'ModifiedTag' comment describes, derived from the true tag."""
    t = bytearray(tag)
    c = comment.lower()
    if m := re.fullmatch(r"flipped bits? (\d+)(?: and (\d+))? in tag", c):
        for bit in (int(g) for g in m.groups() if g is not None):
            t[bit // 8] ^= 1 << (bit % 8)
    elif c == "all bits of tag flipped":
        t = bytearray(b ^ 0xFF for b in t)
    elif c == "tag changed to all zero":
        t = bytearray(16)
    elif c == "tag changed to all 1":
        t = bytearray(b"\xff" * 16)
    elif c == "msbs changed in tag":
        t = bytearray(b ^ 0x80 for b in t)
    elif c == "lsbs changed in tag":
        t = bytearray(b ^ 0x01 for b in t)
    else:
        return None
    return bytes(t)


def check(t):
    key, iv, aad, msg, ct, tag = (bytes.fromhex(t[k]) for k in ("key", "iv", "aad", "msg", "ct", "tag"))
    if (len(key), len(iv), len(tag)) != (32, 12, 16):
        return "wrong key/iv/tag size"
    gcm = AESGCM(key)
    real = gcm.encrypt(iv, msg, aad)
    if t["result"] in ("valid", "acceptable"):
        try:
            if gcm.decrypt(iv, ct + tag, aad) != msg:
                return "decrypts to a different message"
        except InvalidTag:
            return "valid vector fails to authenticate"
        return None if real == ct + tag else "re-encryption differs"
    try:
        gcm.decrypt(iv, ct + tag, aad)
        return "invalid vector decrypted"
    except InvalidTag:
        pass
    if real[:-16] != ct:
        return "ct is not the encryption of msg"
    want = flip(real[-16:], t["comment"])
    if want is not None and want != tag:
        return f"tag does not match comment {t['comment']!r}"
    return None


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    doc = json.load(open(path))
    counts, failed = {}, 0
    for t in doc["tests"]:
        err = check(t)
        counts[t["result"]] = counts.get(t["result"], 0) + 1
        if err:
            failed += 1
            print(f"tcId {t['tcId']}: FAIL {err}")
    print("source:", doc["source"])
    print("counts:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{len(doc['tests']) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
