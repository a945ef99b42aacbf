#!/usr/bin/env bash
# Coffer's main job end to end on the embedded default: build the CLI, seal a sample test
# script under a fresh key, open it again and check it byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product coffer >/dev/null
coffer=.build/debug/coffer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom > "$work/key" && chmod 600 "$work/key"
printf 'import http from "k6/http";\nexport default function () { http.get("https://example.test/"); }\n' > "$work/script.js"
$coffer crypto seal --key "$work/key" --aad "tenant=acme/object=checkout-test/v1" --in "$work/script.js" --out "$work/script.js.tink"
$coffer crypto open --key "$work/key" --aad "tenant=acme/object=checkout-test/v1" --in "$work/script.js.tink" --out "$work/roundtrip.js"
cmp "$work/script.js" "$work/roundtrip.js"
echo "sealed $(wc -c < "$work/script.js") bytes into $(wc -c < "$work/script.js.tink") bytes and opened them again: identical"
