#!/usr/bin/env bash
# tf_db (asynchronous pool) and tf_migrate against a throwaway PostgreSQL
# that the probe stops, restarts and freezes while its event loop runs.
#
# Needs no TriForce server: it builds tests/unit/db_probe.c with the runtime
# modules it tests (SAN=1: with ASan+UBSan, as tests/run.sh's second pass
# sets it) and runs it against its own cluster in a temporary directory, so
# the suite's shared database is never touched. Standalone:
#   tests/integration/35_db_pool.sh          (or SAN=1 tests/integration/35_db_pool.sh)
# Prints TAP; exits non-zero when something failed.
set -u
ROOT=${TF_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT"

if [ "${SAN:-0}" = 1 ]; then
  OUT=build-asan/unit/db_probe
  OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  OUT=build/unit/db_probe
  OPT="-O2"
fi
SRC="tests/unit/db_probe.c runtime/tf_db.c runtime/tf_migrate.c runtime/tf_log.c runtime/tf_utf8.c"
mkdir -p "$(dirname "$OUT")"
# shellcheck disable=SC2086
if ! cc -std=gnu11 -g $OPT -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
    -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Iruntime $(pkg-config --cflags libh2o-evloop libpq) \
    -o "$OUT" $SRC $(pkg-config --libs libh2o-evloop libpq) -lssl -lcrypto -lz -lpthread 2>"$OUT.log"; then
  echo "not ok 1 - db_probe builds"
  sed 's/^/#   /' "$OUT.log" | head -40
  exit 1
fi

PGDIR=$(mktemp -d /tmp/tf-dbpool.XXXXXX)
cleanup() {
  # The probe may have left the cluster frozen (SIGSTOP) if it crashed.
  if [ -f "$PGDIR/data/postmaster.pid" ]; then
    pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
    kill -CONT "$pm" $(ps -o pid= --ppid "$pm" 2>/dev/null) 2>/dev/null || true
  fi
  scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1
  rm -rf "$PGDIR"
}
trap cleanup EXIT

if ! scripts/pg.sh start "$PGDIR" >/dev/null 2>"$PGDIR.err"; then
  echo "not ok 1 - a throwaway PostgreSQL starts in $PGDIR"
  sed 's/^/#   /' "$PGDIR.err"
  rm -f "$PGDIR.err"
  exit 1
fi
rm -f "$PGDIR.err"

"$OUT" "$ROOT/scripts/pg.sh" "$PGDIR" "$ROOT/runtime/db/migrations"
