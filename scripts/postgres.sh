#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on this machine, for the job store's tests and CI (a shared queue database):
#   scripts/postgres.sh start    create the cluster on first use and start it (idempotent)
#   scripts/postgres.sh stop     stop it (the data stays for the next start)
#   scripts/postgres.sh url      print its SQLAlchemy URL
# Needs Debian's postgresql (the Makefile's setup installs it). PostgreSQL refuses to run as root, so
# as root the server runs as user postgres. Trust authentication, listening on 127.0.0.1 only.
# RAYDATA_PG_DIR (default /var/tmp/raydata-postgres) and RAYDATA_PG_PORT (default 55432) choose where.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
DIR=${RAYDATA_PG_DIR:-/var/tmp/raydata-postgres}
PORT=${RAYDATA_PG_PORT:-55432}
USER_NAME=raydata

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

need_binaries() {
  if [ ! -x "$BIN/pg_ctl" ]; then
    echo "scripts/postgres.sh: $BIN/pg_ctl is missing; install Debian's postgresql (make setup does)" >&2
    exit 1
  fi
}

running() { as_server_user "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; }

init() {
  if [ -f "$DIR/PG_VERSION" ]; then return; fi
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
  chmod 0700 "$DIR"
  as_server_user "$BIN/initdb" -D "$DIR" -A trust -U "$USER_NAME" >"$DIR.initdb.log" 2>&1 || {
    cat "$DIR.initdb.log" >&2
    exit 1
  }
}

start() {
  need_binaries
  init
  if running; then
    echo "PostgreSQL is already running: $(url)"
    return
  fi
  # fsync off: the data is thrown away, and tests commit often on a busy machine.
  as_server_user "$BIN/pg_ctl" -D "$DIR" -l "$DIR/log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || {
    echo "scripts/postgres.sh: PostgreSQL did not start; the end of $DIR/log:" >&2
    tail -n 20 "$DIR/log" >&2 || true
    exit 1
  }
  echo "PostgreSQL is up: $(url)"
}

stop() {
  need_binaries
  if [ -f "$DIR/PG_VERSION" ] && running; then
    as_server_user "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null
  fi
}

url() { echo "postgresql+psycopg://$USER_NAME@127.0.0.1:$PORT/postgres"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
