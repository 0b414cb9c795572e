#!/usr/bin/env bash
# Installs the Debian packages TriForce needs to build, run, test and bench,
# only those that are missing. Called by `make deps` (and so by make run/test).
set -euo pipefail

PKGS=(
  build-essential pkg-config re2c
  libh2o-evloop-dev libwslay-dev libssl-dev zlib1g-dev
  libcurl4-openssl-dev libjansson-dev libjwt-dev libpq-dev
  libcyaml-dev libyaml-dev libsodium-dev
  postgresql postgresql-contrib
  curl nghttp2-client jq openssl procps iproute2 ca-certificates
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node runs the official client tests (openai, MCP SDK); any installed node
# will do, else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have an empty package index.
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
