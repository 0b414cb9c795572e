# A client that stops reading a long, fast stream (tests/js/slow_reader.mjs):
# the gateway must stop taking the provider's bytes - curl pauses the
# transfer and stops reading its socket (tf_chat STREAM_PENDING_MAX) -
# instead of buffering the answer, and hand the whole answer over once the
# client reads again. Before: all 300,000 token events of a smaller answer
# taken during a 2 s pause, the server's memory up by all of it (61 MB); under ASan
# the thread also stayed in curl's zero-delay chain until the answer ended
# (tf_curl ZERO_RUNS_PER_TURN).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
# Kernel buffers on the two hops grow with the rate (tcp_rmem's ceiling is
# 32 MB on some machines): the answer must be far larger than all of them
# together (1,000,000 events are some 220 MB upstream).
N=1000000
fake_config groq "{\"completion_tokens\":$N,\"chunk_delay_ms\":0}"
curl -s -XPOST "$(fake_url groq /_fake/stats/reset)" >/dev/null
out=$(node "$TF_ROOT/tests/js/slow_reader.mjs" "$TF_PLAIN" "$U_TOKEN" groq/llama-3.3-70b 2000 "$(fake_url groq /_fake/stats)" "$TF_PID" 2>&1)
if jq -e . >/dev/null 2>&1 <<<"$out"; then
  ev=$(jq .events_paused <<<"$out")
  # What the kernel's socket buffers on both hops hold gets through; without
  # backpressure the provider gets through all of it.
  [ "$ev" -lt $((N / 2)) ] && ok "a client stopped reading for 2 s: the provider wrote $ev of $N token events meanwhile" \
    || fail "a client stopped reading for 2 s: the provider was held back" "$out"
  grow=$(( ($(jq .rss_kb_paused <<<"$out") - $(jq .rss_kb_before <<<"$out")) / 1024 ))
  if [ "$TF_PASS" = plain ]; then
    [ "$grow" -lt 24 ] && ok "  ... the server's memory grew by $grow MB (not by the answer)" || fail "  ... the server's memory grew by $grow MB" "$out"
  fi
  expect_eq "  ... once it reads again, the whole answer arrives: status, content chunks, [DONE]" \
    "$(jq -r '[.status, .chunks, .done] | join(" ")' <<<"$out")" "200 $N true"
else
  fail "slow reader" "$out"
fi
fake_config groq '{"reset":true}'
chat '{"model":"groq/llama-3.3-70b","fallback":false,"messages":[{"role":"user","content":"hi"}]}'
expect_eq "  ... and the provider serves the next chat" "$STATUS" 200
