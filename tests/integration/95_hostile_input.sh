# Hostile input on every route of spec/endpoints.yaml (tests/js/hostile.mjs):
# random bytes in paths, queries and headers, forged and garbage
# credentials, JSON bodies spoiled every way. Every answer must be a
# well-formed HTTP response, a JSON one must be UTF-8 and parse, none may be
# a 500, and the server must live on (under ASan in the second pass: any
# memory error ends the run and the suite reports it). Seeded per pass;
# HOSTILE_SEED and HOSTILE_COUNT replay or widen a run.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"   # mesh_user, mesh_admin

ROUTES=$(awk '/^ *method:/ { m = $2 } /^ *path:/ { printf "%s{\"method\":\"%s\",\"path\":\"%s\"}", s, m, $2; s = "," }' \
  "$TF_ROOT/spec/endpoints.yaml")
ROUTES="[$ROUTES]"
n_routes=$(jq length <<<"$ROUTES")
[ "$n_routes" -ge 30 ] && ok "routes read from spec/endpoints.yaml ($n_routes)" || fail "routes read from spec/endpoints.yaml" "$ROUTES"

# The spoiled logins below fail by the hundred: the address throttle they
# build up (auth.login_max_failures) must not outlive this file, nor may an
# earlier run's keep its own users out.
forget_login_failures() { psql "$TRIFORCE_DATABASE_URL" -qc "delete from login_failures" >/dev/null; }
trap forget_login_failures EXIT
forget_login_failures
mesh_user registered
mesh_admin
[ "${#U_TOKEN}" -gt 20 ] && [ "${#ADMIN_TOKEN}" -gt 20 ] && ok "a user and an admin logged in" || fail "a user and an admin logged in" "[$U_TOKEN] [$ADMIN_TOKEN]"
SEED=${HOSTILE_SEED:-$([ "$TF_PASS" = asan ] && echo 7331 || echo 1337)}
COUNT=${HOSTILE_COUNT:-1500}
users0=$(psql "$TRIFORCE_DATABASE_URL" -tAc "select count(*) from users")
out=$(node "$TF_ROOT/tests/js/hostile.mjs" "$TF_PLAIN" "$SEED" "$COUNT" "$ROUTES" "$U_TOKEN" "$ADMIN_TOKEN" 2>&1)
summary=$(tail -1 <<<"$out")
if jq -e . >/dev/null 2>&1 <<<"$summary"; then
  ok "$COUNT hostile requests sent (seed $SEED; statuses $(jq -c .statuses <<<"$summary"))"
  nf=$(jq '.failures | length' <<<"$summary")
  expect_eq "  ... every answer well-formed, JSON ones UTF-8 and parseable, none a 500" "$nf" 0
  [ "$nf" = 0 ] || jq -c '.failures[]' <<<"$summary" | head -10 | sed 's/^/#   /'
else
  fail "hostile requests sent" "$out"
fi
expect_eq "  ... the server still answers /health" "$(health_code)" 200
kill -0 "$TF_PID" 2>/dev/null && ok "  ... and is still running" || fail "  ... the server died" "$(tail -20 "$TF_TMP/stderr.log")"
# Registration samples are spoiled too: whatever got in is a well-formed user.
bad=$(psql "$TRIFORCE_DATABASE_URL" -tAc "select count(*) from users where email !~ '^[^@[:space:]]+@[^@[:space:]]+$'")
expect_eq "  ... no user row with a malformed email got in" "$bad" 0
users1=$(psql "$TRIFORCE_DATABASE_URL" -tAc "select count(*) from users")
[ "$users1" -le $((users0 + 2)) ] && ok "  ... at most the samples' own emails registered ($((users1 - users0)) new)" \
  || fail "  ... users registered by spoiled requests" "$users0 -> $users1"

# --- MCP tools/call with hostile arguments (tests/js/hostile_tools.mjs) --------------------
# Tools that reach nothing beyond loopback: not chat, ollama or web, nor
# admin tools that change users or reload (the conformance tools are listed
# only in conformance mode, not here). The code tools work in a
# workspace under WSROOT; OUTSIDE, its sibling, is named in the arguments
# and must come out unchanged, as must everything else around it.
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
WSROOT=$TF_TMP/hostile-ws
OUTSIDE=$TF_TMP/hostile-outside
mkdir -p "$OUTSIDE/sub" && echo keep > "$OUTSIDE/a" && echo keep > "$OUTSIDE/sub/b"
fingerprint() { (cd "$1" && find . -printf '%p %s %m\n' | sort && find . -type f -exec sha256sum {} + | sort); }
fp0=$(fingerprint "$OUTSIDE")
{ cat "$TF_TMP/conf.orig"; printf 'tools:\n  workspace_root: %s\n  max_file_bytes: 65536\n' "$WSROOT"; } > "$TF_TMP/conf.hostile"
trap 'forget_login_failures; reload_to "$TF_TMP/conf.orig"; rm -rf "$WSROOT" "$OUTSIDE"' EXIT
reload_to "$TF_TMP/conf.hostile" || fail "reload with a tools: section"
TOOLS=status,version,whoami,tiers,models,usage,find_tools,tool_info,health,limits,estimate_tokens,prompt_get
TOOLS=$TOOLS,code_read,code_write,code_edit,code_patch,code_grep,code_list,code_tree,code_glob,code_stat,code_move,code_delete,code_diff
TOOLS=$TOOLS,keys_list,key_create,key_revoke,usage_history
TOOLS=$TOOLS,memory_store,memory_search,memory_get,memory_list,memory_update,memory_delete,memory_clear,memory_stats,memory_tags
TOOLS=$TOOLS,providers,route_preview,classify_task,strategies,model_info
TOOLS=$TOOLS,admin_users,admin_audit_log,admin_reset_providers,admin_metrics,admin_logs,admin_node
TCOUNT=${HOSTILE_TOOL_COUNT:-600}
out=$(node "$TF_ROOT/tests/js/hostile_tools.mjs" "$(plain /v1/mcp)" "$ADMIN_TOKEN" "$SEED" "$TCOUNT" "$OUTSIDE" "$TOOLS" 2>&1)
summary=$(tail -1 <<<"$out")
if jq -e . >/dev/null 2>&1 <<<"$summary"; then
  nt=$(jq .tools <<<"$summary")
  [ "$nt" -ge 45 ] && ok "$TCOUNT hostile tool calls over $nt tools (seed $SEED; $(jq -c .outcome <<<"$summary"); not listed for this caller: $(jq -r ".unlisted | join(\" \")" <<<"$summary"))" \
    || fail "hostile tool calls: tools listed" "$summary"
  nf=$(jq '.failures | length' <<<"$summary")
  expect_eq "  ... each answered with a JSON-RPC result or error with its id, none a 5xx or internal error" "$nf" 0
  [ "$nf" = 0 ] || jq -c '.failures[]' <<<"$summary" | head -10 | sed 's/^/#   /'
else
  fail "hostile tool calls sent" "$out"
fi
expect_eq "  ... the directory beside the workspaces is unchanged" "$(fingerprint "$OUTSIDE")" "$fp0"
planted=$(find "$TF_TMP" /tmp -maxdepth 3 -name planted -not -path "$WSROOT/*" 2>/dev/null | head -3)
expect_eq "  ... no file the calls named was made outside the workspaces" "$planted" ""
expect_eq "  ... the server still answers /health" "$(health_code)" 200
