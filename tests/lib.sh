# tests/lib.sh - helpers for the integration tests (sourced).
#
# Each test file prints TAP lines ("ok N - ..." / "not ok N - ...");
# tests/run.sh counts them. The server under test is described by:
#   TF_BIN TF_CONF TF_PID TF_LOG TF_PLAIN TF_TLS TF_PG_DIR TF_TMP TF_ROOT

T_N=${T_N:-0}

# Fixed helper ports are shifted by TF_PORT_SHIFT so several runs (worktrees)
# can share the machine: port N -> pshift N.
pshift() { echo $(( $1 + ${TF_PORT_SHIFT:-0} )); }

ok()   { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
fail() { T_N=$((T_N + 1)); echo "not ok $T_N - $1"; [ -n "${2:-}" ] && printf '#   %s\n' "$2" | head -c 2000; echo; return 0; }

# check DESC CMD... : passes when CMD exits 0.
check() { local d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d" "command failed: $*"; fi; }
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected [$3], got [$2]"; fi; }
expect_match() { if [[ "$2" =~ $3 ]]; then ok "$1"; else fail "$1" "[$2] does not match /$3/"; fi; }
expect_contains() { if [[ "$2" == *"$3"* ]]; then ok "$1"; else fail "$1" "[${2:0:600}] does not contain [$3]"; fi; }

# req [curl options...] URL : sets STATUS, VERSION, BODY, HDRS.
# Files per shell process: a req in a background subshell must not read
# what a req of the foreground wrote meanwhile.
req() {
  local out b=$TF_TMP/body.$BASHPID h=$TF_TMP/hdrs.$BASHPID
  out=$(curl -s -m 10 -D "$h" -o "$b" -w '%{http_code} %{http_version}' "$@") || true
  STATUS=${out%% *}
  VERSION=${out##* }
  BODY=$(cat "$b" 2>/dev/null)
  HDRS=$(tr -d '\r' < "$h" 2>/dev/null)
  rm -f "$b" "$h"
}

# header NAME : value of a response header from the last req (case-insensitive).
header() { printf '%s\n' "$HDRS" | awk -v n="$(echo "$1" | tr A-Z a-z)" 'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /,""); print; exit}'; }

jqr() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }

plain() { echo "http://127.0.0.1:$TF_PLAIN$1"; }
tls() { echo "https://127.0.0.1:$TF_TLS$1"; }

# wait_for DESC SECONDS CMD... : polls CMD every 0.2 s; returns 0 when it succeeds in time.
wait_for() { local s=$2; shift 2; local end=$((SECONDS + s)); while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

health_code() { curl -s -m 3 -o /dev/null -w '%{http_code}' "$(plain /health)"; }
