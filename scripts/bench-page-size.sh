#!/usr/bin/env bash
# The page-size curve of content.sqlite (docs/benchmarks.md, issue 12): 4 KiB puts and gets at 1
# and 16 callers (`coffer bench small`) and large puts and gets (`coffer bench store`) for each
# page size, every size measured in each of ROUNDS rounds so all see the same machine.
# Usage: scripts/bench-page-size.sh OUT_DIR [ROUNDS]   (writes OUT_DIR/small-P-R.json, store-P-R.json)
set -euo pipefail
out=${1:?usage: scripts/bench-page-size.sh OUT_DIR [ROUNDS]}
rounds=${2:-2}
coffer=${COFFER:-.build/release/coffer}
sizes=${PAGE_SIZES:-4096 8192 16384 32768 65536}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
    for page in $sizes; do
        "$coffer" bench small --json --page-size "$page" --operations "${SMALL_OPERATIONS:-1000}" --concurrency 1,16 > "$out/small-$page-$round.json"
        "$coffer" bench store --json --page-size "$page" --size "${LARGE_SIZE:-67108864}" --count "${STORE_COUNT:-200}" --repetitions 2 \
            > "$out/store-$page-$round.json"
        echo "round $round page $page done" >&2
    done
done
