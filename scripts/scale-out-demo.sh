#!/usr/bin/env bash
# Coffer's main job end to end on the scale-out engine: a vault on PostgreSQL (control data,
# catalog, access log; PII in its own database and role) with segments in S3-compatible storage,
# driven through the CLI. Needs the servers of scripts/ci-services.sh (their env file sourced):
# COFFER_TEST_POSTGRES_*, COFFER_TEST_S3_*. Each run uses schemas and a bucket of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
coffer=.build/debug/coffer
name=demo
# shellcheck source=scripts/scale-out-env.sh
. scripts/scale-out-env.sh

$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
$coffer init >/dev/null
$coffer tenant add acme >/dev/null
script=scripts/samples/checkout-load-test.js
read -r id version < <($coffer put --tenant acme --kind test-script --name checkout-load-test.js --purpose service-operation "$script")
echo "stored $id (version $version) on PostgreSQL + S3"
$coffer get --tenant acme "$id" --purpose service-operation --out "$work/back.js"
cmp "$script" "$work/back.js"
echo "read back: byte-identical"
$coffer ls --tenant acme --purpose service-operation >/dev/null
$coffer audit verify
# The benchmark of this engine runs here too (small sizes: it must work, not be fast on CI).
$coffer bench scale-out --size 1048576 --repetitions 1 --small 32 --small-concurrency 1,4 > "$work/bench.txt"
grep -q "^put-4k     4 callers" "$work/bench.txt" && grep -q "^select     4 callers" "$work/bench.txt"
echo "bench scale-out: large and 4 KiB puts and gets, and the rows done directly, measured"
