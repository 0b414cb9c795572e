# tests/lib_mesh.sh - fake providers and a providers: section for the
# server under test (sourced after tests/lib.sh).
#
# mesh_start starts one fake provider per upstream (each speaks all four
# wire formats) and points the providers of spec/providers.yaml at them:
#   groq 19501, cerebras 19502, openrouter 19503 (openai), anthropic 19504,
#   gemini 19505, ollama nodes primary 19506 and backup 19507 (each + TF_PORT_SHIFT).
# mesh_stop puts the original conf back. Ports 19501-19507 belong to this.

FAKE=$TF_TMP/fake_provider
_fb=$(pshift 19500)
declare -A FAKE_PORT=([groq]=$((_fb+1)) [cerebras]=$((_fb+2)) [openrouter]=$((_fb+3)) [anthropic]=$((_fb+4)) [gemini]=$((_fb+5)) [ollama1]=$((_fb+6)) [ollama2]=$((_fb+7)))
declare -A FAKE_PID=()

fake_build() {
  [ -x "$FAKE" ] && return 0
  cc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -o "$FAKE" \
    "$TF_ROOT/tests/fake/fake_provider.c" -lh2o-evloop -ljansson -lssl -lcrypto -lz -lpthread
}

# fake_start NAME [options...]
fake_start() {
  local name=$1; shift
  "$FAKE" --port "${FAKE_PORT[$name]}" --name "$name" "$@" >>"$TF_TMP/fake-$name.log" 2>&1 &
  FAKE_PID[$name]=$!
  wait_for "" 5 curl -sf -o /dev/null "http://127.0.0.1:${FAKE_PORT[$name]}/_fake/stats"
}
fake_kill() { kill "${FAKE_PID[$1]}" 2>/dev/null; wait "${FAKE_PID[$1]}" 2>/dev/null; }
fake_url() { echo "http://127.0.0.1:${FAKE_PORT[$1]}$2"; }
# fake_config NAME JSON : runtime switches (latency_ms, fail_status, hang, ...)
fake_config() { curl -s -m 3 -XPOST --data "$2" "$(fake_url "$1" /_fake/config)" >/dev/null; }
fake_stat() { curl -s -m 3 "$(fake_url "$1" /_fake/stats)" | jq -r "$2"; }
fake_reset_all() {
  local n
  for n in "${!FAKE_PID[@]}"; do
    fake_config "$n" '{"reset":true}'
    curl -s -m 3 -XPOST "$(fake_url "$n" /_fake/stats/reset)" >/dev/null
  done
}

MESH_SETTINGS="
    - {id: groq, base_url: \"http://127.0.0.1:${FAKE_PORT[groq]}/openai/v1\", api_key: k-groq}
    - {id: cerebras, base_url: \"http://127.0.0.1:${FAKE_PORT[cerebras]}/v1\", api_key: k-cerebras}
    - {id: openrouter, base_url: \"http://127.0.0.1:${FAKE_PORT[openrouter]}/api/v1\", api_key: k-openrouter}
    - {id: anthropic, base_url: \"http://127.0.0.1:${FAKE_PORT[anthropic]}\", api_key: k-anthropic}
    - {id: gemini, base_url: \"http://127.0.0.1:${FAKE_PORT[gemini]}\", api_key: k-gemini}
    - id: ollama
      nodes:
        - {name: primary, base_url: \"http://127.0.0.1:${FAKE_PORT[ollama1]}\"}
        - {name: backup, base_url: \"http://127.0.0.1:${FAKE_PORT[ollama2]}\", enabled: true}"

conf_gen() { curl -s -m 3 "$(plain /health)" | jq -r .conf_generation; }

# reload_to FILE : installs FILE as the conf and waits until both threads run it.
reload_to() {
  local g0 g ok=0
  g0=$(conf_gen)
  cp "$1" "$TF_CONF"
  kill -HUP "$TF_PID"
  for _ in $(seq 1 50); do
    g=$(conf_gen)
    if [ "$g" != "$g0" ] && [ -n "$g" ]; then ok=$((ok + 1)); [ $ok -ge 4 ] && return 0; fi
    sleep 0.05
  done
  return 1
}

# mesh_apply [EXTRA YAML for providers:] : base conf + a providers section.
mesh_apply() {
  { cat "$TF_TMP/conf.orig"
    printf 'providers:\n  connect_timeout_ms: 500\n  attempt_timeout_ms: %s\n  stream_idle_ms: 1500\n  deadline_ms: %s\n' \
      "${MESH_ATTEMPT_MS:-1500}" "${MESH_DEADLINE_MS:-6000}"
    printf '  breaker_failures: %s\n  breaker_open_ms: 800\n' "${MESH_BREAKER:-2}"
    printf '  only: [groq, cerebras, openrouter, anthropic, gemini, ollama]\n'
    [ -n "${1:-}" ] && printf '%s\n' "$1"
    printf '  settings:%s\n' "$MESH_SETTINGS"
  } > "$TF_TMP/conf.mesh"
  reload_to "$TF_TMP/conf.mesh"
}

mesh_start() {
  fake_build || return 1
  [ -f "$TF_TMP/conf.orig" ] || cp "$TF_CONF" "$TF_TMP/conf.orig"
  local n
  for n in groq cerebras openrouter anthropic gemini ollama1 ollama2; do fake_start "$n" "$@"; done
  mesh_apply
}

mesh_stop() {
  local n
  for n in "${!FAKE_PID[@]}"; do fake_kill "$n"; done
  [ -f "$TF_TMP/conf.orig" ] && reload_to "$TF_TMP/conf.orig"
}

# A user of a tier, by the CLI: sets U_TOKEN (JWT) for EMAIL.
mesh_user() { # mesh_user TIER
  local email="mesh$RANDOM$RANDOM@example.com" pw='correct horse battery staple'
  curl -s -m 10 -H 'content-type: application/json' --data "{\"email\":\"$email\",\"password\":\"$pw\"}" "$(plain /v1/auth/register)" >/dev/null
  [ "$1" = registered ] || TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user set-tier --email "$email" --tier "$1" >/dev/null 2>&1
  local login
  login=$(curl -s -m 10 -H 'content-type: application/json' --data "{\"email\":\"$email\",\"password\":\"$pw\"}" "$(plain /v1/auth/login)")
  U_TOKEN=$(jq -r .token <<<"$login")
  U_ID=$(jq -r .user_id <<<"$login")
  U_EMAIL=$email
}

# chat [curl options] -- JSON : POST /v1/chat/completions as U_TOKEN.
chat() { req -X POST -H 'content-type: application/json' -H "Authorization: Bearer $U_TOKEN" --data "$1" "${@:2}" "$(plain /v1/chat/completions)"; }

# An admin (by the CLI); sets ADMIN_TOKEN.
mesh_admin() {
  local email="meshadmin$RANDOM$RANDOM@example.com" pw='correct horse battery staple'
  printf '%s\n' "$pw" | TRIFORCE_DATABASE_URL="$TRIFORCE_DATABASE_URL" "$TF_BIN" --conf "$TF_CONF" user add --email "$email" --admin --password-stdin >/dev/null 2>&1
  ADMIN_TOKEN=$(curl -s -m 10 -H 'content-type: application/json' --data "{\"email\":\"$email\",\"password\":\"$pw\"}" "$(plain /v1/auth/login)" | jq -r .token)
}
# Forget health (open circuits, latencies) between tests.
mesh_reset() { curl -s -m 3 -XPOST -H "Authorization: Bearer $ADMIN_TOKEN" "$(plain /v1/admin/providers/reset)" >/dev/null; fake_reset_all; }
