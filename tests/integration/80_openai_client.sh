# The official `openai` npm client (from the npm registry) completes a chat
# and a streamed chat through TriForce, against a fake provider of each of
# the four wire protocols.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
[ "$TF_PASS" = plain ] || [ -n "${TF_JS_ALL:-}" ] || exit 0   # the client is the same in both passes
trap mesh_stop EXIT
NM=$("$TF_ROOT/tests/js/install.sh" 2>"$TF_TMP/npm.err") || { fail "npm install openai" "$(cat "$TF_TMP/npm.err")"; exit 0; }
cp "$TF_ROOT/tests/js/openai_chat.mjs" "$NM/../openai_chat.mjs"
mesh_start --prompt-tokens 11 --completion-tokens 6 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user pro
MODELS="groq/llama-3.3-70b anthropic/claude-sonnet-4.5 gemini/gemini-2.5-flash ollama/deepseek-v3.1:671b-cloud"
# shellcheck disable=SC2086
out=$(node "$NM/../openai_chat.mjs" "$(plain /v1)" "$U_TOKEN" $MODELS 2>&1)
for m in $MODELS; do
  for call in chat stream; do
    line=$(jq -c "select(.call == \"$call\" and .model == \"$m\")" <<<"$out" 2>/dev/null)
    expect_eq "openai client, $call, $m: the answer" "$(jq -r '.error // .text' <<<"$line")" "w1 w2 w3 w4 w5 w6 "
    expect_eq "  ... model, finish_reason and usage" "$(jq -r '[.answered, .finish, .usage.prompt_tokens, .usage.completion_tokens] | join(",")' <<<"$line")" \
      "$m,stop,11,6"
  done
done
# An API key works the same way as a JWT.
req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data '{"name":"ci"}' "$(plain /v1/client/keys)"
KEY=$(jqr .key)
out=$(node "$NM/../openai_chat.mjs" "$(plain /v1)" "$KEY" groq/llama-3.3-70b 2>&1)
expect_eq "openai client with a TriForce API key" "$(jq -r 'select(.call == "chat") | .error // .text' <<<"$out")" "w1 w2 w3 w4 w5 w6 "
