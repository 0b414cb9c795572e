# Tiers from the conf: `tiers:` overrides what spec/tiers.yaml says of a
# tier (daily tokens, requests per hour, model patterns, MCP access,
# priority), and a reload applies it to the very next request. /v1/tiers,
# /v1/models and /v1/client/tier show what is enforced. A broken override is
# refused with file:line and the running snapshot stays.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 5 --completion-tokens 3 || { fail "fake providers and mesh conf"; exit 0; }
OLLAMA='{"model":"ollama/gpt-oss:20b-cloud","messages":[{"role":"user","content":"hi"}]}'
OTHER='{"model":"ollama/glm-4.6:cloud","messages":[{"role":"user","content":"hi"}]}'

# tiers_conf YAML : the mesh conf plus a tiers: section, reloaded.
tiers_conf() {
  { cat "$TF_TMP/conf.mesh"; printf 'tiers:\n%s\n' "$1"; } > "$TF_TMP/conf.tiers"
  reload_to "$TF_TMP/conf.tiers"
}
tier_field() { curl -s -m 3 "$(plain /v1/tiers)" | jq -r ".[] | select(.tier == \"$1\") | $2"; }

mesh_user registered
REG=$U_TOKEN
expect_eq "spec values first: registered may send 30 requests an hour" "$(tier_field registered .requests_per_hour)" 30

# --- requests per hour -------------------------------------------------------------
check "reload with registered requests_per_hour: 3" tiers_conf '  - {tier: registered, requests_per_hour: 3}'
expect_eq "  ... /v1/tiers shows 3" "$(tier_field registered .requests_per_hour)" 3
req -H "Authorization: Bearer $REG" "$(plain /v1/client/tier)"
expect_eq "  ... /v1/client/tier too" "$(jqr .requests_per_hour)" 3
codes=""
for _ in 1 2 3; do chat "$OLLAMA"; codes="$codes$STATUS "; done
expect_eq "  ... 3 requests are answered" "$codes" "200 200 200 "
chat "$OLLAMA"
expect_eq "  ... the 4th is 429 naming the conf's limit" "$STATUS $(jqr .error.limit) $(jqr .error.limit_value)" "429 requests_per_hour 3"
check "reload with requests_per_hour: 6" tiers_conf '  - {tier: registered, requests_per_hour: 6}'
chat "$OLLAMA"
expect_eq "  ... the next request is answered again" "$STATUS" 200

# --- daily tokens (8 per answer) ---------------------------------------------------------
mesh_user registered
check "reload with registered daily_tokens: 20, requests unlimited" tiers_conf '  - {tier: registered, daily_tokens: 20, requests_per_hour: -1}'
expect_eq "  ... /v1/tiers shows 20 and no hourly limit" "$(tier_field registered '"\(.daily_token_limit) \(.requests_per_hour)"')" "20 null"
codes=""
for _ in 1 2 3 4; do chat "$OLLAMA"; codes="$codes$STATUS "; done
expect_eq "  ... 8 + 8 + 8 tokens pass the 20 (the third started under it), the 4th is refused" "$codes" "200 200 200 429 "
expect_eq "  ... by the daily token limit of the conf" "$(jqr .error.limit) $(jqr .error.limit_value)" "daily_tokens 20"

# --- model patterns ---------------------------------------------------------------------
check "reload with registered models: [ollama/gpt-oss*]" tiers_conf '  - {tier: registered, models: ["ollama/gpt-oss*"]}'
req -H "Authorization: Bearer $REG" "$(plain /v1/models)"
expect_eq "  ... /v1/models lists auto and the two gpt-oss models" "$(jqr '[.data[].id] | join(",")')" "auto,ollama/gpt-oss:120b-cloud,ollama/gpt-oss:20b-cloud"
req "$(plain /v1/models)"
expect_eq "  ... a guest still sees auto + 20 models" "$(jqr '.data | length')" 21
mesh_user registered
chat "$OTHER"
expect_eq "  ... another Ollama model is now 403 for registered" "$STATUS $(jqr .error.code)" "403 model_not_allowed"
chat "$OLLAMA"
expect_eq "  ... a gpt-oss model is answered" "$STATUS" 200

# --- MCP access -------------------------------------------------------------------------
mcp_init() { req -X POST -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H "Authorization: Bearer $1" \
  --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  "$(plain /v1/mcp)"; }
mcp_init "$REG"
expect_eq "MCP with the spec's tiers: registered may initialize" "$STATUS" 200
check "reload with registered mcp_access: false" tiers_conf '  - {tier: registered, mcp_access: false}'
mcp_init "$REG"
expect_eq "  ... registered: 403 mcp_not_allowed" "$STATUS $(jqr .error.code)" "403 mcp_not_allowed"
req -H "Authorization: Bearer $REG" "$(plain /v1/mcp/tools)"
expect_eq "  ... also the REST view of the tools" "$STATUS" 403
mesh_user pro
mcp_init "$U_TOKEN"
expect_eq "  ... pro still may" "$STATUS" 200
expect_eq "  ... /v1/tiers says so" "$(tier_field registered .mcp_access) $(tier_field pro .mcp_access)" "false true"
# A conf that opens MCP to a tier opens the default catalogue too (tools,
# prompts and resources whose spec names no min_tier); an entry with its own
# min_tier (web_search, web_crawl: registered) keeps it.
mcp_call() { req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $1" --data "$2" "$(plain /v1/mcp/call)"; }
mesh_user guest
GUEST=$U_TOKEN
mcp_init "$GUEST"
expect_eq "a guest-tier user under the spec's tiers: 403 mcp_not_allowed" "$STATUS $(jqr .error.code)" "403 mcp_not_allowed"
check "reload with guest mcp_access: true" tiers_conf '  - {tier: guest, mcp_access: true}'
mcp_init "$GUEST"
expect_eq "  ... the guest may initialize" "$STATUS" 200
req -H "Authorization: Bearer $GUEST" "$(plain /v1/mcp/tools)"
expect_eq "  ... and lists the default-tier tools (whoami, find_tools)" \
  "$STATUS $(jqr '[.tools[].name | select(. == "whoami" or . == "find_tools")] | sort | join(",")')" "200 find_tools,whoami"
expect_eq "  ... but not the tools whose spec says min_tier: registered" "$(jqr '[.tools[].name | select(startswith("web_"))] | length')" 0
mcp_call "$GUEST" '{"name":"whoami","arguments":{}}'
expect_eq "  ... calls whoami (as a guest)" "$STATUS $(jqr '.isError // false') $(jqr .structuredContent.tier)" "200 false guest"
mcp_call "$GUEST" '{"name":"web_search","arguments":{"query":"x"}}'
expect_eq "  ... and cannot call web_search (unknown to it)" "$STATUS $(jqr .error.message)" "400 Unknown tool: web_search"
req -H "Authorization: Bearer $GUEST" "$(plain /v1/mcp/prompts)"
expect_match "  ... lists the default-tier prompts" "$STATUS $(jqr '[.prompts[].name] | join(",")')" '^200 .*brumo'
req -H "Authorization: Bearer $REG" "$(plain /v1/mcp/tools)"
expect_eq "  ... registered still lists web_search and web_crawl" "$(jqr '[.tools[].name | select(startswith("web_"))] | sort | join(",")')" "web_crawl,web_search"
check "reload with pro priority: true" tiers_conf '  - {tier: pro, priority: true}'
expect_eq "  ... /v1/tiers shows pro with priority" "$(tier_field pro .priority)" true
mcp_init "$REG"
expect_eq "  ... and registered has MCP again (that override is gone)" "$STATUS" 200

# --- broken overrides are refused with file:line ------------------------------------------------
for bad in '  - {tier: platinum, daily_tokens: 5}' '  - {tier: pro, daily_tokens: -5}' \
           '  - {tier: pro, mcp_access: maybe}' $'  - {tier: pro}\n  - {tier: pro}'; do
  { cat "$TF_TMP/conf.mesh"; printf 'tiers:\n%s\n' "$bad"; } > "$TF_TMP/bad.yaml"
  out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1); rc=$?
  expect_match "check-conf refuses [$(head -1 <<<"$bad" | sed 's/^ *//')...] with file:line" "$rc $out" "^[1-9][0-9]* .*bad\.yaml:[0-9]+: .*(tiers|maybe)"
done
G=$(conf_gen)
cp "$TF_TMP/bad.yaml" "$TF_CONF"; kill -HUP "$TF_PID"
wait_for "" 5 bash -c "grep -c 'reload refused' '$TF_LOG' | grep -qv '^0$'"
expect_eq "a reload with a broken override is refused: the generation stays" "$(conf_gen)" "$G"
expect_eq "  ... and the running tiers too" "$(tier_field pro .priority)" true
mesh_apply
expect_eq "without tiers: the spec's values again" "$(tier_field registered .requests_per_hour) $(tier_field pro .priority)" "30 false"
