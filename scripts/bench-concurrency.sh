#!/usr/bin/env bash
# The small-object rate against concurrency (docs/benchmarks.md, issue 12): `coffer bench small`
# at 1 to 32 callers, ROUNDS times. Usage: scripts/bench-concurrency.sh OUT_DIR [ROUNDS]
# (writes OUT_DIR/concurrency-R.json; scripts/bench-plots.py OUT_DIR docs/plots draws it).
set -euo pipefail
out=${1:?usage: scripts/bench-concurrency.sh OUT_DIR [ROUNDS]}
rounds=${2:-2}
coffer=${COFFER:-.build/release/coffer}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
    "$coffer" bench small --json --operations "${SMALL_OPERATIONS:-2000}" --concurrency "${CONCURRENCY:-1,2,4,8,16,32}" > "$out/concurrency-$round.json"
    echo "round $round done" >&2
done
