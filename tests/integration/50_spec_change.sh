# Adding a route is a YAML entry plus one handler function: in a copy of the
# tree, add both, run make, and the new binary routes it. A route with an
# unknown handler makes `make` fail with file:line.
. "$TF_ROOT/tests/lib.sh"
[ "$TF_PASS" = plain ] || exit 0   # one build of the copy is enough

C=$TF_TMP/copy
mkdir -p "$C"
(cd "$TF_ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$C") 2>/dev/null

req "$(plain /v1/hello/world)"
expect_eq "before: the running server has no /v1/hello/{who}" "$STATUS" 404

cat >> "$C/spec/endpoints.yaml" <<'YAML'

  - name: hello_test
    method: GET
    path: /v1/hello/{who}
    auth: public
    handler: hello_test
    summary: Added by tests/integration/50_spec_change.sh.
YAML
cat > "$C/runtime/api/hello_test.c" <<'CSRC'
#include "tf_http.h"

int tf_api_hello_test(tf_req_t *r)
{
    tf_respond_json(r, 200, json_pack("{s:s}", "hello", tf_req_param(r, "who")));
    return 0;
}
CSRC
if make -C "$C" -s -j2 build > "$TF_TMP/copy-build.log" 2>&1; then
  ok "make rebuilds after the spec change"
else
  fail "make rebuilds after the spec change" "$(tail -20 "$TF_TMP/copy-build.log")"
fi
check "  ... the generated router knows the new path" grep -q 'hello' "$C/generated/tf_routes.c"

sed -e "s/port: $TF_PLAIN/port: 19180/" -e "s/port: $TF_TLS/port: 19543/" -e "s#$TF_TMP/triforce.log#$TF_TMP/copy.log#" "$TF_CONF" > "$TF_TMP/copy.yaml"
(cd "$C" && exec ./build/triforce --conf "$TF_TMP/copy.yaml") 2>"$TF_TMP/copy.err" &
CPID=$!
wait_for "" 10 curl -sf -o /dev/null http://127.0.0.1:19180/health
req --http2-prior-knowledge http://127.0.0.1:19180/v1/hello/world
expect_eq "the rebuilt server routes GET /v1/hello/{who}" "$STATUS" 200
expect_eq "  ... with the path parameter" "$(jqr .hello)" world
req -X POST http://127.0.0.1:19180/v1/hello/world
expect_eq "  ... and answers 405 for POST" "$STATUS" 405
kill -TERM $CPID; wait $CPID 2>/dev/null

# A spec naming a handler nobody wrote fails the build with file:line.
cat >> "$C/spec/endpoints.yaml" <<'YAML'

  - name: nobody_wrote_me
    method: GET
    path: /v1/nobody
    auth: public
    handler: nobody_wrote_me
YAML
LINE=$(grep -n 'handler: nobody_wrote_me' "$C/spec/endpoints.yaml" | cut -d: -f1)
out=$(make -C "$C" -s build 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" =~ endpoints\.yaml:[0-9]+:.*nobody_wrote_me ]]; then
  ok "unknown handler: make fails naming spec/endpoints.yaml:line"
else
  fail "unknown handler: make fails naming spec/endpoints.yaml:line (handler at line $LINE)" "rc=$rc $out"
fi
