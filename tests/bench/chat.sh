#!/usr/bin/env bash
# tests/bench/chat.sh - the fake provider called directly against the same
# request through TriForce (issue 4, acceptance 6), as `make bench` runs it.
#
# One fake provider (tests/fake, OpenAI wire format, no latency, 16 tokens
# per answer) on BENCH_FAKE_PORT; TriForce routes groq/llama-3.3-70b to it.
# The caller is a user of the unlimited tier, so what is measured is the
# gateway's own path: JWT check (cached), routing, the upstream call through
# libcurl multi, translation, and batched usage recording.
#
# The fake's node has http2: h2c, as TriForce calls real providers over
# HTTP/2 by ALPN: streamed calls, from either client protocol, share
# upstream connections as streams, the way the direct h2c clients share
# theirs. Over HTTP/1.1 the fake (one thread, on the same two CPUs) pays a
# write per SSE event per connection (stream h2c at c=64, 4 streams per
# connection, was 0.20 of direct then, 0.76 with h2c). Whole answers keep
# HTTP/1.1 (tf_chat.c), and so does a stream alone to the node on its server
# thread, as at concurrency 1 (HTTP/2 would cost it ~25 us; tf_curl.h).
#
# For each of non-streamed and streamed, over HTTP/1.1 and h2c:
#   concurrency 1:  ROUNDS rounds of h2load -c 1 -n N1/ROUNDS, direct and
#                   TriForce taking turns -> p50/p99 latency; added = the
#                   median over rounds of (TriForce p50 - direct p50). Taking
#                   turns keeps the VM's drift (tens of us between runs) out
#                   of the difference.
#   concurrency 64: ROUNDS64 rounds of h2load -c 64 -D 4, taking turns the
#                   same way -> requests/s (median of rounds); ratio = the
#                   median over rounds of TriForce / direct. 64 requests in
#                   flight over either protocol (h2load's -m 1: one stream
#                   per connection at a time).
#   For information, not a target: h2c at 4 streams per connection (-m 4,
#   256 requests in flight), where the direct fake gains most from
#   multiplexing (rows "h2c x4").
# Targets: added p50 under 100 us at concurrency 1; at least 25% of direct
# requests/s at concurrency 64.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
FAKE_PORT=${BENCH_FAKE_PORT:-19320}
TF_PORT=${BENCH_TF_PORT:-19220}
THREADS=${BENCH_THREADS:-$(nproc)}
DURATION=${BENCH_DURATION:-4}
ROUNDS64=${BENCH_ROUNDS64:-3}
N1=${BENCH_N1:-5400}
ROUNDS=${BENCH_ROUNDS:-9}
TF_BIN=${BENCH_TF_BIN:-$ROOT/build/triforce}
TMP=$(mktemp -d /tmp/tf-bench-chat.XXXXXX)
PG_DIR=$TMP/pg
PROXY_PORT=${BENCH_PROXY_PORT:-19221}
PIDS=()
STATUS=0
log() { printf '# %s\n' "$*"; }
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

. tests/bench/lib.sh
bench_ports_free "$FAKE_PORT" "$PROXY_PORT" || exit 1 # and bench_triforce checks its own
cc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -o "$TMP/fake" \
  tests/fake/fake_provider.c -lh2o-evloop -ljansson -lssl -lcrypto -lz -lpthread || exit 1
"$TMP/fake" --port "$FAKE_PORT" --completion-tokens 16 --prompt-tokens 8 --chunk-delay-ms 0 >"$TMP/fake.log" 2>&1 &
PIDS+=($!)
# h2o's own reverse proxy in front of the same provider: the floor of what
# any h2o-based gateway adds (one more loopback hop, no translation).
cc -O2 -std=gnu11 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -w $(pkg-config --cflags libh2o-evloop openssl) -o "$TMP/minimal_h2o" \
  tests/bench/minimal_h2o.c -lh2o-evloop -lssl -lcrypto -lz -lpthread || exit 1
"$TMP/minimal_h2o" --port "$PROXY_PORT" --threads "$THREADS" --proxy "http://127.0.0.1:$FAKE_PORT/v1" 2>"$TMP/proxy.log" &
PIDS+=($!)
bench_triforce "$TF_PORT" "providers:
  only: [groq]
  settings:
    - {id: groq, base_url: \"http://127.0.0.1:$FAKE_PORT/v1\", api_key: bench, http2: h2c}"
rc=$?
PIDS+=("$TF_PID")
[ $rc = 0 ] || exit 1
TOKEN=$(bench_user unlimited)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { log "no JWT"; exit 1; }

printf '{"model":"%s","messages":[{"role":"user","content":"Say something short."}]}' groq/llama-3.3-70b > "$TMP/tf.json"
printf '{"model":"%s","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say something short."}]}' \
  groq/llama-3.3-70b > "$TMP/tf-stream.json"
sed 's#groq/llama-3.3-70b#llama-3.3-70b-versatile#' "$TMP/tf.json" > "$TMP/direct.json"
sed 's#groq/llama-3.3-70b#llama-3.3-70b-versatile#' "$TMP/tf-stream.json" > "$TMP/direct-stream.json"
# Sanity: both answer, the same text.
a=$(curl -s -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d @"$TMP/tf.json" "$B/v1/chat/completions" | jq -r '.choices[0].message.content')
d=$(curl -s -H 'content-type: application/json' -d @"$TMP/direct.json" "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" | jq -r '.choices[0].message.content')
[ -n "$a" ] && [ "$a" = "$d" ] || { log "TriForce and direct answers differ: [$a] vs [$d]"; tail -5 "$TMP/triforce.log"; exit 1; }
# Streams that overlap on a server thread go to the fake over HTTP/2.
h2load -c 8 -n 400 -d "$TMP/tf-stream.json" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" "$B/v1/chat/completions" >/dev/null 2>&1
h2=$(curl -s "http://127.0.0.1:$FAKE_PORT/_fake/stats" | jq -r '.by_version["2"]')
[ "${h2:-0}" -ge 1 ] 2>/dev/null || { log "TriForce did not stream from the fake over HTTP/2"; exit 1; }

RES=()
# run NAME PROTO MODE(c1|c64) URL BODY [auth]
run() {
  local name=$1 proto=$2 mode=$3 url=$4 body=$5 auth=${6:-} args=() logf=$TMP/lat.log out
  [ "$proto" = h1 ] && args+=(--h1)
  if [ "$mode" = c1 ]; then args+=(-c 1 -n "$((N1 / ROUNDS))"); else args+=(-c 64 -t 2 -D "$DURATION" --warm-up-time 2); [ "$proto" = h2c4 ] && args+=(-m 4); fi
  args+=(-d "$body" -H 'content-type: application/json' --log-file="$logf")
  [ -n "$auth" ] && args+=(-H "authorization: Bearer $TOKEN")
  rm -f "$logf"
  out=$(h2load "${args[@]}" "$url" 2>&1)
  local rps bad lat
  rps=$(awk '/^finished in/ { gsub(/,/, "", $4); print $4 }' <<<"$out")
  # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
  bad=$(awk '/^requests:/ { print $10 + $12 + $14 }' <<<"$out")
  local ok2xx
  ok2xx=$(awk '/^status codes:/ { print $3 }' <<<"$out")
  [ "${ok2xx:-0}" -gt 0 ] || bad=${bad:-1}
  lat=$(cut -f3 "$logf" | LC_ALL=C sort -n | awk '{ a[NR] = $1 }
        END { if (NR == 0) { print "- -"; exit }
              i = int(NR * 0.5); if (i < 1) i = 1; j = int(NR * 0.99); if (j < 1) j = 1
              printf "%d %d", a[i], a[j] }')
  [ "${bad:-1}" = 0 ] || { log "$name $proto $mode: $bad bad requests"; STATUS=1; }
  [ "$mode" = c1 ] && cut -f3 "$logf" >> "$TMP/c1.$name.$proto"
  RES+=("$name $proto $mode ${rps:--} $lat")
  LAST_P50=${lat%% *}
}
median() { LC_ALL=C sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'; }
p99_of() { LC_ALL=C sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int(NR * 0.99)] }'; }
# rounds MODE(c1|c64) KIND PROTO DIRECT_URL DIRECT_BODY TF_URL TF_BODY: ROUNDS
# (c1) or ROUNDS64 (c64) rounds, direct and TriForce taking turns. Records
# "direct-KIND PROTO MODE rps p50 p99" and the TriForce line in SUM (medians
# of rounds; p99 over all c1 requests), and in VERDICT_<kind>_<proto>_<mode>
# the median over rounds of TriForce p50 - direct p50 (c1) or TriForce req/s
# / direct req/s (c64).
SUM=()
rounds() {
  local mode=$1 kind=$2 proto=$3 n=$ROUNDS r d t dp=() tp=() drps=() trps=() v=()
  [ "$mode" = c64 ] && n=$ROUNDS64
  rm -f "$TMP/c1.direct-$kind.$proto" "$TMP/c1.triforce-$kind.$proto"
  for r in $(seq 1 "$n"); do
    run direct-$kind "$proto" "$mode" "$4" "$5"; d=$LAST_P50; drps+=("$(rps_of "${RES[-1]}")")
    run triforce-$kind "$proto" "$mode" "$6" "$7" auth; t=$LAST_P50; trps+=("$(rps_of "${RES[-1]}")")
    dp+=("$d"); tp+=("$t")
    if [ "$mode" = c1 ]; then v+=($((t - d)))
    else v+=("$(awk -v t="${trps[-1]}" -v d="${drps[-1]}" 'BEGIN { printf "%.3f", (d > 0 ? t / d : 0) }')"); fi
  done
  local m d99=- t99=-
  m=$(printf '%s\n' "${v[@]}" | median)
  [ "$mode" = c1 ] && { d99=$(p99_of "$TMP/c1.direct-$kind.$proto"); t99=$(p99_of "$TMP/c1.triforce-$kind.$proto"); }
  SUM+=("direct-$kind $proto $mode $(printf '%s\n' "${drps[@]}" | median) $(printf '%s\n' "${dp[@]}" | median) $d99"
        "triforce-$kind $proto $mode $(printf '%s\n' "${trps[@]}" | median) $(printf '%s\n' "${tp[@]}" | median) $t99")
  printf -v "VERDICT_${kind}_${proto}_${mode}" '%s' "$m"
  if [ "$mode" = c1 ]; then log "$kind $proto c=1: p50 per round direct ${dp[*]} | TriForce ${tp[*]} | added ${v[*]} -> median $m us"
  else log "$kind $proto c=64: req/s per round direct ${drps[*]} | TriForce ${trps[*]} | ratio ${v[*]} -> median $m"; fi
}
rps_of() { local n p m rps rest; read -r n p m rps rest <<<"$1"; echo "$rps"; }
# The h2o reverse proxy, in the same rounds: its p50 is the median of rounds too.
PX=()
for kind in json stream; do
  body=$TMP/direct.json; [ $kind = stream ] && body=$TMP/direct-stream.json
  for r in $(seq 1 "$ROUNDS"); do run proxy-$kind h1 c1 "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" "$body"; PX+=("$kind $LAST_P50"); done
done
for kind in json stream; do
  dbody=$TMP/direct.json tbody=$TMP/tf.json
  [ $kind = stream ] && { dbody=$TMP/direct-stream.json; tbody=$TMP/tf-stream.json; }
  for proto in h1 h2c; do
    for mode in c1 c64; do
      rounds $mode $kind $proto "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" "$dbody" "$B/v1/chat/completions" "$tbody"
    done
  done
  rounds c64 $kind h2c4 "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" "$dbody" "$B/v1/chat/completions" "$tbody"
done
get() {
  local r n p m rps p50 p99
  for r in "${SUM[@]}" "${RES[@]}"; do read -r n p m rps p50 p99 <<<"$r"; [ "$n $p $m" = "$1 $2 $3" ] && { echo "$rps $p50 $p99"; return; }; done
}
echo
printf '%-16s %-4s %12s %10s %10s | %12s %10s %10s | %10s %8s\n' request proto 'direct r/s' 'p50 us' 'p99 us' 'TF r/s' 'p50 us' 'p99 us' 'added p50' 'ratio'
for kind in json stream; do
  for proto in h1 h2c; do
    read -r d1 dp50 dp99 <<<"$(get direct-$kind $proto c1)"; read -r t1 tp50 tp99 <<<"$(get triforce-$kind $proto c1)"
    read -r d64 _ _ <<<"$(get direct-$kind $proto c64)"; read -r t64 _ _ <<<"$(get triforce-$kind $proto c64)"
    added_var=VERDICT_${kind}_${proto}_c1; added=${!added_var}
    ratio_var=VERDICT_${kind}_${proto}_c64; ratio=$(printf '%.2f' "${!ratio_var}")
    printf '%-16s %-4s %12s %10s %10s | %12s %10s %10s | %10s %8s\n' "$kind c=1" "$proto" "$d1" "$dp50" "$dp99" "$t1" "$tp50" "$tp99" "$added" ""
    printf '%-16s %-4s %12s %10s %10s | %12s %10s %10s | %10s %8s\n' "$kind c=64" "$proto" "$d64" "" "" "$t64" "" "" "" "$ratio"
    [ "$added" -lt 100 ] || { log "$kind $proto: added p50 ${added} us is over 100 us"; STATUS=1; }
    awk -v r="$ratio" 'BEGIN { exit !(r >= 0.25) }' || { log "$kind $proto: ratio $ratio is under 0.25"; STATUS=1; }
  done
  read -r d64 _ _ <<<"$(get direct-$kind h2c4 c64)"; read -r t64 _ _ <<<"$(get triforce-$kind h2c4 c64)"
  ratio_var=VERDICT_${kind}_h2c4_c64
  printf '%-16s %-4s %12s %10s %10s | %12s %10s %10s | %10s %8s\n' "$kind c=64" "h2c" "$d64" "" "" "$t64" "" "" "x4 (info)" "$(printf '%.2f' "${!ratio_var}")"
done
echo
for kind in json stream; do
  read -r _ dp50 _ <<<"$(get direct-$kind h1 c1)"
  pp50=$(for x in "${PX[@]}"; do set -- $x; [ "$1" = $kind ] && echo "$2"; done | median)
  added_var=VERDICT_${kind}_h1_c1
  echo "$kind h1 c=1 p50: h2o reverse proxy $pp50 us, direct $dp50 us (median of rounds): the proxy adds about $((pp50 - dp50)) us (one more hop, no translation); TriForce adds ${!added_var} us"
done
exit $STATUS
