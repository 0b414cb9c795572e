# providers.stream_coalesce_ms: after a stream's first write, chunks that
# arrive within the window leave together; the first chunk and the end of
# the answer never wait. Observed as HTTP/2 DATA frames (nghttp -v), one per
# write, with a provider that sends a token every 100 ms.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --prompt-tokens 3 --completion-tokens 6 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
printf '{"model":"groq/llama-3.3-70b","stream":true,"messages":[{"role":"user","content":"hi"}]}' > "$TF_TMP/coalesce.json"

# frames : "SECONDS FLAGS" of each DATA frame of one streamed answer
frames() {
  nghttp -v -t 10 -d "$TF_TMP/coalesce.json" -H 'content-type: application/json' -H "authorization: Bearer $U_TOKEN" \
    "$(plain /v1/chat/completions)" 2>&1 | sed -n 's/^\[ *\([0-9.]*\)\] recv DATA frame <length=[0-9]*, flags=\(0x0[0-9]\).*/\1 \2/p'
}
text_of_stream() {
  curl -sN -m 10 -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data @"$TF_TMP/coalesce.json" \
    "$(plain /v1/chat/completions)" | grep '^data: {' | sed 's/^data: //' | jq -rj '.choices[0].delta.content // empty'
}
fake_config groq '{"chunk_delay_ms":100}'

# The default (1 ms) holds nothing that comes 100 ms apart: a frame per token.
f=$(frames)
expect_eq "default window: every token in its own write (7 DATA frames)" "$(wc -l <<<"$f" | tr -d ' ')" 7
expect_eq "  ... the last one ends the stream" "$(tail -1 <<<"$f" | cut -d' ' -f2)" 0x01

mesh_apply '  stream_coalesce_ms: 350'
f=$(frames)
n=$(wc -l <<<"$f" | tr -d ' ')
if [ "$n" -ge 2 ] && [ "$n" -le 4 ]; then ok "350 ms window: the six tokens leave in 2 to 4 writes ($n)"; else fail "350 ms window: 2 to 4 writes" "$f"; fi
first=$(head -1 <<<"$f" | cut -d' ' -f1) last=$(tail -1 <<<"$f" | cut -d' ' -f1)
if awk -v t="$first" 'BEGIN { exit !(t < 0.08) }'; then ok "  ... the first chunk does not wait ($first s)"; else fail "  ... the first chunk does not wait" "$f"; fi
# Tokens end at about 0.6 s; had the end waited for the window it would be near 0.95 s.
if awk -v t="$last" 'BEGIN { exit !(t < 0.8) }'; then ok "  ... nor does the end of the answer ($last s)"; else fail "  ... nor does the end" "$f"; fi
expect_eq "  ... and the text is whole" "$(text_of_stream)" "w1 w2 w3 w4 w5 w6 "
expect_eq "  ... the HTTP/1.1 client gets the same text" "$(curl -sN --http1.1 -m 10 -H 'content-type: application/json' \
  -H "Authorization: Bearer $U_TOKEN" --data @"$TF_TMP/coalesce.json" "$(plain /v1/chat/completions)" | grep -c '^data: ')" 9

mesh_apply '  stream_coalesce_ms: 0'
f=$(frames)
expect_eq "window 0: each read's chunks at once (7 DATA frames)" "$(wc -l <<<"$f" | tr -d ' ')" 7
fake_config groq '{"reset":true}'
