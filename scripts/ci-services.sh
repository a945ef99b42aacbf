#!/usr/bin/env bash
# The servers the scale-out tests need, on 127.0.0.1 only: PostgreSQL 15 (Debian's `postgresql`)
# and an S3-compatible object store (SeaweedFS `weed mini`, from the PyPI wheel pinned with its
# hash in scripts/ci-servers-requirements.txt).
#
#   scripts/ci-services.sh start DIR   starts both with their data under DIR and writes DIR/env,
#                                      the variables the tests read (source it)
#   scripts/ci-services.sh stop DIR    stops both
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a directory for the servers\' data}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pg_port=${COFFER_TEST_PG_PORT:-54329}
s3_port=${COFFER_TEST_S3_PORT:-8333}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # PostgreSQL: a throwaway cluster owned by the postgres user (initdb refuses root).
    mkdir -p "$dir/pg"
    # The postgres user must reach its directory (mktemp makes DIR private to its owner).
    [ "$(id -u)" = 0 ] && chmod 755 "$dir" && chown postgres: "$dir/pg" && chmod 700 "$dir/pg"
    echo postgres-ci > "$dir/pg/pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/pg/pwfile"
    as_postgres "$pg_bin/initdb" -D "$dir/pg/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pg/pwfile" >/dev/null
    rm -f "$dir/pg/pwfile"
    as_postgres "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -o "-c listen_addresses=127.0.0.1 -c max_connections=500 -p $pg_port -k $dir/pg" start >/dev/null
    export PGPASSWORD=postgres-ci
    psql_admin() { psql -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
    # Two roles and two databases: the vault's control data and log, and the PII (P2).
    psql_admin -d postgres -c "CREATE ROLE coffer LOGIN PASSWORD 'coffer-ci'" \
        -c "CREATE ROLE coffer_pii LOGIN PASSWORD 'coffer-pii-ci'" \
        -c "CREATE DATABASE coffer OWNER coffer" -c "CREATE DATABASE coffer_pii OWNER coffer_pii" \
        -c "REVOKE CONNECT ON DATABASE coffer FROM PUBLIC" -c "REVOKE CONNECT ON DATABASE coffer_pii FROM PUBLIC"
    # SeaweedFS: one process with master, volume, filer and the S3 gateway, credentials from a file.
    mkdir -p "$dir/s3/data"
    cat > "$dir/s3/identities.json" <<JSON
{"identities":[{"name":"coffer","credentials":[{"accessKey":"coffer-ci","secretKey":"coffer-ci-secret-key"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    nohup weed mini -dir="$dir/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$s3_port" -s3.config="$dir/s3/identities.json" \
        -admin.ui=false >"$dir/s3/log" 2>&1 &
    echo $! > "$dir/s3/pid"
    for _ in $(seq 1 120); do
        code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$s3_port/" || true)
        [ "$code" != "000" ] && break
        sleep 0.25
    done
    [ "$code" != "000" ] || { echo "the S3 server did not start; its log:" >&2; tail -20 "$dir/s3/log" >&2; exit 1; }
    cat > "$dir/env" <<ENV
export COFFER_TEST_POSTGRES_URL=postgres://coffer@127.0.0.1:$pg_port/coffer
export COFFER_TEST_POSTGRES_PASSWORD=coffer-ci
export COFFER_TEST_POSTGRES_PII_URL=postgres://coffer_pii@127.0.0.1:$pg_port/coffer_pii
export COFFER_TEST_POSTGRES_PII_PASSWORD=coffer-pii-ci
export COFFER_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export COFFER_TEST_S3_ACCESS_KEY_ID=coffer-ci
export COFFER_TEST_S3_SECRET_ACCESS_KEY=coffer-ci-secret-key
export COFFER_TEST_S3_REGION=us-east-1
ENV
    ;;
stop)
    [ -f "$dir/s3/pid" ] && kill "$(cat "$dir/s3/pid")" 2>/dev/null || true
    [ -d "$dir/pg/data" ] && as_postgres "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2; exit 64
    ;;
esac
