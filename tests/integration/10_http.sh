# HTTP/1.1, h2c and TLS+ALPN; the JSON error paths; /health, /v1/tiers, /metrics.
. "$TF_ROOT/tests/lib.sh"

req --http1.1 "$(plain /health)"
expect_eq "GET /health over HTTP/1.1 is 200" "$STATUS" 200
expect_eq "  ... and really HTTP/1.1" "$VERSION" 1.1
expect_eq "  ... reports the database up" "$(jqr .database.status)" up
expect_eq "  ... names the node from conf" "$(jqr .node)" test-node
expect_match "  ... carries an X-Request-Id" "$(header x-request-id)" '^[0-9a-f]{8}-[0-9a-f]{2}-[0-9a-f]{8}$'
RID=$(header x-request-id)
# Lines are written once per event-loop iteration: allow a moment.
check "  ... and the access log has that request id with category api" wait_for "" 3 grep -q "\"cat\":\"api\",\"req\":\"$RID\"" "$TF_LOG"

# A path with bytes that are not UTF-8 (raw, as a client may send them): its
# access-log line must still be valid JSON, each bad byte as U+FFFD.
RAW=$(node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1", () =>
    s.write(Buffer.from("GET /v1/caf\xc3\xa9\xff\xc0\xaf\"\\x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "latin1")));
  let d = ""; s.setEncoding("latin1"); s.on("data", c => d += c);
  s.on("close", () => {
    const m = /x-request-id: *(\S+)/i.exec(d);
    let code = "no-JSON-body";
    try { code = JSON.parse(Buffer.from(d.slice(d.indexOf("\r\n\r\n") + 4), "latin1").toString("utf8")).error.code; } catch (e) {}
    console.log(d.split(" ")[1], code, m ? m[1] : "-");
  });
  setTimeout(() => process.exit(1), 3000).unref();' "$TF_PLAIN")
RAW_RID=${RAW##* }
expect_eq "a raw request whose path is not UTF-8 gets a 404 with a JSON error body" "${RAW% *}" "404 not_found"
rawline() { grep -a "\"req\":\"$RAW_RID\"" "$TF_LOG" | grep -a '"cat":"api"'; }
wait_for "" 3 rawline
U_FFFD=$(printf '\xef\xbf\xbd')
# (jq reads bad bytes as U+FFFD itself: iconv is the strict check.)
check "  ... its access-log line is well-formed UTF-8" bash -c "grep -a '\"req\":\"$RAW_RID\"' '$TF_LOG' | iconv -f UTF-8 -t UTF-8"
expect_eq "  ... its access-log line is valid JSON, bad bytes as U+FFFD" "$(rawline | jq -r .path)" "/v1/café$U_FFFD$U_FFFD$U_FFFD\"\\x"

req --http2-prior-knowledge "$(plain /health)"
expect_eq "GET /health over h2c (prior knowledge) is 200" "$STATUS" 200
expect_eq "  ... and really HTTP/2" "$VERSION" 2

req --http2 -k "$(tls /health)"
expect_eq "GET /health over TLS is 200" "$STATUS" 200
expect_eq "  ... and ALPN chose h2" "$VERSION" 2

req --http1.1 -k "$(tls /health)"
expect_eq "TLS client offering only http/1.1 gets HTTP/1.1" "$VERSION" 1.1

out=$(nghttp -nv "$(plain /health)" 2>&1)
expect_contains "nghttp (h2c) sees a 200 from the server" "$out" ':status: 200'

req -I "$(plain /health)"
expect_eq "HEAD /health is 200" "$STATUS" 200

# --- errors ------------------------------------------------------------
req "$(plain /no/such/route)"
expect_eq "unknown path is 404" "$STATUS" 404
expect_eq "  ... JSON error code" "$(jqr .error.code)" not_found
expect_eq "  ... error type" "$(jqr .error.type)" invalid_request_error

req --http2-prior-knowledge -X DELETE "$(plain /v1/tiers)"
expect_eq "wrong method is 405 (h2)" "$STATUS" 405
expect_match "  ... with an Allow header" "$(header allow)" 'GET'
expect_eq "  ... JSON error code" "$(jqr .error.code)" method_not_allowed

req -X POST -H 'content-type: application/json' --data '{"email": "a@b.c", ' "$(plain /v1/auth/register)"
expect_eq "broken JSON is 400" "$STATUS" 400
expect_eq "  ... code invalid_json" "$(jqr .error.code)" invalid_json

req -X POST -H 'content-type: application/json' --data '{"email":"x@example.com","password":"short"}' "$(plain /v1/auth/register)"
expect_eq "too-short password is 400" "$STATUS" 400
expect_eq "  ... names the field" "$(jqr .error.param)" /password
expect_contains "  ... and the rule" "$(jqr .error.message)" minLength

req --http2-prior-knowledge -X POST -H 'content-type: application/json' --data '{"password":"long enough pw"}' "$(plain /v1/auth/register)"
expect_eq "missing email is 400 (h2)" "$STATUS" 400
expect_eq "  ... names the field" "$(jqr .error.param)" /email
expect_contains "  ... rule required" "$(jqr .error.message)" required

req -X POST -H 'content-type: application/json' --data '{"email":"x@example.com","password":"long enough pw","admin":true}' "$(plain /v1/auth/register)"
expect_eq "unknown property is 400" "$STATUS" 400
expect_eq "  ... names the field" "$(jqr .error.param)" /admin

req -X POST -H 'content-type: text/plain' --data 'hello' "$(plain /v1/auth/register)"
expect_eq "non-JSON content type is 415" "$STATUS" 415

head -c 70000 /dev/zero | tr '\0' 'a' > "$TF_TMP/big"
req --http1.1 -X POST -H 'content-type: application/json' --data-binary @"$TF_TMP/big" "$(plain /v1/auth/register)"
expect_eq "body over limits.max_body_bytes is 413 (HTTP/1.1)" "$STATUS" 413
expect_eq "  ... JSON error code" "$(jqr .error.code)" body_too_large
req --http2-prior-knowledge -X POST -H 'content-type: application/json' --data-binary @"$TF_TMP/big" "$(plain /v1/auth/register)"
expect_eq "body over limits.max_body_bytes is 413 (h2c)" "$STATUS" 413

# --- register (the first route that needs the database) ---------------
EMAIL="user$RANDOM$RANDOM@example.com"
req -X POST -H 'content-type: application/json' --data "{\"email\":\"$EMAIL\",\"password\":\"correct horse battery\"}" "$(plain /v1/auth/register)"
expect_eq "register is 201" "$STATUS" 201
expect_eq "  ... in the registered tier" "$(jqr .tier)" registered
req -X POST -H 'content-type: application/json' --data "{\"email\":\"$(echo "$EMAIL" | tr a-z A-Z)\",\"password\":\"correct horse battery\"}" "$(plain /v1/auth/register)"
expect_eq "same email in other case is 409" "$STATUS" 409
HASH=$(scripts/pg.sh psql "$TF_PG_DIR" -tAc "select password_hash from users where email='$EMAIL'" 2>/dev/null)
expect_match "password stored as an argon2id hash" "$HASH" '^\$argon2id\$'
check "password not in the log" bash -c "! grep -q 'correct horse' '$TF_LOG'"

# --- auth policy --------------------------------------------------------
req -X POST "$(plain /v1/admin/reload)"
expect_eq "admin route without credentials is 401" "$STATUS" 401
expect_match "  ... with WWW-Authenticate" "$(header www-authenticate)" '^Bearer'

# --- tiers from the spec --------------------------------------------------
req --http2-prior-knowledge "$(plain /v1/tiers)"
expect_eq "GET /v1/tiers is 200" "$STATUS" 200
expect_eq "  ... four tiers in spec order" "$(jqr '[.[].tier]|join(",")')" "guest,registered,pro,unlimited"
expect_eq "  ... pro costs 18.99 a month" "$(jqr '.[2].price_monthly')" 18.99
expect_eq "  ... guest may not use MCP" "$(jqr '.[0].mcp_access')" false
expect_eq "  ... unlimited has alias enterprise" "$(jqr '.[3].aliases[0]')" enterprise

# --- metrics --------------------------------------------------------------
req "$(plain /metrics)"
expect_eq "GET /metrics is 200" "$STATUS" 200
expect_match "  ... text format" "$(header content-type)" '^text/plain'
expect_match "  ... counts /health over h2" "$BODY" 'tf_http_requests_total\{route="health",method="GET",status="200",protocol="h2"\} [1-9]'
expect_match "  ... counts 404s" "$BODY" 'tf_http_requests_total\{route="none",method="",status="404",protocol="http/1.1"\} [1-9]'
expect_match "  ... has a latency histogram" "$BODY" 'tf_http_request_duration_seconds_bucket\{route="health",le="\+Inf"\} [1-9]'
expect_match "  ... reports the database" "$BODY" 'tf_db_up 1'
expect_match "  ... has build info" "$BODY" 'tf_build_info\{version="[^"]+",node="test-node"\} 1'
