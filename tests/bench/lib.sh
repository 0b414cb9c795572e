# tests/bench/lib.sh - what the bench scripts share; sourced, not run.
# Needs TMP (the script's scratch directory), TF_BIN and THREADS.
#
#   bench_triforce PORT [YAML]  PostgreSQL under $TMP/pg, then TriForce on
#                               127.0.0.1:PORT ($TMP/triforce.yaml, YAML
#                               appended); sets TF_PID, B (base URL) and
#                               DBURL; returns 1 when /health never says 200
#   bench_user [TIER]           registers bench@example.com (the CLI sets
#                               TIER when given) and prints its JWT
#   bench_ports_free PORT...    returns 1 (and says which) when something
#                               already listens on one of them
# The caller's cleanup stops TF_PID and `scripts/pg.sh stop "$TMP/pg"`.

# A server left over from an earlier run answers in place of the one this
# script starts (whose bind fails), and every figure is then someone else's:
# an old fake in another session, say, gets its own share of the CPU.
bench_ports_free() {
  local p
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '# port %s is in use; stop what listens there\n' "$p"
      return 1
    fi
  done
}

bench_triforce() {
  local port=$1
  bench_ports_free "$port" || return 1
  scripts/pg.sh start "$TMP/pg" >"$TMP/pg.out" 2>&1 || { printf '# PostgreSQL did not start\n'; return 1; }
  DBURL=$(scripts/pg.sh url "$TMP/pg")
  cat >"$TMP/triforce.yaml" <<CONF
node: {name: bench}
listen:
  - {address: 127.0.0.1, port: $port}
threads: $THREADS
database: {url: "$DBURL"}
auth: {jwt_secret: "$(head -c 48 /dev/urandom | base64 -w0)"}
log: {level: info, file: $TMP/triforce.log}
${2:-}
CONF
  "$TF_BIN" --conf "$TMP/triforce.yaml" 2>"$TMP/triforce.stderr" &
  TF_PID=$!
  B="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/health")" = 200 ] && return 0; sleep 0.1; done
  printf '# TriForce did not become healthy\n'; tail -5 "$TMP/triforce.stderr" | sed 's/^/#   /'
  return 1
}

bench_user() {
  local cred='{"email":"bench@example.com","password":"bench password"}'
  curl -s -o /dev/null -H 'content-type: application/json' -d "$cred" "$B/v1/auth/register"
  [ -n "${1:-}" ] && TRIFORCE_DATABASE_URL=$DBURL "$TF_BIN" --conf "$TMP/triforce.yaml" user set-tier --email bench@example.com --tier "$1" >/dev/null
  curl -s -H 'content-type: application/json' -d "$cred" "$B/v1/auth/login" | jq -r .token
}
