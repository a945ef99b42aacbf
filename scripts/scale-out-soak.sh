#!/usr/bin/env bash
# Four processes on one PostgreSQL + S3 vault for 60 seconds (`coffer bench soak`): puts, gets,
# deletes and PII reads, one more process killed with SIGKILL mid-put; then every object left
# reads back byte for byte, the log verifies with one record per operation of each worker, the
# killed put is not visible and its uploads are collected. Needs the servers of
# scripts/ci-services.sh (their env file sourced). Usage: scripts/scale-out-soak.sh [SECONDS] [PROCESSES]
set -euo pipefail
cd "$(dirname "$0")/.."
coffer=.build/debug/coffer
seconds=${1:-60}
processes=${2:-4}
name=soak
# shellcheck source=scripts/scale-out-env.sh
. scripts/scale-out-env.sh

$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
$coffer init >/dev/null
$coffer bench soak --processes "$processes" --seconds "$seconds"
