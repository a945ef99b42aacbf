#!/usr/bin/env bash
# Coffer's main job end to end on the scale-out engine: a vault on PostgreSQL (control data,
# catalog, access log; PII in its own database and role) with segments in S3-compatible storage,
# driven through the CLI. Needs the servers of scripts/ci-services.sh (their env file sourced):
# COFFER_TEST_POSTGRES_*, COFFER_TEST_S3_*. Each run uses schemas and a bucket of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
coffer=.build/debug/coffer
run=$(date +%s)$$
schema=demo_$run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer coffer -c "CREATE SCHEMA $schema"
PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer_pii coffer_pii -c "CREATE SCHEMA $schema"

export COFFER_VAULT="$COFFER_TEST_POSTGRES_URL?sslmode=disable&schema=$schema" PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD
export COFFER_PII_DATABASE="$COFFER_TEST_POSTGRES_PII_URL?sslmode=disable&schema=$schema" COFFER_PII_PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD
export AWS_ENDPOINT_URL_S3=$COFFER_TEST_S3_ENDPOINT AWS_ACCESS_KEY_ID=$COFFER_TEST_S3_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$COFFER_TEST_S3_SECRET_ACCESS_KEY AWS_REGION=${COFFER_TEST_S3_REGION:-us-east-1}
export COFFER_OBJECT_STORE=s3://coffer-demo-$run/vault COFFER_ACTOR=demo-operator
export COFFER_KEYRING=$work/keyring.json COFFER_WITNESS=$work/witness

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
