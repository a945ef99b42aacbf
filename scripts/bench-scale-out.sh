#!/usr/bin/env bash
# Put and get through Coffer on PostgreSQL + S3 beside the same operations done directly, in one
# run (issues 11 and 12; docs/benchmarks.md): a large object beside boto3 moving the same bytes,
# unencrypted, to and from the same S3 server; SMALL 4 KiB puts and gets at 1 and 16 callers
# beside a row inserted and read by primary key through postgres-nio (coffer bench scale-out
# --small) plus a 4 KiB put_object and get_object through boto3, done one after the other (the
# direct rate is 1 / (1/rows + 1/objects) at the same callers).
# Needs the servers of scripts/ci-services.sh (env file sourced) and boto3.
# Usage: scripts/bench-scale-out.sh [SIZE] [REPETITIONS] [SMALL]   (default 268435456 bytes, 3, 500)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-268435456}
repetitions=${2:-3}
small=${3:-500}
swift build -c release --product coffer >/dev/null
coffer=.build/release/coffer
name=bench
# shellcheck source=scripts/scale-out-env.sh
. scripts/scale-out-env.sh
$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
$coffer init >/dev/null
# Alternating, so both see the same machine: Coffer, boto3, Coffer, boto3.
for round in 1 2; do
    $coffer bench scale-out --size "$size" --repetitions "$repetitions" --small "$small" --json > "$work/coffer-$round.json"
    python3 scripts/s3-baseline.py --size "$size" --repetitions "$repetitions" --small-count "$small" --bucket "coffer-baseline-$run" \
        > "$work/boto3-$round.json"
done
python3 - "$work" <<'PY'
import json, sys, statistics
work = sys.argv[1]
loaded = [(json.load(open(f"{work}/coffer-{r}.json")), json.load(open(f"{work}/boto3-{r}.json"))) for r in (1, 2)]
rounds = [(c["large"], b) for c, b in loaded]
for op in ("put", "get"):
    key = f"{op}BytesPerSecond"
    coffer = statistics.median(c[key] for c, _ in rounds)
    boto3 = statistics.median(b[key] for _, b in rounds)
    print(f"{op}: coffer {coffer / 1e6:8.1f} MB/s  boto3 {boto3 / 1e6:8.1f} MB/s  ratio {coffer / boto3:.2f}   "
          f"(rounds: coffer {[round(c[key] / 1e6, 1) for c, _ in rounds]}, boto3 {[round(b[key] / 1e6, 1) for _, b in rounds]})")
print(f"size {rounds[0][0]['size']} B, {rounds[0][0]['repetitions']} timed repetitions per round, boto3 {rounds[0][1]['boto3']}")
for callers in sorted({m["callers"] for c, _ in loaded for m in c["small"]}):
    for op, row_op, s3_key in (("put-4k", "insert", "putsPerSecond"), ("get-4k", "select", "getsPerSecond")):
        def rate(measurements, name):
            return next(m["operationsPerSecond"] for m in measurements if m["operation"] == name and m["callers"] == callers)
        coffer = statistics.median(rate(c["small"], op) for c, _ in loaded)
        rows = statistics.median(rate(c["rows"], row_op) for c, _ in loaded)
        objects = statistics.median(next(s[s3_key] for s in b["small"] if s["callers"] == callers) for _, b in loaded)
        direct = 1 / (1 / rows + 1 / objects)
        print(f"{op} {callers:2} callers: coffer {coffer:7.0f}/s  direct {direct:7.0f}/s (rows {rows:.0f}/s, boto3 {objects:.0f}/s)  ratio {coffer / direct:.2f}")
PY
