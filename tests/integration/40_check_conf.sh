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
