# HTTP/2 to a cleartext provider (providers.settings[].http2: h2c): streamed
# calls that overlap others to the node on their server thread become
# streams of one upgraded connection per thread; a lone one, and whole
# answers, keep HTTP/1.1 (tf_curl.h, tf_chat.c set_http_version). The text
# is the same as over HTTP/1.1, a client that leaves resets only its own
# stream, and faults fail over as they do over HTTP/1.1.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
# groq's calls over h2c; ollama's too, but for its backup node, which is off
# (a node's setting beats its provider's).
MESH_SETTINGS=${MESH_SETTINGS/api_key: k-groq\}/api_key: k-groq, http2: h2c\}}
MESH_SETTINGS=${MESH_SETTINGS/enabled: true\}/enabled: true, http2: off\}}
MESH_SETTINGS=${MESH_SETTINGS/- id: ollama/- id: ollama$'\n'      http2: h2c}
mesh_start --completion-tokens 4 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
mesh_admin
P='{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}'
PS='{"model":"groq/llama-3.3-70b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}'
stream() { curl -sN -m 15 -D "$TF_TMP/h2c-hdrs" -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$1" "$(plain /v1/chat/completions)"; }
provider() { tr -d '\r' < "$TF_TMP/h2c-hdrs" | awk -F': ' 'tolower($1) == "x-triforce-provider" {print $2}'; }
text_of() { grep '^data: {"id"' <<<"$1" | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty'; }
# at_once N BODY SECONDS NAME : N concurrent chats, each answer in $TF_TMP/NAME<i>
at_once() {
  local pids=() i
  for i in $(seq 1 "$1"); do
    curl -sN -m "$3" -o "$TF_TMP/$4$i" -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$2" "$(plain /v1/chat/completions)" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
# behind NAME HOLD_BODY BODY [CONFIG] : BODY sent behind a holder stream on
# one HTTP/2 connection (one server thread), so not alone to its node; the
# holder streams slowly from fake NAME, which gets CONFIG (default: its
# start-up settings) before BODY is sent. Sets B_STATUS, B_PROVIDER, B_OUT.
behind() {
  fake_config "$1" '{"chunk_delay_ms":100,"completion_tokens":40}'
  node "$TF_ROOT/tests/js/h2_behind.mjs" "$(plain /v1/chat/completions)" "$U_TOKEN" "$2" "$3" \
    "$(fake_url "$1" /_fake/config)" "${4:-{\"reset\":true\}}" > "$TF_TMP/behind.json" 2>&1
  B_STATUS=$(jq -r .status "$TF_TMP/behind.json" 2>/dev/null)
  B_PROVIDER=$(jq -r .provider "$TF_TMP/behind.json" 2>/dev/null)
  B_OUT=$(jq -r .body "$TF_TMP/behind.json" 2>/dev/null)
  [ -n "$B_STATUS" ] || echo "# DIAG behind: $(head -c 300 "$TF_TMP/behind.json")"
}
# behind_times N : N groq streams behind holders, one after another; sets
# good to those answered in full
behind_times() {
  local i
  good=0
  for i in $(seq 1 "$1"); do behind groq "$PS" "$PS"; [ "$(text_of "$B_OUT")" = "w1 w2 w3 w4 " ] && good=$((good + 1)); done
}

mesh_reset
out=$(stream "$PS")
expect_eq "h2c node: a streamed chat, the text in chunks" "$(text_of "$out")" "w1 w2 w3 w4 "
expect_eq "  ... the usage chunk and [DONE]" "$(grep -c '"usage":{' <<<"$out") $(grep '^data: ' <<<"$out" | tail -1)" "1 data: [DONE]"
expect_eq "  ... from groq" "$(provider)" groq/default
expect_eq "  ... alone to the node, over HTTP/1.1 (HTTP/2 would cost it ~25 us and share nothing)" \
  "$(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "0,1"
behind groq "$PS" "$PS"
expect_eq "a stream behind another on its server thread: the same text, over HTTP/2" \
  "$B_STATUS $(text_of "$B_OUT") $(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "200 w1 w2 w3 w4  1,2"
chat "$P"
expect_eq "  ... a whole answer: the same text" "$STATUS $(jqr '.choices[0].message.content')" "200 w1 w2 w3 w4 "
behind groq "$PS" "$P"
expect_eq "  ... a whole answer behind a stream: over HTTP/1.1 still (curl 7.88 writes an HTTP/2 body apart)" \
  "$B_STATUS $(jq -r '.choices[0].message.content' <<<"$B_OUT") $(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "200 w1 w2 w3 w4  1,5"

# --- a client that leaves: its stream is reset or its connection closed --------------
# curl 7.88 queues the RST_STREAM until the connection next reads or sends:
# a connection nothing else uses is closed instead, and on a shared one the
# other streams' reads send it. Then the thread upgrades anew. Of two
# streams sent at once on one client connection the first is alone to the
# node (HTTP/1.1), the second upgrades a connection; the second is the one
# cancelled.
fake_config groq '{"chunk_delay_ms":200,"completion_tokens":50}'
c0=$(fake_stat groq .client_closed)
curl -sN -m 1 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$PS" "$(plain /v1/chat/completions)" >/dev/null
closed_over() { [ "$(fake_stat groq .client_closed)" -gt "$1" ]; }
wait_for "" 3 closed_over "$c0"
expect_eq "client gone mid-stream, nothing else on the connection: the provider sees it end" "$(fake_stat groq .client_closed)" $((c0 + 1))
expect_eq "  ... nothing left running upstream" "$(fake_stat groq .active)" 0
node "$TF_ROOT/tests/js/h2_two_streams.mjs" "$(plain /v1/chat/completions)" "$U_TOKEN" "$PS" 700 2200 > "$TF_TMP/two.json" 2>&1 &
npid=$!
sleep 1.6
expect_eq "two streams on one connection, one cancelled: the provider sees that one end" "$(fake_stat groq .client_closed)" $((c0 + 2))
act=$(fake_stat groq .active)
expect_eq "  ... while the other runs on" "$act" 1
[ "$act" = 1 ] || { echo "# DIAG stats: $(curl -s "$(fake_url groq /_fake/stats)")"; echo "# DIAG cerebras: $(curl -s "$(fake_url cerebras /_fake/stats)")"; sleep 1; echo "# DIAG two: $(cat "$TF_TMP/two.json")"; grep -E 'groq/default|fallback|failed' "$TF_TMP/triforce.log" | tail -8 | cut -c1-400 | sed 's/^/# DIAG log: /'; }
wait "$npid"
expect_match "  ... and kept streaming after the cancel" "$(jq -r '"\(.a_bytes) \(.b_bytes)"' "$TF_TMP/two.json")" '^[0-9]+ [0-9]+$'
a_b=$(jq -r '.a_bytes - .b_bytes' "$TF_TMP/two.json")
expect_match "  ... (the first got more than the cancelled one: $a_b bytes)" "$a_b" '^[1-9][0-9]*$'
wait_for "" 3 closed_over $((c0 + 2))
expect_eq "  ... then the first leaves too: nothing left running upstream" "$(fake_stat groq .client_closed),$(fake_stat groq .active)" "$((c0 + 3)),0"
fake_config groq '{"reset":true}'
chat "$P"
expect_eq "  ... the next chat is answered" "$STATUS" 200

# Concurrent streams: per server thread one call upgrades a connection
# while the others take HTTP/1.1 (curl 7.88 breaks a connection that a
# second stream joins mid-upgrade); once it completed over HTTP/2, the
# thread's calls join its upgraded connection (they opened 3 to 14 when
# whole answers shared their curl handle, see tf_curl.h). Each stream
# takes 80 ms, so the 24 of a burst overlap: over HTTP/1.1 they would need
# 24 connections. The first of a burst on each thread is alone to the
# node: HTTP/1.1.
fake_config groq '{"chunk_delay_ms":20}'
burst() {
  at_once 24 "$PS" 10 h2c-s
  good=0
  for i in $(seq 1 24); do
    [ "$(text_of "$(cat "$TF_TMP/h2c-s$i")")" = "w1 w2 w3 w4 " ] && good=$((good + 1))
  done
}
burst
expect_eq "24 concurrent streams: all answered in full" "$good" 24
expect_eq "  ... none failed over" "$(fake_stat cerebras .requests)" 0
curl -s -m 3 -XPOST "$(fake_url groq /_fake/stats/reset)" >/dev/null
burst
expect_eq "another 24 once both threads upgraded: all answered in full" "$good" 24
h1=$(fake_stat groq '.by_version["1.1"] // 0')
expect_eq "  ... all over HTTP/2 but the first on each server thread ($h1)" \
  "$(fake_stat groq '.by_version["2"]') $((h1 >= 1 && h1 <= 2))" "$((24 - h1)) 1"
conns=$(fake_stat groq .connections)
expect_match "  ... on one connection per server thread ($((conns - h1)), and $h1 for HTTP/1.1)" "$((conns - h1))" '^[12]$'
fake_config groq '{"reset":true}'

# --- long answers on shared connections never wait for a timer ----------------------
# curl 7.88 could leave a stream's bytes read but not handed over when
# another stream's buffer filled first (tf_curl.c on_repoke): the stream
# then waited for curl's next timer, the connect timeout (500 ms here, 3 s
# by default). 64-token answers (~18 KB) from 4 clients: about every second
# run of 200 had two such waits before the fix; 1000 showed it twice in
# two runs here.
fake_config groq '{"completion_tokens":64,"chunk_delay_ms":0}'
curl -s -m 3 -XPOST "$(fake_url groq /_fake/stats/reset)" >/dev/null
rm -f "$TF_TMP/h2c-long.log"
printf '%s' "$PS" > "$TF_TMP/h2c-long.json" # h2load reads the body from a file, once per request
h2load --h1 -c 4 -n 1000 -d "$TF_TMP/h2c-long.json" -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --log-file="$TF_TMP/h2c-long.log" "$(plain /v1/chat/completions)" > "$TF_TMP/h2c-long.out" 2>&1
slow=$(awk '$3 > 400000' "$TF_TMP/h2c-long.log" | wc -l)
echo "# $(grep -E "^finished" "$TF_TMP/h2c-long.out") max $(sort -n -k3 "$TF_TMP/h2c-long.log" | tail -1 | cut -f3) us"
expect_eq "1000 streamed 64-token answers from 4 clients: all 200, none slower than 400 ms" \
  "$(awk '$2 == 200' "$TF_TMP/h2c-long.log" | wc -l) $slow" "1000 0"
expect_match "  ... many of them over HTTP/2 ($(fake_stat groq '.by_version["2"]'))" "$(fake_stat groq '.by_version["2"]')" '^[1-9][0-9]+$'
fake_config groq '{"reset":true}'

# --- whole answers and streams to the same node ----------------------------------------
# Whole answers leave idle HTTP/1.1 connections to the node; clients that
# leave streams get their upgraded connections closed. Streams still take
# HTTP/2 afterwards: the next one behind another upgrades a new connection
# (on the curl handle kept for h2c calls, see tf_curl.h) and the later
# ones join it.
fake_config groq '{"latency_ms":150}'
at_once 8 "$P" 10 h2c-w
good=0
for i in $(seq 1 8); do [ "$(jq -r '.choices[0].message.content' "$TF_TMP/h2c-w$i")" = "w1 w2 w3 w4 " ] && good=$((good + 1)); done
expect_eq "8 concurrent whole answers from the h2c node" "$good" 8
fake_config groq '{"chunk_delay_ms":200,"completion_tokens":50}'
c0=$(fake_stat groq .client_closed)
at_once 4 "$PS" 1 h2c-gone
wait_for "" 3 closed_over $((c0 + 3))
expect_eq "  ... 4 streams whose clients leave: the provider sees them end" "$(fake_stat groq .client_closed)" $((c0 + 4))
fake_config groq '{"reset":true}'
curl -s -m 3 -XPOST "$(fake_url groq /_fake/stats/reset)" >/dev/null
behind_times 3
expect_eq "  ... then 3 streams behind others, one after another: all over HTTP/2 (their holders alone, HTTP/1.1)" \
  "$good $(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "3 3,3"
chat "$P"
expect_eq "  ... and a whole answer still over HTTP/1.1" "$STATUS $(fake_stat groq '.by_version["1.1"]')" "200 4"

# --- faults fail over as over HTTP/1.1 -----------------------------------------------
# Each faulty call is behind a holder, so it is an HTTP/2 stream.
for code in 500 429; do
  mesh_reset
  behind groq "$PS" "$PS" "{\"reset\":true,\"fail_status\":$code}"
  expect_eq "h2c node answers $code over HTTP/2: cerebras streams the answer" \
    "$B_PROVIDER $(text_of "$B_OUT") $(fake_stat groq '.by_version["2"]')" "cerebras/default w1 w2 w3 w4  1"
done
mesh_reset
behind groq "$PS" "$PS" '{"reset":true,"hang":true}'
expect_eq "h2c node hangs over HTTP/2: cerebras streams the answer after the attempt timeout" \
  "$B_PROVIDER $(text_of "$B_OUT") $(fake_stat groq '.by_version["2"]')" "cerebras/default w1 w2 w3 w4  1"
idle() { [ "$(fake_stat groq .active)" = 0 ]; }
wait_for "" 3 idle
expect_eq "  ... and the hung stream was closed" "$(fake_stat groq .active)" 0
mesh_reset
behind groq "$PS" "$PS" '{"reset":true,"reset_after_chunks":2}'
expect_eq "stream reset mid-way over HTTP/2: an error event after the text so far" \
  "$(text_of "$B_OUT")|$(grep '^data: {"error"' <<<"$B_OUT" | sed 's/^data: //' | jq -r .error.code)|$(fake_stat groq '.by_version["2"]')" \
  "w1 w2 |upstream_failed|1"
mesh_reset
# Refused before any protocol is spoken: a lone call shows it as well.
fake_kill groq
out=$(stream "$PS")
expect_eq "h2c node refuses connections: cerebras streams the answer" "$(provider) $(text_of "$out")" "cerebras/default w1 w2 w3 w4 "
fake_start groq --completion-tokens 4

# --- the setting per node, and where it shows ---------------------------------------
OS='{"model":"ollama/deepseek-v3.1:671b-cloud","stream":true,"messages":[{"role":"user","content":"hi"}]}'
mesh_reset
behind ollama1 "$OS" "$OS"
expect_eq "ollama primary (node h2c from its provider): a stream behind another over HTTP/2" \
  "$(text_of "$B_OUT") $(fake_stat ollama1 '.by_version["2"]')" "w1 w2 w3 w4  1"
mesh_reset
fake_config ollama1 '{"fail_status":500}'
behind ollama2 "$OS" "$OS"
expect_eq "ollama backup (node off under a provider h2c): HTTP/1.1, behind another too" \
  "$(text_of "$B_OUT") $(fake_stat ollama2 '[.by_version["2"], .by_version["1.1"]] | join(",")')" "w1 w2 w3 w4  0,2"
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/models/availability)"
expect_eq "availability shows each node's http2 when not auto" \
  "$(jqr '[.models[] | .providers[] | select(.provider == "groq" or .provider == "ollama") | "\(.provider)/\(.node)=\(.http2 // "auto")"] | unique | join(" ")')" \
  "groq/default=h2c ollama/backup=off ollama/primary=h2c"

# --- an h2c node whose upstream ignores the upgrade ------------------------------------
# It answers the upgrade's call over HTTP/1.1: that is logged, and the
# thread calls it over HTTP/1.1 for a minute instead of asking each time.
fake_kill groq
fake_start groq --completion-tokens 4 --no-h2c
mesh_reset
behind_times 3
expect_eq "h2c node whose upstream ignores Upgrade: h2c: 3 streams behind others answered over HTTP/1.1" \
  "$good $(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "3 0,6"
asked=$(fake_stat groq .upgrade_asked)
expect_match "  ... the upgrade asked at most once per server thread ($asked of 3)" "$asked" '^[12]$'
expect_match "  ... and a warning logged" "$(grep -c 'groq/default has http2: h2c but answered the upgrade over HTTP/1.1' "$TF_TMP/triforce.log")" '^[12]$'
