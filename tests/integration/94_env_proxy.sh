# Proxies from the environment (http_proxy, no_proxy, ...) still apply to
# upstream calls: every transfer turns curl's own proxy lookup off only when the
# environment names no proxy at all (tf_curl_easy).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
P2=""
cleanup() { [ -n "$P2" ] && { kill "$P2" 2>/dev/null; wait "$P2" 2>/dev/null; }; mesh_stop; }
trap cleanup EXIT
mesh_start --completion-tokens 4 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
P='{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}'
chat "$P"
expect_eq "no proxy in the environment: groq answers" "$STATUS $(jqr .triforce.provider)" "200 groq"

PLAIN2=$(pshift 23990); TLS2=$(pshift 23991); DEAD=$(pshift 23992)
C2=$TF_TMP/conf.proxy
sed -e "s/port: $TF_PLAIN\$/port: $PLAIN2/" -e "s/port: $TF_TLS\$/port: $TLS2/" -e "s#file: $TF_TMP/triforce.log#file: $TF_TMP/triforce-proxy.log#" \
  "$TF_TMP/conf.mesh" > "$C2"
# second_server ENV... : a second TriForce on PLAIN2 with extra environment
second_server() {
  [ -n "$P2" ] && { kill "$P2" 2>/dev/null; wait "$P2" 2>/dev/null; }
  env "$@" "$TF_BIN" --conf "$C2" 2>>"$TF_TMP/stderr-proxy.log" &
  P2=$!
  up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PLAIN2/health")" = 200 ]; }
  wait_for "" 15 up
}
chat2() { req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$1" "http://127.0.0.1:$PLAIN2/v1/chat/completions"; }

second_server http_proxy="http://127.0.0.1:$DEAD" no_proxy= NO_PROXY=
fake_reset_all
chat2 "$P"
expect_eq "http_proxy naming a dead proxy: every provider fails (the proxy was used)" "$STATUS $(jqr .error.code)" "502 upstream_failed"
expect_eq "  ... and groq itself was never asked" "$(fake_stat groq .requests)" 0

second_server http_proxy="http://127.0.0.1:$DEAD" no_proxy=127.0.0.1
chat2 "$P"
expect_eq "the same with no_proxy=127.0.0.1: groq answers directly" "$STATUS $(jqr .triforce.provider)" "200 groq"
cleanup; P2=""; trap mesh_stop EXIT
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TF_TMP/stderr-proxy.log" 2>/dev/null; then
  fail "the second server ran clean" "$(grep -A10 -E 'ERROR: |runtime error:' "$TF_TMP/stderr-proxy.log" | head -30)"
fi
