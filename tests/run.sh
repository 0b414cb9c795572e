#!/usr/bin/env bash
# tests/run.sh - the whole suite, as `make test` runs it.
#
# Pass 1 uses build/triforce, pass 2 the ASan+UBSan build in build-asan/.
# Each pass: unit tests, then a throwaway PostgreSQL under var/test-pg and a
# server on ports of its own (so `make run` can keep serving), then every
# tests/integration/*.sh against it. Prints "N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TF_ROOT=$ROOT

PASSED=0
FAILED=0
ONLY=${TF_ONLY:-}          # run only integration files matching this pattern
# TF_VERBOSE=1 also prints the passing checks (with the figures some of them carry).
PASSES=${TF_PASSES:-"plain asan"}

tally() { # tally LABEL OUTPUT RC [SECONDS]
  local p f
  p=$(grep -c '^ok ' <<<"$2")
  f=$(grep -c '^not ok ' <<<"$2")
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $1 exited with status $3"; fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  printf '# %s: %d passed, %d failed%s\n' "$1" "$p" "$f" "${4:+ (${4} s)}"
}

run_capture() { # run_capture LABEL CMD... : streams output, then tallies it
  local label=$1 out rc t0=$SECONDS; shift
  out=$("$@" 2>&1); rc=$?
  if [ -n "${TF_VERBOSE:-}" ]; then printf '%s\n' "$out" | grep -E '^(ok|not ok|#)'
  else printf '%s\n' "$out" | grep -E '^(ok|not ok|#)' | grep -vE '^ok ' || true; fi
  tally "$label" "$out" "$rc" $((SECONDS - t0))
}

export TF_PG_DIR=${TF_PG_DIR:-$ROOT/var/test-pg}   # several runs at once: give each its own (and TF_PLAIN/TF_TLS)
TRIFORCE_JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export TRIFORCE_JWT_SECRET
export TF_PLAIN=${TF_PLAIN:-19080}
export TF_TLS=${TF_TLS:-19443}

pg_up() { scripts/pg.sh start "$TF_PG_DIR" >/dev/null; }

write_conf() { # write_conf FILE NODE_NAME
  cat > "$1" <<CONF
node:
  name: $2
listen:
  - address: 127.0.0.1
    port: $TF_PLAIN
  - address: 127.0.0.1
    port: $TF_TLS
    tls: true
tls:
  cert_file: $TF_TMP/tls/cert.pem
  key_file: $TF_TMP/tls/key.pem
  create_self_signed: true
threads: 2
database:
  url: "\${TRIFORCE_DATABASE_URL}"
  connections_per_thread: 2
  migrations: $TF_ROOT/runtime/db/migrations
  startup_wait_seconds: 10
limits:
  max_body_bytes: 65536
log:
  level: info
  file: $TF_TMP/triforce.log
auth:
  jwt_secret: "\${TRIFORCE_JWT_SECRET}"
  issuer: triforce-test
  admins: [root@example.com]
  login_max_failures: 5
CONF
}
export -f write_conf

start_server() {
  "$TF_BIN" --conf "$TF_CONF" 2>>"$TF_TMP/stderr.log" &
  TF_PID=$!
  export TF_PID
  # Ready when /health says 200 several times in a row: every loop thread
  # has its database connections (a thread still connecting answers 503).
  local good=0
  for _ in $(seq 1 150); do
    if [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$TF_PLAIN/health")" = 200 ]; then
      good=$((good + 1)); [ $good -ge 6 ] && return 0
      continue
    fi
    good=0
    kill -0 "$TF_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "not ok - server did not start"; tail -20 "$TF_TMP/stderr.log" "$TF_TMP/triforce.log" 2>/dev/null
  return 1
}

stop_server() {
  [ -n "${TF_PID:-}" ] || return 0
  kill -TERM "$TF_PID" 2>/dev/null
  wait "$TF_PID" 2>/dev/null
  local rc=$?
  TF_PID=
  return $rc
}

cleanup() {
  stop_server >/dev/null 2>&1
  [ -n "${TF_TMP:-}" ] && rm -rf "$TF_TMP"
}
trap cleanup EXIT

for pass in $PASSES; do
  echo "# ===== pass: $pass"
  if [ "$pass" = asan ]; then
    export TF_BIN=$ROOT/build-asan/triforce SAN=1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
    export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  else
    export TF_BIN=$ROOT/build/triforce SAN=0
  fi
  export TF_PASS=$pass

  if [ -z "$ONLY" ]; then
    for u in tests/unit/run.sh; do
      [ -x "$u" ] && run_capture "unit ($pass)" "$u"
    done
    if [ "$pass" = plain ]; then
      run_capture "generated up to date" bash -c 'make -s check-generated && echo "ok 1 - generated/ matches spec/" || echo "not ok 1 - generated/ is stale"'
    fi
  fi

  pg_up || { echo "not ok - PostgreSQL did not start"; FAILED=$((FAILED + 1)); continue; }
  export TRIFORCE_DATABASE_URL
  TRIFORCE_DATABASE_URL=$(scripts/pg.sh url "$TF_PG_DIR")
  export TF_TMP
  TF_TMP=$(mktemp -d /tmp/tf-test.XXXXXX)
  export TF_CONF=$TF_TMP/triforce.yaml TF_LOG=$TF_TMP/triforce.log
  write_conf "$TF_CONF" test-node
  if start_server; then
    for t in tests/integration/*.sh; do
      [ -n "$ONLY" ] && [[ "$t" != *$ONLY* ]] && continue
      # A test may restart things; make sure the server still runs first.
      if ! kill -0 "$TF_PID" 2>/dev/null; then start_server || break; fi
      run_capture "$(basename "$t") ($pass)" bash "$t"
    done
    if ! stop_server; then
      echo "not ok - $pass: triforce exited non-zero on SIGTERM (sanitizer report?)"; FAILED=$((FAILED + 1))
      tail -30 "$TF_TMP/stderr.log"
    fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TF_TMP/stderr.log" 2>/dev/null; then
      echo "not ok - $pass: sanitizer report"; grep -A20 -E 'ERROR: |runtime error:' "$TF_TMP/stderr.log" | head -60
      FAILED=$((FAILED + 1))
    fi
  else
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$TF_TMP"; TF_TMP=
done

printf '# the suite took %d min %d s (budget: 10 min)\n' $((SECONDS / 60)) $((SECONDS % 60))
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
