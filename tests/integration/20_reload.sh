# Configuration reload: SIGHUP swaps the snapshot atomically; a broken file
# is refused with file:line and the running snapshot stays; under load, 20
# reloads (some broken) fail no request.
. "$TF_ROOT/tests/lib.sh"

gen() { curl -s -m 3 "$(plain /health)" | jq -r .conf_generation; }
node() { curl -s -m 3 "$(plain /health)" | jq -r .node; }

cp "$TF_CONF" "$TF_TMP/conf.good"
G0=$(gen)

# A valid change takes effect.
write_conf "$TF_CONF" renamed-node
kill -HUP "$TF_PID"
wait_for "" 5 bash -c "[ \"\$(curl -s $(plain /health) | jq -r .node)\" = renamed-node ]"
expect_eq "SIGHUP with a valid change: /health shows the new node name" "$(node)" renamed-node
expect_eq "  ... and the generation went up by one" "$(gen)" $((G0 + 1))

# A broken change is refused and reported with file:line.
printf 'log:\n  level: loud\n' >> "$TF_CONF"
kill -HUP "$TF_PID"
wait_for "" 5 grep -q "reload refused" "$TF_LOG"
expect_match "SIGHUP with a broken conf is refused and logged with file:line" \
  "$(grep 'reload refused' "$TF_LOG" | tail -1)" "$TF_CONF:[0-9]+: "
expect_eq "  ... the running snapshot stays" "$(node)" renamed-node
expect_eq "  ... and its generation too" "$(gen)" $((G0 + 1))
check "  ... the server still answers" test "$(health_code)" = 200

# Twenty reloads, every third one broken, under h2load (h2c and HTTP/1.1).
cp "$TF_TMP/conf.good" "$TF_TMP/conf.ok"
sed 's/level: info/level: loud/' "$TF_TMP/conf.good" > "$TF_TMP/conf.bad"
h2load -D 6 -c 16 -m 4 -t 2 "$(plain /health)" > "$TF_TMP/h2load.h2" 2>&1 &
L1=$!
h2load --h1 -D 6 -c 8 -t 1 "$(plain /v1/tiers)" > "$TF_TMP/h2load.h1" 2>&1 &
L2=$!
sleep 0.5
FAILS_BEFORE=$(grep -c 'reload refused' "$TF_LOG")
for i in $(seq 1 20); do
  if [ $((i % 3)) -eq 0 ]; then cp "$TF_TMP/conf.bad" "$TF_CONF"; else
    sed "s/name: test-node/name: load-$i/" "$TF_TMP/conf.ok" > "$TF_CONF"; fi
  kill -HUP "$TF_PID"
  sleep 0.2
done
wait $L1 $L2
for f in h2 h1; do
  line=$(grep -E '^requests:' "$TF_TMP/h2load.$f")
  succ=$(sed -E 's/.* ([0-9]+) succeeded.*/\1/' <<<"$line")
  failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  errored=$(sed -E 's/.* ([0-9]+) errored.*/\1/' <<<"$line")
  st=$(grep -E '^status codes:' "$TF_TMP/h2load.$f")
  non2xx=$(( $(sed -E 's/.* ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx.*/\1 + \2 + \3/' <<<"$st") ))
  if [ "${succ:-0}" -gt 1000 ] && [ "$failed" = 0 ] && [ "$errored" = 0 ] && [ "$non2xx" = 0 ]; then
    ok "20 SIGHUPs under load ($f): $succ requests, 0 failed, 0 errored, 0 non-2xx"
  else
    fail "20 SIGHUPs under load ($f)" "$line / $st"
  fi
done
sleep 0.5
FAILS_AFTER=$(grep -c 'reload refused' "$TF_LOG")
expect_eq "  ... the 6 broken reloads were refused and logged" $((FAILS_AFTER - FAILS_BEFORE)) 6
expect_eq "  ... the last valid one is live" "$(node)" load-20

cp "$TF_TMP/conf.good" "$TF_CONF"
kill -HUP "$TF_PID"
wait_for "" 5 bash -c "[ \"\$(curl -s $(plain /health) | jq -r .node)\" = test-node ]"
