#!/usr/bin/env bash
# `coffer migrate` through the CLI: an embedded vault with content, PII and its log, moved to
# PostgreSQL + S3 (fresh schemas and bucket on the CI servers, scripts/ci-services.sh), then read
# and verified there. Needs the servers' env file sourced.
set -euo pipefail
cd "$(dirname "$0")/.."
coffer=.build/debug/coffer
name=migrate
# shellcheck source=scripts/scale-out-env.sh
. scripts/scale-out-env.sh
target=$COFFER_VAULT
dir=$work/embedded
$coffer keys generate --out "$COFFER_KEYRING" >/dev/null
COFFER_VAULT=$dir $coffer init >/dev/null
COFFER_VAULT=$dir $coffer tenant add acme >/dev/null
script=scripts/samples/checkout-load-test.js
read -r id _ < <(COFFER_VAULT=$dir $coffer put --tenant acme --kind test-script --name checkout-load-test.js --purpose service-operation "$script")
head -c 3000000 /dev/urandom > "$work/run.bin"
read -r big _ < <(COFFER_VAULT=$dir $coffer put --tenant acme --kind test-result --name run-1 --purpose service-operation "$work/run.bin")
printf '{"name": "Ada Lovelace", "email": "ada@example.com"}' |
    COFFER_VAULT=$dir $coffer pii add --tenant acme --purpose service-operation --justification "migrate demo: sign-up" --from - > "$work/subject"

COFFER_VAULT=$dir $coffer migrate --to "$target"
echo "moved to PostgreSQL + S3"
$coffer get --tenant acme "$id" --purpose service-operation --out "$work/back.js"
cmp "$script" "$work/back.js"
$coffer get --tenant acme "$big" --purpose service-operation --out "$work/back.bin"
cmp "$work/run.bin" "$work/back.bin"
echo "read back there: byte-identical"
$coffer audit verify
