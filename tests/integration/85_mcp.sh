# MCP over Streamable HTTP at /v1/mcp: sessions, versions, origins, JSON-RPC
# errors, tools/list pages, every system tool with good and bad arguments,
# the REST views, and sessions kept in PostgreSQL.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
restore() { reload_to "$TF_TMP/conf.orig"; }
trap restore EXIT
{ cat "$TF_TMP/conf.orig"; printf 'mcp:\n  page_size: 3\n  allowed_origins: ["https://agent.example"]\n'; } > "$TF_TMP/conf.mcp"
reload_to "$TF_TMP/conf.mcp" || fail "reload with mcp.page_size 3"
mesh_user registered
TOK=$U_TOKEN
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
rpc() { # rpc JSON [curl options] : POST to /v1/mcp with the session (SID) if set
  req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} -H "mcp-protocol-version: ${PV:-2025-11-25}" --data "$1" "${@:2}" "$MCP"
}
SID=

req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP"
expect_eq "no credentials: 401" "$STATUS" 401
expect_match "  ... with WWW-Authenticate: Bearer" "$(header www-authenticate)" '^Bearer '
req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$(plain /mcp)"
expect_eq "/mcp alias: 401 too" "$STATUS" 401

rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
expect_eq "initialize: 200" "$STATUS" 200
SID=$(header mcp-session-id)
expect_match "  ... issues Mcp-Session-Id" "$SID" '^[0-9a-f]{48}$'
expect_eq "  ... protocol 2025-11-25, server triforce, tools capability" \
  "$(jqr '[.result.protocolVersion, .result.serverInfo.name, (.result.capabilities.tools != null)] | join(",")')" "2025-11-25,triforce,true"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_eq "notification: 202, no body" "$STATUS:$BODY" "202:"

for v in 2025-06-18 2025-03-26; do
  S0=$SID; SID=
  rpc "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$v\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"
  expect_eq "a $v client gets $v" "$STATUS $(jqr .result.protocolVersion)" "200 $v"
  SID=$S0
done
S0=$SID; SID=
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{}}}'
expect_eq "an unknown revision is answered with ours" "$(jqr .result.protocolVersion)" 2025-11-25
SID=$S0

PV=1900-01-01 rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "MCP-Protocol-Version unsupported: 400" "$STATUS $(jqr .error.code)" "400 -32600"
# The message quotes the header: bytes that are not UTF-8 must not cost the JSON body.
PV=$'19\xff\xc0-01' rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "  ... one that is not UTF-8: still a JSON-RPC error, the bytes as U+FFFD" "$STATUS $(jqr .error.code) $(jqr .error.message)" \
  "400 -32600 Unsupported MCP-Protocol-Version: 19$(printf '\xef\xbf\xbd\xef\xbf\xbd')-01"
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'origin: https://evil.example'
expect_eq "a foreign Origin: 403 (DNS rebinding)" "$STATUS" 403
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H 'origin: https://agent.example'
expect_eq "  ... an Origin from conf: 200" "$STATUS" 200
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "ping: {}" "$STATUS $(printf '%s' "$BODY" | jq -c .result)" "200 {}"
rpc '[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
expect_eq "a batch: 400 -32600" "$STATUS $(jqr .error.code)" "400 -32600"
rpc '{"jsonrpc":"2.0","id":1,"method":'
expect_eq "not JSON: 400 -32700" "$STATUS $(jqr .error.code)" "400 -32700"
rpc '{"jsonrpc":"1.0","id":1,"method":"ping"}'
expect_eq "jsonrpc 1.0: -32600" "$(jqr .error.code)" -32600
rpc '{"jsonrpc":"2.0","id":7,"method":"nope/nothing"}'
expect_eq "unknown method: -32601 with the id" "$(jqr '[.error.code, .id] | join(",")')" "-32601,7"
rpc '{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"no_such_tool"}}'
expect_eq "unknown tool: -32602" "$(jqr '[.error.code, .id] | join(",")')" "-32602,x"
rpc '{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"loud"}}'
expect_eq "logging/setLevel bad level: -32602" "$(jqr .error.code)" -32602
rpc '{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"warning"}}'
expect_eq "logging/setLevel warning: {}" "$(printf '%s' "$BODY" | jq -c .result)" "{}"
expect_eq "  ... stored with the session" "$(psql "$TRIFORCE_DATABASE_URL" -tAc "SELECT log_level FROM mcp_sessions WHERE id = '$SID'")" warning
rpc '{"jsonrpc":"2.0","id":9,"result":{}}'
expect_eq "a client's response: 202" "$STATUS" 202

S0=$SID; SID=
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "no Mcp-Session-Id: 400" "$STATUS" 400
SID=deadbeef
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "an unknown session: 404" "$STATUS" 404
SID=$S0

# --- tools/list across pages (page_size 3) ------------------------------------------
names=""; cursor=""; pages=0
while :; do
  if [ -z "$cursor" ]; then rpc '{"jsonrpc":"2.0","id":10,"method":"tools/list"}'
  else rpc "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\",\"params\":{\"cursor\":\"$cursor\"}}"; fi
  [ "$STATUS" = 200 ] || break
  pages=$((pages + 1)); names="$names $(jqr '[.result.tools[].name] | join(" ")')"
  cursor=$(jqr '.result.nextCursor // empty'); [ -n "$cursor" ] || break
  [ $pages -lt 20 ] || break
done
n_total=$(curl -s -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/tools)" | jq '.tools | length')
expect_eq "tools/list pages of 3 hold every tool once" "$(echo $names | tr ' ' '\n' | sort -u | wc -l) $(echo $names | wc -w)" "$n_total $n_total"
expect_eq "  ... in $(( (n_total + 2) / 3 )) pages" "$pages" $(( (n_total + 2) / 3 ))
rpc '{"jsonrpc":"2.0","id":10,"method":"tools/list","params":{"cursor":"bogus"}}'
expect_eq "a bad cursor: -32602" "$(jqr .error.code)" -32602
rpc '{"jsonrpc":"2.0","id":10,"method":"tools/list"}'
expect_eq "entries carry inputSchema and annotations" "$(jqr '.result.tools[0] | [(.inputSchema.type), (.annotations | has("readOnlyHint"))] | join(",")')" "object,true"

# --- each tool, valid and invalid arguments ------------------------------------------------
call() { rpc "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"; }
bad() { # bad TOOL ARGS FIELD RULE
  call "$1" "$2"
  expect_eq "$1 with bad arguments: isError naming $3 ($4)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,$3,$4"
}
call status '{}'
expect_eq "status: structuredContent" "$(jqr '.result.structuredContent | [.database, .version != null] | join(",")')" "up,true"
expect_eq "  ... and the same JSON as text" "$(jqr '.result.content[0].text | fromjson | .database')" up
bad status '{"x":1}' /x additionalProperties
call version '{}'
expect_eq "version: MCP revisions" "$(jqr '.result.structuredContent.mcp_protocol_versions | join(",")')" "2025-11-25,2025-06-18,2025-03-26"
bad version '{"v":true}' /v additionalProperties
call whoami '{}'
expect_eq "whoami: the caller" "$(jqr '.result.structuredContent | [.email, .tier, .is_admin] | join(",")')" "$U_EMAIL,registered,false"
call whoami '[]'
expect_eq "arguments that are not an object: -32602 (a protocol fault)" "$(jqr .error.code)" -32602
call tiers '{}'
expect_eq "tiers: four" "$(jqr '.result.structuredContent.tiers | length')" 4
bad tiers '{"all":1}' /all additionalProperties
call models '{"provider":"ollama"}'
expect_eq "models (registered, ollama): the 20 cloud models" "$(jqr '.result.structuredContent.count')" 20
call models '{"provider":"groq"}'
expect_eq "  ... none of groq's for this tier" "$(jqr '.result.structuredContent.count')" 0
call models '{"search":"qwen3-coder"}'
expect_eq "  ... search by word" "$(jqr '.result.structuredContent.models[0].name')" "ollama/qwen3-coder:480b-cloud"
bad models '{"provider":5}' /provider type
call usage '{}'
expect_eq "usage: today, against the limit" "$(jqr '.result.structuredContent | [.used, .limit] | join(",")')" "0,100000"
bad usage '{"day":"x"}' /day additionalProperties
call find_tools '{"query":"token usage"}'
expect_eq "find_tools: 'token usage' finds usage first" "$(jqr '.result.structuredContent.tools[0].name')" usage
call find_tools '{"category":"system","limit":2}'
expect_eq "  ... by category, limited" "$(jqr '.result.structuredContent.count')" 2
bad find_tools '{"limit":0}' /limit minimum
# tool_info: the tools/list entry of one tool, as tools/list itself has it, plus the category.
call tool_info '{"name":"find_tools"}'
info=$(printf '%s' "$BODY" | jq -cS '.result.structuredContent | del(.category)')
listed=$(curl -s -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/tools)" | jq -cS '.tools[] | select(.name == "find_tools")')
expect_eq "tool_info find_tools: its tools/list entry (schemas, annotations)" "$info" "$listed"
expect_eq "  ... with its category and output schema" "$(jqr '.result.structuredContent | [.category, .outputSchema.type, .inputSchema.properties.limit.maximum] | join(",")')" "system,object,100"
call tool_info '{"name":"no_such_tool"}'
expect_match "tool_info of an unknown tool: a tool error pointing at find_tools" "$(jqr '[.result.isError, .result.content[0].text] | join(",")')" "^true,no tool 'no_such_tool'.*find_tools"
call tool_info '{"name":"admin_users"}'
expect_eq "  ... an admin tool, for a non-admin: as unknown" "$(jqr .result.isError)" true
mesh_admin
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $ADMIN_TOKEN" --data '{"name":"tool_info","arguments":{"name":"admin_users"}}' "$(plain /v1/mcp/call)"
expect_eq "  ... but described to an admin" "$(jqr '[.isError // false, .structuredContent.category] | join(",")')" "false,admin"
call tool_info '{"name":"test_simple_text"}'
expect_eq "  ... a conformance fixture with conformance off: as unknown" "$(jqr .result.isError)" true
bad tool_info '{}' /name required
bad tool_info '{"name":"Find-Tools"}' /name pattern
bad tool_info '{"name":"x","y":1}' /y additionalProperties
call whoami
expect_eq "arguments left out: {}" "$(jqr '.result.isError // false')" false

# --- REST views -------------------------------------------------------------------------------
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/tools)"
expect_eq "GET /v1/mcp/tools: every tool at once" "$(jqr '.tools | length')" "$n_total"
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $TOK" --data '{"name":"whoami"}' "$(plain /v1/mcp/call)"
expect_eq "POST /v1/mcp/call: the CallToolResult" "$(jqr .structuredContent.tier)" registered
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $TOK" --data '{"arguments":{}}' "$(plain /v1/mcp/call)"
expect_eq "  ... without a name: 400 naming /name" "$STATUS $(jqr .error.param)" "400 /name"

# --- tiers without MCP ---------------------------------------------------------------------------
req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}' -H 'X-Forwarded-For: 1.2.3.4' "$MCP"
expect_eq "a guest (no MCP access): 401" "$STATUS" 401

# --- sessions belong to their user, survive restarts, end with DELETE -------------------------------
mesh_user registered
OTHER=$U_TOKEN
req -X POST "${H[@]}" -H "Authorization: Bearer $OTHER" -H "mcp-session-id: $SID" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP"
expect_eq "another user's session id: 404" "$STATUS" 404
psql "$TRIFORCE_DATABASE_URL" -qc "UPDATE mcp_sessions SET last_seen = now() WHERE id = '$SID'" >/dev/null
req -X GET -H 'accept: text/event-stream' -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" -m 1 "$MCP"
expect_match "GET opens the session's SSE stream" "$(header content-type)" '^text/event-stream'
req -X DELETE -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" "$MCP"
expect_eq "DELETE ends the session: 204" "$STATUS" 204
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
expect_eq "  ... then 404" "$STATUS" 404
req -X DELETE -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" "$MCP"
expect_eq "  ... and DELETE again: 404" "$STATUS" 404
