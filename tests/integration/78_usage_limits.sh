# Usage metering through the chat routes: hourly request rates per tier
# (guest 10, registered 30), daily token limits under concurrency, and the
# usage table against what the responses said.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 5 --completion-tokens 3 || { fail "fake providers and mesh conf"; exit 0; }
PSQL() { psql "$TRIFORCE_DATABASE_URL" -tAq -v ON_ERROR_STOP=1 -c "$1"; }
OLLAMA='{"model":"ollama/gpt-oss:20b-cloud","messages":[{"role":"user","content":"hi"}]}'
# Chats the Ollama nodes received: a refused request must never reach one.
ollama_reqs() { echo $(( $(fake_stat ollama1 .requests) + $(fake_stat ollama2 .requests) )); }

# --- guest: 10 requests per hour, by address -------------------------------------------
PSQL "DELETE FROM rate_windows WHERE subject = 'guest:127.0.0.1'; DELETE FROM usage_daily WHERE subject = 'guest:127.0.0.1'"
codes=""
for _ in $(seq 1 10); do
  req -X POST -H 'content-type: application/json' --data "$OLLAMA" "$(plain /v1/chat/completions)"
  codes="$codes$STATUS "
done
expect_eq "guest: 10 requests in the hour are answered" "$codes" "200 200 200 200 200 200 200 200 200 200 "
n0=$(ollama_reqs)
req -X POST -H 'content-type: application/json' --data "$OLLAMA" "$(plain /v1/chat/completions)"
expect_eq "  ... the 11th is 429 rate_limit_exceeded" "$STATUS $(jqr .error.code)" "429 rate_limit_exceeded"
expect_eq "  ... decided before the upstream call: no provider saw it" "$(ollama_reqs)" "$n0"
expect_eq "  ... naming the limit and its value" "$(jqr '[.error.limit, .error.limit_value, .error.tier] | join(",")')" "requests_per_hour,10,guest"
ra=$(header retry-after)
if [[ "$ra" =~ ^[0-9]+$ ]] && [ "$ra" -ge 1 ] && [ "$ra" -le 3600 ]; then ok "  ... Retry-After is the rest of the hour ($ra s)"; else fail "  ... Retry-After" "[$ra]"; fi
expect_eq "  ... and the body says the same" "$(jqr .error.retry_after)" "$ra"
expect_eq "guest usage recorded under the address: 10 x 8 tokens" \
  "$(PSQL "SELECT sum(prompt_tokens + completion_tokens) || ' ' || sum(requests) FROM usage_daily WHERE subject = 'guest:127.0.0.1'")" "80 10"
req -X POST -H 'content-type: application/json' --data '{"message":"hi","model":"ollama/gpt-oss:20b-cloud"}' "$(plain /v1/client/chat)"
expect_eq "  ... every metered route shares the limit (/v1/client/chat: 429)" "$STATUS" 429

# --- guests behind a trusted proxy: by client address, an IPv6 one per /64 --------------
cp "$TF_TMP/conf.orig" "$TF_TMP/conf.orig.noproxy"
{ cat "$TF_TMP/conf.orig.noproxy"; printf '  trusted_proxies: ["127.0.0.1"]\n'; } > "$TF_TMP/conf.orig"
if mesh_apply; then
  PSQL "DELETE FROM rate_windows WHERE subject LIKE 'guest:2001:db8:%'; DELETE FROM usage_daily WHERE subject LIKE 'guest:2001:db8:%'"
  gchat() { req -X POST -H 'content-type: application/json' -H "X-Forwarded-For: $1" --data "$OLLAMA" "$(plain /v1/chat/completions)"; }
  codes=""
  for i in $(seq 1 10); do gchat "2001:db8:7:7::$i"; codes="$codes$STATUS "; done
  expect_eq "guests from 10 addresses of one IPv6 /64 (through the proxy) are answered" "$codes" "200 200 200 200 200 200 200 200 200 200 "
  gchat "2001:db8:7:7:ffff::1"
  expect_eq "  ... an 11th address of that /64 shares their hourly limit (429)" "$STATUS $(jqr .error.code)" "429 rate_limit_exceeded"
  gchat "2001:db8:7:8::1"
  expect_eq "  ... the next /64 is another guest" "$STATUS" 200
  expect_eq "  ... usage recorded under the /64" \
    "$(PSQL "SELECT sum(prompt_tokens + completion_tokens) || ' ' || sum(requests) FROM usage_daily WHERE subject = 'guest:2001:db8:7:7::/64'")" "80 10"
else
  fail "reload with a trusted proxy"
fi
cp "$TF_TMP/conf.orig.noproxy" "$TF_TMP/conf.orig"
mesh_apply || fail "reload without the trusted proxy"

# --- registered: 30 per hour ----------------------------------------------------------------
mesh_user registered
codes=0
for _ in $(seq 1 30); do chat "$OLLAMA"; [ "$STATUS" = 200 ] && codes=$((codes + 1)); done
expect_eq "registered: 30 requests in the hour are answered" "$codes" 30
n0=$(ollama_reqs)
chat "$OLLAMA"
expect_eq "  ... the 31st is 429 with its limit" "$STATUS $(jqr .error.limit) $(jqr .error.limit_value)" "429 requests_per_hour 30"
expect_eq "  ... and no provider saw it" "$(ollama_reqs)" "$n0"
req -H "Authorization: Bearer $U_TOKEN" "$(plain /v1/client/tokens/usage)"
expect_eq "  ... /v1/client/tokens/usage shows the 30 answers" "$(jqr .used)" 240

# --- pro: a daily token limit under concurrency ------------------------------------------
# 25005 tokens per answer against pro's 250000 a day: the limit is reached
# after 10 answers; what the requests in flight used comes on top, no more.
# At concurrency 50 all of the first 50 may be admitted before any answer
# is recorded (CI saw it), so that round sends 80: the 60th starts only
# after 10 answers ended, and by then the limit is used either way.
burst() { # burst CONCURRENCY DIR COUNT : COUNT requests for groq/llama-3.3-70b as U_TOKEN
  mkdir -p "$2"
  seq 1 "$3" | xargs -P "$1" -I{} curl -s -m 30 -o "$2/{}.json" -w '%{http_code}\n' -H 'content-type: application/json' \
    -H "Authorization: Bearer $U_TOKEN" --data '{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}' \
    "$(plain /v1/chat/completions)" > "$2/codes"
}
PER=25005
LIMIT=250000
for C in 50 5; do
  fake_config groq "{\"completion_tokens\":25000,\"prompt_tokens\":5,\"latency_ms\":$([ $C = 50 ] && echo 20 || echo 5)}"
  mesh_user pro
  D=$TF_TMP/burst$C
  g0=$(fake_stat groq .requests)
  N=$([ $C = 50 ] && echo 80 || echo 50)
  burst $C "$D" $N
  n200=$(grep -c '^200$' "$D/codes"); n429=$(grep -c '^429$' "$D/codes")
  expect_eq "pro, $N requests at concurrency $C: each is 200 or 429" "$((n200 + n429))" $N
  sum=$(cat "$D"/*.json | jq -s '[.[] | select(.usage) | .usage.total_tokens] | add // 0')
  bound=$((LIMIT + C * PER))
  if [ "$sum" -ge "$LIMIT" ] && [ "$sum" -le "$bound" ]; then
    ok "  ... the answers used $sum tokens: at least the limit, at most limit + $C in flight ($bound)"
  else fail "  ... tokens within limit + in flight" "sum $sum, limit $LIMIT, bound $bound, $n200 answered"; fi
  [ "$n429" -gt 0 ] && ok "  ... $n429 refused once the limit was used" || fail "  ... some refused" "none refused"
  expect_eq "  ... every refusal names daily_tokens" "$(cat "$D"/*.json | jq -rs '[.[] | select(.error) | .error.limit] | unique | join(",")')" daily_tokens
  expect_eq "  ... the provider received exactly the answered ones (refusals came before the upstream call)" \
    "$(( $(fake_stat groq .requests) - g0 ))" "$n200"
  expect_eq "  ... the usage table holds exactly what the responses reported" \
    "$(PSQL "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) || ' ' || coalesce(sum(requests), 0) FROM usage_daily WHERE subject = '$U_ID'")" "$sum $n200"
done

# pro's Ollama models do not count against the daily tokens
chat "$OLLAMA"
expect_eq "pro with the daily tokens used up: an ollama model is still answered" "$STATUS" 200
chat '{"model":"groq/llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}'
expect_eq "  ... a cloud model is not" "$STATUS $(jqr .error.code)" "429 daily_token_limit_exceeded"
