# triforce --check-conf: a good file passes, broken ones fail with file:line and a reason.
. "$TF_ROOT/tests/lib.sh"

out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_ROOT/conf/triforce.yaml" 2>&1); rc=$?
expect_eq "conf/triforce.yaml is valid" "$rc" 0

bad() { # bad DESC EXPECTED_REGEX : checks $TF_TMP/bad.yaml
  local out rc
  out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1); rc=$?
  if [ $rc -ne 0 ] && [[ "$out" =~ $2 ]]; then ok "$1"; else fail "$1" "rc=$rc out=$out"; fi
}
printf 'listen:\n  - address: 127.0.0.1\n    port: 70000\n' > "$TF_TMP/bad.yaml"
bad "port out of range: file:line and reason" "bad.yaml:3: listen\[0\]\.port: 70000 is not a port"
printf 'listen:\n  - address: 127.0.0.1\n    port: 80\n    tls: maybe\n' > "$TF_TMP/bad.yaml"
bad "not a boolean" "bad.yaml:4: .*ENUM value: maybe"
printf 'listen:\n  - address: 127.0.0.1\n    port: 80\nthreds: 2\n' > "$TF_TMP/bad.yaml"
bad "unknown key" "bad.yaml:4: .*[Uu]nexpected key: threds"
printf 'listen: [\n' > "$TF_TMP/bad.yaml"
bad "YAML syntax error" "bad.yaml:[0-9]+: "
printf 'listen:\n  - address: 127.0.0.1\n    port: 80\ndatabase:\n  url: "${TF_SURELY_UNSET_VAR}"\n' > "$TF_TMP/bad.yaml"
bad "unset environment variable" "bad.yaml:5: database.url: environment variable TF_SURELY_UNSET_VAR is not set"
printf 'listen:\n  - address: 127.0.0.1\n    port: 80\nlog:\n  level: loud\n' > "$TF_TMP/bad.yaml"
bad "unknown log level" "bad.yaml:5: log.level: 'loud'"
L='listen:\n  - address: 127.0.0.1\n    port: 80\n'
printf "${L}providers:\n  strategy: psychic\n" > "$TF_TMP/bad.yaml"
bad "unknown strategy" "bad.yaml:5: providers.strategy: 'psychic' is not one of"
printf "${L}providers:\n  settings:\n    - id: groq\n    - id: grok\n" > "$TF_TMP/bad.yaml"
bad "a provider that is not in the spec" "bad.yaml:7: providers.settings: no provider 'grok'"
printf "${L}providers:\n  settings:\n    - id: groq\n      base_url: ftp://x\n" > "$TF_TMP/bad.yaml"
bad "a base_url that is not http(s)" "bad.yaml:6: providers.settings: 'groq': base_url must start with http"
printf "${L}providers:\n  settings:\n    - id: groq\n      http2: h3\n" > "$TF_TMP/bad.yaml"
bad "an http2 mode that is not auto, off or h2c" "bad.yaml:7: .*ENUM value: h3"
printf "${L}providers:\n  settings:\n    - id: ollama\n      nodes:\n        - {name: primary, http2: yes}\n" > "$TF_TMP/bad.yaml"
bad "  ... nor for a node" "bad.yaml:8: .*ENUM value: yes"
printf "${L}providers:\n  settings:\n    - id: ollama\n      nodes:\n        - name: third\n" > "$TF_TMP/bad.yaml"
bad "a new node without a URL" "bad.yaml:8: providers.settings: node 'third' of 'ollama' is new: it needs a base_url"
printf "${L}providers:\n  settings:\n    - id: ollama\n      nodes:\n        - name: primary\n          max_concurrent: 200000\n" > "$TF_TMP/bad.yaml"
bad "a node's max_concurrent out of range" "bad.yaml:8: providers.settings\[0\]\.nodes\[0\]\.max_concurrent: 200000 is more than 100000"
printf "${L}providers:\n  settings:\n    - id: groq\n      max_concurrent: -2\n" > "$TF_TMP/bad.yaml"
bad "a negative max_concurrent" "bad.yaml:7: "
printf "${L}providers:\n  queue_timeout_ms: 4000000\n" > "$TF_TMP/bad.yaml"
bad "queue_timeout_ms over an hour" "bad.yaml:5: providers.queue_timeout_ms: 4000000 is more than an hour"
printf "${L}providers:\n  stream_coalesce_ms: 5000\n" > "$TF_TMP/bad.yaml"
bad "stream_coalesce_ms over a second" "bad.yaml:5: providers.stream_coalesce_ms: 5000 is more than 1000"
printf "${L}busy_poll_us: 20000\n" > "$TF_TMP/bad.yaml"
bad "busy_poll_us over 10 ms" "bad.yaml:4: busy_poll_us: 20000 is more than 10000"
printf "${L}busy_poll_us: -5\n" > "$TF_TMP/bad.yaml"
bad "a negative busy_poll_us" "bad.yaml:4: "
printf "${L}auth:\n  trusted_proxies:\n    - 127.0.0.1\n    - 10.0.0.1/8\n" > "$TF_TMP/bad.yaml"
bad "a trusted proxy network with bits set after its prefix" \
  "bad.yaml:7: auth.trusted_proxies\[1\]: '10.0.0.1/8' has bits set after the prefix: write 10.0.0.0/8"
printf "${L}auth:\n  trusted_proxies: [proxy.internal]\n" > "$TF_TMP/bad.yaml"
bad "a trusted proxy that is a host name" "bad.yaml:5: auth.trusted_proxies\[0\]: 'proxy.internal' is not an IPv4 or IPv6 address"
printf "${L}auth:\n  trusted_proxies: [\"2001:db8::/129\"]\n" > "$TF_TMP/bad.yaml"
bad "a trusted proxy prefix too long" "bad.yaml:5: .*prefix 129 is more than 128 for an IPv6 address"
printf "${L}auth:\n  trusted_proxies: [127.0.0.1, 10.0.0.0/8, \"2001:db8::/32\", \"::1\", \"::ffff:192.0.2.0/120\"]\n" > "$TF_TMP/bad.yaml"
out=$(TRIFORCE_DATABASE_URL=x "$TF_BIN" --check-conf "$TF_TMP/bad.yaml" 2>&1)
expect_eq "trusted proxies as addresses and networks, IPv4 and IPv6, are valid" "$?" 0
printf "${L}providers:\n  only: [groq, nobody]\n" > "$TF_TMP/bad.yaml"
bad "only: an unknown provider" "bad.yaml:5: providers.only: no provider 'nobody'"
printf "${L}providers:\n  settings:\n    - id: groq\n      api_key: \"\${TF_SURELY_UNSET_KEY}\"\n" > "$TF_TMP/bad.yaml"
bad "a key from an unset variable" "bad.yaml:7: providers.settings\[0\].api_key: environment variable TF_SURELY_UNSET_KEY is not set"
