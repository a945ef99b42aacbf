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
run=$(date +%s)$$
schema=soak_$run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer coffer -c "CREATE SCHEMA $schema"
PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer_pii coffer_pii -c "CREATE SCHEMA $schema"

export COFFER_VAULT="$COFFER_TEST_POSTGRES_URL?sslmode=disable&schema=$schema" PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD
export COFFER_PII_DATABASE="$COFFER_TEST_POSTGRES_PII_URL?sslmode=disable&schema=$schema" COFFER_PII_PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD
export AWS_ENDPOINT_URL_S3=$COFFER_TEST_S3_ENDPOINT AWS_ACCESS_KEY_ID=$COFFER_TEST_S3_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$COFFER_TEST_S3_SECRET_ACCESS_KEY AWS_REGION=${COFFER_TEST_S3_REGION:-us-east-1}
export COFFER_OBJECT_STORE=s3://coffer-soak-$run/vault COFFER_ACTOR=soak-operator
export COFFER_KEYRING=$work/keyring.json COFFER_WITNESS=$work/witness

$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
$coffer init >/dev/null
$coffer bench soak --processes "$processes" --seconds "$seconds"
