# Failover: a provider that answers 500 or 429, hangs, refuses connections
# or dies mid-stream; every provider down; circuits that open and recover.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --completion-tokens 4 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
mesh_admin
P='{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}'
PS='{"model":"groq/llama-3.3-70b","stream":true,"messages":[{"role":"user","content":"hi"}]}'
ans() { echo "$STATUS $(jqr .triforce.provider) $(jqr .triforce.fallback_used)"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
stream() { curl -sN -m 15 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$1" "$(plain /v1/chat/completions)"; }

mesh_reset
chat "$P"
expect_eq "all healthy: groq answers, no fallback" "$(ans)" "200 groq false"
expect_eq "  ... x-triforce-fallback-used: false" "$(header x-triforce-fallback-used)" false

for code in 500 429 503; do
  mesh_reset
  fake_config groq "{\"fail_status\":$code}"
  chat "$P"
  expect_eq "groq answers $code: the request succeeds on cerebras" "$(ans)" "200 cerebras true"
  expect_eq "  ... x-triforce-fallback-used: true" "$(header x-triforce-fallback-used)" true
  expect_eq "  ... groq was asked once" "$(fake_stat groq .requests)" 1
done

mesh_reset
fake_config groq '{"hang":true}'
t0=$(date +%s%N)
chat "$P"
el=$(ms "$t0")
expect_eq "groq hangs: cerebras answers" "$(ans)" "200 cerebras true"
expect_match "  ... after the 1.5 s attempt timeout (${el} ms)" "$el" '^1[5-9][0-9][0-9]$|^2[0-4][0-9][0-9]$'
idle() { [ "$(fake_stat groq .active)" = 0 ]; }
wait_for "" 3 idle
expect_eq "  ... and the hung transfer was closed" "$(fake_stat groq .active)" 0

mesh_reset
fake_kill groq
chat "$P"
expect_eq "groq refuses connections: cerebras answers" "$(ans)" "200 cerebras true"
chat "$P"
expect_eq "  ... again (second failure opens groq's circuit)" "$(ans)" "200 cerebras true"
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/models/availability)"
expect_eq "  ... availability shows groq's circuit open" \
  "$(jqr '.models[] | select(.model == "groq/llama-3.3-70b") | .providers[0] | [.circuit, .healthy] | join(",")')" "open,false"
fake_start groq --completion-tokens 4
chat "$P"
expect_eq "groq back, circuit still open: skipped without asking it" "$(ans) $(fake_stat groq .requests)" "200 cerebras true 0"
sleep 0.9
chat "$P"
expect_eq "after breaker_open_ms a probe goes to groq, which answers: used again" "$(ans)" "200 groq false"
chat "$P"
expect_eq "  ... and stays in use" "$(ans)" "200 groq false"

# --- streams -----------------------------------------------------------------------
mesh_reset
fake_config groq '{"fail_status":500}'
out=$(stream "$PS")
expect_eq "stream, groq 500: streamed from cerebras" "$(grep '^data: {' <<<"$out" | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty')" "w1 w2 w3 w4 "
expect_eq "  ... model says so" "$(grep '^data: {' <<<"$out" | head -1 | sed 's/^data: //' | jq -r .model)" cerebras/llama-3.3-70b
mesh_reset
fake_config groq '{"hang":true}'
out=$(stream "$PS")
expect_eq "stream, groq silent before its first event: cerebras after the timeout" "$(grep -c '^data: \[DONE\]' <<<"$out")" 1
mesh_reset
fake_config groq '{"error_mid_stream":2}'
out=$(stream "$PS")
expect_eq "stream, error after the first bytes: no other provider, an error event" "$(grep '^data: {"error"' <<<"$out" | sed 's/^data: //' | jq -r .error.code)" upstream_failed
expect_eq "  ... the text so far was delivered" "$(grep '^data: {"id"' <<<"$out" | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty')" "w1 w2 "
expect_eq "  ... and no [DONE]" "$(grep -c 'DONE' <<<"$out")" 0
mesh_reset
fake_config groq '{"reset_after_chunks":2}'
out=$(stream "$PS")
expect_eq "stream, connection reset mid-stream: an error event" "$(grep -c '^data: {"error"' <<<"$out")" 1

# --- everyone down --------------------------------------------------------------------
mesh_reset
for n in groq cerebras openrouter; do fake_config $n '{"fail_status":500}'; done
t0=$(date +%s%N)
chat "$P"
el=$(ms "$t0")
expect_eq "all three answer 500: 502 upstream_failed" "$STATUS $(jqr .error.code)" "502 upstream_failed"
expect_contains "  ... naming each attempt" "$(jqr .error.message)" "groq/default: HTTP 500; cerebras/default: HTTP 500; openrouter/default: HTTP 500"
expect_match "  ... at once (${el} ms)" "$el" '^[0-9]{1,3}$'
chat "$P"
chat "$P"
expect_eq "  ... then every circuit is open: 503 no_provider_available" "$STATUS $(jqr .error.code)" "503 no_provider_available"
expect_match "  ... with Retry-After" "$(header retry-after)" '^[0-9]+$'

mesh_reset
for n in groq cerebras openrouter; do fake_config $n '{"hang":true}'; done
MESH_DEADLINE_MS=2500 mesh_apply
t0=$(date +%s%N)
chat "$P"
el=$(ms "$t0")
expect_eq "all hang, deadline 2.5 s: 502" "$STATUS" 502
expect_match "  ... within the deadline (${el} ms)" "$el" '^2[4-9][0-9][0-9]$'
expect_contains "  ... the message says timeout" "$(jqr .error.message)" "timeout"
mesh_apply
mesh_reset
chat "$P"
expect_eq "everyone recovered: groq again" "$(ans)" "200 groq false"
