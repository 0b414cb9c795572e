# MCP tools about the gateway itself: health, limits, the Mesh Brain
# (providers, route previews, task classification, strategies, model info)
# and the admin tools (admins only, audited), each with good and bad arguments.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --completion-tokens 3 || { fail "fake providers and mesh conf"; exit 0; }
mesh_admin
mesh_user registered
REG=$U_TOKEN; REG_EMAIL=$U_EMAIL
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
session() { # session TOKEN -> SID
  req -X POST "${H[@]}" -H "Authorization: Bearer $1" \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}' "$MCP"
  header mcp-session-id
}
SREG=$(session "$REG"); SADM=$(session "$ADMIN_TOKEN")
call() { # call TOKEN SID TOOL ARGS
  req -X POST "${H[@]}" -H "Authorization: Bearer $1" -H "mcp-session-id: $2" \
    --data "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"$3\",\"arguments\":$4}}" "$MCP"; }
u() { call "$REG" "$SREG" "$@"; }
a() { call "$ADMIN_TOKEN" "$SADM" "$@"; }
sc() { jqr ".result.structuredContent$1"; }
bad() { # bad TOOL ARGS FIELD RULE (as the registered user)
  u "$1" "$2"
  expect_eq "$1 with bad arguments: isError naming $3 ($4)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,$3,$4"
}

u health '{}'
expect_eq "health" "$(sc '| [.status, .database] | join(",")')" "ok,up"
bad health '{"x":1}' /x additionalProperties
u limits '{}'
expect_eq "limits (registered)" "$(sc '| [.tier, .daily_tokens, .requests_per_hour, .mcp_access] | join(",")')" "registered,100000,30,true"
bad limits '{"tier":"pro"}' /tier additionalProperties

u providers '{}'
expect_eq "providers: the six switched on are usable" "$(sc '.providers | map(select(.nodes[0].usable)) | length')" 6
expect_eq "  ... a disabled one says why" "$(sc '.providers[] | select(.id == "openai") | .nodes[0].reason')" disabled
u providers '{"provider":"ollama"}'
expect_eq "providers ollama: two nodes" "$(sc '.providers[0].nodes | map(.node) | join(",")')" "primary,backup"
u providers '{"provider":"nobody"}'
expect_eq "providers nobody: a tool error" "$(jqr .result.isError)" true
bad providers '{"provider":""}' /provider minLength

mesh_user unlimited
UNL=$U_TOKEN; SUNL=$(session "$UNL")
call "$UNL" "$SUNL" route_preview '{"model":"llama-3.3-70b","strategy":"cheapest"}'
expect_eq "route_preview, cheapest llama-3.3-70b: openrouter, groq, cerebras" "$(sc '.candidates | map(.node) | join(",")')" \
  "openrouter/default,groq/default,cerebras/default"
call "$UNL" "$SUNL" route_preview '{"model":"auto","text":"solve this integral"}'
expect_eq "route_preview auto: the math task" "$(sc .task)" math
u route_preview '{"model":"groq/llama-3.3-70b"}'
expect_contains "route_preview for a model above the tier: a tool error" "$(jqr '.result.content[0].text')" "cannot use"
bad route_preview '{}' /model required
bad route_preview '{"model":"x","strategy":"psychic"}' /strategy enum

u classify_task '{"text":"write a haiku about rain"}'
expect_eq "classify_task: creative, with its models" "$(sc '| [.task, (.models | length > 0)] | join(",")')" "creative,true"
bad classify_task '{"text":""}' /text minLength
u strategies '{}'
expect_eq "strategies: six, default fallback" "$(sc '| [(.strategies | length), .default] | join(",")')" "6,fallback"
bad strategies '{"all":true}' /all additionalProperties
u model_info '{"model":"llama-3.3-70b"}'
expect_eq "model_info llama-3.3-70b: four providers list it, none allowed for registered" \
  "$(sc '| [(.models | length), (.models | map(select(.allowed)) | length)] | join(",")')" "4,0"
u model_info '{"model":"ollama/kimi-k2:1t-cloud"}'
expect_eq "model_info for an ollama model: allowed and available" "$(sc '.models[0] | [.allowed, .available] | join(",")')" "true,true"
u model_info '{"model":"nope"}'
expect_eq "model_info nope: a tool error" "$(jqr .result.isError)" true
bad model_info '{"model":7}' /model type

# --- admin tools -------------------------------------------------------------------------
for t in admin_users admin_audit_log admin_reset_providers admin_reload; do
  u $t '{}'
  expect_contains "$t as a registered user: refused" "$(jqr '[.result.isError, .result.content[0].text] | join(" ")')" "true $t is for administrators"
done
u admin_set_tier "{\"email\":\"$REG_EMAIL\",\"tier\":\"pro\"}"
expect_eq "admin_set_tier as a registered user: refused, nothing changed" \
  "$(jqr .result.isError) $(psql "$TRIFORCE_DATABASE_URL" -tAc "SELECT tier FROM users WHERE email = '$REG_EMAIL'")" "true registered"
a admin_users "{\"search\":\"$REG_EMAIL\"}"
expect_eq "admin_users: search finds the user" "$(sc '| [.total, .users[0].email] | join(",")')" "1,$REG_EMAIL"
a admin_users '{"search":"%"}'
expect_eq "  ... a % in the search is a literal, not a wildcard" "$(sc .total)" 0
bad admin_users '{"limit":0}' /limit minimum
a admin_set_tier "{\"email\":\"$REG_EMAIL\",\"tier\":\"pro\"}"
expect_eq "admin_set_tier: pro" "$(sc .tier)" pro
u limits '{}'
expect_eq "  ... the user's next request has pro's limits" "$(sc .tier)" pro
a admin_set_tier '{"email":"nobody@example.com","tier":"pro"}'
expect_eq "admin_set_tier for nobody: a tool error" "$(jqr '[.result.isError, .result.content[0].text] | join(",")')" "true,no such user"
a admin_set_tier "{\"email\":\"$REG_EMAIL\",\"tier\":\"gold\"}"
expect_eq "admin_set_tier gold: /tier (enum)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/tier,enum"
a admin_disable_user "{\"email\":\"$REG_EMAIL\"}"
expect_eq "admin_disable_user" "$(sc .disabled)" true
u health '{}'
expect_eq "  ... the user is refused at once (403, disabled)" "$STATUS $(jqr .error.code)" "403 account_disabled"
a admin_disable_user "{\"email\":\"$REG_EMAIL\",\"disabled\":false}"
u health '{}'
expect_eq "  ... and enabled again" "$(sc .status)" ok
a admin_audit_log '{"limit":3}'
expect_eq "admin_audit_log: the last actions, newest first" "$(sc '.entries | map(.action) | join(",")')" "set_disabled,set_disabled,set_tier"
bad admin_audit_log '{"limit":"x"}' /limit type
a admin_reset_providers '{}'
expect_eq "admin_reset_providers" "$(sc .reset)" true
A0=$(psql "$TRIFORCE_DATABASE_URL" -tAc "select coalesce(max(id), 0) from audit_log")
a admin_reload '{}'
expect_eq "admin_reload: the configuration reloaded" "$(sc .reloaded)" true
last_reload() { psql "$TRIFORCE_DATABASE_URL" -tAc "select details->>'outcome', coalesce(details->>'message', details->>'error') from audit_log where action = 'reload' and id > $1 order by id desc limit 1"; }
wait_for "" 3 bash -c "[ -n \"\$(psql '$TRIFORCE_DATABASE_URL' -tAc \"select 1 from audit_log where action = 'reload' and id > $A0\")\" ]"
expect_eq "  ... audited once done, with the outcome" "$(last_reload "$A0")" "ok|$(sc .message)"
A1=$(psql "$TRIFORCE_DATABASE_URL" -tAc "select coalesce(max(id), 0) from audit_log")
cp "$TF_CONF" "$TF_TMP/conf.good"
printf 'threads: many\n' >> "$TF_CONF"
a admin_reload '{}'
expect_match "admin_reload of a broken conf: a tool error naming the file" "$(jqr '[.result.isError, .result.content[0].text] | join(",")')" \
  '^true,the configuration was refused: .*:[0-9]+: '
cp "$TF_TMP/conf.good" "$TF_CONF"
wait_for "" 3 bash -c "[ -n \"\$(psql '$TRIFORCE_DATABASE_URL' -tAc \"select 1 from audit_log where action = 'reload' and id > $A1\")\" ]"
expect_match "  ... audited as an error, with the reason" "$(last_reload "$A1")" '^error\|.*:[0-9]+: '

# --- account, estimates, metrics, logs -----------------------------------------------------
u estimate_tokens '{"text":"hello world!"}'
expect_eq "estimate_tokens: 12 bytes, 3 tokens" "$(sc '| [.bytes, .tokens] | join(",")')" "12,3"
bad estimate_tokens '{}' /text required
u key_create '{"name":"agent"}'
KEY=$(sc .key); KID=$(sc .id)
expect_match "key_create: the key, shown once" "$KEY" '^tf_[0-9a-f]{64}$'
req -H "Authorization: Bearer $KEY" "$(plain /v1/client/tier)"
expect_eq "  ... and it works" "$STATUS" 200
u keys_list '{}'
expect_eq "keys_list: the key by prefix, never the key" "$(sc '.keys[0] | [.id, .prefix, (has("key"))] | join(",")')" "$KID,${KEY:0:12},false"
bad keys_list '{"all":1}' /all additionalProperties
bad key_create '{"name":5}' /name type
u key_revoke "{\"id\":\"$KID\"}"
expect_match "key_revoke: revoked" "$(sc .revoked_at)" '^20'
req -H "Authorization: Bearer $KEY" "$(plain /v1/client/tier)"
expect_eq "  ... and refused from then on" "$STATUS" 401
call "$UNL" "$SUNL" key_revoke "{\"id\":\"$KID\"}"
expect_eq "  ... another user cannot revoke it: no such key" "$(jqr '[.result.isError, .result.content[0].text] | join(",")')" "true,no such key"
bad key_revoke '{"id":"not-a-uuid"}' /id pattern
u usage_history '{"days":3}'
expect_eq "usage_history: an array of days" "$(sc '.days | type')" array
bad usage_history '{"days":91}' /days maximum
a admin_metrics '{"filter":"tf_http_requests_total"}'
got=$(jqr '.result.content[0].text')
expect_contains "admin_metrics: Prometheus lines" "$got" "tf_http_requests_total"
expect_eq "  ... only those with the filter" "$(printf '%s\n' "$got" | grep -vc 'tf_http_requests_total')" 0
u admin_metrics '{}'
expect_eq "  ... not for a registered user" "$(jqr .result.isError)" true
a admin_logs '{"lines":5,"contains":"mcp_post"}'
got=$(jqr '.result.content[0].text')
expect_eq "admin_logs: the last 5 log lines containing mcp_post" "$(printf '%s\n' "$got" | grep -c '"route":"mcp_post"') $(printf '%s\n' "$got" | grep -c .)" "5 5"
bad admin_logs '{"lines":0}' /lines minimum

u ollama_status '{}'
expect_eq "ollama_status: both nodes online, asked live" "$(sc '| [.nodes_total, .nodes_online, .nodes[0].node] | join(",")')" "2,2,primary"
bad ollama_status '{"node":"x"}' /node additionalProperties
u ollama_models '{}'
expect_eq "ollama_models: what the nodes hold, on which nodes, allowed (the user is pro by now)" \
  "$(sc '.models[0] | [.name, (.nodes | join("+")), .allowed] | join(",")')" "ollama/fake-model:latest,primary+backup,true"
u ollama_models '{"search":"nothing-like-this"}'
expect_eq "  ... filtered by a word" "$(sc .count)" 0
bad ollama_models '{"search":1}' /search type
a admin_node '{}'
expect_eq "admin_node: threads and listeners, no secrets" "$(sc '| [.threads, (.listen | length), (tostring | test("jwt|secret|password") | not)] | join(",")')" "2,2,true"
u admin_node '{}'
expect_eq "  ... not for a registered user" "$(jqr .result.isError)" true
