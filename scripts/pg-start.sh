#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 in a temp folder and prints the URL to
# use as OKPAY_TEST_DATABASE_URL. Usage: eval "$(scripts/pg-start.sh)"; stop with
# scripts/pg-stop.sh "$OKPAY_PG_DIR".
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
dir=$(mktemp -d /tmp/okpay-pg.XXXXXX)
port=${OKPAY_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
run "$bindir/initdb" -D "$dir/data" -U okpay --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# Unix socket in the temp folder so several clusters never collide on /var/run.
run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null ||
	{ cat "$dir/server.log" >&2; exit 1; }
echo "export OKPAY_PG_DIR=$dir"
echo "export OKPAY_TEST_DATABASE_URL=postgres://okpay@127.0.0.1:$port/postgres?sslmode=disable"
