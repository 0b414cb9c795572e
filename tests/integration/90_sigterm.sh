# SIGTERM during chat load: requests in flight finish (the server drains),
# and the usage table holds exactly the tokens of every successful answer.
# Runs last: it stops the server (tests/run.sh starts it again when needed).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 3 --completion-tokens 7 --latency-ms 300 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
PSQL() { psql "$TRIFORCE_DATABASE_URL" -tAq -c "$1"; }
D=$TF_TMP/sigterm; mkdir -p "$D"
seq 1 60 | xargs -P 12 -I{} curl -s -m 20 -o "$D/{}.json" -w '%{http_code}\n' -H 'content-type: application/json' \
  -H "Authorization: Bearer $U_TOKEN" --data '{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}' \
  "$(plain /v1/chat/completions)" > "$D/codes" 2>/dev/null &
LOAD=$!
sleep 0.7
kill -TERM "$TF_PID"
wait $LOAD
gone() { [ ! -d "/proc/$TF_PID" ] || grep -q '^[^ ]* ([^)]*) Z' "/proc/$TF_PID/stat"; }
wait_for "" 15 gone && ok "triforce exited after SIGTERM" || fail "triforce exited after SIGTERM"
n200=$(grep -c '^200$' "$D/codes")
[ "$n200" -gt 0 ] && ok "some answers completed before and during the drain ($n200)" || fail "answers before the drain" "$(sort "$D/codes" | uniq -c)"
sum=$(cat "$D"/*.json 2>/dev/null | jq -s '[.[] | select(.usage) | .usage.total_tokens] | add // 0')
expect_eq "  ... each answered request was whole (10 tokens each)" "$sum" $((n200 * 10))
expect_eq "usage in PostgreSQL equals the sum of the successful answers" \
  "$(PSQL "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) || ' ' || coalesce(sum(requests), 0) FROM usage_daily WHERE subject = '$U_ID'")" "$sum $n200"
