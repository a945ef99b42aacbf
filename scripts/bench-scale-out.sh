#!/usr/bin/env bash
# Large-object put and get through Coffer on PostgreSQL + S3 beside boto3 moving the same number
# of bytes, unencrypted, to and from the same S3 server, in one run (issue 11's 80% goal;
# docs/benchmarks.md). Needs the servers of scripts/ci-services.sh (env file sourced) and boto3.
# Usage: scripts/bench-scale-out.sh [SIZE] [REPETITIONS]   (default 268435456 bytes, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-268435456}
repetitions=${2:-3}
swift build -c release --product coffer >/dev/null
coffer=.build/release/coffer
name=bench
# shellcheck source=scripts/scale-out-env.sh
. scripts/scale-out-env.sh
$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
$coffer init >/dev/null
# Alternating, so both see the same machine: Coffer, boto3, Coffer, boto3.
for round in 1 2; do
    $coffer bench scale-out --size "$size" --repetitions "$repetitions" --json > "$work/coffer-$round.json"
    python3 scripts/s3-baseline.py --size "$size" --repetitions "$repetitions" --bucket "coffer-baseline-$run" > "$work/boto3-$round.json"
done
python3 - "$work" <<'PY'
import json, sys, statistics
work = sys.argv[1]
rounds = [(json.load(open(f"{work}/coffer-{r}.json")), json.load(open(f"{work}/boto3-{r}.json"))) for r in (1, 2)]
for op in ("put", "get"):
    key = f"{op}BytesPerSecond"
    coffer = statistics.median(c[key] for c, _ in rounds)
    boto3 = statistics.median(b[key] for _, b in rounds)
    print(f"{op}: coffer {coffer / 1e6:8.1f} MB/s  boto3 {boto3 / 1e6:8.1f} MB/s  ratio {coffer / boto3:.2f}   "
          f"(rounds: coffer {[round(c[key] / 1e6, 1) for c, _ in rounds]}, boto3 {[round(b[key] / 1e6, 1) for _, b in rounds]})")
print(f"size {rounds[0][0]['size']} B, {rounds[0][0]['repetitions']} timed repetitions per round, boto3 {rounds[0][1]['boto3']}")
PY
