#!/usr/bin/env bash
# tests/unit/run.sh - builds and runs the unit tests; SAN=1 builds them with
# ASan+UBSan. Prints TAP lines and "N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SAN=${SAN:-0}
B=build/unit; [ "$SAN" = 1 ] && B=build-asan/unit
mkdir -p "$B"
CF="-std=gnu11 -g -O1 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Iruntime"
[ "$SAN" = 1 ] && CF="$CF -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
PKG="libh2o-evloop openssl jansson libjwt libsodium libcurl"
P=0; F=0
run() { # run NAME CMD... : runs a TAP-printing test program
  local name=$1 out rc; shift
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  local p f
  p=$(grep -c '^ok ' <<<"$out"); f=$(grep -c '^not ok ' <<<"$out")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with $rc"; fi
  P=$((P + p)); F=$((F + f))
}
build() { # build OUT SOURCES... (extra -I via BUILD_INC)
  local out=$1; shift
  # shellcheck disable=SC2046
  cc $CF ${BUILD_INC:-} $(pkg-config --cflags $PKG) -o "$out" "$@" $(pkg-config --libs $PKG) -lssl -lcrypto -lz -lpthread -lm 2>&1 \
    || { echo "not ok - build $out"; F=$((F + 1)); return 1; }
}

make -s build/tf-codegen >/dev/null || { echo "not ok - build tf-codegen"; exit 1; }
run codegen tests/unit/test_codegen.sh

# Router and validators from their own fixture spec (not the product's), generated fresh.
G=$B/router-spec-gen
rm -rf "$G"
if build/tf-codegen --spec tests/unit/codegen/router_spec --out "$G" --handlers tests/unit/codegen/handlers; then
  FIX="$G/tf_routes.c $G/tf_validators.c $G/tf_tiers.c runtime/tf_validate.c tests/unit/codegen/handlers/h.c"
  BUILD_INC="-I$G" build "$B/test_router" tests/unit/test_router.c $FIX && run router "$B/test_router"
  BUILD_INC="-I$G" build "$B/test_validators" tests/unit/test_validators.c $FIX && run validators "$B/test_validators"
else
  echo "not ok - generate the fixture spec"; F=$((F + 1))
fi

build "$B/test_tls" tests/unit/test_tls.c runtime/tf_tls.c && run tls "$B/test_tls"
build "$B/test_jwt" tests/unit/test_jwt.c runtime/tf_jwt.c && run jwt "$B/test_jwt"
build "$B/test_fsbox" tests/unit/test_fsbox.c runtime/tf_fsbox.c && run fsbox "$B/test_fsbox"
build "$B/test_jscan" tests/unit/test_jscan.c runtime/tf_jscan.c runtime/tf_utf8.c && run jscan "$B/test_jscan"
build "$B/test_keycache" tests/unit/test_keycache.c runtime/tf_keycache.c && run keycache "$B/test_keycache"
# Per-node concurrency caps and their priority queue (tf_server_post stubbed).
build "$B/test_admit" tests/unit/test_admit.c runtime/tf_admit.c && run admit "$B/test_admit"
# The outbound address filter (SSRF): classification only, no traffic.
build "$B/test_netguard" tests/unit/test_netguard.c runtime/tf_netguard.c && run netguard "$B/test_netguard"
# What log lines and /health put between JSON quotes: valid UTF-8 whatever the bytes.
build "$B/test_log" tests/unit/test_log.c runtime/tf_log.c runtime/tf_utf8.c && run log "$B/test_log"
# Client addresses: trusted-proxy networks, the X-Forwarded-For walk, /64 limit keys.
build "$B/test_addr" tests/unit/test_addr.c runtime/tf_addr.c && run addr "$B/test_addr"
build "$B/test_adapt" tests/unit/test_adapt.c runtime/tf_adapt.c runtime/tf_adapt_lines.c runtime/tf_adapt_openai.c \
  runtime/tf_adapt_anthropic.c runtime/tf_adapt_gemini.c runtime/tf_adapt_ollama.c runtime/tf_jscan.c runtime/tf_utf8.c && run adapt "$B/test_adapt"

# tf_curl on an h2o loop against a local server (the bench's minimal h2o).
if build "$B/minimal_h2o" tests/bench/minimal_h2o.c && build "$B/curl_probe" tests/unit/curl_probe.c runtime/tf_curl.c runtime/tf_log.c runtime/tf_utf8.c; then
  PORT=${TF_CURL_PROBE_PORT:-19310}
  "$B/minimal_h2o" --port "$PORT" --threads 1 & MPID=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  run curl "$B/curl_probe" "$PORT"
  kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
fi

echo "$P passed, $F failed"
[ $F -eq 0 ]
