#!/usr/bin/env python3
"""End-to-end interoperability check of the `coffer` CLI against Google Tink (Python).

Usage: python3 scripts/tink-interop.py [PATH_TO_COFFER] [--quick]
PATH_TO_COFFER defaults to .build/release/coffer, then .build/debug/coffer.

For each ciphertext segment size (4096, 65536, 1048576; --quick skips 65536) and plaintext
lengths 0, 1, first-segment capacity -1/0/+1, two-segment boundary -1/0/+1 and 3.5 segments,
with a fresh random 32-byte key file (alternately raw bytes and 64 hex chars + newline, mode
0600), random plaintext and AAD "coffer-interop-<n>":
  seal->tink   `coffer crypto seal --in/--out`, decrypted by Tink, must give the plaintext;
  tink->open   Tink ciphertext opened by `coffer crypto open --in/--out`, must give it back.
Once per segment size:
  pipe seal    `coffer crypto seal ... < PT > CT` (no --in/--out), decrypted by Tink;
  bit flip     one bit flipped in the last segment: `open` must fail and leave no --out file;
  wrong AAD    `open` with another AAD must fail (and leave no --out file).
Prints one line per case and ends with "N passed, M failed"; exits 1 if any case failed.
Needs only the standard library and the `tink` package.
"""
import io
import os
import subprocess
import tempfile

from interop_support import Tally, coffer_and_quick
from tink import cleartext_keyset_handle, streaming_aead
from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

HEADER, TAG = 40, 16
TIMEOUT = 300
TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"


def tink_primitive(key, css):
    k = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(version=0, key_value=key)
    k.params.derived_key_size = 32
    k.params.hkdf_hash_type = common_pb2.SHA256
    k.params.ciphertext_segment_size = css
    keyset = tink_pb2.Keyset(primary_key_id=1)
    entry = keyset.key.add()
    entry.key_data.type_url = TYPE_URL
    entry.key_data.value = k.SerializeToString()
    entry.key_data.key_material_type = tink_pb2.KeyData.SYMMETRIC
    entry.status = tink_pb2.ENABLED
    entry.key_id = 1
    entry.output_prefix_type = tink_pb2.RAW
    return cleartext_keyset_handle.from_keyset(keyset).primitive(streaming_aead.StreamingAead)


def tink_encrypt(p, pt, aad):
    class Sink(io.BytesIO):
        def close(self):
            self.result = self.getvalue()
            super().close()
    sink = Sink()
    with p.new_encrypting_stream(sink, aad) as s:
        s.write(pt)
    return sink.result


def tink_decrypt(p, ct, aad):
    with p.new_decrypting_stream(io.BytesIO(ct), aad) as s:
        return s.read()


def write_key(path, key, as_hex):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write((key.hex() + "\n").encode() if as_hex else key)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Harness(Tally):
    def __init__(self, coffer, work):
        super().__init__()
        self.coffer, self.work = coffer, work

    def run(self, verb, keyfile, aad, css, src=None, dst=None, stdin=None, stdout=None):
        cmd = [self.coffer, "crypto", verb, "--key", keyfile, "--aad", aad, "--segment-size", str(css)]
        if src:
            cmd += ["--in", src]
        if dst:
            cmd += ["--out", dst]
        return subprocess.run(cmd, stdin=stdin, stdout=stdout or subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT)

    def path(self, name):
        p = os.path.join(self.work, name)
        if os.path.exists(p):
            os.remove(p)
        return p


def failed_run(r):
    err = r.stderr.decode(errors="replace").strip().splitlines()
    return f"exit {r.returncode}: {err[-1] if err else ''}"


def lengths(css):
    first, seg = css - HEADER - TAG, css - TAG
    return [0, 1, first - 1, first, first + 1,
            first + seg - 1, first + seg, first + seg + 1, first + 2 * seg + seg // 2]


def main():
    coffer, quick = coffer_and_quick()
    streaming_aead.register()
    sizes = [4096, 1048576] if quick else [4096, 65536, 1048576]
    n = 0
    with tempfile.TemporaryDirectory(prefix="coffer-interop-") as work:
        h = Harness(coffer, work)
        for css in sizes:
            for length in lengths(css):
                n += 1
                key, pt, aad = os.urandom(32), os.urandom(length), f"coffer-interop-{n}"
                as_hex = n % 2 == 0
                keyfile, ptfile = h.path("key"), h.path("pt")
                write_key(keyfile, key, as_hex)
                with open(ptfile, "wb") as f:
                    f.write(pt)
                tink = tink_primitive(key, css)
                label = f"css={css} len={length} key={'hex' if as_hex else 'raw'} aad={aad}"

                def seal_then_tink():
                    ct = h.path("ct")
                    r = h.run("seal", keyfile, aad, css, src=ptfile, dst=ct)
                    if r.returncode != 0:
                        return failed_run(r)
                    return None if tink_decrypt(tink, read(ct), aad.encode()) == pt else "Tink plaintext differs"

                def tink_then_open():
                    ct, out = h.path("tink.ct"), h.path("out")
                    with open(ct, "wb") as f:
                        f.write(tink_encrypt(tink, pt, aad.encode()))
                    r = h.run("open", keyfile, aad, css, src=ct, dst=out)
                    if r.returncode != 0:
                        return failed_run(r)
                    return None if read(out) == pt else "coffer plaintext differs"

                h.case(f"seal->tink  {label}", seal_then_tink)
                h.case(f"tink->open  {label}", tink_then_open)

            # Once per segment size: pipe mode and the negative checks, on a 3.5-segment plaintext.
            n += 1
            length = lengths(css)[-1]
            key, pt, aad = os.urandom(32), os.urandom(length), f"coffer-interop-{n}"
            keyfile, ptfile = h.path("key"), h.path("pt")
            write_key(keyfile, key, as_hex=n % 2 == 0)
            with open(ptfile, "wb") as f:
                f.write(pt)
            tink = tink_primitive(key, css)
            tink_ct = tink_encrypt(tink, pt, aad.encode())
            label = f"css={css} len={length} aad={aad}"

            def pipe_seal():
                with open(ptfile, "rb") as src, open(h.path("pipe.ct"), "wb") as dst:
                    r = h.run("seal", keyfile, aad, css, stdin=src, stdout=dst)
                if r.returncode != 0:
                    return failed_run(r)
                ct = read(os.path.join(work, "pipe.ct"))
                return None if tink_decrypt(tink, ct, aad.encode()) == pt else "Tink plaintext differs"

            def must_fail(ct_bytes, open_aad):
                ct, out = h.path("bad.ct"), h.path("out")
                with open(ct, "wb") as f:
                    f.write(ct_bytes)
                r = h.run("open", keyfile, open_aad, css, src=ct, dst=out)
                if r.returncode == 0:
                    return "open succeeded"
                return f"--out file left behind (exit {r.returncode})" if os.path.exists(out) else None

            def bit_flip():
                bad = bytearray(tink_ct)
                last_start = (len(bad) - 1) // css * css  # segment i >= 1 starts at i*CSS
                bad[last_start + (len(bad) - last_start) // 2] ^= 0x10
                return must_fail(bytes(bad), aad)

            h.case(f"pipe seal   {label}", pipe_seal)
            h.case(f"bit flip    {label} (last segment)", bit_flip)
            h.case(f"wrong aad   {label}", lambda: must_fail(tink_ct, aad + "-wrong"))
    h.finish()


if __name__ == "__main__":
    main()
