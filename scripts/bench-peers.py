#!/usr/bin/env python3
"""The peers for issue 12's ratios: what a user would pick instead of Coffer, measured on this
machine with the same sizes. It prints one JSON object on stdout (progress goes to stderr), for
`coffer bench ... --compare` to parse once that flag exists; until then run it beside `coffer bench`
in the same session (docs/benchmarks.md).

  sqlcipher  SQLCipher 4 through `sqlcipher3` (raw 256-bit key, default cipher settings) and
  sqlite     the standard library's `sqlite3`, both with journal_mode=WAL and synchronous=FULL, each
             on its own file, schema `object(id, name, body)` and `segment(version, idx, body)`:
               put-4k     one 4096-byte blob per transaction, --small-count of them    ops/s
               get-4k     SELECT body by a random id, one connection                  ops/s
               put-large  --large-size bytes as --segment-size rows, one transaction  bytes/s
               get-large  those rows read back in order, after one untimed read      bytes/s
  tink       Tink's streaming AEAD (AES256-GCM-HKDF, ciphertext segment --segment-size) in memory:
               seal-large / open-large of --large-size bytes, written and read in 1 MiB pieces

Each value is the median of 3 timed repetitions. A put-4k repetition is --small-count puts; every
other repetition repeats its work (whole passes for the large object) until --seconds have been timed.
Random payloads come from os.urandom once, outside the timing. A peer whose module cannot be imported
is reported under "missing" and the others still run. Requirements: scripts/bench-peers-requirements.txt.
"""
import argparse
import importlib.metadata
import io
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time

PEERS = ("sqlcipher", "sqlite", "tink")
REPETITIONS = 3
PIECE = 1 << 20  # Tink streams are written and read in pieces of this many bytes


def log(message):
    print(message, file=sys.stderr, flush=True)


def median_rate(one_pass, seconds):
    """Median over REPETITIONS of amount/second, where one_pass() does some work and returns
    (amount, seconds it took); each repetition repeats it until `seconds` have been timed."""
    rates = []
    for _ in range(REPETITIONS):
        amount = elapsed = 0.0
        while True:
            done, took = one_pass()
            amount, elapsed = amount + done, elapsed + took
            if elapsed >= seconds:
                break
        rates.append(amount / max(elapsed, 1e-9))
    return statistics.median(rates)


def measurement(name, value, unit):
    log(f"  {name:<10} {value / 1e6:10.1f} MB/s" if unit == "bytes/s" else f"  {name:<10} {value:10.0f} ops/s")
    return {"name": name, "value": round(value, 1), "unit": unit}


def bench_sql(module, path, key, args):
    """The four SQL measurements on a fresh database at `path` (SQLCipher when `key` is given)."""
    db = module.connect(path, isolation_level=None)
    if key is not None:
        db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
        raise RuntimeError("journal_mode=WAL was refused")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE object(id INTEGER PRIMARY KEY, name TEXT UNIQUE, body BLOB)")
    db.execute("CREATE TABLE segment(version INTEGER, idx INTEGER, body BLOB, PRIMARY KEY(version, idx))")
    small = os.urandom(4096)
    segment = memoryview(os.urandom(args.segment_size))
    results, names = [], iter(range(1 << 62))

    def put_small():
        start = time.perf_counter()
        for _ in range(args.small_count):
            db.execute("BEGIN")
            db.execute("INSERT INTO object(name, body) VALUES (?, ?)", (f"small-{next(names)}", small))
            db.execute("COMMIT")
        return args.small_count, time.perf_counter() - start
    results.append(measurement("put-4k", median_rate(put_small, 0), "ops/s"))

    ids = [row[0] for row in db.execute("SELECT id FROM object")]
    rng = random.Random(4096)

    def get_small(batch=1000):
        picks = [rng.choice(ids) for _ in range(batch)]
        start = time.perf_counter()
        for row_id in picks:
            if len(db.execute("SELECT body FROM object WHERE id = ?", (row_id,)).fetchone()[0]) != 4096:
                raise RuntimeError("a 4 KiB object came back with another size")
        return batch, time.perf_counter() - start
    results.append(measurement("get-4k", median_rate(get_small, args.seconds), "ops/s"))

    def rows(version):
        for idx, offset in enumerate(range(0, args.large_size, args.segment_size)):
            yield version, idx, segment[:min(args.segment_size, args.large_size - offset)]
    version = 0

    def put_large():
        nonlocal version
        version += 1
        start = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO segment(version, idx, body) VALUES (?, ?, ?)", rows(version))
        db.execute("COMMIT")
        took = time.perf_counter() - start
        db.execute("DELETE FROM segment WHERE version = ?", (version - 1,))  # keep the file from growing
        return args.large_size, took
    results.append(measurement("put-large", median_rate(put_large, args.seconds), "bytes/s"))

    def get_large():
        start = time.perf_counter()
        total = sum(len(body) for body, in db.execute("SELECT body FROM segment WHERE version=? ORDER BY idx", (version,)))
        took = time.perf_counter() - start
        if total != args.large_size:
            raise RuntimeError(f"read back {total} bytes of {args.large_size}")
        return total, took
    get_large()  # warm the cache
    results.append(measurement("get-large", median_rate(get_large, args.seconds), "bytes/s"))
    db.close()
    return results


def bench_sqlcipher(args, scratch):
    import sqlcipher3
    cipher = sqlcipher3.connect(":memory:").execute("PRAGMA cipher_version").fetchone()
    if not cipher:
        raise RuntimeError("sqlcipher3 is not built with SQLCipher (PRAGMA cipher_version is empty)")
    version = (f"SQLCipher {cipher[0]} (SQLite {sqlcipher3.sqlite_version}, "
               f"sqlcipher3-binary {importlib.metadata.version('sqlcipher3-binary')})")
    return version, bench_sql(sqlcipher3, os.path.join(scratch, "sqlcipher.db"), os.urandom(32), args)


def bench_sqlite(args, scratch):
    import sqlite3
    return f"SQLite {sqlite3.sqlite_version}", bench_sql(sqlite3, os.path.join(scratch, "sqlite.db"), None, args)


def tink_template(segment_size):
    from tink import streaming_aead
    from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2
    templates = streaming_aead.streaming_aead_key_templates
    if segment_size == 1 << 20:
        return templates.AES256_GCM_HKDF_1MB
    if segment_size == 4096:
        return templates.AES256_GCM_HKDF_4KB
    key_format = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKeyFormat(key_size=32)
    key_format.params.ciphertext_segment_size = segment_size
    key_format.params.derived_key_size = 32
    key_format.params.hkdf_hash_type = common_pb2.SHA256
    return tink_pb2.KeyTemplate(type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                                value=key_format.SerializeToString(), output_prefix_type=tink_pb2.RAW)


class KeptBytesIO(io.BytesIO):
    def close(self):  # stay open when the encrypting stream closes its destination
        pass


def bench_tink(args, scratch):
    import tink
    from tink import streaming_aead
    streaming_aead.register()
    primitive = tink.new_keyset_handle(tink_template(args.segment_size)).primitive(streaming_aead.StreamingAead)
    piece = memoryview(os.urandom(PIECE))
    aad = b"coffer bench --compare"
    sink = KeptBytesIO()  # one ciphertext buffer, overwritten by every pass

    def seal():
        sink.seek(0)
        start = time.perf_counter()
        with primitive.new_encrypting_stream(sink, aad) as stream:
            for offset in range(0, args.large_size, PIECE):
                stream.write(piece[:min(PIECE, args.large_size - offset)])
        return args.large_size, time.perf_counter() - start
    seal()  # warm up: page in the buffer
    seal_rate = median_rate(seal, args.seconds)
    ciphertext = sink.getvalue()

    def open_():
        total = 0
        start = time.perf_counter()
        with primitive.new_decrypting_stream(io.BytesIO(ciphertext), aad) as stream:
            while chunk := stream.read(PIECE):
                total += len(chunk)
        took = time.perf_counter() - start
        if total != args.large_size:
            raise RuntimeError(f"decrypted {total} bytes of {args.large_size}")
        return total, took

    results = [measurement("seal-large", seal_rate, "bytes/s"),
               measurement("open-large", median_rate(open_, args.seconds), "bytes/s")]
    return f"tink {importlib.metadata.version('tink')}", results


MODULES = {"sqlcipher": ("sqlcipher3", bench_sqlcipher, " (pip install sqlcipher3-binary)"),
           "sqlite": ("sqlite3", bench_sqlite, ""),
           "tink": ("tink", bench_tink, " (pip install tink)")}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers among " + ",".join(PEERS))
    parser.add_argument("--small-count", type=int, default=2000, help="4 KiB objects put per repetition")
    parser.add_argument("--large-size", type=int, default=256 << 20, help="bytes of the large object")
    parser.add_argument("--segment-size", type=int, default=1 << 20, help="bytes per segment row / Tink segment")
    parser.add_argument("--seconds", type=float, default=1.0, help="least timed seconds per repetition")
    parser.add_argument("--dir", help="where to make the scratch directory, removed at the end (default: the system's temp dir)")
    args = parser.parse_args()
    args.only = list(dict.fromkeys(name.strip() for name in args.only.split(",") if name.strip()))
    unknown = [name for name in args.only if name not in PEERS]
    if unknown or not args.only:
        parser.error(f"--only takes a comma-separated list among {','.join(PEERS)}, not {unknown or 'nothing'}")
    if not 1 <= args.small_count <= 1_000_000:
        parser.error("--small-count must be between 1 and 1000000")
    if not 1 <= args.large_size <= 16 << 30:
        parser.error(f"--large-size must be between 1 and {16 << 30} bytes")
    if not 4096 <= args.segment_size <= 64 << 20:
        parser.error("--segment-size must be between 4096 and 67108864")
    if not 0 <= args.seconds <= 600:
        parser.error("--seconds must be between 0 and 600")
    if args.dir is not None and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir} is not a directory")
    return args


def main():
    args = parse_args()
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "peers": {}, "missing": {}}
    scratch = tempfile.mkdtemp(prefix="bench-peers-", dir=args.dir)
    try:
        for name in args.only:
            module, bench, hint = MODULES[name]
            try:
                __import__(module)
            except ImportError as error:
                report["missing"][name] = f"{error}{hint}"
                log(f"{name}: missing ({error})")
                continue
            log(f"{name}:")
            version, measurements = bench(args, scratch)
            report["peers"][name] = {"version": version, "measurements": measurements}
            for leftover in os.listdir(scratch):  # free the disk before the next peer
                os.remove(os.path.join(scratch, leftover))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
