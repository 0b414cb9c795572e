# The fake provider that tests and benchmarks use as an upstream (OpenAI wire
# format for now): JSON and SSE answers with usage, failure switches, and a
# count of clients that went away mid-stream.
. "$TF_ROOT/tests/lib.sh"
[ "$TF_PASS" = plain ] || exit 0

FP=$TF_TMP/fake_provider
cc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -o "$FP" \
  "$TF_ROOT/tests/fake/fake_provider.c" -lh2o-evloop -ljansson -lssl -lcrypto -lz -lpthread || { fail "build fake_provider"; exit 0; }
PORT=19410
"$FP" --port $PORT --completion-tokens 7 --prompt-tokens 5 & FPID=$!
trap 'kill $FPID 2>/dev/null' EXIT
wait_for "" 5 curl -sf -o /dev/null "http://127.0.0.1:$PORT/_fake/stats"
U="http://127.0.0.1:$PORT"

req -X POST --data '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$U/v1/chat/completions"
expect_eq "chat completion (JSON) is 200" "$STATUS" 200
expect_eq "  ... with usage" "$(jqr '.usage.prompt_tokens + .usage.completion_tokens')" 12
out=$(curl -sN --http2-prior-knowledge -XPOST --data '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}' "$U/v1/chat/completions")
expect_eq "streamed (h2c): one SSE event per token, a final chunk and [DONE]" "$(grep -c '^data: ' <<<"$out")" 9
expect_contains "  ... the final chunk carries usage" "$(grep usage <<<"$out")" '"completion_tokens":7'
curl -s -XPOST --data '{"chunk_delay_ms":100}' "$U/_fake/config" >/dev/null
curl -sN --max-time 0.3 -XPOST --data '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' "$U/v1/chat/completions" >/dev/null
sleep 0.3
req "$U/_fake/stats"
expect_eq "a client leaving mid-stream is counted" "$(jqr .client_closed)" 1
curl -s -XPOST --data '{"fail_status":429}' "$U/_fake/config" >/dev/null
req -X POST --data '{"messages":[]}' "$U/v1/chat/completions"
expect_eq "failure switch: 429" "$STATUS" 429
curl -s -XPOST --data '{"fail_status":0}' "$U/_fake/config" >/dev/null
req -X POST --data '{"messages":[]}' "$U/v1/chat/completions"
expect_eq "  ... and recovery" "$STATUS" 200
