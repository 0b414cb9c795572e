# The web tools (spec/tools/web.yaml, tools/web.c) through /v1/mcp, against
# tests/fake/fake_web.c on 127.0.0.1:19620 + TF_PORT_SHIFT (a fake SearXNG and pages).
#
# Address filtering (runtime/tf_netguard) is proven range by range in
# tests/unit/test_netguard.c, without traffic. Here, traffic only ever goes
# to the loopback fake: with tools.crawl_allow_private false, loopback
# targets (127.0.0.1, [::1], localhost, odd spellings) are refused before a
# socket exists, and the fake confirms it saw no request; with it true (as
# only tests set it) pages are read, redirects followed and re-checked, and
# the size, time and content-type limits hold.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"

WP=$(pshift 19620)                # fake_web; +9 stays closed (an unreachable SearXNG)
W="http://127.0.0.1:$WP"
FW=$TF_TMP/fake_web
FW_PID=
[ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
finish() {
  [ -n "$FW_PID" ] && { kill "$FW_PID" 2>/dev/null; wait "$FW_PID" 2>/dev/null; }
  reload_to "$TF_TMP/conf.orig"
}
trap finish EXIT

cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$FW" "$TF_ROOT/tests/fake/fake_web.c" -ljansson -lpthread \
  && ok "fake_web builds" || fail "fake_web builds"
"$FW" --port $WP >>"$TF_TMP/fake-web.log" 2>&1 &
FW_PID=$!
wait_for "" 5 curl -sf -o /dev/null "$W/_fake/stats" && ok "fake_web listens on 127.0.0.1:$WP" || fail "fake_web listens on 127.0.0.1:$WP"
fw_reset() { curl -s -m 3 "$W/_fake/reset" >/dev/null; }
fw_requests() { curl -s -m 3 "$W/_fake/stats" | jq -r .requests; }
fw_last() { curl -s -m 3 "$W/_fake/stats" | jq -r .last; }

web_conf() { # web_conf SEARXNG_URL ALLOW_PRIVATE : the base conf plus a tools: section
  { cat "$TF_TMP/conf.orig"
    printf 'tools:\n  searxng_url: "%s"\n  crawl_allow_private: %s\n  crawl_max_bytes: 65536\n  crawl_timeout_ms: 1500\n' "$1" "$2"
  } > "$TF_TMP/conf.web"
  reload_to "$TF_TMP/conf.web"
}

mesh_user registered
TOK=$U_TOKEN
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
rpc() { req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} -H 'mcp-protocol-version: 2025-11-25' --data "$1" "${@:2}" "$MCP"; }
SID=
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
SID=$(header mcp-session-id)
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_match "an MCP session" "$SID" '^[0-9a-f]{48}$'

call() { rpc "$(jq -nc --arg n "$1" --argjson a "$2" '{jsonrpc:"2.0", id:20, method:"tools/call", params:{name:$n, arguments:$a}}')"; }
crawl() { call web_crawl "$(jq -nc --arg u "$1" '{url:$u}')"; }
sc() { jqr ".result.structuredContent$1"; }
iserr() { jqr '.result.isError // false'; }
etext() { jqr '.result.content[0].text'; }
bad() { # bad TOOL ARGS FIELD RULE
  call "$1" "$2"
  expect_eq "$1 $2: isError naming $3 ($4)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,$3,$4"
}
refused() { # refused DESC URL PATTERN : the crawl is a tool error whose text matches PATTERN
  crawl "$2"
  if [ "$(iserr)" = true ] && [[ "$(etext)" =~ $3 ]]; then ok "$1"; else fail "$1" "$(printf '%s' "$BODY" | head -c 600)"; fi
}

# --- the catalogue ------------------------------------------------------------------------------
req -H "Authorization: Bearer $TOK" "$(plain /v1/mcp/tools)"
expect_eq "tools/list: web_search and web_crawl, open-world, read-only" \
  "$(jqr '[.tools[] | select(.name | startswith("web_")) | "\(.name):\(.annotations.openWorldHint):\(.annotations.readOnlyHint)"] | sort | join(" ")')" \
  "web_crawl:true:true web_search:true:true"
expect_eq "  ... with output schemas" "$(jqr '[.tools[] | select(.name | startswith("web_")) | .outputSchema.type] | join(",")')" "object,object"

# --- invalid arguments (schema) -------------------------------------------------------------------
bad web_search '{}' /query required
bad web_search '{"query":""}' /query minLength
bad web_search '{"query":5}' /query type
bad web_search '{"query":"x","limit":0}' /limit minimum
bad web_search '{"query":"x","limit":51}' /limit maximum
bad web_search '{"query":"x","limit":"3"}' /limit type
bad web_search '{"query":"x","language":"english please"}' /language pattern
bad web_search '{"query":"x","page":11}' /page maximum
bad web_search '{"query":"x","safe":1}' /safe additionalProperties
bad web_crawl '{}' /url required
bad web_crawl '{"url":7}' /url type
bad web_crawl '{"url":"ftp://example.com/file"}' /url pattern
bad web_crawl '{"url":"file:///etc/passwd"}' /url pattern
bad web_crawl '{"url":"javascript:alert(1)"}' /url pattern
bad web_crawl '{"url":"http://x.example/","max_chars":10}' /max_chars minimum
bad web_crawl '{"url":"http://x.example/","depth":2}' /depth additionalProperties

# --- search off (no searxng_url) ------------------------------------------------------------------
call web_search '{"query":"anything"}'
expect_eq "web_search without tools.searxng_url: a tool error" "$(iserr)" true
expect_contains "  ... that says search is off and names the setting" "$(etext)" "tools.searxng_url"

# --- defaults: crawl_allow_private false ----------------------------------------------------------
web_conf "$W" false || fail "reload with tools: searxng_url $W, crawl_allow_private false"
fw_reset
call web_search '{"query":"triforce gateway"}'
expect_eq "web_search: results from SearXNG (default limit 10)" "$(iserr) $(sc .count) $(sc '.results | length')" "false 10 10"
expect_eq "  ... title, url, snippet, engine" "$(sc '.results[0] | [.title, .url, .snippet, .engine] | join("|")')" \
  "Result 1 for triforce gateway|https://example.org/r/1|Snippet number 1.|fakeengine"
expect_eq "  ... the query echoed" "$(sc .query)" "triforce gateway"
expect_eq "  ... the same JSON as text" "$(jqr '.result.content[0].text | fromjson | .count')" 10
expect_match "  ... asked GET /search with format=json, pageno" "$(fw_last)" '^/search\?q=triforce%20gateway&format=json&pageno=1$'
Q='C++ & "quotes" / ü?#=%20 +x'
call web_search "$(jq -nc --arg q "$Q" '{query:$q, limit:3, language:"de-CH", page:2}')"
expect_eq "web_search: a query with & + # ? = % / quotes and UTF-8 arrives intact" "$(sc '.results[0].title')" "Result 1 for $Q"
expect_eq "  ... limit 3" "$(sc .count)" 3
expect_eq "  ... encoded on the wire, language and page passed" "$(fw_last)" \
  "/search?q=C%2B%2B%20%26%20%22quotes%22%20%2F%20%C3%BC%3F%23%3D%2520%20%2Bx&format=json&pageno=2&language=de-CH"
call web_search '{"query":"x","limit":50}'
expect_eq "web_search: results without a url are skipped, null snippets become \"\"" \
  "$(sc .count) $(sc '[.results[] | select(.title == "No content") | .snippet] | join("")')" "16 "

# Loopback targets: refused before a socket exists (the fake sees nothing).
fw_reset
refused "web_crawl http://127.0.0.1:$WP/page: refused by default, says why" "$W/page" "refused.*127\.0\.0\.1 is not a public address \(loopback\)"
refused "web_crawl http://[::1]:$WP/page: refused (IPv6 loopback)" "http://[::1]:$WP/page" "::1 is not a public address \(loopback\)"
refused "web_crawl http://localhost:$WP/: refused (the name resolves to loopback)" "http://localhost:$WP/" "is not a public address \(loopback\)"
refused "web_crawl http://127.1:$WP/ (short form): refused" "http://127.1:$WP/" "loopback"
refused "web_crawl http://0x7f000001:$WP/ (hex): refused" "http://0x7f000001:$WP/" "loopback"
refused "web_crawl http://2130706433:$WP/ (decimal): refused" "http://2130706433:$WP/" "loopback"
refused "web_crawl http://[::ffff:127.0.0.1]:$WP/ (IPv4-mapped): refused" "http://[::ffff:127.0.0.1]:$WP/" "loopback"
refused "web_crawl http://0.0.0.0:$WP/: refused" "http://0.0.0.0:$WP/" "0\.0\.0\.0 is not a public address \(unspecified\)"
refused "web_crawl of a redirect chain on loopback: the first hop is refused" "$W/hop/3" "loopback"
expect_contains "  ... the message says public addresses only" "$(etext)" "public addresses only"
expect_eq "  ... and fake_web received no request at all" "$(fw_requests)" 0
refused "web_crawl http://user:pw@host/: userinfo refused" "http://user:pw@example.com/" "user name or password"
expect_eq "  ... still no request anywhere near the fake" "$(fw_requests)" 0

# --- crawl_allow_private true (tests only): the fake's pages ----------------------------------------
web_conf "$W" true || fail "reload with crawl_allow_private true"
crawl "$W/page"
expect_eq "web_crawl /page: read (status 200, text/html)" "$(iserr) $(sc .status) $(sc .content_type)" "false 200 text/html; charset=utf-8"
expect_eq "  ... the title, entities decoded, whitespace collapsed" "$(sc .title)" "Café & Crème News"
TEXT=$(sc .text)
expect_contains "  ... heading decoded and collapsed" "$TEXT" "Hello & welcome, <friend>!"
expect_contains "  ... &#163; &#x2F; &#39; &quot; &mdash; &hellip; &nbsp;" "$TEXT" "Fish & chips cost £5 / 'cheap' \"really\" — … end."
expect_contains "  ... tabs, CRLF and runs of spaces collapsed; inline tags joined" "$TEXT" "Second paragraph with spaces and an inline tag."
expect_contains "  ... list items on lines of their own" "$TEXT" $'one\ntwo'
expect_contains "  ... table cells separated" "$TEXT" "cell1 cell2"
expect_contains "  ... UTF-8 kept, &#x1F600; decoded, &#0; and &#128; as the HTML spec says, unknown entities kept, legacy &copy" \
  "$TEXT" "Unicode: ü€ 😀 � € bad:&bogus; legacy:©2024 a < b, c&d"
expect_contains "  ... the footer kept" "$TEXT" "Footer text"
expect_eq "  ... no script, style, nav, comment, noscript, svg or template content" \
  "$(grep -oE 'Secret[A-Za-z]*|secret[A-Za-z]*|color: red' <<<"$TEXT" | tr '\n' ' ')" ""
expect_eq "  ... no tags left, no double spaces, no blank lines" "$(grep -cE '<p|</|  |^$|^ | $' <<<"$TEXT")" 0
expect_eq "  ... length counts characters; bytes the page" "$(sc .length) $(sc .truncated) $(sc .bytes)" \
  "$(sc '.text | length') false $(curl -s "$W/page" | wc -c)"
expect_eq "  ... redirects 0, url normalized" "$(sc .redirects) $(sc .url)" "0 $W/page"
call web_crawl "$(jq -nc --arg u "$W/page" '{url:$u, max_chars:100}')"
expect_eq "web_crawl max_chars 100: cut, truncated true" "$(sc .length) $(sc .truncated) $(sc '.text | length')" "100 true 100"

crawl "$W/hop/5"
expect_eq "web_crawl /hop/5: a chain of 5 redirects (absolute and relative) is followed" \
  "$(iserr) $(sc .redirects) $(sc .url) $(sc .title)" "false 5 $W/hop/0 Landing"
expect_eq "  ... and the landing page read" "$(sc .text)" "arrived after the chain"
refused "web_crawl /hop/6: more than 5 redirects refused" "$W/hop/6" "too many redirects \(more than 5\)"
fw_reset
refused "a redirect to http://0.0.0.0/ is refused at that hop (every hop re-checked, even with allow_private)" "$W/to/zero" \
  "refused: the redirect to http://0\.0\.0\.0:$WP/page: 0\.0\.0\.0 is not a public address \(unspecified\)"
expect_eq "  ... the fake saw the first hop only" "$(fw_requests) $(fw_last)" "1 /to/zero"
refused "a redirect to a URL with userinfo is refused" "$W/to/userinfo" "redirect 1 from .*: URLs with a user name or password"
expect_eq "  ... without echoing the password" "$(etext | grep -c secret)" 0
refused "a redirect to ftp:// is refused" "$W/to/ftp" "only http and https URLs are fetched, not ftp"
refused "a redirect without Location is an error" "$W/to/nowhere" "without a usable Location"

refused "web_crawl /big (Content-Length 300000 > crawl_max_bytes 65536): refused unread" "$W/big" "larger than 65536 bytes"
refused "web_crawl /bigstream (no Content-Length): cut off at 65536 bytes, refused" "$W/bigstream" "larger than 65536 bytes"
t0=$(date +%s%N)
refused "web_crawl /slow (5 s before any byte): times out (crawl_timeout_ms 1500)" "$W/slow" "timed out.*1500 ms"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $ms -ge 1300 ] && [ $ms -lt 3500 ]; then ok "  ... after ${ms} ms"; else fail "  ... after ${ms} ms" "expected about 1500"; fi
refused "web_crawl /drip (a byte every 200 ms): the time cap covers the body too" "$W/drip" "timed out"
refused "web_crawl /png: image/png refused" "$W/png" "content type image/png is not read"
refused "web_crawl /octet: application/octet-stream refused" "$W/octet" "application/octet-stream is not read"
refused "web_crawl /nocontenttype: refused" "$W/nocontenttype" "no Content-Type"
refused "web_crawl /notfound: HTTP 404 is an error" "$W/notfound" "answered HTTP 404"
refused "web_crawl of a closed port: could not fetch" "http://127.0.0.1:$(pshift 19629)/" "could not fetch"

crawl "$W/plain"
expect_eq "web_crawl text/plain: lines kept, CRLF and blank runs normalized, trimmed" "$(sc .text)" $'line one\nline two\n\nline three'
expect_eq "  ... no title" "$(sc .title)" ""
crawl "$W/json"
expect_eq "web_crawl application/json: the JSON as text" "$(sc .text)" '{"a": 1, "b": "<not html>"}'
crawl "$W/latin1"
expect_eq "web_crawl ISO-8859-1 (header): decoded to UTF-8 (0x80 as windows-1252 €)" "$(sc .title)|$(sc .text)" "Café|naïve € 5"
crawl "$W/metacharset"
expect_eq "web_crawl windows-1252 from <meta charset>" "$(sc .title)|$(sc .text)" "Grüße|“quoted”"

# The client leaves while the page is slow: the transfer is cancelled, the server carries on.
fw_reset
rpc "$(jq -nc --arg u "$W/slow" '{jsonrpc:"2.0", id:30, method:"tools/call", params:{name:"web_crawl", arguments:{url:$u}}}')" -m 0.4 --http2-prior-knowledge
sleep 0.5
expect_eq "an h2 client that leaves mid-crawl (at 0.4 s): the upstream transfer is dropped then, not at the 1.5 s time cap" \
  "$(curl -s -m 3 "$W/_fake/stats" | jq -r '[.slow_closed, (.slow_closed_ms < 1000)] | join(",")')" "1,true"
expect_eq "  ... the server stays healthy" "$(health_code)" 200
crawl "$W/hop/0"
expect_eq "  ... and crawls again" "$(iserr) $(sc .title)" "false Landing"

# --- SearXNG errors --------------------------------------------------------------------------------
web_conf "$W/forbidden" false
call web_search '{"query":"x"}'
expect_eq "SearXNG answering 403: a tool error with the json-format hint" "$(iserr)" true
expect_contains "  ... " "$(etext)" "answered HTTP 403 (is the json format enabled"
web_conf "$W/nojson/" false
call web_search '{"query":"x"}'
expect_contains "SearXNG answering HTML: a tool error" "$(iserr) $(etext)" "true the search service (SearXNG at $W/nojson/) did not answer with its JSON results"
web_conf "http://127.0.0.1:$(pshift 19629)" false
call web_search '{"query":"x"}'
expect_contains "SearXNG unreachable: a tool error" "$(iserr) $(etext)" "true the search service (SearXNG at http://127.0.0.1:$(pshift 19629)) could not be reached"

# REST view of the same tool.
web_conf "$W" false
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $TOK" --data '{"name":"web_search","arguments":{"query":"rest","limit":2}}' \
  "$(plain /v1/mcp/call)"
expect_eq "POST /v1/mcp/call web_search" "$(jqr '.structuredContent.count')" 2
