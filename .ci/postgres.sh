#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite (the leaderboard tests read
# MALPYEONG_TEST_POSTGRES_URL).
#
#   .ci/postgres.sh [start]   install the Debian 'postgresql' package if needed, start a fresh
#                             server, print its SQLAlchemy URL as the only line on stdout
#   .ci/postgres.sh stop      stop every server this script started and delete its files
#   .ci/postgres.sh status    list the servers this script started (on stderr)
#   . .ci/postgres.sh         (sourced) start one and export MALPYEONG_TEST_POSTGRES_URL
#
# Each start makes a new, independent instance under $MALPYEONG_PG_ROOT (default /tmp/malpyeong-pg)
# on the first free port from $MALPYEONG_PG_PORT (default 55432). Everything but the URL goes to
# stderr. Running as root (CI), the server runs as the 'postgres' system user; otherwise as you.
# The server is tuned for tests, not for keeping data: fsync and synchronous_commit are off.

# --- sourced: run this file in a child bash (so set -e / exit cannot hit the caller's shell) ---
if [ -n "${BASH_VERSION:-}" ] && [ "${BASH_SOURCE[0]}" != "$0" ]; then
  if [ "${1:-start}" = start ]; then
    if MALPYEONG_TEST_POSTGRES_URL="$(bash "${BASH_SOURCE[0]}" start)"; then
      export MALPYEONG_TEST_POSTGRES_URL
      echo "MALPYEONG_TEST_POSTGRES_URL=$MALPYEONG_TEST_POSTGRES_URL" >&2
    else
      unset MALPYEONG_TEST_POSTGRES_URL
      return 1
    fi
  else
    bash "${BASH_SOURCE[0]}" "$@"
  fi
  return
fi

set -euo pipefail
exec 3>&1 1>&2              # fd 3 is the real stdout (for the URL alone); everything else to stderr

PG_USER=malpyeong
PG_PASSWORD=malpyeong-secret-pw
PG_DATABASE=malpyeong_test
ROOT="${MALPYEONG_PG_ROOT:-/tmp/malpyeong-pg}"
FIRST_PORT="${MALPYEONG_PG_PORT:-55432}"
PORT_TRIES=50

say() { echo "postgres.sh: $*" >&2; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }

# Run a command as the server's owner: 'postgres' when we are root (initdb refuses root), else us.
if [ "$(id -u)" -eq 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

find_bindir() {
  # The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl (sort -V: 9 < 10), else PATH's.
  local dir best
  best="$(for dir in /usr/lib/postgresql/*/bin; do
            [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
          done | sort -V | tail -n 1)"
  if [ -z "$best" ] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    best="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
  fi
  printf '%s' "$best"
}

install_postgres() {
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL (initdb, pg_ctl) is not installed and we are not root to apt-get it; install the 'postgresql' package"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get to install it"
  say "installing the Debian 'postgresql' package (apt-get) ..."
  local log
  log="$(mktemp)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "apt-get install postgresql failed (output above)"
  fi
  rm -f "$log"
}

port_in_use() {  # something accepts TCP connections on 127.0.0.1:$1
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_start() {
  local bindir
  bindir="$(find_bindir)"
  if [ -z "$bindir" ]; then
    install_postgres
    bindir="$(find_bindir)"
    [ -n "$bindir" ] || die "installed 'postgresql' but found no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' system user to run the server as (the Debian package creates it)"
    command -v runuser >/dev/null 2>&1 || die "runuser is missing (util-linux)"
  fi
  say "using $("$bindir/pg_ctl" --version) from $bindir"

  mkdir -p "$ROOT"
  chmod 1777 "$ROOT" 2>/dev/null || true      # shared, like /tmp: any user may add an instance
  local inst
  inst="$(mktemp -d "$ROOT/pg.XXXXXX")"
  chmod 700 "$inst"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$inst"
    as_owner test -w "$inst" || { rm -rf "$inst"; die "user postgres cannot write $inst (is a parent of $ROOT closed to it?)"; }
  fi
  # Anything failing from here on removes the half-made instance.
  trap 'status=$?; if [ $status -ne 0 ]; then
          as_owner "$bindir/pg_ctl" -D "$inst/data" -m immediate stop >/dev/null 2>&1 || true
          rm -rf "$inst"; say "failed; removed $inst"; fi' EXIT

  # The password file only serves initdb (superuser 'postgres'); the test role is made below.
  printf '%s\n' "$PG_PASSWORD" >"$inst/superuser.pw"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$inst/superuser.pw"
  chmod 600 "$inst/superuser.pw"
  if ! as_owner "$bindir/initdb" -D "$inst/data" -U postgres --pwfile="$inst/superuser.pw" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$inst/initdb.log" 2>&1; then
    # older initdb or a machine without C.UTF-8: try the plain C locale
    rm -rf "$inst/data"
    as_owner "$bindir/initdb" -D "$inst/data" -U postgres --pwfile="$inst/superuser.pw" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$inst/initdb.log" 2>&1 \
      || { tail -n 30 "$inst/initdb.log" >&2; die "initdb failed (log above)"; }
  fi
  rm -f "$inst/superuser.pw"

  # Loopback only; the socket lives in the private instance directory; test-speed durability.
  cat >>"$inst/data/postgresql.conf" <<EOF

# --- added by .ci/postgres.sh: throwaway test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$inst'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF

  # The first free port from FIRST_PORT; if we lose a race for it, the start fails and we go on.
  local port="$FIRST_PORT" last=$((FIRST_PORT + PORT_TRIES - 1)) started=""
  while [ "$port" -le "$last" ]; do
    if port_in_use "$port"; then
      port=$((port + 1)); continue
    fi
    if as_owner "$bindir/pg_ctl" -D "$inst/data" -l "$inst/server.log" -w -t 60 \
         -o "-p $port" start >/dev/null 2>&1 3>&-; then   # 3>&-: the server must not hold our stdout
      started=1; break
    fi
    if grep -qiE 'could not bind|address already in use|could not create any TCP/IP sockets' "$inst/server.log" 2>/dev/null; then
      say "port $port was taken meanwhile; trying the next"
      : >"$inst/server.log"
      port=$((port + 1)); continue
    fi
    tail -n 30 "$inst/server.log" >&2 || true
    die "pg_ctl start failed (server log above: $inst/server.log)"
  done
  [ -n "$started" ] || die "no free port in $FIRST_PORT-$last on 127.0.0.1"
  echo "$port" >"$inst/port"

  # The test role (login, password) owning the test database and its public schema.
  local psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$inst" -p "$port" -U postgres)
  as_owner "${psql[@]}" -d postgres >/dev/null <<EOF || die "could not create role $PG_USER / database $PG_DATABASE"
CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD';
CREATE DATABASE $PG_DATABASE OWNER $PG_USER ENCODING 'UTF8' TEMPLATE template0;
EOF
  as_owner "${psql[@]}" -d "$PG_DATABASE" -c "ALTER SCHEMA public OWNER TO $PG_USER" >/dev/null \
    || die "could not hand schema public to $PG_USER"

  # Prove the URL works over TCP with the password before handing it out.
  PGPASSWORD="$PG_PASSWORD" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -At \
      "host=127.0.0.1 port=$port user=$PG_USER dbname=$PG_DATABASE sslmode=disable" -c 'select 1' >/dev/null \
    || die "the server is up but $PG_USER cannot log in over TCP on 127.0.0.1:$port"

  trap - EXIT
  say "PostgreSQL running on 127.0.0.1:$port, files in $inst (stop with: $0 stop)"
  echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DATABASE" >&3
}

instances() {  # the instance directories this script made
  local inst
  for inst in "$ROOT"/pg.*; do
    [ -d "$inst/data" ] && echo "$inst"
  done
  return 0
}

cmd_stop() {
  local bindir inst found="" failed=""
  bindir="$(find_bindir)"
  while IFS= read -r inst; do
    found=1
    if [ -f "$inst/data/postmaster.pid" ]; then
      [ -n "$bindir" ] || die "cannot find pg_ctl to stop $inst"
      if as_owner "$bindir/pg_ctl" -D "$inst/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
        say "stopped the server on port $(cat "$inst/port" 2>/dev/null || echo '?') ($inst)"
      elif ! as_owner "$bindir/pg_ctl" -D "$inst/data" status >/dev/null 2>&1; then
        say "server in $inst was not running"
      else
        say "could not stop the server in $inst"; failed=1; continue
      fi
    fi
    rm -rf "$inst"
  done < <(instances)
  [ -n "$found" ] || say "no servers started by this script under $ROOT"
  [ -z "$failed" ] || die "some servers could not be stopped"
}

cmd_status() {
  local bindir inst found=""
  bindir="$(find_bindir)"
  while IFS= read -r inst; do
    found=1
    if [ -n "$bindir" ] && as_owner "$bindir/pg_ctl" -D "$inst/data" status >/dev/null 2>&1; then
      say "running: 127.0.0.1:$(cat "$inst/port" 2>/dev/null || echo '?') ($inst)"
    else
      say "stopped: $inst"
    fi
  done < <(instances)
  [ -n "$found" ] || say "no servers started by this script under $ROOT"
}

case "${1:-start}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  -h|--help|help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use: start, stop, status)" ;;
esac
