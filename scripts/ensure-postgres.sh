#!/usr/bin/env bash
# Make a PostgreSQL server reachable for the authority's tests and print its SQLAlchemy URL.
#
# 1. SMARTLIC_TEST_PG_URL already set: use it as is.
# 2. A server answers at 127.0.0.1:5432 (database `test`): use it.
# 3. Otherwise (or with SMARTLIC_PG_THROWAWAY=1) start a throwaway cluster from the installed binaries (installing the Debian
#    packages first if there are none) on port 55432 in .pg-test/, and use that.
# Progress goes to stderr; the URL alone goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${SMARTLIC_TEST_PG_URL:-}" ]; then
  echo "$SMARTLIC_TEST_PG_URL"
  exit 0
fi

if [ -z "${SMARTLIC_PG_THROWAWAY:-}" ] && command -v pg_isready >/dev/null 2>&1 \
  && pg_isready -q -h 127.0.0.1 -p 5432; then
  if psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    echo "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    exit 0
  fi
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "ensure-postgres: no PostgreSQL binaries; installing the Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

dir="$PWD/.pg-test"
port=55432
if ! "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  echo "ensure-postgres: starting a throwaway cluster in $dir on port $port" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  runas=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    runas=(runuser -u postgres --)
  fi
  "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres test
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$port/test"
