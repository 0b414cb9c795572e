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

sed -e "s/port: $TF_PLAIN/port: $(pshift 19180)/" -e "s/port: $TF_TLS/port: $(pshift 19543)/" -e "s#$TF_TMP/triforce.log#$TF_TMP/copy.log#" "$TF_CONF" > "$TF_TMP/copy.yaml"
(cd "$C" && exec ./build/triforce --conf "$TF_TMP/copy.yaml") 2>"$TF_TMP/copy.err" &
CPID=$!
wait_for "" 10 curl -sf -o /dev/null http://127.0.0.1:$(pshift 19180)/health
req --http2-prior-knowledge http://127.0.0.1:$(pshift 19180)/v1/hello/world
expect_eq "the rebuilt server routes GET /v1/hello/{who}" "$STATUS" 200
expect_eq "  ... with the path parameter" "$(jqr .hello)" world
req -X POST http://127.0.0.1:$(pshift 19180)/v1/hello/world
expect_eq "  ... and answers 405 for POST" "$STATUS" 405
kill -TERM $CPID; wait $CPID 2>/dev/null

# Adding an MCP tool is YAML + handler + make: the generator writes a stub
# into tools/<category>.c, the build refuses to ship it, and once the
# handler is written the tool is listed and answers.
cat > "$C/spec/tools/testcat.yaml" <<'YAML'
tools:
  - name: echo_test
    title: Echo (test)
    description: Says back what it was given. Added by tests/integration/50_spec_change.sh.
    annotations: {readOnlyHint: true}
    input:
      type: object
      properties:
        text: {type: string, minLength: 1, maxLength: 100}
      required: [text]
      additionalProperties: false
YAML
out=$(make -C "$C" -s build 2>&1); rc=$?
if [ $rc -ne 0 ]; then ok "a new tool without a handler: make fails"; else fail "a new tool without a handler: make fails" "$out"; fi
expect_match "  ... naming the stub with file:line" "$out" "tools/testcat.c:[0-9]+: tool 'echo_test': tf_tool_echo_test is still the generated stub"
check "  ... the stub was written into tools/testcat.c" grep -q 'return tf_tool_stub(call);' "$C/tools/testcat.c"
check "  ... and generated/ does not list the tool yet" bash -c "! grep -q echo_test '$C/generated/tf_tools.c'"
out2=$(make -C "$C" -s build 2>&1); rc=$?
[ $rc -ne 0 ] && ok "  ... make fails again while the stub is there" || fail "  ... make fails again while the stub is there" "$out2"
cat > "$C/tools/testcat.c" <<'CSRC'
#include "tf_tool.h"

/* echo_test: Echo (test) */
int tf_tool_echo_test(tf_tool_call_t *call)
{
    tf_tool_text(call, "echo: %s", tf_tool_arg_str(call, "text", ""));
    return 0;
}
CSRC
if make -C "$C" -s -j2 build > "$TF_TMP/copy-build2.log" 2>&1; then ok "the handler written: make succeeds"
else fail "the handler written: make succeeds" "$(tail -20 "$TF_TMP/copy-build2.log")"; fi
(cd "$C" && exec ./build/triforce --conf "$TF_TMP/copy.yaml") 2>"$TF_TMP/copy.err" &
CPID=$!
wait_for "" 10 curl -sf -o /dev/null http://127.0.0.1:$(pshift 19180)/health
EM="tooltest$RANDOM@example.com"
curl -s -o /dev/null -H 'content-type: application/json' --data "{\"email\":\"$EM\",\"password\":\"correct horse battery\"}" http://127.0.0.1:$(pshift 19180)/v1/auth/register
TK=$(curl -s -H 'content-type: application/json' --data "{\"email\":\"$EM\",\"password\":\"correct horse battery\"}" http://127.0.0.1:$(pshift 19180)/v1/auth/login | jq -r .token)
req -H "Authorization: Bearer $TK" http://127.0.0.1:$(pshift 19180)/v1/mcp/tools
expect_eq "  ... the rebuilt server lists echo_test" "$(jqr '[.tools[] | select(.name == "echo_test") | .title] | join(",")')" "Echo (test)"
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $TK" --data '{"name":"echo_test","arguments":{"text":"hi"}}' \
  http://127.0.0.1:$(pshift 19180)/v1/mcp/call
expect_eq "  ... and calls it" "$(jqr '.content[0].text')" "echo: hi"
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $TK" --data '{"name":"echo_test","arguments":{}}' \
  http://127.0.0.1:$(pshift 19180)/v1/mcp/call
expect_eq "  ... with its generated validator (text required)" "$(jqr '[.isError, ._meta.field, ._meta.rule] | join(",")')" "true,/text,required"
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
