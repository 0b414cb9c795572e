# The fake provider that tests and benchmarks use as an upstream: one process
# speaking the OpenAI, Anthropic, Gemini and Ollama wire formats (JSON and
# streams), with usage, truncation by the request's max tokens, fault switches
# (fail_status, hang, reset_after_chunks, error_mid_stream, no_usage), key
# checks, /_fake/last and /_fake/stats, over HTTP/1.1 and h2c.
# Ports 19410-19412 (+ TF_PORT_SHIFT).
. "$TF_ROOT/tests/lib.sh"
[ "$TF_PASS" = plain ] || exit 0

FP=$TF_TMP/fake_provider
cc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -o "$FP" \
  "$TF_ROOT/tests/fake/fake_provider.c" -lh2o-evloop -ljansson -lssl -lcrypto -lz -lpthread || { fail "build fake_provider"; exit 0; }
ok "fake_provider builds with -Wall -Wextra -Werror"

PORT=$(pshift 19410)
"$FP" --port $PORT --name t70 --completion-tokens 7 --prompt-tokens 5 --chunk-delay-ms 1 --models a,b:7b 2>>"$TF_TMP/fake70.log" & FPID=$!
"$FP" --port $(pshift 19411) --name keyed --require-key --completion-tokens 2 --chunk-delay-ms 0 2>>"$TF_TMP/fake70.log" & FPID2=$!
"$FP" --port $(pshift 19412) --name apikey --api-key sk-good --completion-tokens 2 --chunk-delay-ms 0 2>>"$TF_TMP/fake70.log" & FPID3=$!
trap 'kill $FPID $FPID2 $FPID3 2>/dev/null' EXIT
for p in $PORT $(pshift 19411) $(pshift 19412); do
  wait_for "" 5 curl -sf -o /dev/null "http://127.0.0.1:$p/_fake/stats" || { fail "fake_provider on port $p did not start"; exit 0; }
done
U="http://127.0.0.1:$PORT"
W7="w1 w2 w3 w4 w5 w6 w7 "
AV='anthropic-version: 2023-06-01'
GC='{"contents":[{"role":"user","parts":[{"text":"hi"}]}]'   # gemini body, without its closing brace

cfg() { curl -s -m 3 -XPOST --data "$1" "$U/_fake/config" >/dev/null; }
stat() { curl -s -m 3 "$U/_fake/stats" | jq -r "$1"; }
# sse URL JSON [curl options] : streams the answer into OUT (raw), curl's exit status into RC
sse() { local url=$1 data=$2; shift 2; OUT=$(curl -sN -m 10 "$@" -XPOST -H 'content-type: application/json' --data "$data" "$url" 2>/dev/null); RC=$?; }
datas() { grep '^data: ' <<<"$OUT" | cut -c7- | tr -d '\r'; }   # the SSE data payloads, one a line

# ---------------------------------------------------------------- OpenAI
req -X POST --data '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$U/openai/v1/chat/completions"
expect_eq "openai: JSON chat.completion (text, finish, usage)" \
  "$STATUS $(jqr '[.object,.choices[0].message.role,.choices[0].message.content,.choices[0].finish_reason,.usage.prompt_tokens,.usage.completion_tokens,.usage.total_tokens]|@csv')" \
  "200 \"chat.completion\",\"assistant\",\"$W7\",\"stop\",5,7,12"
expect_eq "  ... x-fake-name and x-fake-protocol headers, id with the name" "$(header x-fake-name) $(header x-fake-protocol) $(jqr .id)" "t70 openai chatcmpl-t70-1"
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}' --http2-prior-knowledge
expect_eq "openai: stream (h2c): role chunk + 7 token chunks + finish + usage + [DONE]" "$RC $(grep -c '^data: ' <<<"$OUT") $(datas | tail -1)" "0 11 [DONE]"
expect_eq "  ... the deltas spell the text; role first, finish_reason stop" \
  "$(datas | head -n -1 | jq -j '.choices[0].delta.content // empty')|$(datas | head -1 | jq -r '.choices[0].delta.role')|$(datas | sed -n 9p | jq -r '.choices[0].finish_reason')" "$W7|assistant|stop"
expect_eq "  ... the usage chunk has choices [] and the counts; others carry usage:null" \
  "$(datas | sed -n 10p | jq -c '[.choices,.usage.prompt_tokens,.usage.completion_tokens,.usage.total_tokens]') $(datas | head -9 | jq -r .usage | sort -u)" "[[],5,7,12] null"
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"max_completion_tokens":3,"messages":[]}' --http1.1
expect_eq "openai: HTTP/1.1 stream, max_completion_tokens 3: 3 tokens, finish length, no usage unasked" \
  "$(datas | head -n -1 | jq -j '.choices[0].delta.content // empty')|$(datas | head -n -1 | jq -r '.choices[0].finish_reason // empty' | tr -d '\n')|$(grep -c usage <<<"$OUT")|$(datas | tail -1)" \
  "w1 w2 w3 |length|0|[DONE]"
req -X POST --data '{"model":"m","max_tokens":2,"messages":[]}' "$U/v1/chat/completions"
expect_eq "openai: JSON with max_tokens 2" "$(jqr '[.choices[0].message.content,.choices[0].finish_reason,.usage.completion_tokens]|@csv')" '"w1 w2 ","length",2'
req -X POST --data '{"model":"m"}' "$U/v1/chat/completions"
expect_eq "openai: no messages: 400 invalid_request_error" "$STATUS $(jqr .error.type)" "400 invalid_request_error"

# ---------------------------------------------------------------- Anthropic
req -X POST -H "$AV" -H 'x-api-key: sk-ant' --data '{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}' "$U/anthropic/v1/messages"
expect_eq "anthropic: message (type, role, content block, stop_reason, usage)" \
  "$STATUS $(jqr '[.type,.role,.model,.content[0].type,.content[0].text,.stop_reason,.stop_sequence,.usage.input_tokens,.usage.output_tokens]|@csv')" \
  "200 \"message\",\"assistant\",\"claude-x\",\"text\",\"$W7\",\"end_turn\",,5,7"
expect_match "  ... id msg_<name>_N, request-id header" "$(jqr .id) $(header request-id)" '^msg_t70_[0-9]+ req_t70_[0-9]+$'
sse "$U/v1/messages" '{"model":"claude-x","max_tokens":100,"stream":true,"messages":[]}' -H "$AV" --http2-prior-knowledge
EV=$(grep '^event: ' <<<"$OUT" | cut -c8- | tr '\n' ' ')
expect_eq "anthropic: stream event sequence" "$EV" \
  "message_start content_block_start ping $(printf 'content_block_delta %.0s' 1 2 3 4 5 6 7)content_block_stop message_delta message_stop "
expect_eq "  ... every data type matches its event line" "$(datas | jq -r .type | tr '\n' ' ')" "$EV"
expect_eq "  ... message_start usage (input 5, output 1), deltas spell the text, message_delta end_turn + output 7" \
  "$(datas | head -1 | jq -c '[.message.usage.input_tokens,.message.usage.output_tokens,.message.content]')|$(datas | jq -j 'select(.type=="content_block_delta")|.delta.text')|$(datas | grep message_delta | jq -c '[.delta.stop_reason,.delta.stop_sequence,.usage.output_tokens]')" \
  "[5,1,[]]|$W7|[\"end_turn\",null,7]"
sse "$U/v1/messages" '{"model":"claude-x","max_tokens":3,"stream":true,"messages":[]}' -H "$AV"
expect_eq "anthropic: max_tokens 3 < 7: 3 deltas, stop_reason max_tokens" \
  "$(grep -c '^event: content_block_delta' <<<"$OUT") $(datas | grep message_delta | jq -c '[.delta.stop_reason,.usage.output_tokens]')" '3 ["max_tokens",3]'
req -X POST -H "$AV" --data '{"model":"claude-x","messages":[]}' "$U/v1/messages"
expect_eq "anthropic: no max_tokens: 400 invalid_request_error" "$STATUS $(jqr '[.type,.error.type]|@csv')" '400 "error","invalid_request_error"'
req -X POST --data '{"model":"claude-x","max_tokens":5,"messages":[]}' "$U/v1/messages"
expect_eq "anthropic: no anthropic-version header: 400" "$STATUS $(jqr .error.message)" "400 anthropic-version: header is required"

# ---------------------------------------------------------------- Gemini
req -X POST -H 'x-goog-api-key: g-key' --data "$GC}" "$U/v1beta/models/gemini-2.5-flash:generateContent"
expect_eq "gemini: generateContent (candidate, finishReason, usageMetadata, modelVersion)" \
  "$STATUS $(jqr '[.candidates[0].content.role,.candidates[0].content.parts[0].text,.candidates[0].finishReason,.candidates[0].index,.usageMetadata.promptTokenCount,.usageMetadata.candidatesTokenCount,.usageMetadata.totalTokenCount,.modelVersion]|@csv')" \
  "200 \"model\",\"$W7\",\"STOP\",0,5,7,12,\"gemini-2.5-flash\""
sse "$U/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" "$GC}" --http2-prior-knowledge
expect_eq "gemini: alt=sse: 7 data events, each ended by CRLF CRLF" "$RC $(grep -c $'^data: .*}\r$' <<<"$OUT") $(grep -c $'^\r$' <<<"$OUT")" "0 7 7"
expect_eq "  ... pieces spell the text; only the last has finishReason and usageMetadata" \
  "$(datas | jq -j '.candidates[0].content.parts[0].text')|$(datas | jq -c '[.candidates[0].finishReason,.usageMetadata.candidatesTokenCount]' | tr '\n' ' ')" \
  "$W7|$(printf '[null,null] %.0s' 1 2 3 4 5 6)[\"STOP\",7] "
sse "$U/v1beta/models/gemini-2.5-flash:streamGenerateContent" "$GC,\"generationConfig\":{\"maxOutputTokens\":2}}"
expect_eq "gemini: no alt: a streamed JSON array; maxOutputTokens 2 gives MAX_TOKENS" \
  "$(jq -c '[length, (map(.candidates[0].content.parts[0].text)|add), .[-1].candidates[0].finishReason, .[-1].usageMetadata.candidatesTokenCount]' <<<"$OUT")" \
  '[2,"w1 w2 ","MAX_TOKENS",2]'
req -X POST --data '{"contents":[]}' "$U/v1beta/models/g:generateContent"
expect_eq "gemini: empty contents: 400 INVALID_ARGUMENT" "$STATUS $(jqr '[.error.code,.error.status]|@csv')" '400 400,"INVALID_ARGUMENT"'

# ---------------------------------------------------------------- Ollama
req -X POST --data '{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}' "$U/api/chat"
expect_eq "ollama: stream:false JSON (message, done, done_reason, counts)" \
  "$STATUS $(jqr '[.model,.message.role,.message.content,.done,.done_reason,.prompt_eval_count,.eval_count,(.total_duration>0),(.eval_duration>0)]|@csv')" \
  "200 \"llama3.2\",\"assistant\",\"$W7\",true,\"stop\",5,7,true,true"
expect_match "  ... created_at is RFC 3339 UTC" "$(jqr .created_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+Z$'
req -X POST --data '{"model":"llama3.2","messages":[]}' "$U/api/chat"
expect_eq "ollama: stream by default: NDJSON, 7 lines done:false then one done:true" \
  "$(header content-type) $(jq -s -c '[length, (map(select(.done==false))|length), .[-1].done]' <<<"$BODY")" "application/x-ndjson [8,7,true]"
expect_eq "  ... pieces spell the text; the last line has done_reason and counts" \
  "$(jq -s -j '.[].message.content' <<<"$BODY")|$(jq -s -c '.[-1]|[.message.content,.done_reason,.prompt_eval_count,.eval_count]' <<<"$BODY")" \
  "$W7|[\"\",\"stop\",5,7]"
sse "$U/api/chat" '{"model":"llama3.2","messages":[],"options":{"num_predict":2}}' --http2-prior-knowledge
expect_eq "ollama: options.num_predict 2 (h2c): 2 tokens, done_reason length" \
  "$(jq -s -c '[length, (map(.message.content)|add), .[-1].done_reason, .[-1].eval_count]' <<<"$OUT")" '[3,"w1 w2 ","length",2]'
req -X POST --data '{"messages":[]}' "$U/api/chat"
expect_eq "ollama: no model: 400 {\"error\":string}" "$STATUS $(jqr '.error|type')" "400 string"
req "$U/api/tags"
expect_eq "ollama: /api/tags lists --models (tagged as Ollama does)" \
  "$(jqr '[.models[].name]|@csv') $(jqr '[.models[0]|.model,(.size>0),(.digest|length),.details.format]|@csv')" '"a:latest","b:7b" "a:latest",true,64,"gguf"'
req "$U/api/version"
expect_eq "ollama: /api/version" "$(jqr .version)" "0.12.0"

# ---------------------------------------------------------------- no_usage
cfg '{"no_usage":true}'
req -X POST --data '{"model":"m","messages":[]}' "$U/v1/chat/completions"
expect_eq "no_usage: openai JSON has no usage" "$(jqr 'has("usage")') $(jqr .choices[0].message.content)" "false $W7"
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}'
expect_eq "no_usage: openai stream has no usage chunk nor usage fields" "$(grep -c '^data: ' <<<"$OUT") $(grep -c usage <<<"$OUT")" "10 0"
sse "$U/v1/messages" '{"model":"c","max_tokens":100,"stream":true,"messages":[]}' -H "$AV"
expect_eq "no_usage: anthropic stream has no usage (message_start, message_delta)" "$(grep -c usage <<<"$OUT") $(grep -c '^event: message_stop' <<<"$OUT")" "0 1"
req -X POST -H "$AV" --data '{"model":"c","max_tokens":100,"messages":[]}' "$U/v1/messages"
expect_eq "no_usage: anthropic message has no usage" "$(jqr 'has("usage")') $(jqr .stop_reason)" "false end_turn"
sse "$U/v1beta/models/g:streamGenerateContent?alt=sse" "$GC}"
expect_eq "no_usage: gemini stream has no usageMetadata, still a finishReason" "$(grep -c usageMetadata <<<"$OUT") $(grep -c finishReason <<<"$OUT")" "0 1"
req -X POST --data "$GC}" "$U/v1beta/models/g:generateContent"
expect_eq "no_usage: gemini JSON has no usageMetadata" "$(jqr 'has("usageMetadata")')" "false"
sse "$U/api/chat" '{"model":"l","messages":[]}'
expect_eq "no_usage: ollama final line has no counts" "$(jq -s -c '.[-1]|[.done,has("eval_count"),has("prompt_eval_count")]' <<<"$OUT")" "[true,false,false]"
cfg '{"no_usage":false}'

# ---------------------------------------------------------------- fail_status
cfg '{"fail_status":429}'
req -X POST --data '{"model":"m","stream":true,"messages":[]}' "$U/v1/chat/completions"
expect_eq "fail_status 429: openai error shape, Retry-After: 1 (even for a stream request)" \
  "$STATUS $(header retry-after) $(jqr '[.error.type,.error.code,(.error.message|length>0)]|@csv')" '429 1 "requests","rate_limit_exceeded",true'
req -X POST -H "$AV" --data '{"model":"c","max_tokens":5,"messages":[]}' "$U/v1/messages"
expect_eq "fail_status 429: anthropic rate_limit_error" "$STATUS $(header retry-after) $(jqr '[.type,.error.type]|@csv')" '429 1 "error","rate_limit_error"'
req -X POST --data "$GC}" "$U/v1beta/models/g:generateContent"
expect_eq "fail_status 429: gemini RESOURCE_EXHAUSTED" "$STATUS $(jqr '[.error.code,.error.status]|@csv')" '429 429,"RESOURCE_EXHAUSTED"'
req -X POST --data '{"model":"l","messages":[]}' "$U/api/chat"
expect_eq "fail_status 429: ollama {\"error\":..}" "$STATUS $(jqr '.error|type')" "429 string"
cfg '{"fail_status":500}'
req -X POST --data '{"model":"m","messages":[]}' "$U/v1/chat/completions"
expect_eq "fail_status 500: openai server_error, no Retry-After" "$STATUS $(jqr .error.type) [$(header retry-after)]" "500 server_error []"
req -X POST -H "$AV" --data '{"model":"c","max_tokens":5,"messages":[]}' "$U/v1/messages"
expect_eq "fail_status 500: anthropic api_error" "$STATUS $(jqr .error.type)" "500 api_error"
req -X POST --data "$GC}" "$U/v1beta/models/g:streamGenerateContent?alt=sse"
expect_eq "fail_status 500: gemini INTERNAL" "$STATUS $(jqr .error.status)" "500 INTERNAL"
req -X POST --data '{"model":"l","messages":[]}' "$U/api/chat"
expect_eq "fail_status 500: ollama error" "$STATUS $(jqr '.error|type')" "500 string"
cfg '{"fail_status":0}'
req -X POST --data '{"messages":[]}' "$U/v1/chat/completions"
expect_eq "  ... and recovery" "$STATUS" 200

# ---------------------------------------------------------------- reset_after_chunks
cfg '{"reset_after_chunks":2}'
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"messages":[]}' --http1.1
expect_match "reset_after_chunks: openai HTTP/1.1: curl reports an error (18/56), 2 tokens, no [DONE]" \
  "$RC $(datas | jq -j '.choices[0].delta.content // empty' 2>/dev/null)|$(grep -c DONE <<<"$OUT")" '^(18|56) w1 w2 \|0$'
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"messages":[]}' --http2-prior-knowledge
expect_eq "reset_after_chunks: openai h2: RST_STREAM (curl 92), no [DONE]" "$RC $(grep -c DONE <<<"$OUT")" "92 0"
sse "$U/v1/messages" '{"model":"c","max_tokens":100,"stream":true,"messages":[]}' -H "$AV" --http1.1
expect_match "reset_after_chunks: anthropic: error exit, 2 deltas, no message_stop" "$RC $(grep -c content_block_delta\" <<<"$OUT") $(grep -c message_stop <<<"$OUT")" '^(18|56) 2 0$'
sse "$U/v1beta/models/g:streamGenerateContent?alt=sse" "$GC}" --http2-prior-knowledge
expect_eq "reset_after_chunks: gemini h2: curl 92, 2 chunks, no finishReason" "$RC $(grep -c '^data: ' <<<"$OUT") $(grep -c finishReason <<<"$OUT")" "92 2 0"
sse "$U/api/chat" '{"model":"l","messages":[]}' --http1.1
expect_match "reset_after_chunks: ollama: error exit, 2 lines, no done:true" "$RC $(grep -c '"done":false' <<<"$OUT") $(grep -c '"done":true' <<<"$OUT")" '^(18|56) 2 0$'
cfg '{"reset_after_chunks":7}'
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"messages":[]}' --http1.1
expect_match "reset_after_chunks = token count: all 7 tokens, then cut before finish/[DONE]" "$RC $(grep -c '"content":"w' <<<"$OUT") $(grep -c -e DONE -e '"finish_reason":"stop"' <<<"$OUT")" '^(18|56) 7 0$'
req -X POST --data '{"model":"m","messages":[]}' "$U/v1/chat/completions"
expect_eq "  ... non-stream answers are not cut" "$STATUS $(jqr .choices[0].finish_reason)" "200 stop"
cfg '{"reset_after_chunks":0}'

# ---------------------------------------------------------------- error_mid_stream
cfg '{"error_mid_stream":3}'
sse "$U/v1/chat/completions" '{"model":"m","stream":true,"messages":[]}'
expect_eq "error_mid_stream: openai: 3 tokens, then data {error: server_error}, clean end, no [DONE]" \
  "$RC $(grep -c '"content":"w' <<<"$OUT") $(datas | tail -1 | jq -r .error.type) $(grep -c DONE <<<"$OUT")" "0 3 server_error 0"
sse "$U/v1/messages" '{"model":"c","max_tokens":100,"stream":true,"messages":[]}' -H "$AV" --http2-prior-knowledge
expect_eq "error_mid_stream: anthropic: event: error overloaded_error, no message_stop" \
  "$RC $(grep -c '^event: content_block_delta' <<<"$OUT") $(grep '^event: ' <<<"$OUT" | tail -1) $(datas | tail -1 | jq -c '[.type,.error.type,.error.message]') $(grep -c message_stop <<<"$OUT")" \
  '0 3 event: error ["error","overloaded_error","Overloaded"] 0'
sse "$U/v1beta/models/g:streamGenerateContent?alt=sse" "$GC}"
expect_eq "error_mid_stream: gemini SSE: a data {error}" "$RC $(grep -c '"text"' <<<"$OUT") $(datas | tail -1 | jq -c '[.error.code,.error.status]')" '0 3 [500,"INTERNAL"]'
sse "$U/v1beta/models/g:streamGenerateContent" "$GC}"
expect_eq "error_mid_stream: gemini array: still valid JSON, last element {error}" "$RC $(jq -c '[length, .[-1].error.status]' <<<"$OUT")" '0 [4,"INTERNAL"]'
sse "$U/api/chat" '{"model":"l","messages":[]}'
expect_eq "error_mid_stream: ollama: a line {error}" "$RC $(jq -s -c '[length, (.[-1].error|type), (map(select(.done==true))|length)]' <<<"$OUT")" '0 [4,"string",0]'
cfg '{"error_mid_stream":0}'

# ---------------------------------------------------------------- /_fake/last, config reset, timing
curl -s -m 5 --http2-prior-knowledge -XPOST -H 'x-api-key: sk-ant-123' -H "$AV" -H 'X-Extra: Yes' \
  --data '{"model":"claude-x","max_tokens":9,"messages":[{"role":"user","content":"hello"}]}' "$U/anth/v1/messages" >/dev/null
req "$U/_fake/last"
expect_eq "/_fake/last: protocol, method, path, version, lower-case headers (x-api-key too), parsed body" \
  "$(jqr '[.protocol,.method,.path,.version,.headers["x-api-key"],.headers["anthropic-version"],.headers["x-extra"],.body.max_tokens,.body.messages[0].content]|@csv')" \
  '"anthropic","POST","/anth/v1/messages","2","sk-ant-123","2023-06-01","Yes",9,"hello"'
curl -s -m 5 -XPOST -H 'Authorization: Bearer sk-o' --data 'not json' "$U/v1/chat/completions?x=1" >/dev/null
req "$U/_fake/last"
expect_eq "/_fake/last: query kept in path, authorization header, body null when not JSON" \
  "$(jqr '[.protocol,.path,.headers.authorization,.body,.version]|@csv')" '"openai","/v1/chat/completions?x=1","Bearer sk-o",,"1.1"'
curl -s -m 5 -XPOST --data "$GC}" "$U/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=gk-1" >/dev/null
req "$U/_fake/last"
expect_eq "/_fake/last: gemini ?key= in the path" "$(jqr '[.protocol,.path]|@csv')" '"gemini","/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=gk-1"'
req -X POST --data '{"completion_tokens":2,"bogus":1}' "$U/_fake/config"
expect_eq "/_fake/config: an unknown key is refused and nothing changes" "$STATUS $(curl -s "$U/_fake/config" | jq .completion_tokens)" "400 7"
cfg '{"completion_tokens":2,"latency_ms":300,"chunk_delay_ms":40}'
t=$(curl -s -o /dev/null -w '%{time_starttransfer}' -XPOST --data '{"messages":[]}' "$U/v1/chat/completions")
expect_match "latency_ms 300: first byte after >= 0.3 s" "$t" '^0\.[3-9]|^[1-9]'
cfg '{"latency_ms":0}'
t=$(curl -s -o /dev/null -w '%{time_total}' -XPOST --data '{"model":"l","messages":[]}' "$U/api/chat")
# The delays are timers of 40 ms each; curl starts its clock before the
# request is sent and timers may fire a little early: at least 75 ms (no delay
# would be about 1 ms).
expect_match "chunk_delay_ms 40: 2 tokens + end take >= 0.075 s" "$t" '^0\.(07[5-9]|0[89]|[1-9])|^[1-9]'
req -X POST --data '{"reset":true}' "$U/_fake/config"
expect_eq "/_fake/config reset: start-up settings back" "$(jqr '[.config.completion_tokens,.config.latency_ms,.config.chunk_delay_ms]|@csv')" "7,0,1"

# ---------------------------------------------------------------- hang, clients leaving, stats
curl -s -m 3 -XPOST "$U/_fake/stats/reset" >/dev/null
expect_eq "/_fake/stats/reset zeroes the counters" "$(stat '[.requests,.completed,.client_closed,.by_protocol.openai]|@csv')" "0,0,0,0"
cfg '{"hang":true}'
{ curl -s -m 1 -XPOST --data '{"messages":[]}' "$U/v1/chat/completions" >/dev/null; echo $? >"$TF_TMP/hang1"; } &
{ curl -s -m 1 --http2-prior-knowledge -XPOST -H "$AV" --data '{"model":"c","max_tokens":5,"messages":[]}' "$U/v1/messages" >/dev/null; echo $? >"$TF_TMP/hang2"; } &
sleep 0.5
expect_eq "hang: both requests in progress (active 2), nothing answered" "$(stat '[.active,.completed]|@csv')" "2,0"
wait_for "" 3 test -s "$TF_TMP/hang2"; wait_for "" 3 test -s "$TF_TMP/hang1"
cfg '{"hang":false}'
sleep 0.2
expect_eq "hang: curl --max-time 1 times out (HTTP/1.1 and h2)" "$(cat "$TF_TMP/hang1") $(cat "$TF_TMP/hang2")" "28 28"
expect_eq "  ... both counted in client_closed, none active" "$(stat '[.client_closed,.active,.completed]|@csv')" "2,0,0"
cfg '{"chunk_delay_ms":100}'
curl -sN --max-time 0.3 -XPOST --data '{"model":"m","stream":true,"messages":[]}' "$U/v1/chat/completions" >/dev/null
curl -sN --max-time 0.3 --http2-prior-knowledge -XPOST --data '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/v1beta/models/g:streamGenerateContent?alt=sse" >/dev/null
sleep 0.3
expect_eq "clients leaving mid-stream (HTTP/1.1, h2) are counted" "$(stat '[.client_closed,.active]|@csv')" "4,0"
cfg '{"reset":true}'
req -X POST --data '{"messages":[]}' "$U/v1/chat/completions"
expect_eq "  ... and the fake still answers" "$STATUS $(jqr .choices[0].finish_reason)" "200 stop"
expect_eq "/_fake/stats: requests = completed + client_closed + aborted + active; by_protocol" \
  "$(stat '[.name,.requests,.completed+.client_closed+.aborted+.active,.by_protocol.openai,.by_protocol.anthropic,.by_protocol.gemini,.by_protocol.ollama]|@csv')" \
  '"t70",5,5,3,1,1,0'

# ---------------------------------------------------------------- load
# (curl 7.88's --parallel over h2c breaks by itself, curl/curl#10634: h2c load goes through h2load)
curl -s -m 3 -XPOST "$U/_fake/stats/reset" >/dev/null
cfg '{"chunk_delay_ms":60}'
urls=(); for i in $(seq 1 200); do urls+=("$U/v1/chat/completions"); done
curl -sN -m 15 --http1.1 --parallel --parallel-max 200 -XPOST --data '{"model":"m","stream":true,"messages":[]}' "${urls[@]}" \
  >"$TF_TMP/par1" 2>/dev/null &
P1=$!
sleep 0.35
expect_match "200 concurrent slow HTTP/1.1 streams are in progress at once" "$(stat .active)" '^(19[0-9]|200)$'
wait $P1
expect_eq "  ... and all 200 end with [DONE]" "$(grep -c '^data: \[DONE\]' "$TF_TMP/par1")" 200
printf '%s' '{"model":"l","messages":[{"role":"user","content":"hi"}]}' >"$TF_TMP/ollama.json"
h2load -n 200 -c 2 -m 100 -d "$TF_TMP/ollama.json" "$U/api/chat" >"$TF_TMP/h2load1" 2>&1 &
P2=$!
sleep 0.35
expect_match "200 concurrent slow h2c streams (2 connections x 100) are in progress at once" "$(stat .active)" '^(19[0-9]|200)$'
wait $P2
expect_match "  ... and all 200 succeed" "$(grep '^requests:' "$TF_TMP/h2load1")" ' 200 succeeded, 0 failed, 0 errored'
cfg '{"chunk_delay_ms":0}'
printf '%s' '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}' >"$TF_TMP/openai.json"
h2load -n 3000 -c 64 -m 4 -d "$TF_TMP/openai.json" "$U/v1/chat/completions" >"$TF_TMP/h2load2" 2>&1
expect_match "concurrency 64 over h2c (3000 streams)" "$(grep '^requests:' "$TF_TMP/h2load2")" ' 3000 succeeded, 0 failed, 0 errored'
h2load --h1 -n 3000 -c 64 -d "$TF_TMP/openai.json" "$U/v1/chat/completions" >"$TF_TMP/h2load3" 2>&1
expect_match "concurrency 64 over HTTP/1.1 (3000 streams)" "$(grep '^requests:' "$TF_TMP/h2load3")" ' 3000 succeeded, 0 failed, 0 errored'
expect_eq "  ... stats agree (6400 completed, none active or closed)" "$(stat '[.completed,.active,.client_closed]|@csv')" "6400,0,0"
cfg '{"reset":true}'

# ---------------------------------------------------------------- keys
K="http://127.0.0.1:$(pshift 19411)"
req -X POST --data '{"model":"m","messages":[]}' "$K/v1/chat/completions"
expect_eq "--require-key: openai without Authorization: 401 invalid_request_error" "$STATUS $(jqr .error.type) $(header x-fake-name)" "401 invalid_request_error keyed"
req -X POST -H 'Authorization: Bearer k' --data '{"model":"m","messages":[]}' "$K/v1/chat/completions"
expect_eq "  ... with a bearer key: 200" "$STATUS" 200
req -X POST -H "$AV" --data '{"model":"c","max_tokens":5,"messages":[]}' "$K/v1/messages"
expect_eq "--require-key: anthropic without x-api-key: 401 authentication_error" "$STATUS $(jqr '[.type,.error.type]|@csv')" '401 "error","authentication_error"'
req -X POST -H "$AV" -H 'x-api-key: k' --data '{"model":"c","max_tokens":5,"messages":[]}' "$K/v1/messages"
expect_eq "  ... with x-api-key: 200" "$STATUS" 200
req -X POST --data "$GC}" "$K/v1beta/models/g:generateContent"
expect_eq "--require-key: gemini without a key: 403 PERMISSION_DENIED" "$STATUS $(jqr '[.error.code,.error.status]|@csv')" '403 403,"PERMISSION_DENIED"'
req -X POST -H 'x-goog-api-key: k' --data "$GC}" "$K/v1beta/models/g:generateContent"
s1=$STATUS
req -X POST --data "$GC}" "$K/v1beta/models/g:generateContent?key=k"
expect_eq "  ... with x-goog-api-key or ?key=: 200" "$s1 $STATUS" "200 200"
req -X POST --data '{"model":"l","messages":[],"stream":false}' "$K/api/chat"
expect_eq "--require-key: ollama needs no key (Ollama has none)" "$STATUS" 200
A="http://127.0.0.1:$(pshift 19412)"
req -X POST -H 'Authorization: Bearer sk-bad' --data '{"model":"m","messages":[]}' "$A/v1/chat/completions"
expect_eq "--api-key: a wrong openai key: 401 invalid_api_key" "$STATUS $(jqr .error.code)" "401 invalid_api_key"
req -X POST -H 'x-goog-api-key: sk-bad' --data "$GC}" "$A/v1beta/models/g:generateContent"
expect_eq "--api-key: a wrong gemini key: 400 INVALID_ARGUMENT" "$STATUS $(jqr .error.status)" "400 INVALID_ARGUMENT"
req -X POST -H 'x-api-key: sk-good' -H "$AV" --data '{"model":"c","max_tokens":5,"messages":[]}' "$A/v1/messages"
expect_eq "--api-key: the right key: 200" "$STATUS" 200

for p in $FPID $FPID2 $FPID3; do kill -0 $p 2>/dev/null || fail "fake_provider $p died"; done
ok "all fake providers still running"
