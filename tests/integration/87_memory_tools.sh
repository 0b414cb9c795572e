# The memory_* MCP tools (spec/tools/memory.yaml, tools/memory.c), driven
# through /v1/mcp: the partitioned table and its indexes, every tool with
# good and bad arguments, search ranking (the exact phrase first, a typo
# found by trigrams only), pagination, two users who never see each other's
# memories, and memories surviving a restart of triforce and of PostgreSQL.
#
# Restarting triforce: this file stops the server tests/run.sh started and
# runs its own (a child of this shell, same conf, stderr in the same log so
# run.sh's sanitizer check sees it), then stops that one when it ends and
# checks it exited cleanly. A child shell cannot hand its TF_PID back to
# run.sh; run.sh notices its server is gone and starts a new one for the
# files after this one (as after 90_sigterm.sh).
. "$TF_ROOT/tests/lib.sh"
. "$TF_ROOT/tests/lib_mesh.sh"

MY_PID=
stop_mine() { # stops the server this file started; 0 when it exited cleanly
  [ -n "$MY_PID" ] || return 0
  kill -TERM "$MY_PID" 2>/dev/null
  wait "$MY_PID"
  local rc=$?
  MY_PID=
  return $rc
}
trap 'stop_mine >/dev/null 2>&1' EXIT

PSQL() { psql "$TRIFORCE_DATABASE_URL" -tAq -c "$1"; }
MCP=$(plain /v1/mcp)
H=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
rpc() { # rpc JSON : POST to /v1/mcp as TOK with the session SID
  req -X POST "${H[@]}" -H "Authorization: Bearer $TOK" ${SID:+-H "mcp-session-id: $SID"} -H 'mcp-protocol-version: 2025-11-25' --data "$1" "$MCP"
}
mcp_open() { # mcp_open : a session for TOK, in SID
  SID=
  rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
  SID=$(header mcp-session-id)
  rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}
call() { rpc "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"; }
sc() { jqr ".result.structuredContent$1"; }
iserr() { jqr '.result.isError // false'; }
bad() { # bad TOOL ARGS FIELD RULE
  call "$1" "$2"
  expect_eq "$1 $2: isError naming $3 ($4)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,$3,$4"
}
as_a() { TOK=$A_TOK; SID=$A_SID; }
as_b() { TOK=$B_TOK; SID=$B_SID; }
store() { # store NAMESPACE CONTENT [jq object merged in] : sets ID
  local extra=${3:-'{}'}
  call memory_store "$(jq -nc --arg ns "$1" --arg c "$2" "{namespace: \$ns, content: \$c} + $extra")"
  ID=$(sc .id)
}

mesh_user registered; A_TOK=$U_TOKEN; A_ID=$U_ID
mesh_user registered; B_TOK=$U_TOKEN; B_ID=$U_ID
TOK=$A_TOK; mcp_open; A_SID=$SID
TOK=$B_TOK; mcp_open; B_SID=$SID
expect_match "two users, each with an MCP session" "$A_SID $B_SID" '^[0-9a-f]{48} [0-9a-f]{48}$'

# --- the schema --------------------------------------------------------------------------------
expect_eq "memories is hash-partitioned on user_id" \
  "$(PSQL "SELECT partstrat::text || ' ' || pg_get_partkeydef('memories'::regclass) FROM pg_partitioned_table WHERE partrelid = 'memories'::regclass")" "h HASH (user_id)"
expect_eq "  ... into 12 partitions" "$(PSQL "SELECT count(*) FROM pg_inherits WHERE inhparent = 'memories'::regclass")" 12
ix() { PSQL "SELECT count(DISTINCT i.indrelid) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid AND h.inhparent = 'memories'::regclass JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE $1"; }
expect_eq "  ... each with a GIN index on the tsvector" "$(ix "a.amname = 'gin' AND pg_get_indexdef(i.indexrelid) LIKE '%(search)%'")" 12
expect_eq "  ... a trigram GIN index on content" "$(ix "pg_get_indexdef(i.indexrelid) LIKE '%gin_trgm_ops%'")" 12
expect_eq "  ... and the unique key index" "$(ix "i.indisunique AND pg_get_indexdef(i.indexrelid) LIKE '%(user_id, namespace, key)%'")" 12
expect_eq "search is a generated column" "$(PSQL "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'search'")" s
expect_eq "pg_trgm is installed (by the migration, as the app role)" "$(PSQL "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")" 1

# --- tools/list ------------------------------------------------------------------------------------
as_a
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect_eq "tools/list has the nine memory tools" \
  "$(jqr '[.result.tools[].name | select(startswith("memory_"))] | sort | join(",")')" \
  "memory_clear,memory_delete,memory_get,memory_list,memory_search,memory_stats,memory_store,memory_tags,memory_update"
expect_eq "  ... memory_clear destructive, memory_search read-only" \
  "$(jqr '[(.result.tools[] | select(.name == "memory_clear") | .annotations.destructiveHint), (.result.tools[] | select(.name == "memory_search") | .annotations.readOnlyHint)] | map(tostring) | join(",")')" "true,true"

# --- memory_store / memory_get ------------------------------------------------------------------
call memory_store '{"content":"The staging database lives on host db-2","key":"staging-db","tags":["Infra","db","infra"],"metadata":{"source":"chat","n":[1,2]}}'
K_ID=$(sc .id)
expect_match "memory_store: an id" "$K_ID" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
expect_eq "  ... created, namespace default, the key" "$(sc '| [.created, .namespace, .key] | map(tostring) | join(",")')" "true,default,staging-db"
call memory_get "{\"id\":\"$K_ID\"}"
expect_eq "memory_get by id: content, tags lower-cased and deduplicated, metadata" \
  "$(sc '| [.content, (.tags | join("+")), (.metadata | tojson)] | join("|")')" 'The staging database lives on host db-2|db+infra|{"n":[1,2],"source":"chat"}'
expect_match "  ... ISO 8601 UTC timestamps" "$(sc .created_at) $(sc .updated_at)" '^[0-9-]{10}T[0-9:.]{15}Z [0-9-]{10}T[0-9:.]{15}Z$'
call memory_get '{"key":"staging-db"}'
expect_eq "memory_get by key (namespace default)" "$(sc .id)" "$K_ID"
call memory_get '{"key":"staging-db","namespace":"other"}'
expect_eq "  ... the key in another namespace: no such memory" "$(iserr) $(jqr '.result.content[0].text')" "true no such memory"
call memory_store '{"content":"The staging database moved to host db-7","key":"staging-db","tags":["infra"]}'
expect_eq "memory_store with an existing key replaces it: same id, created false" "$(sc '| [.id, .created] | map(tostring) | join(",")')" "$K_ID,false"
call memory_get '{"key":"staging-db"}'
expect_eq "  ... new content, tags and metadata" "$(sc '| [.content, (.tags | join("+")), (.metadata | tojson)] | join("|")')" 'The staging database moved to host db-7|infra|{}'
expect_eq "  ... one row for the key" "$(PSQL "SELECT count(*) FROM memories WHERE user_id = '$A_ID' AND key = 'staging-db'")" 1
call memory_store '{"content":"same key, other namespace","key":"staging-db","namespace":"notes"}'
expect_eq "  ... the same key in another namespace is another memory" "$(sc '| [.created, (.id != "'"$K_ID"'")] | map(tostring) | join(",")')" "true,true"
call memory_get "{\"id\":\"$(PSQL "SELECT gen_random_uuid()")\"}"
expect_eq "memory_get of an unknown id: isError, no such memory" "$(iserr) $(jqr '.result.content[0].text')" "true no such memory"

bad memory_store '{}' /content required
bad memory_store '{"content":""}' /content minLength
bad memory_store '{"content":"x","namespace":"has space"}' /namespace pattern
bad memory_store '{"content":"x","tags":["ok","not ok"]}' /tags/1 pattern
bad memory_store '{"content":"x","tags":"infra"}' /tags type
bad memory_store '{"content":"x","metadata":"m"}' /metadata type
bad memory_store '{"content":"x","key":""}' /key minLength
bad memory_store '{"content":"x","colour":"red"}' /colour additionalProperties
call memory_store '{"content":"a\u0000b"}'
expect_eq "memory_store with a NUL in content: refused by the JSON parser (-32700), nothing stored" \
  "$(jqr .error.code) $(PSQL "SELECT count(*) FROM memories WHERE user_id = '$A_ID' AND content LIKE 'a%'")" "-32700 0"
bad memory_get '{}' /id oneOf
bad memory_get "{\"id\":\"$K_ID\",\"key\":\"staging-db\"}" /key oneOf
bad memory_get '{"id":"not-a-uuid"}' /id pattern
bad memory_get '{"id":"'"$K_ID"'","namespace":"a/b"}' /namespace pattern
bad memory_store "$(jq -nc '{content: "x", key: ("k" * 201)}')" /key maxLength

# --- memory_search: ranking -------------------------------------------------------------------------
store deploy "The green team prefers a blue deployment style for green field services"
store deploy "Deployment notes: blue screens, green lights, green deployment, blue deployment"
NOTES=$ID
store deploy "We chose blue green deployment for the payment service" '{tags: ["payments", "decision"]}'
EXACT=$ID
store deploy "Checklist: the blue green deploymnet runs next week"
TYPO=$ID
store deploy "Our kubernetes cluster runs on bare metal" '{key: "infra"}'
KUBE=$ID
store deploy "Lunch is at noon on Fridays"
# Plain ts_rank would put the notes first: they repeat the words more often.
expect_eq "(ts_rank_cd alone prefers another memory to the exact phrase)" \
  "$(PSQL "SELECT id FROM memories WHERE user_id = '$A_ID' AND search @@ websearch_to_tsquery('english', 'blue green deployment') ORDER BY ts_rank_cd(search, websearch_to_tsquery('english', 'blue green deployment'), 32) DESC LIMIT 1")" "$NOTES"
call memory_search '{"query":"blue green deployment","namespace":"deploy"}'
expect_eq "memory_search: the exact phrase first" "$(sc '.results[0] | [.id, .match] | join(",")')" "$EXACT,exact"
expect_eq "  ... then the words, then the typo by trigrams only, last" \
  "$(sc '.results | map(.match) | join(",")')" "exact,words,words,fuzzy"
expect_eq "  ... the typo is the fuzzy one" "$(sc '.results[3].id')" "$TYPO"
expect_eq "  ... nothing unrelated (4 of 6)" "$(sc .count)" 4
expect_eq "  ... scores within each kind descending" "$(sc '.results[1].score >= .results[2].score')" true
expect_eq "  ... full-text alone does not find the typo" \
  "$(PSQL "SELECT count(*) FROM memories WHERE id = '$TYPO' AND search @@ websearch_to_tsquery('english', 'blue green deployment')")" 0
call memory_search '{"query":"Blue   GREEN deployment"}'
expect_eq "  ... exactness ignores case and runs of spaces" "$(sc '.results[0] | [.id, .match] | join(",")')" "$EXACT,exact"
call memory_search '{"query":"deployment blue green","namespace":"deploy"}'
expect_eq "  ... the words in another order: no exact match, the words first" "$(sc '.results[0].match')" words
call memory_search '{"query":"\"green deployment\"","namespace":"deploy"}'
expect_eq "  ... a quoted phrase (websearch syntax): the two holding it first" \
  "$(sc '.results[:2] | map(.match) | join(",")') $(sc '.results[:2] | map(.id) | sort | join(",")')" "exact,exact $(printf '%s\n' "$EXACT" "$NOTES" | sort | paste -sd,)"
expect_eq "  ... the others only as fuzzy matches" "$(sc '.results[2:] | map(select(.match != "fuzzy")) | length')" 0
call memory_search '{"query":"kubernetse"}'
expect_eq "  ... a typo in the query: trigrams find the memory" "$(sc '.results[0] | [.id, .match] | join(",")')" "$KUBE,fuzzy"
call memory_search '{"query":"deployments"}'
expect_eq "  ... stemming: deployments finds deployment" "$(sc .count)" 3
call memory_search '{"query":"infra"}'
expect_eq "  ... the key is searchable too" "$(sc '.results | map(.id) | index("'"$KUBE"'") != null')" true
call memory_search '{"query":"blue green deployment","tags":["Payments"]}'
expect_eq "  ... filtered by tag (without case)" "$(sc '.results | map(.id) | join(",")')" "$EXACT"
call memory_search '{"query":"blue green deployment","tags":["payments","nope"]}'
expect_eq "  ... every tag must be there" "$(sc .count)" 0
call memory_search '{"query":"blue green deployment","namespace":"default"}'
expect_eq "  ... filtered by namespace" "$(sc .count)" 0
call memory_search '{"query":"blue green deployment","limit":2}'
expect_eq "  ... limited" "$(sc .count)" 2
call memory_search '{"query":"zzqqxx"}'
expect_eq "  ... nothing found: an empty list, not an error" "$(iserr) $(sc .count)" "false 0"
call memory_search '{"query":"the and or"}'
expect_eq "  ... stop words only: no error" "$(iserr)" false
bad memory_search '{}' /query required
bad memory_search '{"query":""}' /query minLength
bad memory_search '{"query":"x","limit":0}' /limit minimum
bad memory_search '{"query":"x","limit":101}' /limit maximum
bad memory_search '{"query":"x","tags":[1]}' /tags/0 type

# --- memory_list: newest first, pages -------------------------------------------------------------
PAGE_IDS=()
for i in 1 2 3 4 5; do store pages "page memory $i"; PAGE_IDS+=("$ID"); done
NEWEST_FIRST="${PAGE_IDS[4]},${PAGE_IDS[3]},${PAGE_IDS[2]},${PAGE_IDS[1]},${PAGE_IDS[0]}"
call memory_list '{"namespace":"pages","limit":2}'
expect_eq "memory_list: a page of 2 of 5, newest first" "$(sc '| [.count, .total, (.memories | map(.id) | join(","))] | map(tostring) | join(" ")')" \
  "2 5 ${PAGE_IDS[4]},${PAGE_IDS[3]}"
C1=$(sc .next_cursor)
expect_match "  ... with a next_cursor" "$C1" '^[0-9]+_[0-9a-f-]{36}$'
call memory_list "{\"namespace\":\"pages\",\"limit\":2,\"cursor\":\"$C1\"}"
P2=$(sc '.memories | map(.id) | join(",")'); C2=$(sc .next_cursor)
call memory_list "{\"namespace\":\"pages\",\"limit\":2,\"cursor\":\"$C2\"}"
P3=$(sc '.memories | map(.id) | join(",")')
expect_eq "  ... following the cursor gives every memory once, in order" "${PAGE_IDS[4]},${PAGE_IDS[3]},$P2,$P3" "$NEWEST_FIRST"
expect_eq "  ... and no next_cursor on the last page" "$(sc '.next_cursor // "none"')" none
call memory_list '{"namespace":"pages","limit":2,"offset":1}'
expect_eq "  ... offset skips" "$(sc '.memories | map(.id) | join(",")')" "${PAGE_IDS[3]},${PAGE_IDS[2]}"
call memory_list "{\"namespace\":\"pages\",\"limit\":1,\"cursor\":\"$C1\",\"offset\":1}"
expect_eq "  ... after the cursor too" "$(sc '.memories[0].id')" "${PAGE_IDS[1]}"
call memory_list '{"limit":100}'
expect_eq "  ... every namespace without one" "$(sc '| [.count, .total] | map(tostring) | join(" ")')" "13 13"
bad memory_list '{"limit":0}' /limit minimum
bad memory_list '{"cursor":"yesterday"}' /cursor pattern
bad memory_list '{"offset":-1}' /offset minimum

# --- memory_update -------------------------------------------------------------------------------------
call memory_get "{\"id\":\"$TYPO\"}"
BEFORE=$(sc .updated_at)
call memory_update "{\"id\":\"$TYPO\",\"content\":\"Checklist: the blue green deployment runs next week\"}"
expect_eq "memory_update: new content" "$(sc .content)" "Checklist: the blue green deployment runs next week"
expect_eq "  ... updated_at moves, created_at stays" "$(sc "| [(.updated_at > \"$BEFORE\"), (.created_at < .updated_at)] | map(tostring) | join(\",\")")" "true,true"
call memory_search '{"query":"blue green deployment","namespace":"deploy"}'
expect_eq "  ... and the search sees it (the generated column follows)" "$(sc '.results | map(.match) | join(",")')" "exact,exact,words,words"
call memory_update "{\"id\":\"$TYPO\",\"tags\":[\"Later\"],\"metadata\":{\"owner\":\"ops\"}}"
expect_eq "  ... tags and metadata replaced, content kept" "$(sc '| [(.tags | join("+")), (.metadata | tojson), .content] | join("|")')" \
  'later|{"owner":"ops"}|Checklist: the blue green deployment runs next week'
bad memory_update "{\"id\":\"$TYPO\"}" /content anyOf
bad memory_update '{"content":"x"}' /id required
bad memory_update "{\"id\":\"$TYPO\",\"content\":\"\"}" /content minLength
bad memory_update "{\"id\":\"$TYPO\",\"metadata\":[]}" /metadata type
call memory_update "{\"id\":\"$(PSQL "SELECT gen_random_uuid()")\",\"content\":\"x\"}"
expect_eq "  ... an unknown id: no such memory" "$(iserr) $(jqr '.result.content[0].text')" "true no such memory"

# --- two users ---------------------------------------------------------------------------------------
as_b
call memory_list '{}'
expect_eq "user B: sees none of A's memories" "$(sc '| [.count, .total] | map(tostring) | join(" ")')" "0 0"
call memory_search '{"query":"blue green deployment"}'
expect_eq "  ... finds none of them" "$(sc .count)" 0
call memory_get "{\"id\":\"$EXACT\"}"
expect_eq "  ... cannot get one by id" "$(iserr) $(jqr '.result.content[0].text')" "true no such memory"
call memory_get '{"key":"staging-db"}'
expect_eq "  ... nor by key" "$(iserr)" true
call memory_update "{\"id\":\"$EXACT\",\"content\":\"hijacked\"}"
expect_eq "  ... cannot update one" "$(iserr) $(jqr '.result.content[0].text')" "true no such memory"
call memory_delete "{\"id\":\"$EXACT\"}"
expect_eq "  ... cannot delete one (deleted: false)" "$(sc .deleted)" false
call memory_clear '{"confirm":true}'
expect_eq "  ... clearing clears only B's (none)" "$(sc .deleted)" 0
call memory_store '{"content":"B keeps blue green deployment notes too","key":"staging-db"}'
expect_eq "  ... B's own key of the same name is B's own memory" "$(sc '| [.created, (.id != "'"$K_ID"'")] | map(tostring) | join(",")')" "true,true"
B_MEM=$(sc .id)
call memory_stats '{}'
expect_eq "  ... B's stats count B's one" "$(sc .count)" 1
as_a
call memory_get "{\"id\":\"$EXACT\"}"
expect_eq "user A: the memory B tried to change is untouched" "$(sc .content)" "We chose blue green deployment for the payment service"
call memory_get '{"key":"staging-db"}'
expect_eq "  ... A's key still A's" "$(sc .id)" "$K_ID"
call memory_search '{"query":"notes too"}'
expect_eq "  ... A does not find B's memory" "$(sc '.results | map(.id) | index("'"$B_MEM"'")')" null
expect_eq "every memory row carries its owner (partition by user)" \
  "$(PSQL "SELECT count(DISTINCT tableoid) FROM memories WHERE user_id = '$A_ID'")" 1

# --- memory_delete, memory_stats, memory_clear ---------------------------------------------------------
call memory_delete "{\"id\":\"${PAGE_IDS[0]}\"}"
expect_eq "memory_delete: deleted" "$(sc '| [.id, .deleted] | map(tostring) | join(",")')" "${PAGE_IDS[0]},true"
call memory_get "{\"id\":\"${PAGE_IDS[0]}\"}"
expect_eq "  ... then gone" "$(iserr)" true
call memory_delete "{\"id\":\"${PAGE_IDS[0]}\"}"
expect_eq "  ... deleting again: deleted false, no error" "$(iserr) $(sc .deleted)" "false false"
bad memory_delete '{}' /id required
bad memory_delete '{"id":"123"}' /id pattern

call memory_stats '{}'
expect_eq "memory_stats: count" "$(sc .count)" 12
expect_eq "  ... bytes of content, keys and metadata" "$(sc .bytes)" \
  "$(PSQL "SELECT sum(octet_length(content) + coalesce(octet_length(key), 0) + octet_length(metadata::text)) FROM memories WHERE user_id = '$A_ID'")"
expect_eq "  ... per namespace" "$(sc '.namespaces | map("\(.namespace):\(.count)") | join(",")')" "default:1,deploy:6,notes:1,pages:4"
expect_eq "  ... oldest and newest" "$(sc '| [(.oldest <= .newest), (.newest | test("Z$"))] | map(tostring) | join(",")')" "true,true"
bad memory_stats '{"namespace":"x"}' /namespace additionalProperties

bad memory_clear '{}' /confirm required
bad memory_clear '{"confirm":false}' /confirm enum
bad memory_clear '{"confirm":"yes"}' /confirm type
expect_eq "  ... nothing was deleted by those" "$(PSQL "SELECT count(*) FROM memories WHERE user_id = '$A_ID'")" 12
call memory_clear '{"namespace":"pages","confirm":true}'
expect_eq "memory_clear of a namespace: its 4 memories" "$(sc '| [.deleted, .namespace] | map(tostring) | join(",")')" "4,pages"
call memory_stats '{}'
expect_eq "  ... the others stay" "$(sc '| [.count, (.namespaces | map(.namespace) | join("+"))] | map(tostring) | join(",")')" "8,default+deploy+notes"

# --- surviving a restart of triforce ---------------------------------------------------------------------
gone() { [ ! -d "/proc/$1" ] || grep -q '^[^ ]* ([^)]*) Z' "/proc/$1/stat"; }
start_mine() { # as tests/run.sh's start_server: ready after 6 healthy answers in a row
  "$TF_BIN" --conf "$TF_CONF" 2>>"$TF_TMP/stderr.log" &
  MY_PID=$!
  local good=0
  for _ in $(seq 1 150); do
    if [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$(plain /health)")" = 200 ]; then
      good=$((good + 1)); [ $good -ge 6 ] && return 0
      continue
    fi
    good=0
    kill -0 "$MY_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
call memory_search '{"query":"blue green deployment","namespace":"deploy"}'
RANKED=$(sc '.results | map(.id) | join(",")')
kill -TERM "$TF_PID"
if wait_for "" 15 gone "$TF_PID"; then ok "triforce stopped (SIGTERM)"; else fail "triforce stopped (SIGTERM)"; fi
if start_mine; then ok "triforce started again"; else fail "triforce started again" "$(tail -5 "$TF_TMP/stderr.log")"; fi
as_a
call memory_get '{"key":"staging-db"}'
expect_eq "after the restart: the memory by key, same session" "$(sc '| [.id, .content] | join(",")')" "$K_ID,The staging database moved to host db-7"
call memory_search '{"query":"blue green deployment","namespace":"deploy"}'
expect_eq "  ... and the search, same ranking" "$(sc '.results | map(.id) | join(",")')" "$RANKED"
as_b
call memory_list '{}'
expect_eq "  ... B still has just B's one" "$(sc '.memories | map(.id) | join(",")')" "$B_MEM"

# --- surviving a restart of PostgreSQL --------------------------------------------------------------------
db_status() { [ "$(curl -s -m 2 "$(plain /health)" | jq -r .database.status)" = "$1" ]; }
"$TF_ROOT/scripts/pg.sh" stop "$TF_PG_DIR" >/dev/null
if wait_for "" 8 db_status down; then ok "PostgreSQL stopped: /health says down"; else fail "PostgreSQL stopped: /health says down"; fi
as_a
call memory_get '{"key":"staging-db"}'
expect_eq "  ... a memory tool meanwhile: 503 database_unavailable at once, not a hang" "$STATUS $(jqr .error.code)" "503 database_unavailable"
"$TF_ROOT/scripts/pg.sh" start "$TF_PG_DIR" >/dev/null
if wait_for "" 15 db_status up; then ok "PostgreSQL started again: /health says up"; else fail "PostgreSQL started again: /health says up"; fi
# Both threads' pools reconnect on their own; a few tries cover the one not back yet.
got=
for _ in $(seq 1 30); do
  call memory_get '{"key":"staging-db"}'
  got=$(sc .content); [ -n "$got" ] && [ "$got" != null ] && break
  sleep 0.2
done
expect_eq "after the PostgreSQL restart: the memory is there" "$got" "The staging database moved to host db-7"
for i in 1 2 3 4; do  # several calls so both threads are exercised
  call memory_search '{"query":"blue green deployment","namespace":"deploy"}'
  [ "$(sc '.results | map(.id) | join(",")')" = "$RANKED" ] || break
done
expect_eq "  ... the search ranks as before (on every thread)" "$(sc '.results | map(.id) | join(",")')" "$RANKED"
call memory_store '{"content":"written after both restarts","namespace":"late"}'
expect_eq "  ... and new memories are stored" "$(iserr) $(sc .created)" "false true"
call memory_clear '{"confirm":true}'
expect_eq "memory_clear of everything: A's 9" "$(sc '| [.deleted, (has("namespace"))] | map(tostring) | join(",")')" "9,false"
call memory_stats '{}'
expect_eq "  ... stats: zero, no oldest/newest" "$(sc '| [.count, .bytes, (.namespaces | length), has("oldest")] | map(tostring) | join(",")')" "0,0,0,false"
as_b
call memory_stats '{}'
expect_eq "  ... B's memory survives A's clear" "$(sc .count)" 1

# memory_tags: the caller's tags, most used first
as_a
call memory_store '{"content":"tagged one","tags":["Deploy","k8s"],"namespace":"tags"}'
call memory_store '{"content":"tagged two","tags":["deploy","a_b"],"namespace":"tags"}'
call memory_store '{"content":"tagged three","tags":["deploy","axb"],"namespace":"other"}'
call memory_tags '{}'
expect_eq "memory_tags: counts, most used first (tags are stored lower-cased)" "$(sc '| [.total, (.tags | map("\(.tag):\(.count)") | join(" "))] | map(tostring) | join(",")')" "4,deploy:3 a_b:1 axb:1 k8s:1"
call memory_tags '{"namespace":"tags","limit":1}'
expect_eq "  ... one namespace, limited (total still counts all of it)" "$(sc '| [.total, (.tags | map(.tag) | join(" "))] | map(tostring) | join(",")')" "3,deploy"
call memory_tags '{"prefix":"a_"}'
expect_eq "  ... a prefix with a LIKE wildcard (_) matches it literally" "$(sc '.tags | map(.tag) | join(" ")')" "a_b"
call memory_tags '{"prefix":"%"}'
expect_eq "  ... \"%\" is not a wildcard" "$(sc '.total')" 0
call memory_tags '{"prefix":"DEP"}'
expect_eq "  ... prefixes are case-insensitive" "$(sc '.tags | map(.tag) | join(" ")')" "deploy"
as_b
call memory_tags '{}'
expect_eq "  ... B sees only B's tags" "$(sc '.tags | map(.tag) | index("k8s")')" null
as_a
call memory_tags '{"limit":0}'
expect_eq "memory_tags limit 0: /limit (minimum)" "$(jqr '[.result.isError, .result._meta.field, .result._meta.rule] | join(",")')" "true,/limit,minimum"
call memory_tags '{"namespace":"bad space"}'
expect_eq "memory_tags bad namespace: /namespace (pattern)" "$(jqr '[.result._meta.field, .result._meta.rule] | join(",")')" "/namespace,pattern"
call memory_tags '{"color":"red"}'
expect_eq "memory_tags unknown argument: additionalProperties" "$(jqr '.result._meta.rule')" "additionalProperties"

if stop_mine; then ok "the restarted triforce exits cleanly on SIGTERM"; else fail "the restarted triforce exits cleanly on SIGTERM" "$(tail -20 "$TF_TMP/stderr.log")"; fi
