# shellcheck shell=bash
# Throwaway PostgreSQL 15 for scripts (demo, benchmarks), as INFRA.md
# describes: initdb as the postgres user (as root) or as the user running it
# (otherwise), a private socket folder, a free loopback port. Source it,
# then: pg_start DIR; ...; pg_stop DIR.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# pg_as CMD...: runs a server command as the postgres user when root (the
# server refuses to run as root), as this user otherwise.
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_own DIR: gives DIR to the user the server runs as.
pg_own() {
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$1"; fi
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pg_start DIR: initialises DIR/data and starts the server; sets PG_PORT and
# PG_URL (postgres superuser over TCP, password "postgres").
pg_start() {
  local dir=$1
  mkdir -p "$dir"
  pg_own "$dir"
  PG_PORT=$(pg_free_port)
  pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >/dev/null
  pg_as "$PG_BIN/pg_ctl" -w -D "$dir/data" -l "$dir/server.log" \
    -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  psql -q -h "$dir" -p "$PG_PORT" -U postgres -d postgres -c "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null
  PG_URL="postgres://postgres:postgres@127.0.0.1:$PG_PORT"
  export PG_PORT PG_URL
}

pg_stop() {
  local dir=$1
  [ -d "$dir/data" ] && pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}
