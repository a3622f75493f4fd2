#!/bin/sh
# What the official image's entrypoint does with an empty PGDATA, for the
# variables compose.yaml sets: a superuser POSTGRES_USER with the password
# POSTGRES_PASSWORD (required, as there), a database POSTGRES_DB, password
# logins over the network, and the server listening on every address.
set -eu
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # Identifiers quoted, inner quotes doubled: the name is the operator's, not SQL.
    quoted=$(printf '%s' "$db" | sed 's/"/""/g')
    echo "CREATE DATABASE \"$quoted\"" | postgres --single -j -D "$PGDATA" postgres >/dev/null
  fi
fi
exec "$@"
