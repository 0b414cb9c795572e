# MCP prompts, resources and completion (spec/prompts.yaml,
# spec/resources.yaml) through /v1/mcp with curl, good and bad input: pages
# and cursors, argument errors naming the field and rule, unknown names and
# URIs, another user's memory, fixtures only in conformance mode, the REST
# views, h2c.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
trap 'reload_to "$TF_TMP/conf.orig"' EXIT
{ cat "$TF_TMP/conf.orig"; printf 'mcp:\n  page_size: 2\n'; } > "$TF_TMP/conf.cat"
reload_to "$TF_TMP/conf.cat" || fail "reload with mcp.page_size 2"
mesh_user registered
TOK=$U_TOKEN
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
rpc() { req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} --data "$1" "${@:2}" "$MCP"; }
SID=
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}'
SID=$(header mcp-session-id)
m() { rpc "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"$1\",\"params\":${2:-{\}}}" "${@:3}"; }

# --- prompts ----------------------------------------------------------------------------------------
m prompts/list
expect_eq "prompts/list: a page of 2, sorted, with nextCursor" "$(jqr '[(.result.prompts | map(.name) | join("+")), .result.nextCursor] | join(" ")')" "brumo+code_review p2"
m prompts/list '{"cursor":"p2"}'
expect_eq "  ... the next page" "$(jqr '.result.prompts | map(.name) | join("+")')" "explain+summarize"
m prompts/list '{"cursor":"p4"}'
expect_eq "  ... fixtures are not listed (conformance off): no more pages" "$(jqr '[(.result.prompts | length), (.result.nextCursor // "none")] | join(",")')" "0,none"
m prompts/list '{"cursor":"x9"}'
expect_eq "  ... a bad cursor: -32602 naming /params/cursor" "$(jqr '[.error.code, .error.data.field] | join(",")')" "-32602,/params/cursor"
m prompts/list '{}' --http2-prior-knowledge
expect_eq "prompts/list over h2c" "$VERSION $(jqr '.result.prompts | length')" "2 2"
m prompts/get '{"name":"code_review","arguments":{"code":"int main(){}","language":"c","focus":"security"}}'
expect_contains "prompts/get code_review: arguments filled in" "$(jqr '.result.messages[0].content.text')" "Review this c code. Focus first on security"
expect_contains "  ... the code is in the message" "$(jqr '.result.messages[0].content.text')" "int main(){}"
expect_eq "  ... role user, with the prompt's description" "$(jqr '[.result.messages[0].role, (.result.description | length > 10)] | join(",")')" "user,true"
m prompts/get '{"name":"code_review","arguments":{"language":"c"}}'
expect_eq "prompts/get without a required argument: -32602 naming it (required)" \
  "$(jqr '[.error.code, .error.data.field, .error.data.rule] | join(",")')" "-32602,/params/arguments/code,required"
m prompts/get '{"name":"code_review","arguments":{"code":7}}'
expect_eq "prompts/get with a number as argument: /params/arguments/code (type)" "$(jqr '[.error.data.field, .error.data.rule] | join(",")')" "/params/arguments/code,type"
m prompts/get '{"name":"no_such_prompt"}'
expect_eq "prompts/get of an unknown prompt: -32602" "$(jqr '[.error.code, .error.data.field] | join(",")')" "-32602,/params/name"
m prompts/get '{}'
expect_eq "prompts/get without name: -32602 (required)" "$(jqr '[.error.code, .error.data.rule] | join(",")')" "-32602,required"
m prompts/get '{"name":"test_simple_prompt"}'
expect_eq "a fixture prompt with conformance off: unknown" "$(jqr .error.code)" -32602
m prompts/get '{"name":"brumo","arguments":{"question":"{{persona}} and {{question}}"}}'
expect_eq "argument values are not expanded again ({{...}} in a value stays text)" \
  "$(jqr '.result.messages[0].content.text | endswith("{{persona}} and {{question}}")')" true

# --- completion ---------------------------------------------------------------------------------------
m completion/complete '{"ref":{"type":"ref/prompt","name":"code_review"},"argument":{"name":"language","value":"j"}}'
expect_eq "completion: language j -> java, javascript" "$(jqr '[(.result.completion.values | join("+")), .result.completion.total, .result.completion.hasMore] | join(",")')" "java+javascript,2,false"
m completion/complete '{"ref":{"type":"ref/prompt","name":"code_review"},"argument":{"name":"code","value":""}}'
expect_eq "  ... an argument without values: none" "$(jqr '.result.completion.values | length')" 0
m completion/complete '{"ref":{"type":"ref/resource","uri":"triforce://memory/{id}"},"argument":{"name":"id","value":"1"}}'
expect_eq "  ... a resource template: answered (no list for memory ids)" "$(jqr '.result.completion.total')" 0
m completion/complete '{"ref":{"type":"ref/tool","name":"x"},"argument":{"name":"a","value":""}}'
expect_eq "  ... ref/tool: -32602 naming /params/ref/type (enum)" "$(jqr '[.error.code, .error.data.field, .error.data.rule] | join(",")')" "-32602,/params/ref/type,enum"
m completion/complete '{"ref":{"type":"ref/prompt","name":"code_review"}}'
expect_eq "  ... no argument: -32602 (required)" "$(jqr '[.error.code, .error.data.rule] | join(",")')" "-32602,required"
m completion/complete '{"ref":{"type":"ref/prompt","name":"nope"},"argument":{"name":"a","value":""}}'
expect_eq "  ... an unknown prompt: -32602" "$(jqr '[.error.code, .error.data.field] | join(",")')" "-32602,/params/ref/name"

# --- resources -----------------------------------------------------------------------------------------
m resources/list
expect_eq "resources/list: first page" "$(jqr '[(.result.resources | map(.uri) | join("+")), .result.nextCursor] | join(" ")')" "triforce://tiers+triforce://models r2"
m resources/list '{"cursor":"r2"}'
expect_eq "  ... then memory, and no fixtures" "$(jqr '[(.result.resources | map(.uri) | join("+")), (.result.nextCursor // "none")] | join(" ")')" "triforce://memory none"
m resources/templates/list
expect_eq "resources/templates/list: memory/{id} only (fixtures off)" "$(jqr '.result.resourceTemplates | map(.uriTemplate) | join("+")')" "triforce://memory/{id}"
m resources/read '{"uri":"triforce://tiers"}'
expect_eq "resources/read triforce://tiers" "$(jqr '.result.contents[0] | [.uri, .mimeType, (.text | fromjson | .tiers | length)] | join(",")')" "triforce://tiers,application/json,4"
m resources/read '{"uri":"triforce://models"}'
expect_eq "resources/read triforce://models: the registered tier's models, none of pro's groq" \
  "$(jqr '.result.contents[0].text | fromjson | [.tier, (.models | length > 0), (.models | map(select(.provider == "groq")) | length)] | join(",")')" "registered,true,0"
m resources/read '{}'
expect_eq "resources/read without uri: -32602 (required)" "$(jqr '[.error.code, .error.data.field, .error.data.rule] | join(",")')" "-32602,/params/uri,required"
m resources/read '{"uri":"triforce://nothing"}'
expect_eq "resources/read of an unknown URI: -32002 with the uri" "$(jqr '[.error.code, .error.data.uri] | join(",")')" "-32002,triforce://nothing"
m resources/read '{"uri":"test://static-text"}'
expect_eq "  ... a fixture with conformance off: -32002" "$(jqr .error.code)" -32002

# memories: mine, not another user's, and nonsense ids
m tools/call '{"name":"memory_store","arguments":{"content":"catalog test memory","key":"cat1"}}'
MID=$(jqr .result.structuredContent.id)
m resources/read "{\"uri\":\"triforce://memory/$MID\"}"
expect_eq "resources/read triforce://memory/{id}: my memory" "$(jqr '.result.contents[0].text | fromjson | [.content, .key] | join(",")')" "catalog test memory,cat1"
m resources/read '{"uri":"triforce://memory"}'
expect_eq "resources/read triforce://memory: its uri in my list" "$(jqr ".result.contents[0].text | fromjson | .memories | map(.uri) | index(\"triforce://memory/$MID\") != null")" true
for bad in "triforce://memory/not-a-uuid" "triforce://memory/00000000-0000-0000-0000-000000000000" "triforce://memory/$MID/x" "triforce://memory/"; do
  m resources/read "{\"uri\":\"$bad\"}"
  expect_eq "resources/read $bad: -32002" "$(jqr .error.code)" -32002
done
OWNER=$TOK
mesh_user registered
TOK=$U_TOKEN; S0=$SID; SID=
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}'
SID=$(header mcp-session-id)
m resources/read "{\"uri\":\"triforce://memory/$MID\"}"
expect_eq "another user reading my memory: -32002, as if it did not exist" "$(jqr .error.code)" -32002
m resources/subscribe "{\"uri\":\"triforce://memory/$MID\"}"
expect_eq "resources/subscribe to a memory URI: {}" "$(printf '%s' "$BODY" | jq -c .result)" "{}"
TOK=$OWNER; SID=$S0

# --- the prompt_get tool (clients without prompt support) ------------------------------------------
t() { m tools/call "{\"name\":\"prompt_get\",\"arguments\":$1}"; }
t '{}'
expect_eq "prompt_get without a name: the prompts there are" "$(jqr '.result.structuredContent.prompts | map(.name) | join("+")')" "brumo+code_review+explain+summarize"
t '{"name":"explain","arguments":{"topic":"TCP slow start","level":"beginner"}}'
expect_eq "prompt_get explain: the rendered message" "$(jqr '.result.structuredContent.messages[0] | [.role, (.text | startswith("Explain TCP slow start for a beginner reader"))] | map(tostring) | join(",")')" "user,true"
t '{"name":"explain"}'
expect_eq "prompt_get without the required argument: /arguments/topic (required)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | map(tostring) | join(",")')" "true,/arguments/topic,required"
t '{"name":"nope"}'
expect_eq "prompt_get of an unknown prompt: /name" "$(jqr '[.result.isError, .result._meta.field] | map(tostring) | join(",")')" "true,/name"
t '{"name":"Bad Name"}'
expect_eq "prompt_get with a malformed name: /name (pattern)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/name,pattern"
t '{"name":"explain","arguments":{"topic":5}}'
expect_eq "prompt_get with a number argument: /arguments/topic (type)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/arguments/topic,type"
t '{"name":"test_simple_prompt"}'
expect_eq "prompt_get of a fixture with conformance off: unknown" "$(jqr '.result.isError')" true

# --- REST views ---------------------------------------------------------------------------------------------
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/prompts)"
expect_eq "GET /v1/mcp/prompts: all of them, no paging" "$STATUS $(jqr '[(.prompts | length), (.nextCursor // "none")] | join(",")')" "200 4,none"
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/resources)"
expect_eq "GET /v1/mcp/resources: resources and templates" "$STATUS $(jqr '[(.resources | length), (.resourceTemplates | length)] | join(",")')" "200 3,1"
req "$(plain /v1/mcp/prompts)"
expect_eq "  ... without credentials: 401" "$STATUS" 401

# --- conformance mode: the fixtures appear ------------------------------------------------------------------
{ cat "$TF_TMP/conf.cat"; printf '  conformance: true\n'; } > "$TF_TMP/conf.cat2"
reload_to "$TF_TMP/conf.cat2" || fail "reload with conformance on"
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/prompts)"
expect_eq "conformance on: 8 prompts" "$(jqr '.prompts | length')" 8
m resources/read '{"uri":"test://template/42/data"}'
expect_eq "  ... the template fixture substitutes {id}" "$(jqr '.result.contents[0].text | fromjson | .data')" "Data for ID: 42"
m resources/read '{"uri":"test://static-binary"}'
expect_eq "  ... a blob resource" "$(jqr '.result.contents[0] | [.mimeType, (.blob | length > 20), (.text // "none")] | join(",")')" "image/png,true,none"
m completion/complete '{"ref":{"type":"ref/resource","uri":"test://template/{id}/data"},"argument":{"name":"id","value":"12"}}'
expect_eq "  ... template completions" "$(jqr '.result.completion.values | join("+")')" "123+124"
