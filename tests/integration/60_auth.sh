# Users, sessions, API keys, tiers and admin actions, over real HTTP.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"   # reload_to

json() { req -X "$1" -H 'content-type: application/json' ${3:+--data "$3"} "${@:4}" "$(plain "$2")"; }
PW='correct horse battery staple'
EMAIL="alice$RANDOM$RANDOM@example.com"

json POST /v1/auth/register "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
expect_eq "register" "$STATUS" 201
USER_ID=$(jqr .user_id)

json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
expect_eq "login is 200" "$STATUS" 200
expect_eq "  ... user_id" "$(jqr .user_id)" "$USER_ID"
expect_eq "  ... tier" "$(jqr .tier)" registered
expect_eq "  ... client_id" "$(jqr .client_id)" "client-$USER_ID"
TOKEN=$(jqr .token); REFRESH=$(jqr .refresh_token)
expect_match "  ... a JWT" "$TOKEN" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
json POST /v1/client/login "{\"email\":\"$(tr a-z A-Z <<<"$EMAIL")\",\"password\":\"$PW\"}"
expect_eq "/v1/client/login works too, email case-insensitive" "$STATUS" 200

req "$(plain /v1/client/tier)"
expect_eq "protected route without credentials is 401" "$STATUS" 401
req -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/tier)"
expect_eq "protected route with the JWT is 200" "$STATUS" 200
expect_eq "  ... shows the tier" "$(jqr .tier)" registered
expect_eq "  ... and its limit" "$(jqr .daily_token_limit)" 100000
req --http2-prior-knowledge -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/tokens/usage)"
expect_eq "token usage (h2) is 200" "$STATUS" 200
expect_eq "  ... nothing used yet" "$(jqr .used)/$(jqr .remaining)" 0/100000

# --- API keys ---------------------------------------------------------------
json POST /v1/client/keys '{"name":"laptop"}' -H "Authorization: Bearer $TOKEN"
expect_eq "create an API key is 201" "$STATUS" 201
KEY=$(jqr .key); KEY_ID=$(jqr .id)
expect_match "  ... the key is shown once" "$KEY" '^tf_[0-9a-f]{64}$'
expect_eq "  ... with its prefix" "$(jqr .prefix)" "${KEY:0:12}"
req -H "Authorization: Bearer $KEY" "$(plain /v1/client/keys)"
expect_eq "the API key authenticates" "$STATUS" 200
expect_eq "  ... the list shows the prefix" "$(jqr '.[0].prefix')" "${KEY:0:12}"
expect_eq "  ... and never the key" "$(grep -c -- "$KEY" <<<"$BODY")" 0
H=$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select encode(key_hash,'hex') from api_keys where id='$KEY_ID'")
expect_match "  ... stored as a SHA-256" "$H" '^[0-9a-f]{64}$'
sleep 0.3
expect_match "  ... last use recorded" "$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select last_used_at is not null from api_keys where id='$KEY_ID'")" t
req -X DELETE -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/keys/$KEY_ID)"
expect_eq "revoke the key" "$STATUS" 200
req -H "Authorization: Bearer $KEY" "$(plain /v1/client/tier)"
expect_eq "  ... then it is refused with 401" "$STATUS" 401
req -X DELETE -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/keys/not-a-uuid)"
expect_eq "revoking a bad id is 404" "$STATUS" 404

# --- refresh and logout -------------------------------------------------------
json POST /v1/auth/refresh "{\"refresh_token\":\"$REFRESH\"}"
expect_eq "refresh is 200" "$STATUS" 200
REFRESH2=$(jqr .refresh_token); TOKEN2=$(jqr .token)
expect_match "  ... with a new refresh token" "$REFRESH2" '^tfr_'
json POST /v1/auth/refresh "{\"refresh_token\":\"$REFRESH\"}"
expect_eq "a spent refresh token is 401" "$STATUS" 401
json POST /v1/auth/refresh "{\"refresh_token\":\"$REFRESH2\"}"
expect_eq "  ... and its replay revoked the whole family" "$STATUS" 401

json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
TOKEN3=$(jqr .token); REFRESH3=$(jqr .refresh_token)
sleep 1.1  # access tokens carry whole seconds; logout revokes those issued before this second
json POST /v1/auth/logout "{\"refresh_token\":\"$REFRESH3\"}" -H "Authorization: Bearer $TOKEN3"
expect_eq "logout is 200" "$STATUS" 200
req -H "Authorization: Bearer $TOKEN3" "$(plain /v1/client/tier)"
expect_eq "  ... the access token is refused afterwards" "$STATUS" 401
expect_eq "  ... as revoked" "$(jqr .error.code)" token_revoked
json POST /v1/auth/refresh "{\"refresh_token\":\"$REFRESH3\"}"
expect_eq "  ... and so is its refresh token" "$STATUS" 401
json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
TOKEN=$(jqr .token)
req -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/tier)"
expect_eq "logging in again works at once" "$STATUS" 200

# --- hostile tokens -------------------------------------------------------------
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
mkjwt() { # mkjwt HEADER PAYLOAD SECRET
  local h p s
  h=$(printf '%s' "$1" | b64url); p=$(printf '%s' "$2" | b64url)
  s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$3" -binary | b64url)
  echo "$h.$p.$s"
}
NOW=$(date +%s)
claims() { echo "{\"iss\":\"${1:-triforce-test}\",\"sub\":\"$USER_ID\",\"tier\":\"unlimited\",\"adm\":true,\"iat\":${2:-$NOW},\"nbf\":${3:-$NOW},\"exp\":${4:-$((NOW + 600))},\"jti\":\"x\"}"; }
GOOD=$(mkjwt '{"alg":"HS256","typ":"JWT"}' "$(claims)" "$TRIFORCE_JWT_SECRET")
req -H "Authorization: Bearer $GOOD" "$(plain /v1/client/tier)"
expect_eq "a token forged here with the real secret is accepted (sanity)" "$STATUS" 200
expect_eq "  ... but the tier comes from the database, not the token" "$(jqr .tier)" registered
hostile() { # hostile DESC TOKEN
  req -H "Authorization: Bearer $2" "$(plain /v1/client/tier)"
  expect_eq "hostile token refused with 401: $1" "$STATUS" 401
}
NONE_H=$(printf '{"alg":"none","typ":"JWT"}' | b64url); P=$(claims | b64url)
hostile "alg none" "$NONE_H.$P."
hostile "alg none with a signature" "$NONE_H.$P.$(echo x | b64url)"
hostile "alg HS512" "$(mkjwt '{"alg":"HS512","typ":"JWT"}' "$(claims)" "$TRIFORCE_JWT_SECRET")"
hostile "alg RS256 (HS/RS confusion)" "$(mkjwt '{"alg":"RS256","typ":"JWT"}' "$(claims)" "$TRIFORCE_JWT_SECRET")"
hostile "expired" "$(mkjwt '{"alg":"HS256"}' "$(claims triforce-test $((NOW - 7200)) $((NOW - 7200)) $((NOW - 3600)))" "$TRIFORCE_JWT_SECRET")"
hostile "not yet valid (nbf in an hour)" "$(mkjwt '{"alg":"HS256"}' "$(claims triforce-test $NOW $((NOW + 3600)))" "$TRIFORCE_JWT_SECRET")"
hostile "wrong issuer" "$(mkjwt '{"alg":"HS256"}' "$(claims evil)" "$TRIFORCE_JWT_SECRET")"
hostile "wrong secret" "$(mkjwt '{"alg":"HS256"}' "$(claims)" "not-the-secret-not-the-secret-not-the")"
hostile "tampered payload" "${GOOD%%.*}.$(claims | sed 's/"tier":"unlimited"/"tier":"pro"/' | b64url).${GOOD##*.}"
hostile "flipped signature" "${GOOD%?}$( [ "${GOOD: -1}" = A ] && echo B || echo A)"
hostile "garbage" "not.a.jwt"
hostile "empty bearer" " "
req -H "Authorization: Basic dXNlcjpwYXNz" "$(plain /v1/client/tier)"
expect_eq "Basic auth is refused with 401" "$STATUS" 401
req -H "X-User-ID: $EMAIL" "$(plain /v1/client/tier)"
expect_eq "X-User-ID from an untrusted address is ignored (401, not that user)" "$STATUS" 401

# --- login throttling --------------------------------------------------------------
VICTIM="victim$RANDOM$RANDOM@example.com"
json POST /v1/auth/register "{\"email\":\"$VICTIM\",\"password\":\"$PW\"}"
for i in 1 2 3 4 5; do json POST /v1/auth/login "{\"email\":\"$VICTIM\",\"password\":\"wrong password $i\"}"; done
expect_eq "wrong passwords are 401" "$STATUS" 401
json POST /v1/auth/login "{\"email\":\"$VICTIM\",\"password\":\"$PW\"}"
expect_eq "after 5 failures even the right password is 429" "$STATUS" 429
expect_match "  ... with Retry-After" "$(header retry-after)" '^[0-9]+$'
scripts/pg.sh psql "$TF_PG_DIR" -qc "delete from login_failures" >/dev/null
# Per address too: wrong passwords spread over five accounts block the address.
for i in 1 2 3 4 5; do json POST /v1/auth/login "{\"email\":\"spray$i$RANDOM@example.com\",\"password\":\"wrong password\"}"; done
json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
expect_eq "5 failures on 5 other accounts from one address: the right password of a sixth is 429" "$STATUS $(jqr .error.code)" \
  "429 too_many_login_failures"
scripts/pg.sh psql "$TF_PG_DIR" -qc "delete from login_failures" >/dev/null
json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
expect_eq "  ... and that account itself was never blocked" "$STATUS" 200

# --- X-User-ID and X-Forwarded-For from a trusted proxy (auth.trusted_proxies, off by default)
xlogin() { json POST /v1/auth/login "{\"email\":\"$2\",\"password\":\"$3\"}" -H "X-Forwarded-For: $1" "${@:4}"; }
failures_of() { scripts/pg.sh psql "$TF_PG_DIR" -tAc "select coalesce(max(failures), 0) from login_failures where key = 'addr:$1'"; }
cp "$TF_CONF" "$TF_TMP/conf.noproxy"
{ cat "$TF_TMP/conf.noproxy"; printf '  trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]\n'; } > "$TF_TMP/conf.proxy"
if reload_to "$TF_TMP/conf.proxy"; then
  req -H "X-User-ID: $(tr a-z A-Z <<<"$EMAIL")" "$(plain /v1/client/tier)"
  expect_eq "X-User-ID from a configured trusted proxy names the user" "$STATUS $(jqr .user_id)" "200 $USER_ID"
  req -H "X-User-ID: nobody$RANDOM@example.com" "$(plain /v1/client/tier)"
  expect_eq "  ... an unknown user through the proxy: 401" "$STATUS" 401
  req -H "X-User-ID: $EMAIL" -H "Authorization: Bearer not.a.jwt" "$(plain /v1/client/tier)"
  expect_eq "  ... a bad token next to it is still refused (credentials win)" "$STATUS" 401
  req -H "X-User-ID: $EMAIL" -H "X-Forwarded-For: 203.0.113.7" "$(plain /v1/client/tier)"
  expect_eq "  ... with X-Forwarded-For too: trust is the TCP peer's, not the forwarded address's" "$STATUS $(jqr .user_id)" "200 $USER_ID"
  # Behind the proxy, the client's address is the right-most X-Forwarded-For
  # entry (the one the proxy appended): per-address login throttling must not
  # lump every client of the proxy together.
  scripts/pg.sh psql "$TF_PG_DIR" -qc "delete from login_failures" >/dev/null
  for i in 1 2 3 4 5; do xlogin "198.51.100.9, 203.0.113.7" "spray$i$RANDOM@example.com" "wrong password"; done
  expect_eq "  ... 5 failed logins through it count against the right-most X-Forwarded-For entry only" \
    "$(failures_of 203.0.113.7) $(failures_of 198.51.100.9) $(failures_of 127.0.0.1)" "5 0 0"
  xlogin 203.0.113.7 "$EMAIL" "$PW"
  expect_eq "  ... that client is throttled" "$STATUS $(jqr .error.code)" "429 too_many_login_failures"
  xlogin 203.0.113.8 "$EMAIL" "$PW"
  expect_eq "  ... another client of the same proxy is not" "$STATUS" 200
  xlogin " 2001:DB8:0:0::0001 " "spray$RANDOM@example.com" "wrong password"
  expect_eq "  ... an IPv6 entry is trimmed and counted under its /64" "$(failures_of 2001:db8::/64)" 1
  # A chain of proxies of ours (10.0.0.0/8 is trusted too): the walk goes
  # past them to the first address outside; the forged one left of it is ignored.
  xlogin "198.51.100.9, 203.0.113.9, 10.9.9.9, 10.1.2.3" "spray$RANDOM@example.com" "wrong password"
  expect_eq "  ... behind two trusted hops (a network entry) the client is the first untrusted entry" \
    "$(failures_of 203.0.113.9) $(failures_of 198.51.100.9) $(failures_of 10.1.2.3) $(failures_of 10.9.9.9)" "1 0 0 0"
  xlogin "[2001:db8:9::1]:443" "spray$RANDOM@example.com" "wrong password"
  expect_eq "  ... an entry with a port counts under its address" "$(failures_of 2001:db8:9::/64)" 1
  # One /64 is one client: rotating through its addresses does not escape the throttle.
  for i in 1 2 3 4 5; do xlogin "2001:db8:5:5::$i" "spray$i$RANDOM@example.com" "wrong password"; done
  expect_eq "  ... 5 failures from 5 addresses of one IPv6 /64 count together" "$(failures_of 2001:db8:5:5::/64)" 5
  xlogin "2001:db8:5:5:abcd::99" "$EMAIL" "$PW"
  expect_eq "  ... a sixth address of that /64 is throttled" "$STATUS $(jqr .error.code)" "429 too_many_login_failures"
  xlogin "2001:db8:5:6::1" "$EMAIL" "$PW"
  expect_eq "  ... the next /64 is not" "$STATUS" 200
  xlogin "203.0.113.7, not-an-address" "spray$RANDOM@example.com" "wrong password"
  expect_eq "  ... a right-most entry that is no address counts against the proxy itself" "$(failures_of 127.0.0.1) $(failures_of 203.0.113.7)" "1 5"
  # 127.0.0.2 is another peer on the loopback, not in trusted_proxies.
  req --interface 127.0.0.2 -H "X-User-ID: $EMAIL" -H "X-Forwarded-For: 127.0.0.1" "$(plain /v1/client/tier)"
  expect_eq "  ... an untrusted peer naming the proxy in X-Forwarded-For is still untrusted (401)" "$STATUS" 401
  xlogin 203.0.113.30 "spray$RANDOM@example.com" "wrong password" --interface 127.0.0.2
  expect_eq "  ... and its X-Forwarded-For is ignored: the failure counts against the peer" \
    "$(failures_of 127.0.0.2) $(failures_of 203.0.113.30)" "1 0"
  reload_to "$TF_TMP/conf.noproxy"
  req -H "X-User-ID: $EMAIL" "$(plain /v1/client/tier)"
  expect_eq "  ... proxy removed from conf: ignored again (401)" "$STATUS" 401
  xlogin 203.0.113.40 "spray$RANDOM@example.com" "wrong password"
  expect_eq "  ... and so is X-Forwarded-For (the failure counts against the peer)" "$(failures_of 127.0.0.1) $(failures_of 203.0.113.40)" "2 0"
  scripts/pg.sh psql "$TF_PG_DIR" -qc "delete from login_failures" >/dev/null
else
  fail "reload with auth.trusted_proxies"
  cp "$TF_TMP/conf.noproxy" "$TF_CONF"
fi

# --- admin -------------------------------------------------------------------------
ROOT_PW='root password for tests'
printf '%s\n' "$ROOT_PW" | TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user add --email root@example.com --password-stdin >/dev/null 2>&1
json POST /v1/auth/login "{\"email\":\"root@example.com\",\"password\":\"$ROOT_PW\"}"
ADMIN=$(jqr .token)
expect_eq "the CLI-made admin (listed in conf admins) logs in as admin" "$(jqr .is_admin)" true
req -H "Authorization: Bearer $TOKEN" "$(plain /v1/admin/users)"
expect_eq "a non-admin on an admin route is 403" "$STATUS" 403
req -H "Authorization: Bearer $ADMIN" "$(plain '/v1/admin/users?limit=500')"
expect_eq "admin lists users" "$STATUS" 200
expect_eq "  ... including alice" "$(jq -r --arg e "$EMAIL" '[.users[] | select(.email == $e)] | length' <<<"$BODY")" 1
json PATCH "/v1/admin/users/$USER_ID" '{"tier":"enterprise"}' -H "Authorization: Bearer $ADMIN"
expect_eq "admin sets alice's tier (alias enterprise)" "$STATUS" 200
expect_eq "  ... stored as unlimited" "$(jqr .tier)" unlimited
req -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/tier)"
expect_eq "  ... alice's next request has the new tier" "$(jqr .tier)" unlimited
json PATCH "/v1/admin/users/$USER_ID" '{"tier":"gold"}' -H "Authorization: Bearer $ADMIN"
expect_eq "an unknown tier is 400" "$STATUS" 400
json POST "/v1/admin/users/$USER_ID/keys" '{"name":"issued"}' -H "Authorization: Bearer $ADMIN"
expect_eq "admin creates a key for alice" "$STATUS" 201
AKEY=$(jqr .key); AKEY_ID=$(jqr .id)
req -H "Authorization: Bearer $AKEY" "$(plain /v1/client/tier)"
expect_eq "  ... which works for alice" "$(jqr .user_id)" "$USER_ID"
req -X DELETE -H "Authorization: Bearer $ADMIN" "$(plain "/v1/admin/keys/$AKEY_ID")"
expect_eq "admin revokes it" "$STATUS" 200
json PATCH "/v1/admin/users/$USER_ID" '{"disabled":true}' -H "Authorization: Bearer $ADMIN"
req -H "Authorization: Bearer $TOKEN" "$(plain /v1/client/tier)"
expect_eq "a disabled user's token is refused at once (403)" "$STATUS" 403
json POST /v1/auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
expect_eq "  ... and so is their login" "$STATUS" 403
N=$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select count(*) from audit_log where target='$USER_ID' and actor='root@example.com'")
expect_eq "every admin action is in the audit log" "$N" 4
# Rows after this one only: an earlier run on the same database may have its own.
A0=$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select coalesce(max(id), 0) from audit_log")
req -X POST -H "Authorization: Bearer $ADMIN" "$(plain /v1/admin/providers/reset)"
expect_eq "admin resets provider health" "$STATUS" 200
req -X POST -H "Authorization: Bearer $ADMIN" "$(plain /v1/admin/reload)"
expect_eq "admin reloads the configuration" "$STATUS" 200
RELOAD_MSG=$(jqr .message)
wait_for "" 3 bash -c "[ \$(scripts/pg.sh psql '$TF_PG_DIR' -tAc \"select count(*) from audit_log where actor='root@example.com' and action in ('reload','reset_providers') and id > $A0\") = 2 ]"
expect_eq "  ... both in the audit log too (actions without a row of their own)" \
  "$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select string_agg(action, ',' order by action) from audit_log where actor='root@example.com' and action in ('reload','reset_providers') and id > $A0")" "reload,reset_providers"
# The reload's row is written once it is done, with its outcome.
last_reload() { scripts/pg.sh psql "$TF_PG_DIR" -tAc "select details->>'outcome', coalesce(details->>'message', details->>'error') from audit_log where action = 'reload' and actor = 'root@example.com' and id > $1 order by id desc limit 1"; }
expect_eq "  ... the reload's entry says how it went: ok, and the server's message" "$(last_reload "$A0")" "ok|$RELOAD_MSG"
A1=$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select coalesce(max(id), 0) from audit_log")
cp "$TF_CONF" "$TF_TMP/conf.good"
printf 'threads: many\n' >> "$TF_CONF"
req -X POST -H "Authorization: Bearer $ADMIN" "$(plain /v1/admin/reload)"
expect_eq "a reload of a broken conf is refused (422)" "$STATUS $(jqr .error.code)" "422 invalid_configuration"
REFUSAL=$(jqr .error.message)
cp "$TF_TMP/conf.good" "$TF_CONF"
wait_for "" 3 bash -c "[ -n \"\$(scripts/pg.sh psql '$TF_PG_DIR' -tAc \"select 1 from audit_log where action = 'reload' and id > $A1\")\" ]"
expect_eq "  ... and audited as an error, with the reason" "$(last_reload "$A1")" "error|$REFUSAL"

# --- nothing secret in the logs -------------------------------------------------------
sleep 0.3
for s in "$PW" "$ROOT_PW" "$TOKEN" "$REFRESH" "$KEY" "$AKEY" "$TRIFORCE_JWT_SECRET"; do
  grep -qF -- "$s" "$TF_LOG" "$TF_TMP/stderr.log" && { fail "a secret appears in the logs: ${s:0:12}..."; continue; }
  ok "not in the logs: ${s:0:8}..."
done

# --- a change made elsewhere (the CLI, another node) applies at once ---------------------
# Every thread caches users for 3 s; PostgreSQL announces changes on
# tf_invalidate (migration 0005) and the server drops its caches.
NE="notify$RANDOM$RANDOM@example.com"
json POST /v1/auth/register "{\"email\":\"$NE\",\"password\":\"$PW\"}"
json POST /v1/auth/login "{\"email\":\"$NE\",\"password\":\"$PW\"}"
NT=$(jqr .token)
for _ in 1 2 3 4 5 6; do req -H "Authorization: Bearer $NT" "$(plain /v1/client/tier)"; done
expect_eq "cached as registered on the threads" "$(jqr .tier)" registered
TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user set-tier --email "$NE" --tier pro >/dev/null 2>&1
sleep 0.3
tiers=""
for _ in 1 2 3 4 5 6; do req -H "Authorization: Bearer $NT" "$(plain /v1/client/tier)"; tiers="$tiers$(jqr .tier) "; done
expect_eq "the CLI moved the user to pro: every request sees it at once (not after the 3 s cache)" "$tiers" "pro pro pro pro pro pro "
grep -q 'listening for cache invalidations' "$TF_LOG" && ok "  ... through the tf_invalidate channel" || fail "  ... through the tf_invalidate channel"
