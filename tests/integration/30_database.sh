# PostgreSQL going away and coming back: /health says so within seconds,
# routes that need the database answer 503, and triforce recovers by itself.
. "$TF_ROOT/tests/lib.sh"

db_status() { curl -s -m 3 "$(plain /health)" | jq -r .database.status; }

expect_eq "database up at start" "$(db_status)" up
t0=$SECONDS
"$TF_ROOT/scripts/pg.sh" stop "$TF_PG_DIR" >/dev/null
if wait_for "" 6 bash -c "[ \"\$(curl -s -m 2 $(plain /health) | jq -r .database.status)\" = down ]"; then
  ok "after stopping PostgreSQL, /health says the database is down (within $((SECONDS - t0)) s)"
else
  fail "after stopping PostgreSQL, /health says the database is down within 6 s" "$(curl -s $(plain /health))"
fi
expect_eq "  ... /health answers 503" "$(health_code)" 503
req -X POST -H 'content-type: application/json' --data '{"email":"down@example.com","password":"long enough pw"}' "$(plain /v1/auth/register)"
expect_eq "  ... a route that needs the database answers 503" "$STATUS" 503
expect_eq "  ... with a JSON error" "$(jqr .error.code)" database_unavailable
expect_match "  ... and Retry-After" "$(header retry-after)" '^[0-9]+$'
req "$(plain /v1/tiers)"
expect_eq "  ... a route that does not need it still works" "$STATUS" 200

t0=$SECONDS
"$TF_ROOT/scripts/pg.sh" start "$TF_PG_DIR" >/dev/null
if wait_for "" 10 bash -c "[ \"\$(curl -s -m 2 $(plain /health) | jq -r .database.status)\" = up ]"; then
  ok "after starting PostgreSQL again, /health recovers without a restart (within $((SECONDS - t0)) s)"
else
  fail "after starting PostgreSQL again, /health recovers within 10 s" "$(curl -s $(plain /health))"
fi
sleep 1  # let every thread's pool reconnect
EMAIL="back$RANDOM$RANDOM@example.com"
for i in 1 2 3 4; do  # several requests so both threads are exercised
  req -X POST -H 'content-type: application/json' --data "{\"email\":\"$i$EMAIL\",\"password\":\"long enough pw\"}" "$(plain /v1/auth/register)"
  [ "$STATUS" = 201 ] || break
done
expect_eq "  ... and routes that need the database work again" "$STATUS" 201
