#!/usr/bin/env bash
# The ceiling of everything in Coffer's seal/open path but AES-GCM (issue 12, docs/benchmarks.md):
# `coffer bench crypto` from the normal release build and from a benchmark-only build whose
# cipher is a copy (-DCOFFER_STUB_CIPHER, in .build-stub so it never mixes with the real one),
# back to back. Usage: scripts/bench-stub-ceiling.sh [SEGMENT_SIZE] [SIZE] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
segment=${1:-1048576}
size=${2:-268435456}
swift build -c release --product coffer >/dev/null
swift build -c release --product coffer --scratch-path .build-stub -Xswiftc -DCOFFER_STUB_CIPHER >/dev/null
.build/release/coffer bench crypto --segment-size "$segment" --size "$size" "${@:3}"
.build-stub/release/coffer bench crypto --segment-size "$segment" --size "$size" "${@:3}"
