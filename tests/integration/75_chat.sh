# Chat through the Mesh Brain against fake providers in all four wire
# formats: answers and streams translated to OpenAI's shapes, usage taken
# from each protocol, keys in headers, tiers gating models, disconnects.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 11 --completion-tokens 6 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
BODY_HI='"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}]'

# --- each protocol, not streamed ------------------------------------------------
for m in groq/llama-3.3-70b anthropic/claude-sonnet-4.5 gemini/gemini-2.5-flash ollama/deepseek-v3.1:671b-cloud; do
  chat "{\"model\":\"$m\",$BODY_HI}"
  expect_eq "$m: 200" "$STATUS" 200
  expect_eq "  ... chat.completion with the public model name" "$(jqr '.object + " " + .model')" "chat.completion $m"
  expect_eq "  ... the text" "$(jqr '.choices[0].message.content')" "w1 w2 w3 w4 w5 w6 "
  expect_eq "  ... finish_reason stop" "$(jqr '.choices[0].finish_reason')" stop
  expect_eq "  ... usage from the provider" "$(jqr '[.usage.prompt_tokens, .usage.completion_tokens, .usage.total_tokens] | join(",")')" "11,6,17"
  expect_eq "  ... not estimated, no fallback" "$(jqr '[.triforce.usage_estimated, .triforce.fallback_used] | join(",")')" "false,false"
done
last() { curl -s "$(fake_url "$1" /_fake/last)" | jq -r "$2"; }
expect_eq "openai upstream got its own model name" "$(last groq .body.model)" llama-3.3-70b-versatile
expect_eq "  ... and the key as a bearer token" "$(last groq .headers.authorization)" "Bearer k-groq"
expect_eq "anthropic upstream: system prompt moved to 'system'" "$(last anthropic .body.system)" "be brief"
expect_eq "  ... key in x-api-key, version header set" "$(last anthropic '.headers["x-api-key"] + " " + .headers["anthropic-version"]')" "k-anthropic 2023-06-01"
expect_eq "  ... upstream model name" "$(last anthropic .body.model)" claude-sonnet-4-5
expect_eq "gemini upstream: generateContent path" "$(last gemini .path)" "/v1beta/models/gemini-2.5-flash:generateContent"
expect_eq "  ... key in x-goog-api-key, not in the URL" "$(last gemini '.headers["x-goog-api-key"]')" k-gemini
expect_eq "  ... systemInstruction" "$(last gemini '.body.systemInstruction.parts[0].text')" "be brief"
expect_eq "ollama upstream: stream false said explicitly" "$(last ollama1 .body.stream)" false
expect_eq "  ... no authorization without a key" "$(last ollama1 '.headers.authorization // "none"')" none

# --- each protocol, streamed ------------------------------------------------------
for m in groq/llama-3.3-70b anthropic/claude-sonnet-4.5 gemini/gemini-2.5-flash ollama/deepseek-v3.1:671b-cloud; do
  for v in --http1.1 --http2-prior-knowledge; do
    out=$(curl -sN $v -m 10 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
      --data "{\"model\":\"$m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},$BODY_HI}" "$(plain /v1/chat/completions)")
    text=$(grep '^data: {' <<<"$out" | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty')
    expect_eq "$m stream ($v): the text in chunks" "$text" "w1 w2 w3 w4 w5 w6 "
    expect_eq "  ... role chunk, 6 text chunks, finish chunk, usage chunk" "$(grep -c '^data: {' <<<"$out")" 9
    expect_eq "  ... ends with [DONE]" "$(grep '^data: ' <<<"$out" | tail -1)" "data: [DONE]"
    expect_eq "  ... finish_reason stop" "$(grep '^data: {' <<<"$out" | sed 's/^data: //' | jq -r '.choices[0].finish_reason // empty')" stop
    expect_eq "  ... usage chunk" "$(grep '"usage"' <<<"$out" | sed 's/^data: //' | jq -r '[.usage.prompt_tokens,.usage.completion_tokens]|join(",")')" "11,6"
  done
done
expect_eq "gemini stream used streamGenerateContent?alt=sse" "$(last gemini .path)" "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
out=$(curl -sN -m 10 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data "{\"model\":\"groq/llama-3.3-70b\",\"stream\":true,$BODY_HI}" "$(plain /v1/chat/completions)")
expect_eq "no usage chunk unless asked for" "$(grep -c '"usage"' <<<"$out")" 0

# --- usage estimated when the provider gives none ------------------------------
fake_config anthropic '{"no_usage":true}'
chat "{\"model\":\"anthropic/claude-sonnet-4.5\",$BODY_HI}"
expect_eq "no usage upstream: answered" "$STATUS" 200
expect_eq "  ... marked estimated" "$(jqr .triforce.usage_estimated)" true
expect_eq "  ... completion estimated from the text (18 bytes / 4)" "$(jqr .usage.completion_tokens)" 5
expect_match "  ... prompt estimated" "$(jqr .usage.prompt_tokens)" '^[1-9][0-9]*$'
fake_config anthropic '{"reset":true}'

# --- the other routes' shapes ---------------------------------------------------------
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data '{"model":"ollama/kimi-k2:1t-cloud","message":"hi"}' "$(plain /v1/client/chat)"
expect_eq "/v1/client/chat (seed 002 shape)" "$(jqr '[.response, .model, .tier, .backend, .tokens_used, .fallback_used] | join(",")')" \
  "w1 w2 w3 w4 w5 w6 ,ollama/kimi-k2:1t-cloud,unlimited,ollama,17,false"
expect_match "  ... latency_ms" "$(jqr .latency_ms)" '^[0-9]+$'
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data "{\"model\":\"gemini-2.0-flash\",$BODY_HI}" "$(plain /v1/chat)"
expect_eq "/v1/chat with a bare family name (seed 003)" "$STATUS $(jqr .model)" "200 gemini/gemini-2.0-flash"
chat "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"please debug this python function\"}]}"
expect_eq "model auto: a code question goes to the code models" "$(jqr '.triforce.task + " " + .model')" "code ollama/qwen3-coder:480b-cloud"
chat "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"write a poem about the sea\"}]}"
expect_eq "  ... a poem to the creative ones" "$(jqr '.triforce.task + " " + .model')" "creative ollama/kimi-k2:1t-cloud"
chat "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"good morning\"}]}"
expect_eq "  ... anything else to general" "$(jqr .triforce.task)" general

# --- bad input: clear errors, nothing sent upstream --------------------------------
n0=$(fake_stat groq .requests)
chat '{"model":"groq/llama-3.3-70b","messages":[]}'
expect_eq "empty messages: 400 naming /messages" "$STATUS $(jqr .error.param)" "400 /messages"
chat '{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":42}]}'
expect_eq "content 42: 400 naming /messages/0/content" "$STATUS $(jqr .error.param)" "400 /messages/0/content"
chat '{"model":"groq/llama-3.3-70b","messages":[{"role":"wizard","content":"x"}]}'
expect_eq "unknown role: 400 naming /messages/0/role" "$STATUS $(jqr .error.param)" "400 /messages/0/role"
chat '{"model":"groq/llama-3.3-70b","temperature":7,"messages":[{"role":"user","content":"x"}]}'
expect_eq "temperature 7: 400 naming /temperature" "$STATUS $(jqr .error.param)" "400 /temperature"
chat '{"model":"nope/nothing","messages":[{"role":"user","content":"x"}]}'
expect_eq "unknown model: 404 model_not_found" "$STATUS $(jqr .error.code)" "404 model_not_found"
chat '{"model":"groq/llama-3.3-70b","strategy":"psychic","messages":[{"role":"user","content":"x"}]}'
expect_eq "unknown strategy: 400 naming /strategy" "$STATUS $(jqr .error.param)" "400 /strategy"
expect_eq "  ... and none of these reached a provider" "$(fake_stat groq .requests)" "$n0"

# --- tiers ------------------------------------------------------------------------
req "$(plain /v1/models)"
expect_eq "guest /v1/models: auto + the 20 ollama models" "$(jqr '.data | length')" 21
expect_eq "  ... all of them ollama/ (or auto)" "$(jqr '[.data[].id | select(startswith("ollama/") or . == "auto")] | length')" 21
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/models)"
expect_match "unlimited /v1/models: every model" "$(jqr '.data | length')" '^[4-9][0-9]$'
req "$(plain /v1/client/models)"
expect_eq "guest /v1/client/models (seed 002 shape)" "$(jqr '[.tier, .model_count, .backend, .upgrade_available] | join(",")')" "guest,20,ollama,true"
UNL_TOKEN=$U_TOKEN
mesh_user registered
REG_TOKEN=$U_TOKEN
U_TOKEN=$UNL_TOKEN
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $REG_TOKEN" \
  --data "{\"model\":\"groq/llama-3.3-70b\",$BODY_HI}" "$(plain /v1/chat/completions)"
expect_eq "registered asking for a pro model: 403 model_not_allowed" "$STATUS $(jqr .error.code) $(jqr .error.param)" "403 model_not_allowed model"
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $REG_TOKEN" \
  --data "{\"model\":\"llama-3.3-70b\",$BODY_HI}" "$(plain /v1/chat/completions)"
expect_eq "  ... also by family name" "$STATUS" 403
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $REG_TOKEN" \
  --data "{\"model\":\"ollama/glm-4.6:cloud\",$BODY_HI}" "$(plain /v1/chat/completions)"
expect_eq "  ... an ollama model is fine" "$STATUS" 200
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $REG_TOKEN" \
  --data "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"write a poem\"}]}" "$(plain /v1/chat/completions)"
expect_match "  ... and auto picks one it may use" "$STATUS $(jqr .model)" '^200 ollama/'

# --- availability and ollama status --------------------------------------------------
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/models/availability)"
expect_eq "availability: groq's llama is served and healthy" \
  "$(jqr '.models[] | select(.model == "groq/llama-3.3-70b") | [.available, .providers[0].circuit] | join(",")')" "true,closed"
expect_eq "  ... a disabled provider says why" \
  "$(jqr '.models[] | select(.model == "openai/gpt-4o") | .providers[0].reason')" disabled
req "$(plain /v1/client/ollama/status)"
expect_eq "ollama status: both nodes online" "$(jqr '[.nodes_total, .nodes_online] | join(",")')" "2,2"
expect_eq "  ... with their models (asked live)" "$(jqr '.nodes[0].models | length')" 1

# --- a client that leaves mid-stream cancels the upstream --------------------------------
fake_config groq '{"chunk_delay_ms":200,"completion_tokens":50}'
c0=$(fake_stat groq .client_closed)
curl -sN -m 1 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data "{\"model\":\"groq/llama-3.3-70b\",\"stream\":true,$BODY_HI}" "$(plain /v1/chat/completions)" >/dev/null
closed_over() { [ "$(fake_stat groq .client_closed)" -gt "$1" ]; }
wait_for "" 3 closed_over "$c0"
expect_eq "client gone mid-stream (h1): the provider sees its transfer closed" "$(fake_stat groq .client_closed)" $((c0 + 1))
curl -sN --http2-prior-knowledge -m 1 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data "{\"model\":\"groq/llama-3.3-70b\",\"stream\":true,$BODY_HI}" "$(plain /v1/chat/completions)" >/dev/null
wait_for "" 3 closed_over $((c0 + 1))
expect_eq "  ... and over h2 (stream reset)" "$(fake_stat groq .client_closed)" $((c0 + 2))
expect_eq "  ... nothing left running upstream" "$(fake_stat groq .active)" 0
fake_config groq '{"reset":true}'

# --- text that needs escaping survives both ways (JSON and SSE) ---------------------------
fake_kill groq
WORD=$(printf 'q"b\\s\nt\t\xe2\x9c\x93 \x01e ')
fake_start groq --completion-tokens 2 --word "$WORD"
chat "{\"model\":\"groq/llama-3.3-70b\",$BODY_HI}"
expect_eq "quotes, backslash, newline, tab, UTF-8 and a control character: the same text (JSON)" \
  "$(printf '%s' "$BODY" | jq -j '.choices[0].message.content' | od -An -tx1 | tr -d ' \n')" "$(printf '%s%s' "$WORD" "$WORD" | od -An -tx1 | tr -d ' \n')"
out=$(curl -sN -m 10 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" \
  --data "{\"model\":\"groq/llama-3.3-70b\",\"stream\":true,$BODY_HI}" "$(plain /v1/chat/completions)")
expect_eq "  ... and the same text streamed (SSE chunks)" \
  "$(grep '^data: {' <<<"$out" | sed 's/^data: //' | jq -j '.choices[0].delta.content // empty' | od -An -tx1 | tr -d ' \n')" \
  "$(printf '%s%s' "$WORD" "$WORD" | od -An -tx1 | tr -d ' \n')"
fake_kill groq
fake_start groq --prompt-tokens 11 --completion-tokens 6
