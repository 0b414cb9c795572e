# The six strategies, each shown by where many requests for one model family
# (llama-3.3-70b: groq, cerebras, openrouter) go.
#   fallback: priority order -> groq; round_robin: even; cheapest: openrouter
#   (0.13+0.40 $/M); best: cerebras (quality 4); fastest: the lowest measured
#   latency; random: everyone some.
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"
trap mesh_stop EXIT
mesh_start --completion-tokens 2 || { fail "fake providers and mesh conf"; exit 0; }
mesh_user unlimited
mesh_admin
run() { # run STRATEGY N : N requests; fails the test on any non-200
  local s=$1 n=$2 bad=0 body
  body="{\"model\":\"llama-3.3-70b\",${s:+\"strategy\":\"$s\",}\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
  for _ in $(seq 1 "$n"); do
    chat "$body"
    [ "$STATUS" = 200 ] || bad=$((bad + 1))
  done
  [ $bad -eq 0 ] || fail "$s: $bad of $n requests failed" "$BODY"
}
counts() { echo "$(fake_stat groq .requests) $(fake_stat cerebras .requests) $(fake_stat openrouter .requests)"; }

mesh_reset; run fallback 30
expect_eq "fallback: every request to the first by priority (groq cerebras openrouter)" "$(counts)" "30 0 0"
mesh_reset; run round_robin 30
expect_eq "round_robin: spread evenly" "$(counts)" "10 10 10"
mesh_reset; run cheapest 30
expect_eq "cheapest: openrouter" "$(counts)" "0 0 30"
mesh_reset; run best 30
expect_eq "best: cerebras" "$(counts)" "0 30 0"

mesh_reset
fake_config groq '{"latency_ms":120}'; fake_config cerebras '{"latency_ms":5}'; fake_config openrouter '{"latency_ms":60}'
run fastest 30
read -r g c o <<<"$(counts)"
expect_eq "fastest: each measured once, then the fastest (cerebras)" "$g $c $o" "1 28 1"

mesh_reset; run random 90
read -r g c o <<<"$(counts)"
if [ "$g" -ge 12 ] && [ "$c" -ge 12 ] && [ "$o" -ge 12 ] && [ $((g + c + o)) -eq 90 ]; then ok "random: all three chosen ($g $c $o of 90)"
else fail "random: all three chosen" "$g $c $o"; fi

mesh_reset
fake_config openrouter '{"fail_status":500}'
run cheapest 10
expect_eq "cheapest healthy: openrouter fails twice (circuit opens), then groq, the next cheapest" "$(counts)" "10 0 2"

mesh_reset
mesh_apply '  strategy: round_robin'
run "" 12
expect_eq "conf's strategy is the default: round_robin without asking" "$(counts)" "4 4 4"
mesh_apply
mesh_reset
run "" 3
expect_eq "spec's default again (fallback)" "$(counts)" "3 0 0"
