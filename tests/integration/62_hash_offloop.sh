# Password hashing (argon2id) runs on worker threads, never on an event
# loop: while logins hash without pause, /health keeps answering promptly.
# Were a hash computed on a loop thread, a /health request landing on that
# thread would wait for a whole hash (tens of milliseconds) and the median
# would show it.
. "$TF_ROOT/tests/lib.sh"

PW='correct horse battery staple'
EMAIL="hash$RANDOM$RANDOM@example.com"
BODY="{\"email\":\"$EMAIL\",\"password\":\"$PW\"}"
curl -s -m 10 -o /dev/null -H 'content-type: application/json' --data "$BODY" "$(plain /v1/auth/register)"
ms() { awk '{printf "%.1f\n", $1 * 1000}'; }
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
login_ms() { curl -s -m 10 -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' --data "$BODY" "$(plain /v1/auth/login)" | ms; }

for _ in 1 2 3; do login_ms; done > "$TF_TMP/login"
L50=$(p50 < "$TF_TMP/login")
expect_eq "a login costs a real hash (p50 ${L50} ms >= 20 ms)" "$(awk -v l="$L50" 'BEGIN { print (l >= 20) }')" 1

# Four clients logging in back to back for 4 s: the hashers never rest.
END_AT=$((SECONDS + 4))
for _ in 1 2 3 4; do
  ( while [ $SECONDS -lt $END_AT ]; do login_ms; done > /dev/null ) &
done
sleep 0.3
for _ in $(seq 1 30); do curl -s -m 5 -o /dev/null -w '%{time_total}\n' "$(plain /health)" | ms; sleep 0.05; done > "$TF_TMP/busy"
wait
H50=$(p50 < "$TF_TMP/busy")
if awk -v h="$H50" -v l="$L50" 'BEGIN { exit !(h < 15 && h < l / 2) }'; then
  ok "/health during 4 logins in a row: p50 ${H50} ms, well under one hash (${L50} ms)"
else
  fail "/health during logins stays prompt (p50 under 15 ms and under half a hash)" "health p50 $H50 ms, login p50 $L50 ms: $(tr '\n' ' ' < "$TF_TMP/busy")"
fi
