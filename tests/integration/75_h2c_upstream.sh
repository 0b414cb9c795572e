# HTTP/2 to a cleartext provider (providers.settings[].http2: h2c): calls
# become streams of one upgraded connection per server thread, answers and
# streams are the same as over HTTP/1.1, a client that leaves resets only
# its own stream, and faults fail over as they do over HTTP/1.1.
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
stream() { curl -sN -m 15 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$1" "$(plain /v1/chat/completions)"; }
text_of() { grep '^data: {"id"' <<<"$1" | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty'; }

mesh_reset
chat "$P"
expect_eq "h2c node: a chat is answered" "$STATUS $(jqr '.choices[0].message.content')" "200 w1 w2 w3 w4 "
expect_eq "  ... by groq, no fallback" "$(jqr '[.triforce.provider, .triforce.fallback_used] | join(",")')" "groq,false"
expect_eq "  ... the provider saw HTTP/2, never HTTP/1.1" "$(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "1,0"
out=$(stream "$PS")
expect_eq "  ... a streamed chat: the text in chunks" "$(text_of "$out")" "w1 w2 w3 w4 "
expect_eq "  ... the usage chunk and [DONE]" "$(grep -c '"usage":{' <<<"$out") $(grep '^data: ' <<<"$out" | tail -1)" "1 data: [DONE]"
expect_eq "  ... still HTTP/2" "$(fake_stat groq '.by_version["2"]')" 2

# Concurrent calls share the upgraded connections: one per server thread at most.
pids=()
for i in $(seq 1 12); do
  curl -s -m 10 -o "$TF_TMP/h2c-$i.json" -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$P" "$(plain /v1/chat/completions)" &
  pids+=($!)
  curl -sN -m 10 -o "$TF_TMP/h2c-s$i.txt" -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$PS" "$(plain /v1/chat/completions)" &
  pids+=($!)
done
wait "${pids[@]}"
good=0
for i in $(seq 1 12); do
  [ "$(jq -r '.choices[0].message.content' "$TF_TMP/h2c-$i.json" 2>/dev/null)" = "w1 w2 w3 w4 " ] && good=$((good + 1))
  [ "$(text_of "$(cat "$TF_TMP/h2c-s$i.txt")")" = "w1 w2 w3 w4 " ] && good=$((good + 1))
done
expect_eq "24 concurrent chats and streams: all answered in full" "$good" 24
expect_eq "  ... all over HTTP/2" "$(fake_stat groq '[.by_version["2"], .by_version["1.1"]] | join(",")')" "26,0"
expect_match "  ... on at most 2 connections (one per server thread)" "$(fake_stat groq .connections)" '^[12]$'

# --- a client that leaves: its stream is reset or its connection closed --------------
# curl 7.88 queues the RST_STREAM until the connection next reads or sends:
# a connection nothing else uses is closed instead, and on a shared one the
# other streams' reads send it.
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
expect_eq "  ... while the other runs on (the connection stays)" "$(fake_stat groq .active)" 1
wait "$npid"
expect_match "  ... and kept streaming after the cancel" "$(jq -r '"\(.a_bytes) \(.b_bytes)"' "$TF_TMP/two.json")" '^[0-9]+ [0-9]+$'
a_b=$(jq -r '.a_bytes - .b_bytes' "$TF_TMP/two.json")
expect_match "  ... (the first got more than the cancelled one: $a_b bytes)" "$a_b" '^[1-9][0-9]*$'
wait_for "" 3 closed_over $((c0 + 2))
expect_eq "  ... then the first leaves too: nothing left running upstream" "$(fake_stat groq .client_closed),$(fake_stat groq .active)" "$((c0 + 3)),0"
fake_config groq '{"reset":true}'
chat "$P"
expect_eq "  ... the next chat is answered" "$STATUS" 200

# --- faults fail over as over HTTP/1.1 -----------------------------------------------
for code in 500 429; do
  mesh_reset
  fake_config groq "{\"fail_status\":$code}"
  chat "$P"
  expect_eq "h2c node answers $code: cerebras answers" "$STATUS $(jqr '[.triforce.provider, .triforce.fallback_used] | join(",")')" "200 cerebras,true"
done
mesh_reset
fake_config groq '{"hang":true}'
chat "$P"
expect_eq "h2c node hangs: cerebras answers after the attempt timeout" "$STATUS $(jqr .triforce.provider)" "200 cerebras"
idle() { [ "$(fake_stat groq .active)" = 0 ]; }
wait_for "" 3 idle
expect_eq "  ... and the hung stream was closed" "$(fake_stat groq .active)" 0
mesh_reset
fake_config groq '{"reset_after_chunks":2}'
out=$(stream "$PS")
expect_eq "stream reset mid-way over h2c: an error event after the text so far" \
  "$(text_of "$out")|$(grep '^data: {"error"' <<<"$out" | sed 's/^data: //' | jq -r .error.code)" "w1 w2 |upstream_failed"
mesh_reset
fake_kill groq
chat "$P"
expect_eq "h2c node refuses connections: cerebras answers" "$STATUS $(jqr .triforce.provider)" "200 cerebras"
fake_start groq --completion-tokens 4

# --- the setting per node, and where it shows ---------------------------------------
mesh_reset
chat '{"model":"ollama/deepseek-v3.1:671b-cloud","messages":[{"role":"user","content":"hi"}]}'
expect_eq "ollama primary (node h2c): answered over HTTP/2" "$STATUS $(fake_stat ollama1 '.by_version["2"]')" "200 1"
fake_config ollama1 '{"fail_status":500}'
chat '{"model":"ollama/deepseek-v3.1:671b-cloud","messages":[{"role":"user","content":"hi"}]}'
expect_eq "ollama backup (node off under a provider h2c): HTTP/1.1" "$STATUS $(fake_stat ollama2 '[.by_version["2"], .by_version["1.1"]] | join(",")')" "200 0,1"
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/models/availability)"
expect_eq "availability shows each node's http2 when not auto" \
  "$(jqr '[.models[] | .providers[] | select(.provider == "groq" or .provider == "ollama") | "\(.provider)/\(.node)=\(.http2 // "auto")"] | unique | join(" ")')" \
  "groq/default=h2c ollama/backup=off ollama/primary=h2c"
