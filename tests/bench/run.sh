#!/usr/bin/env bash
# tests/bench/run.sh - h2load figures for GET /health, as `make bench` runs it.
#
# Acceptance: TriForce's /health reaches at least 50% of the requests/s of a
# minimal h2o server (tests/bench/minimal_h2o.c) on the same machine.
#
# Both servers get the same number of event-loop threads and the same h2load
# runs, one after the other, loopback only:
#   HTTP/1.1  h2load --h1 -c 64 -t 2                    (one request in flight per connection)
#   h2c       h2load      -c 64 -t 2 -m 10              (prior knowledge, 10 streams per connection)
# each for a fixed duration after a warm-up (-D / --warm-up-time), so every
# run takes the same wall time whatever the rate.
#
# Latency: h2load itself prints only min/max/mean/sd ("time for request"), no
# percentiles, so every run also writes h2load's --log-file (one line per
# request: start, status, microseconds until the end of the response) and
# mean/p50/p99/max are computed from that. Logging costs the client a little;
# both servers pay the same.
#
# On a 2-core machine the client and the server share the cores: absolute
# numbers are lower than on separate machines; the ratio is what counts.
#
# Environment (defaults in brackets):
#   BENCH_THREADS [nproc]   server event-loop threads, both servers
#   BENCH_CLIENTS [64]      h2load -c
#   BENCH_CLIENT_THREADS [2] h2load -t
#   BENCH_STREAMS [10]      h2load -m for h2c
#   BENCH_DURATION [10]     seconds measured per run (h2load -D)
#   BENCH_WARMUP [2]        seconds of warm-up per run (h2load --warm-up-time)
#   BENCH_MIN_PORT [19100]  port of the minimal h2o server
#   BENCH_TF_PORT [19200]   port of TriForce
#   BENCH_TF_BIN [build/triforce]  the TriForce binary
#   BENCH_ONLY              "minimal" or "triforce" to run one side only
#
# Exit status: 0 when both servers were measured and every ratio is >= 0.50;
# 1 when a ratio is below, a run failed, or TriForce was skipped (so a
# minimal-only run is never mistaken for a full one).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

THREADS=${BENCH_THREADS:-$(nproc)}
CLIENTS=${BENCH_CLIENTS:-64}
CLIENT_THREADS=${BENCH_CLIENT_THREADS:-2}
STREAMS=${BENCH_STREAMS:-10}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
MIN_PORT=${BENCH_MIN_PORT:-19100}
TF_PORT=${BENCH_TF_PORT:-19200}
ONLY=${BENCH_ONLY:-}
MIN_RATIO=0.50

TF_BIN=${BENCH_TF_BIN:-$ROOT/build/triforce}
MIN_BIN=$ROOT/build/bench/minimal_h2o

TMP=$(mktemp -d /tmp/tf-bench.XXXXXX)
PG_DIR=$TMP/pg
PG_STARTED=0
SERVER_PID=
CLIENT_PID=
RESULTS=()      # "server proto rps mean p50 p99 max bad"
STATUS=0

log() { printf '# %s\n' "$*"; }

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  # TriForce drains for up to 10 s on SIGTERM; nothing is in flight here.
  for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

# shellcheck disable=SC2317  # called from the trap
cleanup() {
  if [ -n "$CLIENT_PID" ]; then kill -TERM "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; fi
  stop_server
  if [ "$PG_STARTED" = 1 ]; then scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# With SO_REUSEPORT a leftover server on the port would silently share it, so
# refuse to start on a port something already listens on (bench_ports_free).
. tests/bench/lib.sh

# wait_ready PORT PID : any HTTP status on /health means the server is up
# (TriForce answers 503 while its database is not ready).
wait_ready() {
  local code
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$1/health")
    [ "$code" != 000 ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# bench SERVER PROTO PORT : one h2load run; appends a line to RESULTS.
bench() {
  local server=$1 proto=$2 port=$3 out lat args rps bad
  local url="http://127.0.0.1:$port/health" logf="$TMP/$server-$proto.log"
  case $proto in
    h1)  args=(--h1 -c "$CLIENTS" -t "$CLIENT_THREADS") ;;
    h2c) args=(-c "$CLIENTS" -t "$CLIENT_THREADS" -m "$STREAMS") ;;
  esac
  args+=(-D "$DURATION" --warm-up-time "$WARMUP" --log-file="$logf")
  log "$server $proto: h2load ${args[*]%--log-file=*} $url"
  rm -f "$logf"
  # In the background and waited for, so a SIGTERM to this script is handled
  # at once instead of after the run (bash defers traps during a foreground
  # command); cleanup() kills it.
  timeout $((DURATION + WARMUP + 30)) h2load "${args[@]}" "$url" >"$TMP/h2load.out" 2>&1 &
  CLIENT_PID=$!
  wait "$CLIENT_PID"
  local rc=$?
  CLIENT_PID=
  out=$(cat "$TMP/h2load.out")
  rps=$(awk '/^finished in/ { gsub(/,/, "", $4); print $4 }' <<<"$out")
  # Every request that did not end in a 2xx is bad (failed, errored, timed
  # out, or another status): total minus 2xx.
  bad=$(awk '/^requests:/ { t = $2 } /^status codes:/ { ok = $3 } END { print t - ok }' <<<"$out")
  if [ $rc -ne 0 ] || [ -z "$rps" ] || [ ! -s "$logf" ]; then
    log "$server $proto: h2load failed (exit $rc)"; printf '%s\n' "$out" | sed 's/^/#   /'
    RESULTS+=("$server $proto - - - - - -"); STATUS=1; return 1
  fi
  [ "${bad:-0}" -gt 0 ] && { log "$server $proto: $bad requests failed or were not 2xx"; STATUS=1; }
  # mean p50 p99 max in microseconds, from the per-request log (column 3),
  # nearest-rank percentiles. Millions of lines: stream, keep no array.
  local n
  n=$(wc -l <"$logf")
  lat=$(cut -f3 "$logf" | LC_ALL=C sort -n | awk -v n="$n" '
        function rank(q,  r) { r = int(n * q); if (r < n * q) r++; return r < 1 ? 1 : r }
        BEGIN { r50 = rank(0.50); r99 = rank(0.99) }
        { s += $1 } NR == r50 { p50 = $1 } NR == r99 { p99 = $1 } { max = $1 }
        END { if (NR == 0) print "- - - -"; else printf "%d %d %d %d", s / NR, p50, p99, max }')
  rm -f "$logf"
  RESULTS+=("$server $proto $rps $lat ${bad:-0}")
  # Also keep h2load's own summary line for the record.
  log "$server $proto: $(grep -E '^time for request' <<<"$out" | tr -s ' ')"
}

build_minimal() {
  mkdir -p build/bench
  # shellcheck disable=SC2046
  cc -O2 -std=gnu11 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
     -Wstrict-prototypes $(pkg-config --cflags libh2o-evloop openssl) \
     -o "$MIN_BIN" tests/bench/minimal_h2o.c -lh2o-evloop -lssl -lcrypto -lz -lpthread
}

run_minimal() {
  bench_ports_free "$MIN_PORT" || return 1
  "$MIN_BIN" --port "$MIN_PORT" --threads "$THREADS" 2>"$TMP/minimal.stderr" &
  SERVER_PID=$!
  if ! wait_ready "$MIN_PORT" "$SERVER_PID"; then
    log "minimal h2o did not start"; sed 's/^/#   /' "$TMP/minimal.stderr"; stop_server; return 1
  fi
  bench minimal h1 "$MIN_PORT"
  bench minimal h2c "$MIN_PORT"
  stop_server
}

# start_triforce PORT : PostgreSQL in $PG_DIR, then build/triforce on PORT
# with a conf made here. Adjust the heredoc when the conf format changes.
start_triforce() {
  local port=$1 conf=$TMP/triforce.yaml
  PG_STARTED=1 # before start: a half-started cluster must be stopped too
  scripts/pg.sh start "$PG_DIR" >"$TMP/pg.out" 2>&1 || { log "scripts/pg.sh start failed"; sed 's/^/#   /' "$TMP/pg.out"; return 1; }
  cat >"$conf" <<CONF
node:
  name: bench
listen:
  - address: 127.0.0.1
    port: $port
threads: $THREADS
database:
  url: "\${TRIFORCE_DATABASE_URL}"
auth:
  jwt_secret: "$(head -c 48 /dev/urandom | base64 -w0)"
log:
  # The default level: every request writes its JSON access-log line.
  level: ${BENCH_TF_LOG_LEVEL:-info}
  file: $TMP/triforce.log
CONF
  TRIFORCE_DATABASE_URL=$(scripts/pg.sh url "$PG_DIR") "$TF_BIN" --conf "$conf" 2>"$TMP/triforce.stderr" &
  SERVER_PID=$!
  if ! wait_ready "$port" "$SERVER_PID"; then
    log "TriForce did not start"; tail -20 "$TMP/triforce.stderr" | sed 's/^/#   /'; stop_server; return 1
  fi
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/health")
  [ "$code" = 200 ] || log "TriForce /health answers $code (database not ready?); measuring anyway"
}

run_triforce() {
  if [ ! -x "$TF_BIN" ]; then log "TriForce skipped: $TF_BIN does not exist (run make build)"; return 2; fi
  if [ ! -x scripts/pg.sh ]; then log "TriForce skipped: scripts/pg.sh does not exist"; return 2; fi
  bench_ports_free "$TF_PORT" || return 1
  start_triforce "$TF_PORT" || return 1
  bench triforce h1 "$TF_PORT"
  bench triforce h2c "$TF_PORT"
  stop_server
}

for tool in h2load curl cc pkg-config; do
  command -v "$tool" >/dev/null || { log "$tool is missing (make deps)"; exit 1; }
done

log "GET /health, $THREADS server threads, h2load -c $CLIENTS -t $CLIENT_THREADS (h2c -m $STREAMS), ${WARMUP}s warm-up + ${DURATION}s per run, $(nproc) CPUs"

TF_SKIPPED=0
if [ "$ONLY" != triforce ]; then
  build_minimal || { log "cannot build minimal_h2o"; exit 1; }
  run_minimal || STATUS=1
fi
if [ "$ONLY" != minimal ]; then
  run_triforce
  case $? in 0) ;; 2) TF_SKIPPED=1; STATUS=1 ;; *) STATUS=1 ;; esac
else
  TF_SKIPPED=1; STATUS=1
fi

# --- report ---------------------------------------------------------------

ms() { [ "$1" = - ] && { echo -; return; }; awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }

echo
printf '%-9s %-5s %12s %10s %10s %10s %10s %6s\n' server proto 'req/s' 'mean ms' 'p50 ms' 'p99 ms' 'max ms' 'bad'
for r in "${RESULTS[@]}"; do
  read -r s p rps mean p50 p99 max bad <<<"$r"
  printf '%-9s %-5s %12s %10s %10s %10s %10s %6s\n' "$s" "$p" "$rps" "$(ms "$mean")" "$(ms "$p50")" \
    "$(ms "$p99")" "$(ms "$max")" "$bad"
done
echo

rps_of() { for r in "${RESULTS[@]}"; do read -r s p rps _ <<<"$r"; [ "$s $p" = "$1 $2" ] && echo "$rps"; done; }
for p in h1 h2c; do
  m=$(rps_of minimal $p); t=$(rps_of triforce $p)
  if [ -z "$m" ] || [ "$m" = - ] || [ -z "$t" ] || [ "$t" = - ]; then
    echo "ratio triforce/minimal $p: n/a"
    continue
  fi
  verdict=$(awk -v t="$t" -v m="$m" -v min="$MIN_RATIO" 'BEGIN { r = t / m; printf "%.2f %s", r, (r >= min ? "ok" : "BELOW") }')
  echo "ratio triforce/minimal $p: ${verdict% *} (${verdict#* }, bar $MIN_RATIO)"
  [ "${verdict#* }" = ok ] || STATUS=1
done
[ "$TF_SKIPPED" = 1 ] && echo "TriForce was skipped: this is NOT a full bench run"
exit $STATUS
