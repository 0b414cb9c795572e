# Upstream answers are input too: the fake providers garble every body and
# stream event they send (fake knob "garble": NUL, 0xff, lone UTF-8 lead and
# continuation bytes, quotes, brackets, newlines in place of 1-3 bytes),
# and chats in all four wire protocols, whole and streamed, must still
# reach the client as a clean answer or a clean error: 200 or 502/503/504,
# strict UTF-8, JSON that parses, SSE ending in [DONE] or in an error event
# (tests/js/hostile_upstream.mjs). Then the knob goes off and the same
# providers answer normally again.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
# Circuits that never open: every chat reaches its provider's reader.
MESH_BREAKER=1000000
mesh_start --completion-tokens 6 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
MODELS=(groq/llama-3.3-70b anthropic/claude-sonnet-4.5 gemini/gemini-2.5-flash ollama/deepseek-v3.1:671b-cloud)
SEED=${HOSTILE_SEED:-$([ "$TF_PASS" = asan ] && echo 7331 || echo 1337)}
garble_all() { local n; for n in groq cerebras openrouter anthropic gemini ollama1 ollama2; do fake_config "$n" "{\"garble\":$1}"; done; }
garble_all "$SEED"
expect_eq "the fakes garble their answers (seed $SEED)" "$(curl -s "$(fake_url groq /_fake/config)" | jq .garble)" "$SEED"

out=$(node "$TF_ROOT/tests/js/hostile_upstream.mjs" "$(plain /v1/chat/completions)" "$U_TOKEN" "${HOSTILE_ROUNDS:-12}" "${MODELS[@]}" 2>&1)
summary=$(tail -1 <<<"$out")
if jq -e . >/dev/null 2>&1 <<<"$summary"; then
  ok "$(jq .requests <<<"$summary") chats against garbling providers: $(jq -c .tally <<<"$summary")"
  nf=$(jq '.failures | length' <<<"$summary")
  expect_eq "  ... each a clean answer or a clean error (no 500, strict UTF-8, JSON, SSE ending in [DONE] or an error event)" "$nf" 0
  [ "$nf" = 0 ] || jq -c '.failures[]' <<<"$summary" | head -10 | sed 's/^/#   /'
  # Spoiled answers are mostly refused, but a byte changed inside a text
  # may still leave valid JSON: both outcomes must have happened.
  expect_eq "  ... some refused as bad upstream answers (502) and some passed through (200)" \
    "$(jq '[.tally | to_entries[] | select(.key | test(" 502$")) | .value] | add > 0' <<<"$summary") $(jq '[.tally | to_entries[] | select(.key | test(" 200$")) | .value] | add > 0' <<<"$summary")" "true true"
else
  fail "chats against garbling providers" "$out"
fi
expect_eq "  ... the server still answers /health" "$(health_code)" 200

# The providers behave again: answers come through whole (their circuits
# may have opened on the bad answers: reset them first).
garble_all 0
mesh_admin
mesh_reset
for m in "${MODELS[@]}"; do
  chat "{\"model\":\"$m\",\"fallback\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
  expect_eq "$m answers again once the garbling stops" "$STATUS $(jqr .choices[0].message.content)" "200 w1 w2 w3 w4 w5 w6 "
done
