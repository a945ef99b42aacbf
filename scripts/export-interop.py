#!/usr/bin/env python3
"""End-to-end check of `coffer dsr export --encrypt` against Google Tink (Python).

Usage: python3 scripts/export-interop.py [PATH_TO_COFFER] [--quick]
PATH_TO_COFFER defaults to .build/release/coffer, then .build/debug/coffer.

Makes a vault with the CLI in a temporary directory (a fresh keyring, tenant `acme`, a privacy
officer), puts objects of several sizes (empty, one byte, across 1 MiB segment boundaries, a few
MiB; --quick keeps them under 3 MiB), a second version of one of them, names with `/`, `..` and
a bidirectional override, and a data subject, then:
  tenant       `dsr export --tenant acme --out x.zip --encrypt`: the keyset loads with
               tink.json_proto_keyset_format (one RAW AesGcmHkdfStreamingKey, file mode 0600);
               every entry opens with Tink's streaming AEAD and empty associated data; the
               manifest lists every other entry with its SHA-256 and size; every object's file is
               its latest version byte for byte, under a safe name;
  plain        the same export without --encrypt: the same names, hashes and object bytes;
  subject      `dsr export --subject ID --encrypt`: the record names the subject, the history
               holds the export's own record;
  refusals     an existing --out without --force, a reporting principal: exit 1, nothing written.
Prints one line per check and ends with "N passed, M failed"; exits 1 if any check failed.
Needs only the standard library and the `tink` package.
"""
import hashlib
import io
import json
import os
import stat
import subprocess
import tempfile
import zipfile

import tink
from interop_support import Tally, coffer_and_quick
from tink import secret_key_access, streaming_aead

TIMEOUT = 600


class Harness(Tally):
    def __init__(self, coffer, work):
        super().__init__()
        self.coffer, self.work = coffer, work
        self.env = dict(os.environ, COFFER_VAULT=os.path.join(work, "vault"), COFFER_KEYRING=os.path.join(work, "keyring.json"),
                        COFFER_ACTOR="interop", COFFER_PURPOSE="service-operation", COFFER_JUSTIFICATION="export interop")

    def run(self, *args, stdin=None):
        r = subprocess.run([self.coffer, *args], input=stdin, env=self.env, cwd=self.work,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
        return r

    def must(self, *args, stdin=None):
        r = self.run(*args, stdin=stdin)
        if r.returncode != 0:
            raise RuntimeError(f"coffer {' '.join(args)}: exit {r.returncode}: {r.stderr.decode(errors='replace').strip()}")
        return r.stdout.decode()



OFFICER = ["--actor", "po", "--purpose", "subject-request", "--justification", "DSAR interop"]


def setup(h, quick):
    h.must("keys", "generate", "--out", h.env["COFFER_KEYRING"])
    h.must("init")
    h.must("tenant", "add", "acme")
    h.must("principal", "add", "po", "--role", "privacy-officer")
    h.must("principal", "add", "reports", "--role", "reporting")
    seg = 1048576 - 16
    sizes = [0, 1, seg - 40, seg - 40 + 1, seg - 40 + seg + 3] + ([] if quick else [5 * 1048576 + 12345])
    names = ["empty", "one byte", "scripts/login.js", "../../etc/passwd", "report\u202etxt.exe", "big.bin"]
    objects = {}  # object id -> (latest bytes, name)
    for n, size in enumerate(sizes):
        data = os.urandom(size)
        path = os.path.join(h.work, "in.bin")
        with open(path, "wb") as f:
            f.write(data)
        kind = "test-script" if n % 2 == 0 else "test-result"
        object_id, _ = h.must("put", "--tenant", "acme", "--kind", kind, "--name", names[n], path).split()
        objects[object_id] = (data, names[n])
    # A second version: the export must hold this one.
    first = next(iter(objects))
    newer = os.urandom(70000)
    with open(os.path.join(h.work, "in.bin"), "wb") as f:
        f.write(newer)
    h.must("put", "--tenant", "acme", "--kind", "test-script", "--name", objects[first][1], os.path.join(h.work, "in.bin"))
    objects[first] = (newer, objects[first][1])
    subject = h.must("pii", "add", "--tenant", "acme", "--from", "-",
                     stdin=json.dumps({"name": "Ada Lovelace", "email": "ada@example.com"}).encode()).strip()
    return objects, subject


def tink_streaming(keyset_path):
    with open(keyset_path) as f:
        handle = tink.json_proto_keyset_format.parse(f.read(), secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


def entries(zip_path, primitive):
    """Every entry of the archive, opened with Tink when `primitive` is given."""
    out = {}
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            data = z.read(info)
            if primitive is not None:
                with primitive.new_decrypting_stream(io.BytesIO(data), b"") as s:
                    data = s.read()
            out[info.filename] = data
    return out


def check_archive(files, objects):
    manifest = json.loads(files.pop("manifest.json"))
    listed = {f["path"]: f for f in manifest["files"]}
    if set(listed) != set(files):
        return f"manifest lists {sorted(set(listed) ^ set(files))} differently from the archive"
    for path, data in files.items():
        f = listed[path]
        if hashlib.sha256(data).hexdigest() != f["sha256"] or len(data) != f["size"]:
            return f"{path}: hash or size differs from the manifest"
        if ".." in path or path.startswith("/") or any(ord(c) < 0x20 or c == "\u202e" for c in path):
            return f"unsafe name {path!r}"
    exported = {f["objectID"]: f for f in manifest["files"] if "objectID" in f}
    if set(exported) != set(objects):
        return f"objects in the manifest {sorted(exported)} are not those put {sorted(objects)}"
    for object_id, (data, name) in objects.items():
        if files[exported[object_id]["path"]] != data:
            return f"{object_id} ({name!r}) is not its latest version byte for byte"
        if exported[object_id]["name"] != name:
            return f"{object_id}: manifest name {exported[object_id]['name']!r}, put as {name!r}"
    return None


def main():
    coffer, quick = coffer_and_quick()
    streaming_aead.register()
    with tempfile.TemporaryDirectory(prefix="coffer-export-interop-") as work:
        h = Harness(coffer, work)
        objects, subject = setup(h, quick)
        x, plain, s = (os.path.join(work, n) for n in ("x.zip", "plain.zip", "s.zip"))

        def tenant_encrypted():
            h.must("dsr", "export", "--tenant", "acme", "--out", x, "--encrypt", *OFFICER)
            mode = stat.S_IMODE(os.stat(x + ".keyset.json").st_mode)
            if mode != 0o600:
                return f"keyset mode {oct(mode)}"
            with open(x + ".keyset.json") as f:
                keys = json.load(f)["key"]
            if len(keys) != 1 or keys[0]["outputPrefixType"] != "RAW" or keys[0]["keyData"]["keyMaterialType"] != "SYMMETRIC":
                return "keyset is not one RAW symmetric key"
            return check_archive(entries(x, tink_streaming(x + ".keyset.json")), objects)

        def tenant_plain():
            h.must("dsr", "export", "--tenant", "acme", "--out", plain, *OFFICER)
            if os.path.exists(plain + ".keyset.json"):
                return "an unencrypted export wrote a keyset"
            files = entries(plain, None)
            sealed = entries(x, tink_streaming(x + ".keyset.json"))
            if set(files) != set(sealed):
                return "encrypted and plain exports have different entry names"
            return check_archive(files, objects)

        def subject_encrypted():
            h.must("dsr", "export", "--subject", subject, "--out", s, "--encrypt", *OFFICER)
            files = entries(s, tink_streaming(s + ".keyset.json"))
            record = json.loads(files["records/subject.json"])
            if record["id"] != subject or record["email"] != "ada@example.com":
                return "records/subject.json is not the subject's record"
            history = json.loads(files["access-history.json"])
            if not any(r["action"] == "export" and r.get("subject") == subject for r in history):
                return "the history lacks the export's own record"
            return check_archive(files, {})

        def refusals():
            before = sorted(os.listdir(work))
            again = h.run("dsr", "export", "--tenant", "acme", "--out", x, *OFFICER)
            reporting = h.run("dsr", "export", "--tenant", "acme", "--out", os.path.join(work, "r.zip"),
                              "--actor", "reports", "--purpose", "audit", "--justification", "x")
            if again.returncode != 1 or b"already-exists" not in again.stderr:
                return f"existing --out: exit {again.returncode}"
            if reporting.returncode != 1 or b"access-denied" not in reporting.stderr:
                return f"reporting principal: exit {reporting.returncode}"
            return None if sorted(os.listdir(work)) == before else "a refused export left files behind"

        h.case("tenant export, encrypted, opened with Tink", tenant_encrypted)
        h.case("tenant export, plain", tenant_plain)
        h.case("subject export, encrypted, opened with Tink", subject_encrypted)
        h.case("refusals leave nothing", refusals)
    h.finish()


if __name__ == "__main__":
    main()
