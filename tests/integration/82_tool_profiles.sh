# Tool profiles: conf's mcp.profiles narrow the catalogue an agent sees,
# by ?profile= on the MCP URL or by a tier's default profile.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
restore() { reload_to "$TF_TMP/conf.orig"; }
trap restore EXIT
{ cat "$TF_TMP/conf.orig"
  printf 'mcp:\n  profiles:\n    - {name: minimal, tools: [find_tools, status]}\n    - {name: chatty, tools: ["chat*", specialist]}\n'
  printf '  tier_profiles:\n    - {tier: pro, profile: minimal}\n'
} > "$TF_TMP/conf.prof"
reload_to "$TF_TMP/conf.prof" || fail "reload with profiles"
mesh_user registered
REG=$U_TOKEN
mesh_user pro
PRO=$U_TOKEN
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25')
session() { # session TOKEN URL -> SID
  req -X POST "${H[@]}" -H "Authorization: Bearer $1" \
    --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}' "$2"
  header mcp-session-id
}
list() { # list TOKEN URL
  local sid; sid=$(session "$1" "$2")
  req -X POST "${H[@]}" -H "Authorization: Bearer $1" -H "mcp-session-id: $sid" --data '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "$2"
  jqr '[.result.tools[].name] | sort | join(",")'
}
all=$(curl -s -H "Authorization: Bearer $REG" "$(plain /v1/mcp/tools)" | jq '.tools | length')
[ "$all" -gt 20 ] && ok "no profile: the whole catalogue ($all tools)" || fail "no profile: the whole catalogue" "$all"
expect_eq "?profile=chatty: the chat tools only" "$(list "$REG" "$(plain '/v1/mcp?profile=chatty')")" \
  "chat,chat_messages,specialist"
expect_eq "the pro tier's default profile (minimal)" "$(list "$PRO" "$(plain /v1/mcp)")" "find_tools,status"
expect_eq "  ... a profile in the URL wins over the tier's" "$(list "$PRO" "$(plain '/v1/mcp?profile=chatty')")" "chat,chat_messages,specialist"
SID=$(session "$PRO" "$(plain /v1/mcp)")
req -X POST "${H[@]}" -H "Authorization: Bearer $PRO" -H "mcp-session-id: $SID" \
  --data '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' "$(plain /v1/mcp)"
expect_eq "a tool outside the profile cannot be called: -32602" "$(jqr .error.code)" -32602
req -X POST "${H[@]}" -H "Authorization: Bearer $PRO" -H "mcp-session-id: $SID" \
  --data '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"find_tools","arguments":{}}}' "$(plain /v1/mcp)"
expect_eq "find_tools searches only the profile" "$(jqr '[.result.structuredContent.tools[].name] | sort | join(",")')" "find_tools,status"
req -X POST "${H[@]}" -H "Authorization: Bearer $PRO" -H "mcp-session-id: $SID" \
  --data '{"jsonrpc":"2.0","id":4,"method":"tools/list"}' "$(plain '/v1/mcp?profile=nosuch')"
expect_eq "an unknown profile: 400" "$STATUS $(jqr .error.code)" "400 -32600"
printf '%s' "$(cat "$TF_TMP/conf.orig")" > "$TF_TMP/bad.yaml"
printf '\nmcp:\n  tier_profiles:\n    - {tier: pro, profile: nope}\n' >> "$TF_TMP/bad.yaml"
out=$("$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1)
expect_match "a tier profile naming no profile: refused with its line" "$out" "bad.yaml:[0-9]+: mcp.tier_profiles: no profile 'nope'"
