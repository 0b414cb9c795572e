#!/usr/bin/env bash
# tests/bench/mcp.sh - MCP over HTTP/2 (h2c): tools/list and a cheap
# tools/call (whoami) through /v1/mcp with a session, as `make bench` runs it.
# Prints requests/s and p50/p99 per method at concurrency 64 (h2load -m 10).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
TF_PORT=${BENCH_TF_PORT:-19222}
THREADS=${BENCH_THREADS:-$(nproc)}
DURATION=${BENCH_DURATION:-10}
TF_BIN=${BENCH_TF_BIN:-$ROOT/build/triforce}
TMP=$(mktemp -d /tmp/tf-bench-mcp.XXXXXX)
PG_DIR=$TMP/pg
PID=
STATUS=0
log() { printf '# %s\n' "$*"; }
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
. tests/bench/lib.sh
bench_triforce "$TF_PORT" || exit 1
PID=$TF_PID
TOKEN=$(bench_user)
SID=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
  -H "authorization: Bearer $TOKEN" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
  "$B/v1/mcp" | tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}')
[ -n "$SID" ] || { log "no MCP session"; exit 1; }
echo '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' > "$TMP/list.json"
echo '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' > "$TMP/call.json"
printf '%-12s %12s %10s %10s %6s\n' method 'req/s' 'p50 ms' 'p99 ms' 'bad'
for what in list call; do
  out=$(h2load -c 64 -t 2 -m 10 -D "$DURATION" --warm-up-time 2 -d "$TMP/$what.json" --log-file="$TMP/lat" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H "authorization: Bearer $TOKEN" \
    -H "mcp-session-id: $SID" -H 'mcp-protocol-version: 2025-11-25' "$B/v1/mcp" 2>&1)
  rps=$(awk '/^finished in/ { gsub(/,/, "", $4); print $4 }' <<<"$out")
  bad=$(awk '/^requests:/ { print $10 + $12 + $14 }' <<<"$out")
  ok2=$(awk '/^status codes:/ { print $3 }' <<<"$out")
  lat=$(cut -f3 "$TMP/lat" | LC_ALL=C sort -n | awk '{ a[NR] = $1 } END { i = int(NR * 0.5); j = int(NR * 0.99); if (i < 1) i = 1; if (j < 1) j = 1; printf "%.3f %.3f", a[i] / 1000, a[j] / 1000 }')
  read -r p50 p99 <<<"$lat"
  [ "${bad:-1}" = 0 ] && [ "${ok2:-0}" -gt 0 ] || STATUS=1
  printf '%-12s %12s %10s %10s %6s\n' "tools/$what" "${rps:--}" "$p50" "$p99" "${bad:--}"
done
exit $STATUS
