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
