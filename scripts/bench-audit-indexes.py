#!/usr/bin/env python3
"""What the access log's secondary indexes cost one durable append (docs/benchmarks.md, issue 12).

Builds the `record`, `leaf` and `log_state` tables of `audit.sqlite` (`record` and its indexes
read from AuditLog.migrator) with all eight secondary indexes of `record`, the first four, or none; fills each with
PRELOAD records in one transaction, then appends COUNT records one transaction each (WAL,
synchronous=FULL, as the log commits a lone record) and prints the mean commit time. The
variants alternate for ROUNDS rounds so they share the disk's minutes. The rows are
synthetic (random object ids, 50 tenants, 5 actors); only their shape matters.

Usage: scripts/bench-audit-indexes.py [COUNT [PRELOAD [ROUNDS]]]   (default 1500 20000 3)
Files go to $TMPDIR (default /tmp) and are removed.
"""
import os
import random
import sqlite3
import sys
import time

def log_schema():
    """The `record` table and its secondary indexes, as AuditLog.migrator makes them (read from
    the source, so this measures the schema Coffer ships)."""
    source = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "Coffer", "Audit",
                               "AuditLog.swift")).read()
    block = source[source.index("CREATE TABLE record ("):source.index("CREATE TABLE leaf")]
    statements = [" ".join(part.split()) for part in block.split(";") if part.strip()]
    return statements[0], statements[1:]


RECORD, INDEXES = log_schema()


def remove(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def append(db, seq):
    db.execute("INSERT INTO record VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (seq, 1_796_000_000_000 + seq, "backend-%d" % (seq % 5), "reader", "tenant-%d" % (seq % 50), None,
                "obj_%032x" % random.getrandbits(128), 1, "test-script", "read", "content", "service-operation", None,
                "allowed", None, 4096, None, "ip-hmac:" + "0" * 32, None, None))
    db.execute("INSERT INTO leaf VALUES (?,?,?)", (seq, os.urandom(32), os.urandom(32)))
    db.execute("UPDATE log_state SET tree_size = ?, last_mac = ?, frontier = ? WHERE id = 1",
               (seq, os.urandom(32), os.urandom(32 * 20)))


def measure(indexes, count, preload):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "coffer-audit-indexes-%d.sqlite" % indexes)
    remove(path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute(RECORD)
        for statement in INDEXES[:indexes]:
            db.execute(statement)
        db.execute("CREATE TABLE leaf (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, mac BLOB NOT NULL)")
        db.execute("CREATE TABLE log_state (id INTEGER PRIMARY KEY, tree_size INTEGER, last_mac BLOB, frontier BLOB)")
        db.execute("INSERT INTO log_state VALUES (1, 0, ?, ?)", (bytes(32), bytes(32 * 20)))
        db.execute("BEGIN")
        for seq in range(1, preload + 1):
            append(db, seq)
        db.execute("COMMIT")
        start = time.perf_counter()
        for seq in range(preload + 1, preload + count + 1):
            db.execute("BEGIN IMMEDIATE")
            append(db, seq)
            db.execute("COMMIT")
        return (time.perf_counter() - start) / count * 1e6
    finally:
        db.close()
        remove(path)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    preload = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print("secondary indexes  " + "  ".join("round %d" % (r + 1) for r in range(rounds)) + "   (µs per durable append)")
    results = {n: [] for n in (8, 4, 0)}
    for _ in range(rounds):
        for n in results:
            results[n].append(measure(n, count, preload))
    for n, values in results.items():
        print("%17d  " % n + "  ".join("%7.0f" % v for v in values))


if __name__ == "__main__":
    main()
