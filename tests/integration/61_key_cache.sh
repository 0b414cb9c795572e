# API keys through the per-thread key cache (tf_keycache): a known key
# costs no database round trip, yet a revoked key, a deleted key or a
# disabled user is refused on the very next request, on this node and on
# another node of the same database; last_used_at is still written (once a
# minute, on the side); unknown keys are 401 and a flood of them is held
# off before it reaches the database.
#
# Every "next request" check sends several requests on fresh connections
# after warming the key on fresh connections, so both loop threads hold it
# in their caches: only invalidation (not the 3 s expiry) can explain a
# refusal.
. "$TF_ROOT/tests/lib.sh"

PW='correct horse battery staple'
json() { req -X "$1" -H 'content-type: application/json' ${3:+--data "$3"} "${@:4}" "$(plain "$2")"; }
PSQL() { scripts/pg.sh psql "$TF_PG_DIR" -tAqc "$1"; }
db_queries() { curl -s -m 3 "$(plain /metrics)" | awk '$1 == "tf_db_queries_total" {print $2}'; }

user() { # user -> sets U_ID, U_TOKEN, U_EMAIL
  U_EMAIL="keys$RANDOM$RANDOM@example.com"
  json POST /v1/auth/register "{\"email\":\"$U_EMAIL\",\"password\":\"$PW\"}"
  json POST /v1/auth/login "{\"email\":\"$U_EMAIL\",\"password\":\"$PW\"}"
  U_ID=$(jqr .user_id); U_TOKEN=$(jqr .token)
}
new_key() { # new_key -> sets KEY, KEY_ID (for U_TOKEN's user)
  json POST /v1/client/keys '{"name":"cache test"}' -H "Authorization: Bearer $U_TOKEN"
  KEY=$(jqr .key); KEY_ID=$(jqr .id)
}
# statuses KEY [BASE_URL] : six requests, each on a new connection.
statuses() {
  local s="" i base=${2:-http://127.0.0.1:$TF_PLAIN}
  for i in 1 2 3 4 5 6; do s="$s$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$base/v1/client/tier") "; done
  echo "$s"
}
ALL200="200 200 200 200 200 200 "
ALL401="401 401 401 401 401 401 "

user
new_key
expect_eq "a new key works, on every thread (cache warm)" "$(statuses "$KEY")" "$ALL200"

# --- no database round trip on the cached path ----------------------------------
sleep 1.2  # tf_db_queries_total is published once a second per thread
Q0=$(db_queries)
for _ in $(seq 1 40); do curl -s -m 5 -o /dev/null -H "Authorization: Bearer $KEY" "$(plain /v1/client/tier)"; done
sleep 1.2
Q1=$(db_queries)
expect_eq "40 requests with a cached key: (almost) no database queries (sent $((Q1 - Q0)))" "$(( Q1 - Q0 < 8 ))" 1

# --- last_used_at --------------------------------------------------------------------
wait_for "" 3 bash -c "[ \"\$(scripts/pg.sh psql '$TF_PG_DIR' -tAqc \"select last_used_at is not null from api_keys where id='$KEY_ID'\")\" = t ]"
expect_eq "last_used_at is recorded" "$(PSQL "select last_used_at is not null from api_keys where id='$KEY_ID'")" t
U1=$(PSQL "select last_used_at from api_keys where id='$KEY_ID'")
statuses "$KEY" >/dev/null
sleep 0.3
expect_eq "  ... at most once a minute (unchanged by more use)" "$(PSQL "select last_used_at from api_keys where id='$KEY_ID'")" "$U1"

# --- revocation: the user's route, the admin route, SQL (announced), deletion ------------------
statuses "$KEY" >/dev/null
req -X DELETE -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/keys/$KEY_ID)"
expect_eq "revoke by DELETE /v1/client/keys/{id}" "$STATUS" 200
expect_eq "  ... refused on the very next requests, every thread" "$(statuses "$KEY")" "$ALL401"

ADMIN_EMAIL="keyadmin$RANDOM$RANDOM@example.com"
printf '%s\n' "$PW" | TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user add --email "$ADMIN_EMAIL" --admin --password-stdin >/dev/null 2>&1
json POST /v1/auth/login "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$PW\"}"
ADMIN=$(jqr .token)
new_key
expect_eq "another key, warm" "$(statuses "$KEY")" "$ALL200"
req -X DELETE -H "Authorization: Bearer $ADMIN" "$(plain "/v1/admin/keys/$KEY_ID")"
expect_eq "revoke by the admin route" "$STATUS" 200
expect_eq "  ... refused on the very next requests" "$(statuses "$KEY")" "$ALL401"

new_key
expect_eq "another key, warm" "$(statuses "$KEY")" "$ALL200"
PSQL "update api_keys set revoked_at = now() where id='$KEY_ID'"
sleep 0.3
expect_eq "revoked by an operator's SQL (announced on tf_invalidate): refused" "$(statuses "$KEY")" "$ALL401"

new_key
expect_eq "another key, warm" "$(statuses "$KEY")" "$ALL200"
PSQL "delete from api_keys where id='$KEY_ID'"
sleep 0.3
expect_eq "key row deleted outright (migration 0007 announces it): refused" "$(statuses "$KEY")" "$ALL401"

# --- a disabled user's key ---------------------------------------------------------------
new_key
expect_eq "another key, warm" "$(statuses "$KEY")" "$ALL200"
json PATCH "/v1/admin/users/$U_ID" '{"disabled":true}' -H "Authorization: Bearer $ADMIN"
expect_eq "admin disables the key's user" "$STATUS" 200
expect_eq "  ... the key is refused on the very next requests (403)" "$(statuses "$KEY")" "403 403 403 403 403 403 "
json PATCH "/v1/admin/users/$U_ID" '{"disabled":false}' -H "Authorization: Bearer $ADMIN"
expect_eq "  ... enabled again: accepted at once" "$(statuses "$KEY")" "$ALL200"
TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user disable --email "$U_EMAIL" >/dev/null 2>&1
sleep 0.3
expect_eq "disabled by the CLI (announced): refused" "$(statuses "$KEY")" "403 403 403 403 403 403 "
TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user enable --email "$U_EMAIL" >/dev/null 2>&1
sleep 0.3

# --- unknown keys ------------------------------------------------------------------------------
UNKNOWN="tf_$(openssl rand -hex 32)"
expect_eq "an unknown key is 401, every time" "$(statuses "$UNKNOWN")" "$ALL401"
req -H "Authorization: Bearer $UNKNOWN" "$(plain /v1/client/tier)"
expect_eq "  ... as invalid_credentials" "$(jqr .error.code)" invalid_credentials

# A flood of different unknown keys from one address: each would be a
# query; past a burst per thread they are refused (429) without one.
new_key
statuses "$KEY" >/dev/null
sleep 1.2
Q0=$(db_queries)
# Every 11th line is the valid key: a client sharing the address keeps working.
for i in $(seq 1 200); do echo "tf_$(openssl rand -hex 32)"; [ $((i % 10)) = 0 ] && echo "$KEY"; done > "$TF_TMP/flood.keys"
xargs -P 16 -I{} curl -s -m 5 -o /dev/null -w '%{http_code} {}\n' -H "Authorization: Bearer {}" "$(plain /v1/client/tier)" \
  < "$TF_TMP/flood.keys" > "$TF_TMP/flood.codes"
N401=$(grep -v " $KEY\$" "$TF_TMP/flood.codes" | grep -c '^401 '); N429=$(grep -v " $KEY\$" "$TF_TMP/flood.codes" | grep -c '^429 ')
expect_eq "200 different unknown keys at once: each 401 or 429 ($N401 looked up, $N429 held off)" "$((N401 + N429))" 200
expect_eq "  ... most held off without a query" "$(( N429 > 100 ))" 1
expect_eq "  ... the valid key among them: 200 every time" "$(grep " $KEY\$" "$TF_TMP/flood.codes" | cut -d' ' -f1 | sort | uniq -c | awk '{print $1, $2}')" "20 200"
# Budgets are per thread and refill: a few fresh keys, so one lands on a thread still in debt.
for _ in 1 2 3 4 5 6; do
  req -H "Authorization: Bearer tf_$(openssl rand -hex 32)" "$(plain /v1/client/tier)"
  [ "$STATUS" = 429 ] && break
done
expect_eq "  ... the 429 says when to retry" "$STATUS $(jqr .error.code) $(header retry-after | grep -cE '^[1-9][0-9]*$')" "429 too_many_invalid_keys 1"
sleep 3.1
expect_eq "  ... and keeps working after its cache entry expired" "$(statuses "$KEY")" "$ALL200"
sleep 1.2
Q1=$(db_queries)
expect_eq "  ... database queries stay near the burst, not the flood ($((Q1 - Q0)) for 200 keys)" "$(( Q1 - Q0 < 100 ))" 1
sleep 3  # the budget refills (10 a second per thread; the flood left a bounded debt)
json POST /v1/client/keys '{"name":"after the flood"}' -H "Authorization: Bearer $U_TOKEN"
req -H "Authorization: Bearer $(jqr .key)" "$(plain /v1/client/tier)"
expect_eq "  ... and a new key from that address works again a few seconds later" "$STATUS" 200

# --- another node on the same database ----------------------------------------------------------
B_PORT=$(pshift 19184)
sed -e "s/port: $TF_PLAIN/port: $B_PORT/" -e "s/port: $TF_TLS/port: $(pshift 19547)/" -e "s#$TF_TMP/triforce.log#$TF_TMP/nodeb61.log#" \
  -e "s/^  name: .*/  name: node-b61/" "$TF_CONF" > "$TF_TMP/nodeb61.yaml"
"$TF_BIN" --conf "$TF_TMP/nodeb61.yaml" 2>"$TF_TMP/nodeb61.err" &
BPID=$!
if wait_for "" 10 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$B_PORT/health) = 200 ]" &&
   wait_for "" 5 grep -q 'listening for cache invalidations' "$TF_TMP/nodeb61.log"; then
  B=http://127.0.0.1:$B_PORT
  new_key
  expect_eq "node B: the key works, warm on its threads" "$(statuses "$KEY" "$B")" "$ALL200"
  req -X DELETE -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/keys/$KEY_ID)"
  expect_eq "  ... revoked through node A" "$STATUS" 200
  sleep 0.3
  expect_eq "  ... node B refuses it (NOTIFY), long before its cache expires" "$(statuses "$KEY" "$B")" "$ALL401"
  new_key
  expect_eq "node B: another key, warm" "$(statuses "$KEY" "$B")" "$ALL200"
  json PATCH "/v1/admin/users/$U_ID" '{"disabled":true}' -H "Authorization: Bearer $ADMIN"
  sleep 0.3
  expect_eq "  ... its user disabled through node A: node B refuses the key" "$(statuses "$KEY" "$B")" "403 403 403 403 403 403 "
  json PATCH "/v1/admin/users/$U_ID" '{"disabled":false}' -H "Authorization: Bearer $ADMIN"
else
  fail "a second node starts" "$(tail -5 "$TF_TMP/nodeb61.err")"
fi
kill -TERM $BPID 2>/dev/null; wait $BPID 2>/dev/null
