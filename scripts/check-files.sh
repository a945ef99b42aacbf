#!/usr/bin/env bash
# The CLI file and pipe checks of docs/benchmarks.md, in one run:
#  - `coffer crypto seal|open` of a 1 GiB file on tmpfs to /dev/null against `openssl speed` and
#    against the in-memory seal and open of `coffer bench crypto` (all cores, as the CLI) in the
#    same round;
#  - peak resident memory of a 1 GiB `coffer put` from a pipe and `coffer get` to a pipe.
# Usage: scripts/check-files.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
swift build -c release --product coffer >/dev/null
coffer=$PWD/.build/release/coffer
work=$(mktemp -d /dev/shm/coffer-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom > "$work/key"; chmod 600 "$work/key"
head -c 1073741824 /dev/urandom > "$work/plain"
"$coffer" crypto seal --key "$work/key" --aad check --in "$work/plain" --out "$work/sealed"
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
for round in $(seq "$rounds"); do
    speed=$(openssl speed -evp aes-256-gcm -bytes 1048576 -seconds 2 2>/dev/null | awk '/^AES-256-GCM/ {print $NF}' | tr -d k)
    seal=$(seconds "$coffer" crypto seal --key "$work/key" --aad check --in "$work/plain" --out /dev/null)
    open=$(seconds "$coffer" crypto open --key "$work/key" --aad check --in "$work/sealed" --out /dev/null)
    "$coffer" bench crypto --size 268435456 --json > "$work/memory.json"
    python3 - "$speed" "$seal" "$open" "$work/memory.json" <<'PY'
import json, sys
speed = float(sys.argv[1]) * 1000
memory = json.load(open(sys.argv[4]))
for name, t in (("seal", float(sys.argv[2])), ("open", float(sys.argv[3]))):
    rate = 1073741824 / t
    in_memory = next(m["bytesPerSecond"] for m in memory["measurements"] if m["operation"] == name and m["threads"] == memory["cores"])
    print(f"{name} 1 GiB tmpfs -> /dev/null: {t:.2f} s = {rate/1e6:.0f} MB/s = {rate/speed:.2f} x openssl speed ({speed/1e6:.0f} MB/s)"
          f" = {rate/in_memory:.2f} x in memory on {memory['cores']} cores ({in_memory/1e6:.0f} MB/s)")
PY
done
export COFFER_VAULT=$work/vault COFFER_KEYRING=$PWD/keys-example/development-keyring.json COFFER_ALLOW_DEVELOPMENT_KEYRING=1 COFFER_PURPOSE=service-operation
"$coffer" init --witness "$work/vault.witness" >/dev/null 2>&1 && "$coffer" tenant add acme >/dev/null 2>&1
rss_put=$( { cat "$work/plain" | /usr/bin/time -f %M "$coffer" put --tenant acme --kind run-telemetry --name big >/dev/null; } 2>&1 | tail -1)
id=$("$coffer" ls --tenant acme --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"][0]["id"])')
rss_get=$( { /usr/bin/time -f %M "$coffer" get --tenant acme "$id" | cmp - "$work/plain"; } 2>&1 | tail -1)
echo "peak RSS: put 1 GiB from a pipe ${rss_put} KiB, get 1 GiB to a pipe ${rss_get} KiB (limit 65536 KiB); get output identical"
