# MCP streams and what travels on them: DNS-rebinding Host checks, the GET
# stream (priming event, keepalive), resumption by Last-Event-ID and its
# refusals, cancellation of a running call (the upstream sees it), client
# answers to unknown requests, subscriptions' errors, client capabilities,
# and conformance mode (credential-free MCP for the suite; loopback only).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 4 --completion-tokens 5 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user registered
TOK=$U_TOKEN
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
rpc() { req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} --data "$1" "${@:2}" "$MCP"; }
init() { # init [capabilities JSON] : a new session in SID
  SID=
  rpc "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":${1:-{\}}}}"
  SID=$(header mcp-session-id)
}
init

# --- authorization discovery (MCP 2025-11-25 authorization, RFC 9728) ----------------------------
req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP"
RM=$(header www-authenticate | sed -n 's/.*resource_metadata="\([^"]*\)".*/\1/p')
expect_eq "401 without credentials names the resource metadata" "$STATUS $RM" "401 http://127.0.0.1:$TF_PLAIN/.well-known/oauth-protected-resource/v1/mcp"
req "$RM"
expect_eq "  ... which says the resource and that bearer tokens go in the header" \
  "$STATUS $(jqr '[.resource, (.bearer_methods_supported | join("+"))] | join(" ")')" "200 http://127.0.0.1:$TF_PLAIN/v1/mcp header"
req "$(plain /.well-known/oauth-protected-resource)"
expect_eq "  ... also at the root address" "$STATUS $(jqr .resource)" "200 http://127.0.0.1:$TF_PLAIN/v1/mcp"
req "$(plain /v1/client/tier)"
expect_eq "other routes' 401 stay plain" "$STATUS $(header www-authenticate)" '401 Bearer realm="triforce"'

# --- DNS rebinding: the Host must be a name this server is known by --------------------
P=$TF_PLAIN
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: evil.example:$P"
expect_eq "Host evil.example on a loopback listener: 403" "$STATUS $(jqr .error.code)" "403 -32600"
expect_contains "  ... saying why" "$(jqr .error.message)" "DNS rebinding"
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: evil.example" -H "Origin: http://evil.example"
expect_eq "  ... with a matching Origin too: 403" "$STATUS" 403
for h in "localhost:$P" "127.0.0.1:$P" "[::1]:$P" "LOCALHOST"; do
  rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: $h"
  expect_eq "Host $h: 200" "$STATUS" 200
done
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: localhost:$P" -H "Origin: http://localhost:$P"
expect_eq "a browser page of the server itself: 200" "$STATUS" 200
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: localhost:$P" -H "Origin: http://127.0.0.2:$P"
expect_eq "an Origin that is not the Host: 403" "$STATUS" 403
req --http2-prior-knowledge -X POST "${H[@]}" -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" -H "Host: evil.example" \
  --data '{"jsonrpc":"2.0","id":2,"method":"ping"}' "$MCP"
expect_eq "h2c with :authority evil.example: 403" "$STATUS" 403
{ cat "$TF_TMP/conf.mesh"; printf 'mcp:\n  allowed_hosts: [mcp.example]\n'; } > "$TF_TMP/conf.hosts"
reload_to "$TF_TMP/conf.hosts" || fail "reload with mcp.allowed_hosts"
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: mcp.example:$P"
expect_eq "mcp.allowed_hosts [mcp.example]: that Host 200" "$STATUS" 200
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Host: localhost:$P"
expect_eq "  ... and localhost no longer: 403" "$STATUS" 403
reload_to "$TF_TMP/conf.mesh"

# --- the GET stream -------------------------------------------------------------------------
sse() { # sse SECONDS [curl options] : GET the session's stream into $TF_TMP/sse, headers into $TF_TMP/sse.h
  curl -s -N -m "$1" -D "$TF_TMP/sse.h" -o "$TF_TMP/sse" -H 'accept: text/event-stream' -H "Authorization: Bearer $TOK" \
    -H "mcp-session-id: $SID" -H 'mcp-protocol-version: 2025-11-25' "${@:2}" "$MCP"
}
sse 1
expect_eq "GET: 200 text/event-stream with the session id" \
  "$(tr -d '\r' < "$TF_TMP/sse.h" | grep -iE '^(HTTP|content-type|mcp-session-id)' | sed 's/^HTTP[^ ]* //' | cut -d' ' -f1-2 | LC_ALL=C sort | tr '\n' ' ')" \
  "200 OK content-type: text/event-stream mcp-session-id: $SID "
EV1=$(sed -n 's/^id: //p' "$TF_TMP/sse" | head -1)
expect_match "  ... first a priming event: an id, a retry, empty data" "$(head -3 "$TF_TMP/sse" | tr '\n' '|')" '^id: [0-9a-f]{16}_0\|retry: [0-9]+\|data: \|$'
sse 1 --http2-prior-knowledge
expect_match "GET over h2c: the same" "$(head -3 "$TF_TMP/sse" | tr '\n' '|')" '^id: [0-9a-f]{16}_0\|retry: [0-9]+\|data: \|$'
sse 1 -H "last-event-id: $EV1"
expect_eq "GET with the Last-Event-ID of the ended stream: resumed (200)" "$(head -1 "$TF_TMP/sse.h" | tr -d '\r' | awk '{print $2}')" 200
sse 1 -H "last-event-id: 0123456789abcdef_3"
expect_eq "  ... an unknown stream: 404" "$(head -1 "$TF_TMP/sse.h" | tr -d '\r' | awk '{print $2}')" 404
sse 1 -H "last-event-id: garbage"
expect_eq "  ... garbage: 404" "$(head -1 "$TF_TMP/sse.h" | tr -d '\r' | awk '{print $2}')" 404
S1=$SID; init; S2=$SID
sse 1 -H "last-event-id: $EV1"
H2=$(tr -d '\r' < "$TF_TMP/sse.h" | grep -c '^HTTP.* 404')
expect_eq "  ... another session's stream: 404" "$H2" 1
SID=$S1
PV_OLD=$(curl -s -N -m 1 -H 'accept: text/event-stream' -H "Authorization: Bearer $TOK" -H "mcp-session-id: $(
  req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{}}}' "$MCP"
  header mcp-session-id)" "$MCP" | head -c 300)
expect_eq "a 2025-03-26 session's stream has no priming event (older clients parse every data line)" "$(grep -c '^data: $' <<<"$PV_OLD")" 0

# --- cancellation ---------------------------------------------------------------------------------
fake_config ollama1 '{"hang":true}'; fake_config ollama2 '{"hang":true}'
C0=$(fake_stat ollama1 .client_closed); R0=$(fake_stat ollama1 .requests)
( rpc '{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"chat","arguments":{"message":"hi","model":"ollama/glm-4.6:cloud"}}}' -m 8
  printf '%s %s' "$STATUS" "$BODY" > "$TF_TMP/cancelled" ) &
BG=$!
wait_for "" 5 bash -c "[ \$(curl -s $(fake_url ollama1 /_fake/stats) | jq .requests) -gt $R0 ]"
rpc '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow-1","reason":"user pressed stop"}}'
expect_eq "notifications/cancelled: 202" "$STATUS" 202
wait $BG
expect_eq "  ... the cancelled call's POST ends with -32800 at once" "$(cut -d' ' -f2- "$TF_TMP/cancelled" | jq -r .error.code 2>/dev/null)" -32800
wait_for "" 3 bash -c "[ \$(curl -s $(fake_url ollama1 /_fake/stats) | jq .client_closed) -gt $C0 ]"
expect_eq "  ... and the upstream request was closed" "$([ "$(fake_stat ollama1 .client_closed)" -gt "$C0" ] && echo yes)" yes
rpc '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"nothing-running"}}'
expect_eq "cancelling what is not running: 202, nothing happens" "$STATUS" 202
fake_reset_all

# --- two gateway nodes on one database: a cancellation sent to the other node ----------------------
B_PORT=$(pshift 19182)
sed -e "s/port: $TF_PLAIN/port: $B_PORT/" -e "s/port: $TF_TLS/port: $(pshift 19545)/" -e "s#$TF_TMP/triforce.log#$TF_TMP/nodeb.log#" \
  -e "s/^  name: .*/  name: node-b/" "$TF_CONF" > "$TF_TMP/nodeb.yaml"
"$TF_BIN" --conf "$TF_TMP/nodeb.yaml" 2>"$TF_TMP/nodeb.err" &
BPID=$!
if wait_for "" 10 curl -sf -o /dev/null "http://127.0.0.1:$B_PORT/health"; then
  fake_config ollama1 '{"hang":true}'; fake_config ollama2 '{"hang":true}'
  C0=$(fake_stat ollama1 .client_closed); R0=$(fake_stat ollama1 .requests)
  ( rpc '{"jsonrpc":"2.0","id":"slow-2","method":"tools/call","params":{"name":"chat","arguments":{"message":"hi","model":"ollama/glm-4.6:cloud"}}}' -m 8
    printf '%s %s' "$STATUS" "$BODY" > "$TF_TMP/cancelled2" ) &
  BG=$!
  wait_for "" 5 bash -c "[ \$(curl -s $(fake_url ollama1 /_fake/stats) | jq .requests) -gt $R0 ]"
  req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" -H "Host: localhost:$B_PORT" \
    --data '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow-2"}}' "http://127.0.0.1:$B_PORT/v1/mcp"
  expect_eq "node B takes the session's cancellation: 202" "$STATUS" 202
  wait $BG
  expect_eq "  ... and the call running on node A stops (-32800), passed on through PostgreSQL" \
    "$(cut -d' ' -f2- "$TF_TMP/cancelled2" | jq -r .error.code 2>/dev/null)" -32800
  [ "$(cut -d' ' -f2- "$TF_TMP/cancelled2" | jq -r .error.code 2>/dev/null)" = -32800 ] || {
    echo "# diagnosis: $(cat "$TF_TMP/cancelled2" | head -c 300)"; grep -h -iE 'cancel|notify|mcp' "$TF_LOG" "$TF_TMP/nodeb.log" | tail -15 | sed 's/^/#   /'; }
  fake_reset_all
else
  fail "a second node starts" "$(tail -5 "$TF_TMP/nodeb.err")"
fi
kill -TERM $BPID; wait $BPID 2>/dev/null

# --- client answers, subscriptions, capabilities ------------------------------------------------------
rpc '{"jsonrpc":"2.0","id":"tf-999-1","result":{"action":"accept"}}'
expect_eq "an answer to a request nobody sent: 202" "$STATUS" 202
SAVE=$SID; SID=
rpc '{"jsonrpc":"2.0","id":"tf-1-1","result":{}}'
expect_eq "  ... without a session: 400" "$STATUS" 400
SID=$SAVE
rpc '{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{}}'
expect_eq "resources/subscribe without uri: -32602 naming /params/uri" "$(jqr '[.error.code, .error.data.field] | join(",")')" "-32602,/params/uri"
rpc '{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"triforce://no/such"}}'
expect_eq "resources/subscribe to an unknown resource: -32002" "$(jqr .error.code)" -32002
rpc '{"jsonrpc":"2.0","id":3,"method":"resources/unsubscribe","params":{"uri":"triforce://no/such"}}'
expect_eq "resources/unsubscribe of something not subscribed: {}" "$(printf '%s' "$BODY" | jq -c .result)" "{}"
init '{"sampling":{},"elicitation":{}}'
expect_eq "client capabilities are kept with the session" \
  "$(psql "$TRIFORCE_DATABASE_URL" -Atc "SELECT client_caps FROM mcp_sessions WHERE id = '$SID'")" 3

# --- DELETE ends the session's open streams --------------------------------------------------------------
init
T0=$(date +%s%N)
( curl -s -N -m 6 -H 'accept: text/event-stream' -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" "$MCP" > "$TF_TMP/sse.del"; date +%s%N > "$TF_TMP/sse.del.t" ) &
BG=$!
wait_for "" 3 grep -q '^id: ' "$TF_TMP/sse.del"
req -X DELETE -H "Authorization: Bearer $TOK" -H "mcp-session-id: $SID" "$MCP"
expect_eq "DELETE of a session with an open GET stream: 204" "$STATUS" 204
wait $BG
expect_eq "  ... and that stream ends at once, not at the client's timeout" "$(( ($(cat "$TF_TMP/sse.del.t") - T0) / 1000000000 < 4 ))" 1

# --- who sees which tools: admin tools (spec admin: true), fixtures (mcp.conformance) ----------------------
mesh_admin
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/tools)"
expect_eq "a registered user's catalogue has no admin tools and no fixtures" \
  "$(jqr '[(.tools | map(select(.name | startswith("admin_"))) | length), (.tools | map(select(.name | startswith("test_"))) | length)] | join(",")')" "0,0"
req -H "Authorization: Bearer $ADMIN_TOKEN" "$(plain /v1/mcp/tools)"
expect_eq "an admin's lists the 9 admin tools" "$(jqr '.tools | map(select(.name | startswith("admin_"))) | length')" 9
init
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin_users","arguments":{}}}'
expect_eq "  ... a non-admin calling one still gets the tool's own refusal" "$(jqr '[.result.isError, .result.content[0].text] | join(" ")')" \
  "true admin_users is for administrators"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}'
expect_eq "a fixture with conformance off: unknown tool (-32602)" "$(jqr .error.code)" -32602

# --- conformance mode: credential-free MCP as a configured user, loopback only ------------------------
{ cat "$TF_TMP/conf.mesh"; printf 'mcp:\n  conformance: true\n  conformance_user: %s\n' "$U_EMAIL"; } > "$TF_TMP/conf.cf"
reload_to "$TF_TMP/conf.cf" || fail "reload with mcp.conformance_user"
req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}' "$MCP"
expect_eq "conformance mode: initialize without credentials works" "$STATUS" 200
CSID=$(header mcp-session-id)
req -X POST "${H[@]}" -H "mcp-session-id: $CSID" --data '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' "$MCP"
expect_eq "  ... as the configured user" "$(jqr .result.structuredContent.email)" "$U_EMAIL"
req -X POST "${H[@]}" -H "mcp-session-id: $CSID" --data '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}' "$MCP"
expect_eq "  ... and the suite's fixtures are there" "$(jqr '.result.content[0].text')" "This is a simple text response for testing."
req -X POST "${H[@]}" -H "mcp-session-id: $CSID" --data '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"json_schema_2020_12_tool","arguments":{"address":{"city":7}}}}' "$MCP"
expect_eq "  ... a \$ref'd schema is validated through its \$defs" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,/address/city,type"
req -H 'content-type: application/json' --data '{"model":"x","messages":[]}' "$(plain /v1/client/keys)"
expect_eq "  ... other routes still want credentials: 401" "$STATUS" 401
reload_to "$TF_TMP/conf.mesh"
req -X POST "${H[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP"
expect_eq "conformance mode off again: 401" "$STATUS" 401
printf 'listen:\n  - address: 0.0.0.0\n    port: 80\nmcp:\n  conformance: true\n  conformance_user: a@b.c\n' > "$TF_TMP/bad.yaml"
out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1)
expect_match "conformance_user with a non-loopback listener: refused with file:line" "$out" "bad.yaml:[0-9]+: mcp.conformance_user .*loopback"
printf 'listen:\n  - address: 127.0.0.1\n    port: 80\nmcp:\n  conformance_user: a@b.c\n' > "$TF_TMP/bad.yaml"
out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1)
expect_match "  ... and without conformance: true" "$out" "needs mcp.conformance: true"
