#!/usr/bin/env bash
# scripts/pg.sh - a private PostgreSQL cluster under one directory.
#
#   scripts/pg.sh start  DIR   create the cluster if DIR has none, then start it
#   scripts/pg.sh stop   DIR   stop it (fast shutdown); fine when not running
#   scripts/pg.sh status DIR   pg_ctl status; exit 0 when running, 3 when not
#   scripts/pg.sh url    DIR   print the libpq conninfo for the triforce database
#   scripts/pg.sh psql   DIR [psql args...]   psql as triforce on that database
#
# Layout: DIR/data (PGDATA), DIR/sock (unix socket), DIR/log (server log).
# The server listens on its unix socket only (listen_addresses = ''), so it
# never clashes with Debian's own "main" cluster on 127.0.0.1:5432 and tests
# never open a network port. Local connections use trust authentication;
# the socket directory is the access control.
#
# As root: initdb and postgres refuse to run as root, so they run as the
# `postgres` system user (created by Debian's postgresql package) and DIR
# belongs to it. That user must be able to traverse every ancestor of DIR;
# when one is not traversable (typically /root, mode 0700), this script
# grants search permission on it, with an ACL just for postgres when setfacl
# exists, otherwise with `chmod o+x` (search only: nobody gains the right to
# list or read that directory). It says so on stderr when it does.
#
# As another user: everything runs as that user; DIR must be writable.
#
# Overrides: PG_BINDIR (directory with initdb/pg_ctl), PG_PORT (default 5432;
# only names the socket file), PG_RUN_AS (system user to run the server as
# when root; default postgres).
set -euo pipefail

usage() {
  echo "usage: $0 {start|stop|status|url|psql} DIR [psql args...]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
CMD=$1
shift
# Absolute, even when DIR does not exist yet; no symlink resolution needed.
DIR=$(realpath -m -- "$1")
shift

PORT=${PG_PORT:-5432}
DATA=$DIR/data
LOG=$DIR/log
SUPERUSER=postgres  # the bootstrap superuser's name, the same whoever runs initdb
APP_ROLE=triforce
APP_DB=triforce

# The socket path (DIR/sock/.s.PGSQL.PORT) must fit in sun_path (108 bytes
# with its NUL). For a deep DIR use a short directory in /tmp named after a
# hash of DIR, so `url` finds the same one again without any state.
sock_dir() {
  local s=$DIR/sock
  if [ $((${#s} + 15 + ${#PORT})) -gt 107 ]; then
    s=/tmp/tf-pg-$(printf '%s' "$DIR" | md5sum | cut -c1-16)
  fi
  printf '%s\n' "$s"
}
SOCK=$(sock_dir)

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    printf '%s\n' "$PG_BINDIR"
    return
  fi
  local d
  # Debian keeps the server binaries out of PATH, one directory per major version.
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    printf '%s\n' "$d"
    return
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
      printf '%s\n' "$d"
      return
    fi
  fi
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)" >&2
  exit 1
}

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
RUN_AS=${PG_RUN_AS:-postgres}

# as_owner CMD... : runs CMD as the user that owns the cluster. `cd /` first
# because the caller's directory (say /root) may not be readable by that user.
as_owner() {
  if [ $IS_ROOT -eq 1 ]; then
    (cd / && runuser -u "$RUN_AS" -- "$@")
  else
    "$@"
  fi
}

# Grants the server user search (x) permission on every ancestor of DIR that
# it cannot traverse. Only called as root.
ensure_traversable() {
  local path=$1 d="" part
  local IFS=/
  for part in $path; do
    [ -z "$part" ] && continue
    d="$d/$part"
    [ -d "$d" ] || break
    if ! runuser -u "$RUN_AS" -- test -x "$d" 2>/dev/null; then
      if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$RUN_AS:x" "$d" 2>/dev/null; then
        echo "pg.sh: granted $RUN_AS search permission on $d (ACL u:$RUN_AS:x) so it can reach $DIR" >&2
      else
        chmod o+x "$d"
        echo "pg.sh: granted search permission on $d (chmod o+x) so $RUN_AS can reach $DIR" >&2
      fi
    fi
  done
}

prepare_dirs() {
  mkdir -p "$DIR"
  if [ $IS_ROOT -eq 1 ]; then
    getent passwd "$RUN_AS" >/dev/null || {
      echo "pg.sh: running as root needs the '$RUN_AS' system user (apt-get install postgresql creates it)" >&2
      exit 1
    }
    chown "$RUN_AS": "$DIR"
    ensure_traversable "$DIR"
    ensure_traversable "$(dirname "$SOCK")"
    mkdir -p "$SOCK"
    chown "$RUN_AS": "$SOCK"
  else
    mkdir -p "$SOCK"
  fi
  chmod 0755 "$SOCK"
}

# One start/stop at a time per DIR (make run and make test may race).
# Released when this script exits.
lock() {
  exec 9>"$DIR/.pg.sh.lock"
  flock 9
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] || return 1
  as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# psql as the bootstrap superuser over the socket.
su_psql() {
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U "$SUPERUSER" -d postgres "$@"
}

create_cluster() {
  echo "pg.sh: creating a cluster in $DATA" >&2
  # Debian's initdb wrapper is not used: we call the version's own binary.
  as_owner "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=reject >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
  # postgresql.conf ends with our settings, so they win over the defaults.
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<CONF

# --- added by scripts/pg.sh ---
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0777
logging_collector = off
CONF
}

ensure_app_role() {
  su_psql <<SQL
SELECT 'CREATE ROLE $APP_ROLE LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE')\gexec
SELECT 'CREATE DATABASE $APP_DB OWNER $APP_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$APP_DB')\gexec
SQL
}

cmd_start() {
  prepare_dirs
  lock
  [ -f "$DATA/PG_VERSION" ] || create_cluster
  if ! is_running; then
    # 9>&-: the server must not inherit the lock, or it would hold it forever.
    as_owner "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -l "$LOG" -s 9>&- || {
      echo "pg.sh: PostgreSQL did not start; the end of $LOG:" >&2
      tail -n 20 "$LOG" >&2 || true
      exit 1
    }
  fi
  ensure_app_role
}

cmd_stop() {
  [ -f "$DATA/PG_VERSION" ] || return 0
  lock
  is_running || return 0
  as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 -s
}

cmd_status() {
  if [ ! -f "$DATA/PG_VERSION" ]; then
    echo "pg.sh: no cluster in $DIR"
    return 3
  fi
  local rc=0
  as_owner "$BIN/pg_ctl" status -D "$DATA" || rc=$?
  return $rc
}

cmd_url() {
  local h=$SOCK
  # conninfo values with spaces or quotes must be single-quoted, \-escaped.
  if [[ "$h" =~ [[:space:]\'\\] ]]; then
    h=${h//\\/\\\\}
    h="'${h//\'/\\\'}'"
  fi
  printf 'host=%s port=%s dbname=%s user=%s\n' "$h" "$PORT" "$APP_DB" "$APP_ROLE"
}

case "$CMD" in
  url) cmd_url ;;
  start) BIN=$(find_bindir); cmd_start ;;
  stop) BIN=$(find_bindir); cmd_stop ;;
  status) BIN=$(find_bindir); cmd_status ;;
  psql)
    PSQL=$(command -v psql || true)
    [ -n "$PSQL" ] || PSQL=$(find_bindir)/psql
    exec "$PSQL" -X "$(cmd_url)" "$@"
    ;;
  *) usage ;;
esac
