#!/usr/bin/env bash
# Measures one core's `openssl speed -evp aes-256-gcm` at the segment size, then runs
# `coffer bench store` in the same minute with that figure, so the get/openssl ratio compares
# like with like. Usage: scripts/bench-store.sh [SIZE] [COUNT] [SEGMENT_SIZE] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-268435456}
count=${2:-1000}
segment=${3:-1048576}
swift build -c release --product coffer >/dev/null
speed=$(openssl speed -evp aes-256-gcm -bytes "$segment" -seconds 3 2>/dev/null | awk '/^AES-256-GCM/ {print $NF}')
echo "openssl speed -evp aes-256-gcm -bytes $segment: $speed (1000s of bytes/s)" >&2
exec .build/release/coffer bench store --size "$size" --count "$count" --segment-size "$segment" --openssl-speed "$speed" "${@:4}"
