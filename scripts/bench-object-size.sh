#!/usr/bin/env bash
# The object-size curve (docs/benchmarks.md, issue 12: put and get throughput flat from 1 MiB to
# 4 GiB): `coffer bench store` for each object size, encrypted and the same schema unencrypted,
# every size measured in each of ROUNDS rounds so all see the same machine. 4 GiB needs about
# 9 GiB of memory (the payload and the unencrypted copy) and 9 GB in $TMPDIR.
# Usage: scripts/bench-object-size.sh OUT_DIR [ROUNDS]   (writes OUT_DIR/size-S-R.json)
set -euo pipefail
out=${1:?usage: scripts/bench-object-size.sh OUT_DIR [ROUNDS]}
rounds=${2:-1}
coffer=${COFFER:-.build/release/coffer}
sizes=${OBJECT_SIZES:-1048576 16777216 268435456 1073741824 4294967296}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
    for size in $sizes; do
        "$coffer" bench store --json --size "$size" --count "${STORE_COUNT:-200}" --repetitions "${REPETITIONS:-2}" > "$out/size-$size-$round.json"
        echo "round $round size $size done" >&2
    done
done
