#!/usr/bin/env bash
# Measures `openssl speed -evp aes-256-gcm` and `coffer bench crypto` back to back (same minute),
# so the ratios in the report compare like with like on a shared, noisy machine.
# Usage: scripts/bench-crypto.sh [SEGMENT_SIZE] [SIZE] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
segment=${1:-1048576}
size=${2:-268435456}
swift build -c release --product coffer >/dev/null
speed=$(openssl speed -evp aes-256-gcm -bytes "$segment" -seconds 3 2>/dev/null | awk '/^AES-256-GCM/ {print $NF}')
echo "openssl speed -evp aes-256-gcm -bytes $segment: $speed (1000s of bytes/s)" >&2
exec .build/release/coffer bench crypto --segment-size "$segment" --size "$size" --openssl-speed "$speed" "${@:3}"
