#!/usr/bin/env bash
# Make sure a PostgreSQL server accepts the tests' connections (trust auth for user postgres).
# 1. the machine's server on 127.0.0.1:5432; 2. start the installed cluster; 3. a throwaway cluster
# of our own. Writes .pg-test.env with JICHITAI_TEST_PG_URL for `make test`.
set -euo pipefail
url_ok() { psql "$1" -tAc 'select 1' >/dev/null 2>&1; }
write_env() { echo "JICHITAI_TEST_PG_URL=$1" > .pg-test.env; echo "PostgreSQL for tests: $1"; }

default_url="postgresql://postgres@127.0.0.1:5432/postgres"
if url_ok "$default_url"; then write_env "$default_url"; exit 0; fi

if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  if [ -n "$ver" ] && [ -d "/etc/postgresql/$ver/main" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || true
    for _ in $(seq 1 30); do url_ok "$default_url" && { write_env "$default_url"; exit 0; }; sleep 0.5; done
  fi
fi

# A throwaway cluster with trust auth, owned by the postgres user (initdb refuses root).
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL is not installed (make sysdeps)" >&2; exit 1; }
dir=/tmp/jichitai-pgtest
port=55432
url="postgresql://postgres@127.0.0.1:$port/postgres"
if url_ok "$url"; then write_env "$url"; exit 0; fi
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -f "$dir/PG_VERSION" ]; then
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  run "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
run "$bindir/pg_ctl" -D "$dir" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
url_ok "$url" || { echo "could not start a PostgreSQL server" >&2; exit 1; }
write_env "$url"
