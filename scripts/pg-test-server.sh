# Source this: starts (or reuses) a throw-away PostgreSQL server on 127.0.0.1 for tests and
# benchmarks and exports QIANBAO_TEST_PG_URL. Without PostgreSQL binaries it says so and exports
# nothing, and the PostgreSQL tests skip (CI installs the binaries, so they run there).
# PostgreSQL refuses to run as root: as root we run it as the system user "postgres".
# The data directory is disposable: when no server is running on it (a reboot, a copied machine
# image with a stale postmaster.pid), it is wiped and created again rather than recovered, so a
# start never waits on crash recovery of old test data.
qb_pg_start() {
  local port=${QIANBAO_PG_PORT:-55432} data=${QIANBAO_PG_DATA:-/tmp/qianbao-pg}
  if [ -n "${QIANBAO_TEST_PG_URL:-}" ]; then return 0; fi
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ]; then
    echo "pg-test-server: no PostgreSQL binaries; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    run=(runuser -u postgres --)
  fi
  if ! "${run[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    local pid
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
    # Stop a leftover server of ours, but only if that pid really is a postgres process (in a
    # copied machine image the pid file's number may belong to anything, even this shell).
    if [ -n "$pid" ] && [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = postgres ]; then
      "${run[@]}" "$bin/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1
    fi
    rm -rf "$data" && mkdir -p "$data" && chmod 700 "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    "${run[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null || return 1
    "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 120 -o \
      "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c max_connections=400 -c fsync=on -c synchronous_commit=on" \
      start >/dev/null || { echo "pg-test-server: start failed, see $data/server.log" >&2; return 1; }
  fi
  export QIANBAO_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "pg-test-server: PostgreSQL at $QIANBAO_TEST_PG_URL" >&2
}
qb_pg_start
