# Busy polling (conf busy_poll_us, runtime/tf_server.c): after handling
# events a loop thread polls for busy_poll_us before it sleeps, and an idle
# server sleeps. Seen from outside as the server's CPU time (/proc), with a
# window long enough (10 ms) to stand out from the requests' own cost.
. "$TF_ROOT/tests/lib.sh"

TCK=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$TCK" '{ print int(($14 + $15) * 1000 / t) }' "/proc/$TF_PID/stat"; }
gen() { curl -s -m 3 "$(plain /health)" | jq -r .conf_generation; }
cp "$TF_CONF" "$TF_TMP/conf.before-busy-poll"
# reload_with LINE: the test conf as it was plus LINE, applied by SIGHUP
reload_with() {
  local g
  g=$(gen)
  cp "$TF_TMP/conf.before-busy-poll" "$TF_CONF"
  [ -n "$1" ] && printf '%s\n' "$1" >> "$TF_CONF"
  kill -HUP "$TF_PID"
  wait_for "" 5 bash -c "[ \"\$(curl -s $(plain /health) | jq -r .conf_generation)\" -gt $g ]"
}
# paced N: N requests, 40 ms apart (each one starts a new polling window)
paced() { for _ in $(seq 1 "$1"); do curl -s -o /dev/null "$(plain /health)"; sleep 0.04; done; }

check "a reload to busy_poll_us: 10000 is taken (the generation goes up)" reload_with "busy_poll_us: 10000"
sleep 1
c0=$(cpu_ms); paced 40; c1=$(cpu_ms)
spin=$((c1 - c0))
# 40 windows of 10 ms each: at least 400 ms if every window ran; allow for
# scheduling and tick granularity.
check "40 requests with busy_poll_us 10000 cost at least 250 ms of CPU (polling ran: ${spin} ms)" test "$spin" -ge 250

sleep 0.2
c0=$(cpu_ms); sleep 1; c1=$(cpu_ms)
idle=$((c1 - c0))
check "idle for 1 s afterwards, the threads sleep (${idle} ms of CPU, not 2000)" test "$idle" -lt 200

check "a reload to busy_poll_us: 0 is taken" reload_with "busy_poll_us: 0"
sleep 1
c0=$(cpu_ms); paced 40; c1=$(cpu_ms)
off=$((c1 - c0))
check "the same 40 requests with busy_poll_us 0 cost under 150 ms (${off} ms)" test "$off" -lt 150
check "  ... and less than with polling (${off} < ${spin} ms)" test "$off" -lt "$spin"

check "back to the conf as it was (the default)" reload_with ""
check "  ... the server still answers" test "$(health_code)" = 200
