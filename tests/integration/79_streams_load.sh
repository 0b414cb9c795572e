# 200 concurrent streamed chats against a slow provider (about 3 s each)
# while /health is asked every 50 ms: the loop keeps answering promptly.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ "$TF_PASS" = plain ] || exit 0   # timing under ASan says nothing about the loop
trap mesh_stop EXIT
mesh_start --completion-tokens 30 --chunk-delay-ms 100 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
echo '{"model":"groq/llama-3.3-70b","stream":true,"messages":[{"role":"user","content":"hi"}]}' > "$TF_TMP/stream.json"
health_ms() { curl -s -o /dev/null -w '%{time_total}\n' "$(plain /health)" | awk '{printf "%.2f\n", $1 * 1000}'; }
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
mx() { sort -n | tail -1; }
# The 90th percentile: a stalled loop shows there; one descheduled curl on
# this 2-core box (200 streams and h2load share it) does not fail the test.
p90() { sort -n | awk '{a[NR]=$1} END {print a[int(NR * 0.9)]}'; }

for _ in $(seq 1 30); do health_ms; sleep 0.02; done > "$TF_TMP/idle"
h2load -n 200 -c 200 -m 1 -d "$TF_TMP/stream.json" -H 'content-type: application/json' -H "authorization: Bearer $U_TOKEN" \
  "$(plain /v1/chat/completions)" > "$TF_TMP/h2load.out" 2>&1 &
H2=$!
sleep 0.8
active=$(fake_stat groq .active)
for _ in $(seq 1 40); do health_ms; sleep 0.05; done > "$TF_TMP/busy"
wait $H2
if [ "$active" -ge 190 ]; then ok "200 streams open upstream at once ($active active at the provider)"; else fail "200 streams open upstream" "$active active"; fi
expect_match "  ... all 200 streams complete" "$(grep -E '^requests:' "$TF_TMP/h2load.out")" '200 succeeded, 0 failed, 0 errored'
expect_match "  ... every one with status 2xx" "$(grep -E '^status codes:' "$TF_TMP/h2load.out")" '200 2xx'
i50=$(p50 < "$TF_TMP/idle"); b50=$(p50 < "$TF_TMP/busy"); b90=$(p90 < "$TF_TMP/busy"); bmax=$(mx < "$TF_TMP/busy")
if awk -v i="$i50" -v b="$b50" -v n="$b90" 'BEGIN {exit !(b - i < 3 && n < 10)}'; then
  ok "/health during the streams: p50 ${b50} ms (idle ${i50} ms), p90 ${b90} ms, max ${bmax} ms"
else fail "/health during the streams stays prompt (p50 +3 ms, p90 under 10 ms)" "idle p50 $i50, busy p50 $b50, p90 $b90, max $bmax"; fi
