#!/bin/sh
# The official image's first start: initdb with POSTGRES_USER (and POSTGRES_PASSWORD), listen on
# every address with POSTGRES_HOST_AUTH_METHOD (scram-sha-256 by default), create POSTGRES_DB.
set -eu
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$method" >/dev/null
  else
    initdb -D "$PGDATA" -U "$user" --auth-local=trust --auth-host="$method" >/dev/null
  fi
  rm -f "$pwfile"
  {
    echo "host all all 0.0.0.0/0 $method"
    echo "host all all ::/0 $method"
  } >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q -c "CREATE DATABASE \"$db\""
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "stand-in: initialised $PGDATA (user $user, database $db, host auth $method)"
fi
if [ "$1" = postgres ]; then
  shift
  exec postgres -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
fi
exec "$@"
