# Per-node concurrency caps (providers.settings[].nodes[].max_concurrent) and
# the tiers' priority queue: the Ollama primary node capped at 1 on a slow
# fake, a long request holding its slot, then requests that must wait.
#   - an unlimited-tier (priority) request overtakes registered ones queued
#     before it; the registered ones keep their order; all succeed
#   - a queue timeout moves on to the next node, or ends in 503 upstream_busy
#     with Retry-After when there is none; the deadline bounds the wait
#   - a client that leaves while queued frees its place: the next proceeds,
#     and the provider never sees the request that left
#   - a call that fails, and a stream, hold the slot until they end
#   - an uncapped node behaves as before (calls in parallel, no queue)
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --completion-tokens 2 || { fail "fake providers and mesh conf"; exit 0; }
mesh_admin
mesh_user registered; REG=$U_TOKEN
mesh_user unlimited; UNL=$U_TOKEN

M='ollama/deepseek-v3.1:671b-cloud'
QP="{\"model\":\"$M\",\"fallback\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
QS="{\"model\":\"$M\",\"fallback\":false,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

# q_apply CAP BACKUP_ENABLED QUEUE_TIMEOUT_MS : primary capped at CAP (0: none), backup on or off.
q_apply() {
  local save=$MESH_SETTINGS
  MESH_SETTINGS="${MESH_SETTINGS%%    - id: ollama*}    - id: ollama
      nodes:
        - {name: primary, base_url: \"http://127.0.0.1:${FAKE_PORT[ollama1]}\", max_concurrent: $1}
        - {name: backup, base_url: \"http://127.0.0.1:${FAKE_PORT[ollama2]}\", enabled: $2}"
  mesh_apply "  queue_timeout_ms: $3"
  local rc=$?
  MESH_SETTINGS=$save
  return $rc
}

# bg NAME TOKEN BODY [curl options] : the chat in the background; its status,
# headers, body and the time it ended (ns) land in $TF_TMP/q-NAME.*
BG=()
bg() {
  local name=$1 tok=$2 body=$3; shift 3
  rm -f "$TF_TMP/q-$name".*
  ( code=$(curl -s -m 15 -o "$TF_TMP/q-$name.body" -D "$TF_TMP/q-$name.hdrs" -w '%{http_code}' -H 'content-type: application/json' \
             -H "Authorization: Bearer $tok" --data "$body" "$@" "$(plain /v1/chat/completions)")
    echo "$code" > "$TF_TMP/q-$name.status"; date +%s%N > "$TF_TMP/q-$name.end" ) &
  BG+=($!)
}
bg_wait() { wait "${BG[@]}"; BG=(); }
st() { cat "$TF_TMP/q-$1.status" 2>/dev/null; }
end() { cat "$TF_TMP/q-$1.end" 2>/dev/null; }
hdr() { tr -d '\r' < "$TF_TMP/q-$1.hdrs" 2>/dev/null | awk -v n="$2" 'BEGIN{FS=": "} tolower($1)==n {print $2; exit}'; }
# finish_order NAME... : the names sorted by the time their answers ended
finish_order() { local n; for n in "$@"; do echo "$(end "$n") $n"; done | sort -n | awk '{printf "%s%s", s, $2; s=" "}'; }
metric() { curl -s -m 3 "$(plain /metrics)" | awk -v k="$1" '$1 == k {print $2}'; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# held : the first request has reached the provider, so it holds the node's
# slot (a fixed sleep was too short under ASan: the next one overtook it).
upstream_busy() { [ "$(fake_stat ollama1 .active)" -ge 1 ]; }
held() { wait_for "" 5 upstream_busy || fail "the first request reached the provider"; }

# --- priority before the queue, FIFO within a class ---------------------------------------
mesh_reset
q_apply 1 false 5000 || fail "conf with max_concurrent: 1 applied"
# The holder's 1 s leaves room for all four to queue behind it even under
# ASan (at 400 ms the unlimited one sometimes arrived after it had ended).
fake_config ollama1 '{"latency_ms":1000}'
prio0=$(metric 'tf_upstream_queued_total{node="ollama/primary",class="priority"}')
bg H "$UNL" "$QP"; held
bg R1 "$REG" "$QP"; sleep 0.05
bg R2 "$REG" "$QP"; sleep 0.05
bg R3 "$REG" "$QP"; sleep 0.1
bg U "$UNL" "$QP"
bg_wait
expect_eq "cap 1: the holder, three registered and one unlimited request all succeed" "$(st H) $(st R1) $(st R2) $(st R3) $(st U)" "200 200 200 200 200"
expect_eq "  ... the unlimited (priority) request overtakes the registered ones queued before it" "$(finish_order H R1 R2 R3 U)" "H U R1 R2 R3"
u_q=$(hdr U x-triforce-queued-ms); r3_q=$(hdr R3 x-triforce-queued-ms)
if [ -n "$u_q" ] && [ -n "$r3_q" ] && [ "$u_q" -lt "$r3_q" ]; then ok "  ... x-triforce-queued-ms: unlimited waited ${u_q} ms, the last registered ${r3_q} ms"
else fail "  ... x-triforce-queued-ms says so" "U [$u_q] R3 [$r3_q]"; fi
expect_eq "  ... one at a time: five calls reached the node, one by one" "$(fake_stat ollama1 .requests)" 5
gap=$(( ($(end R3) - $(end H)) / 1000000 ))
if [ "$gap" -ge 3800 ]; then ok "  ... four answers of 1000 ms after the holder's took ${gap} ms (serial)"
else fail "  ... answers after the holder's were serial" "${gap} ms for four 1000 ms answers"; fi
prio1=$(metric 'tf_upstream_queued_total{node="ollama/primary",class="priority"}')
expect_eq "  ... /metrics counts the priority wait" "$(( ${prio1%.*} - ${prio0:-0} ))" 1
expect_eq "  ... and the queue is empty again" \
  "$(metric 'tf_upstream_queue_depth{node="ollama/primary",class="standard"}') $(metric 'tf_upstream_inflight{node="ollama/primary"}')" "0 0"

# --- queue timeout: the next node, or 503 ---------------------------------------------------
mesh_reset
q_apply 1 true 300
fake_config ollama1 '{"latency_ms":1000}'
bg H "$UNL" "$QP"; held
t0=$(date +%s%N)
U_TOKEN=$UNL chat "$QP"
el=$(ms "$t0")
bg_wait
expect_eq "queue timeout 300 ms, backup on: answered by the backup" \
  "$STATUS $(header x-triforce-provider) $(header x-triforce-fallback-used)" "200 ollama/backup true"
expect_match "  ... after waiting about the queue timeout (${el} ms)" "$el" '^[3-8][0-9][0-9]$'
expect_eq "  ... the primary only served the holder" "$(st H) $(fake_stat ollama1 .requests) $(fake_stat ollama2 .requests)" "200 1 1"

mesh_reset
q_apply 1 false 300
fake_config ollama1 '{"latency_ms":1000}'
to0=$(metric 'tf_upstream_queue_exits_total{node="ollama/primary",outcome="timeout"}')
bg H "$UNL" "$QP"; held
t0=$(date +%s%N)
U_TOKEN=$UNL chat "$QP"
el=$(ms "$t0")
bg_wait
expect_eq "queue timeout, nothing else to try: 503 upstream_busy" "$STATUS $(jqr .error.code)" "503 upstream_busy"
expect_match "  ... with Retry-After" "$(header retry-after)" '^[0-9]+$'
expect_contains "  ... the message names the node" "$(jqr .error.message)" "ollama/primary: queue timeout"
expect_match "  ... after about the queue timeout (${el} ms)" "$el" '^[3-8][0-9][0-9]$'
expect_eq "  ... the provider never saw it" "$(fake_stat ollama1 .requests)" 1
to1=$(metric 'tf_upstream_queue_exits_total{node="ollama/primary",outcome="timeout"}')
expect_eq "  ... counted as a timeout in /metrics" "$((to1 - to0))" 1

# The request's own deadline bounds the wait: a stream holds the slot for
# ~2 s (ten tokens 200 ms apart), the queue timeout is 5 s, the deadline 1 s.
mesh_reset
MESH_DEADLINE_MS=1000 q_apply 1 false 5000
fake_config ollama1 '{"chunk_delay_ms":200,"completion_tokens":10}'
bg S "$UNL" "$QS"; held
t0=$(date +%s%N)
U_TOKEN=$UNL chat "$QP"
el=$(ms "$t0")
bg_wait
expect_eq "deadline 1 s before the 5 s queue timeout: 503 upstream_busy" "$STATUS $(jqr .error.code)" "503 upstream_busy"
expect_match "  ... at the deadline (${el} ms)" "$el" '^(9[0-9][0-9]|1[0-3][0-9][0-9])$'
expect_contains "  ... which the message names" "$(jqr .error.message)" "queue timeout (deadline)"
expect_eq "  ... the stream holding the slot finished" "$(st S) $(grep -c '^data: \[DONE\]' "$TF_TMP/q-S.body")" "200 1"

# --- a stream holds its slot to its end -------------------------------------------------------
mesh_reset
q_apply 1 false 5000
# B answers 300 ms after it gets the slot: its client must not finish first
# just because the stream's own client is still taking its last bytes
# (seen under ASan). Its queued-ms below shows the wait itself.
fake_config ollama1 '{"chunk_delay_ms":100,"completion_tokens":8,"latency_ms":300}'
bg S "$UNL" "$QS"; held
bg B "$UNL" "$QP"
bg_wait
b_q=$(hdr B x-triforce-queued-ms)
expect_eq "a stream on the capped node, then a request: both answered" "$(st S) $(st B)" "200 200"
expect_eq "  ... the request after the stream's end" "$(finish_order S B)" "S B"
expect_match "  ... having waited for it (${b_q} ms)" "${b_q:-0}" '^([5-9][0-9][0-9]|[1-9][0-9]{3})$'

# --- a failed call gives its slot back ------------------------------------------------------
mesh_reset
q_apply 1 false 5000
fake_config ollama1 '{"hang":true}'
bg H "$UNL" "$QP"; held
fake_config ollama1 '{"reset":true}'
bg B "$UNL" "$QP"
bg_wait
expect_eq "the holder hangs (attempt timeout, 502); the one queued behind it is answered" "$(st H) $(st B)" "502 200"
b_q=$(hdr B x-triforce-queued-ms)
expect_match "  ... after the holder's 1.5 s attempt timeout (queued ${b_q} ms)" "${b_q:-0}" '^1[2-9][0-9][0-9]$'

# --- a client that leaves while queued ------------------------------------------------------
# Over h2: h2o 2.2 notices an HTTP/1.1 client's close only when it writes to it.
mesh_reset
q_apply 1 false 5000
fake_config ollama1 '{"latency_ms":800}'
gone0=$(metric 'tf_upstream_queue_exits_total{node="ollama/primary",outcome="gone"}')
bg H "$UNL" "$QP"; held
bg A "$UNL" "$QP" -m 0.3 --http2-prior-knowledge; sleep 0.1
bg B "$REG" "$QP"
bg_wait
expect_eq "a queued h2 client leaves (curl -m 0.3): the holder and the next one are answered" "$(st A) $(st H) $(st B)" "000 200 200"
gap=$(( ($(end B) - $(end H)) / 1000000 ))
if [ "$gap" -ge 600 ] && [ "$gap" -lt 1500 ]; then ok "  ... the next one right after the holder, one answer later (${gap} ms)"
else fail "  ... the next one right after the holder" "${gap} ms after it"; fi
expect_eq "  ... the provider never received the request that left" "$(fake_stat ollama1 .requests) $(fake_stat ollama1 .client_closed)" "2 0"
gone1=$(metric 'tf_upstream_queue_exits_total{node="ollama/primary",outcome="gone"}')
expect_eq "  ... /metrics counts it as gone, and nobody waits" \
  "$((gone1 - gone0)) $(metric 'tf_upstream_queue_depth{node="ollama/primary",class="priority"}') $(metric 'tf_upstream_inflight{node="ollama/primary"}')" "1 0 0"

# --- uncapped: as before --------------------------------------------------------------------
mesh_reset
q_apply 0 false 5000
fake_config ollama1 '{"latency_ms":400}'
t0=$(date +%s%N)
for n in 1 2 3 4; do bg "P$n" "$UNL" "$QP"; done
bg_wait
el=$(ms "$t0")
expect_eq "no cap: four requests at once all answered" "$(st P1) $(st P2) $(st P3) $(st P4)" "200 200 200 200"
if [ "$el" -lt 1100 ]; then ok "  ... in parallel (${el} ms for four 400 ms answers)"; else fail "  ... in parallel" "${el} ms"; fi
expect_eq "  ... nobody queued" "$(hdr P1 x-triforce-queued-ms)$(hdr P4 x-triforce-queued-ms)" ""
expect_eq "  ... nodes never capped have no queue metrics" "$(curl -s -m 3 "$(plain /metrics)" | grep -c 'node="groq/')" 0
q_apply 1 false 5000
req -H "Authorization: Bearer $UNL" "$(plain /v1/client/models/availability)"
expect_eq "availability shows the cap" \
  "$(jqr "[.models[] | select(.model == \"$M\") | .providers[] | select(.node == \"primary\") | .max_concurrent][0]")" 1
mesh_apply
