#!/usr/bin/env bash
# Coffer's main job end to end on the embedded default: a vault of SQLite files in a local
# folder (./coffer-data, or $COFFER_VAULT), the development keyring from keys-example/, a sample
# test script and scan result stored, listed, read back and checked byte for byte, and the vault
# files checked for plaintext.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! build_log=$(swift build --product coffer -Xswiftc -warnings-as-errors 2>&1); then echo "$build_log" >&2; exit 1; fi
coffer=.build/debug/coffer
export COFFER_VAULT=${COFFER_VAULT:-./coffer-data}
export COFFER_ACTOR=${COFFER_ACTOR:-demo-operator}
# The demo opts in to the development keyring explicitly: Coffer refuses it otherwise, so real
# data never ends up under its published keys by a forgotten --keyring.
export COFFER_KEYRING=${COFFER_KEYRING:-keys-example/development-keyring.json}
export COFFER_ALLOW_DEVELOPMENT_KEYRING=1
export COFFER_PURPOSE=service-operation
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The access log's witness lives outside the vault; a demo vault made afresh starts a fresh one.
if [ ! -f "$COFFER_VAULT/control.sqlite" ]; then
    rm -rf "$COFFER_VAULT.witness"
    $coffer init --witness "$COFFER_VAULT.witness" 2>/dev/null >/dev/null
fi
$coffer tenant list 2>/dev/null | grep -qx acme || $coffer tenant add acme 2>/dev/null

script=scripts/samples/checkout-load-test.js
scan=scripts/samples/scan-result.json
read -r script_id script_version < <($coffer put --tenant acme --kind test-script --name checkout-load-test.js "$script" 2>/dev/null)
read -r scan_id scan_version < <($coffer put --tenant acme --kind scan-result --name weekly-external-2026-11-20 < "$scan" 2>/dev/null)
echo "stored test script $script_id (version $script_version) and scan result $scan_id (version $scan_version)"

$coffer ls --tenant acme 2>/dev/null
$coffer get --tenant acme "$script_id" --out "$work/script.js" 2>/dev/null
$coffer get --tenant acme "$scan_id" 2>/dev/null > "$work/scan.json"
cmp "$script" "$work/script.js"
cmp "$scan" "$work/scan.json"
echo "read back both objects: byte-identical"
$coffer get --tenant acme "$scan_id" --range 0-16 2>/dev/null; echo " ... (bytes 0-16 of the scan result)"

# No plaintext in any vault file (database, WAL, journal, lock files).
if grep -rl -e "shop.example.test" -e "Reflected input" "$COFFER_VAULT" 2>/dev/null; then
    echo "PLAINTEXT FOUND in the files above" >&2
    exit 1
fi
echo "no plaintext in $COFFER_VAULT: $(ls "$COFFER_VAULT" | tr '\n' ' ')"

# Every access above was decided by policy and recorded first; the log verifies.
$coffer audit query --limit 6 2>/dev/null
$coffer audit verify 2>/dev/null
