# The chat and specialist MCP tools: answers through the Mesh Brain (fake
# providers), tier rules, metering, failures as tool errors, bad arguments.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 4 --completion-tokens 5 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user registered
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
req -X POST "${H[@]}" -H "Authorization: Bearer $U_TOKEN" \
  --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}' "$MCP"
SID=$(header mcp-session-id)
call() { req -X POST "${H[@]}" -H "Authorization: Bearer $U_TOKEN" -H "mcp-session-id: $SID" \
  --data "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}" "$MCP"; }
sc() { jqr ".result.structuredContent$1"; }

call chat '{"message":"hello","model":"ollama/glm-4.6:cloud"}'
expect_eq "chat: the model's answer" "$(sc .response)" "w1 w2 w3 w4 w5 "
expect_eq "  ... model, provider, tokens" "$(sc '| [.model, .provider, .total_tokens] | join(",")')" "ollama/glm-4.6:cloud,ollama,9"
expect_eq "  ... the upstream got the message" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '.body.messages[-1].content')" hello
call chat '{"message":"please debug this python function"}'
expect_eq "chat, model auto: a code model this tier may use" "$(sc .model)" "ollama/qwen3-coder:480b-cloud"
call chat '{"message":"hi","model":"groq/llama-3.3-70b"}'
expect_eq "chat with a model above the tier: a tool error, not a protocol error" "$(jqr '.result.isError')" true
expect_contains "  ... saying why" "$(jqr '.result.content[0].text')" "model_not_allowed"
call chat '{"message":"hi","model":"no/such"}'
expect_contains "chat with an unknown model: model_not_found" "$(jqr '.result.content[0].text')" "model_not_found"
fake_config ollama1 '{"fail_status":500}'; fake_config ollama2 '{"fail_status":500}'
call chat '{"message":"hi","model":"ollama/glm-4.6:cloud"}'
expect_eq "every provider failing: isError with upstream_failed" "$(jqr '.result.isError') $(jqr '.result.content[0].text' | grep -o upstream_failed)" "true upstream_failed"
fake_reset_all
call chat '{"model":"auto"}'
expect_eq "chat without message: isError naming /message (required)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,/message,required"
call chat '{"message":"x","temperature":9}'
expect_eq "chat with temperature 9: /temperature (maximum)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/temperature,maximum"

call specialist '{"expert":"brumo","question":"what is a gateway?","model":"ollama/glm-4.6:cloud"}'
expect_eq "specialist brumo: answered" "$(sc .response)" "w1 w2 w3 w4 w5 "
expect_contains "  ... with the Brumo persona as system prompt" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '.body.messages[0].content')" "Brumo"
call specialist '{"expert":"coder","question":"q","context":"some code","model":"ollama/glm-4.6:cloud"}'
expect_eq "specialist coder: system, context, question upstream" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '[.body.messages[].role] | join(",")')" "system,user,user"
call specialist '{"expert":"wizard","question":"q"}'
expect_eq "specialist wizard: /expert (enum)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/expert,enum"
call specialist '{"expert":"coder"}'
expect_eq "specialist without a question: /question (required)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/question,required"


call compare_models '{"message":"hi","models":["ollama/glm-4.6:cloud","ollama/kimi-k2:1t-cloud","groq/llama-3.3-70b"]}'
expect_eq "compare_models: two answers and one refusal, in order" \
  "$(sc '.answers | map(.answered_by // "refused") | join(",")')" "ollama/glm-4.6:cloud,ollama/kimi-k2:1t-cloud,refused"
expect_contains "  ... the refusal says why" "$(sc '.answers[2].error')" "cannot use"
call compare_models '{"message":"hi","models":["ollama/glm-4.6:cloud"]}'
expect_eq "compare_models with one model: /models (minItems)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/models,minItems"
call summarize '{"text":"A long text.","sentences":2,"model":"ollama/glm-4.6:cloud"}'
expect_eq "summarize: answered" "$(sc .response)" "w1 w2 w3 w4 w5 "
expect_contains "  ... asked for 2 sentences" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '.body.messages[0].content')" "at most 2 sentences"
call summarize '{"text":"x","sentences":50}'
expect_eq "summarize sentences 50: /sentences (maximum)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/sentences,maximum"
call translate '{"text":"Hallo","target":"English","model":"ollama/glm-4.6:cloud"}'
expect_contains "translate: into the target language" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '.body.messages[0].content')" "into English"
call translate '{"text":"Hallo"}'
expect_eq "translate without target: /target (required)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/target,required"
call explain_code '{"code":"int main(){}","language":"C","model":"ollama/glm-4.6:cloud"}'
expect_contains "explain_code: explained as C" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '.body.messages[0].content')" "this C code"
call explain_code '{"language":"C"}'
expect_eq "explain_code without code: /code (required)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/code,required"


call chat_messages '{"messages":[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"model":"ollama/glm-4.6:cloud"}'
expect_eq "chat_messages: answered" "$(sc .response)" "w1 w2 w3 w4 w5 "
expect_eq "  ... the whole conversation went upstream" "$(curl -s "$(fake_url ollama1 /_fake/last)" | jq -r '[.body.messages[].content] | join(",")')" "s,a,b,c"
call chat_messages '{"messages":[{"role":"tool","content":"x"}]}'
expect_eq "chat_messages with a tool role: /messages/0/role (enum)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/messages/0/role,enum"
call chat_messages '{"messages":[]}'
expect_eq "chat_messages empty: /messages (minItems)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/messages,minItems"

req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/tokens/usage)"
expect_eq "tool chats are metered like chats (10 answers x 9 tokens)" "$(jqr .used)" 90
