#!/usr/bin/env bash
# Stops and removes a cluster started by pg-start.sh.
set -u
dir=${1:?usage: pg-stop.sh DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1
else "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1; fi
rm -rf "$dir"
