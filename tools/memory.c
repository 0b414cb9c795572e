/*
 * tools/memory.c - the MCP tools of spec/tools/memory.yaml: a user's
 * long-term memories in PostgreSQL (table memories, 0004_memory.sql).
 *
 * Every query names the caller (call->r->who.user_id) in its WHERE clause
 * or its INSERT, so a user can neither see nor change another's memories:
 * someone else's id simply finds nothing. Every query builds its whole JSON
 * answer in SQL and returns it as one text column, so each handler is one
 * parameterised statement (one round trip, one implicit transaction) and
 * the C side only passes arguments in and the answer out.
 *
 * String arguments are plain C strings here: PostgreSQL text cannot hold
 * NUL, and none arrives, since the MCP body parser (jansson without
 * JSON_ALLOW_NUL) refuses "\u0000" before any tool runs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_db.h"
#include "tf_server.h"
#include "tf_mcp.h"
#include "tf_tool.h"
#include "tf_utf8.h"

/* Timestamps as ISO 8601 in UTC with microseconds, whatever the session's
 * TimeZone: clients compare and sort them as strings. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* One memory (alias m) as jsonb. The key is left out rather than null when
 * there is none: the output schemas type it as a string. */
#define MEMORY_JSON                                                                                                              \
    "(jsonb_build_object('id', m.id, 'namespace', m.namespace, 'content', m.content, 'tags', to_jsonb(m.tags), "             \
    "'metadata', m.metadata, 'created_at', " TS("m.created_at") ", 'updated_at', " TS("m.updated_at") ") || "               \
    "CASE WHEN m.key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('key', m.key) END)"

/* Tags arrive as a JSON array (parameter $n): stored lower-cased, sorted and
 * without duplicates, so a tag filter (@>) does not depend on case or order. */
#define TAGS(n) "ARRAY(SELECT DISTINCT lower(t) FROM jsonb_array_elements_text(" n "::jsonb) AS t ORDER BY 1)"

/* --- answers ---------------------------------------------------------------------------- */

/*
 * An argument the schema cannot judge (id or key, at least one field...):
 * answered the way tf_mcp answers a schema violation, isError with
 * _meta.field and _meta.rule, so a model corrects both kinds the same way.
 */
static void arg_error(tf_tool_call_t *call, const char *field, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void arg_error(tf_tool_call_t *call, const char *field, const char *rule, const char *fmt, ...)
{
    char msg[300], text[TF_UTF8_FORMAT_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tf_utf8_format(text, sizeof(text), "invalid arguments: %s %s (rule: %s)", field, msg, rule); /* the cut above may split a sequence */
    tf_tool_answer(call, json_pack("{s:[{s:s, s:s}], s:b, s:{s:s, s:s}}", "content", "type", "text", "text", text, "isError", 1, "_meta",
                                   "field", field, "rule", rule));
}

/* Sessions subscribed to the memory (MCP resources triforce://memory/{id}
 * and the list triforce://memory) hear that it changed. */
static void notify_changed(tf_tool_call_t *call, json_t *result)
{
    const char *n = call->tool->name, *id = json_string_value(json_object_get(result, "id"));
    int changed = strcmp(n, "memory_store") == 0 || strcmp(n, "memory_update") == 0 ||
                  (strcmp(n, "memory_delete") == 0 && json_is_true(json_object_get(result, "deleted")));
    if (!changed || id == NULL)
        return;
    char uri[80];
    snprintf(uri, sizeof(uri), "triforce://memory/%s", id);
    tf_mcp_resource_updated(call->r->who.user_id, uri);
    tf_mcp_resource_updated(call->r->who.user_id, "triforce://memory");
}

/* The single text column of the first row is the tool's JSON result; no row
 * means the memory does not exist (or is someone else's: the same answer). */
static void on_json(void *ud, PGresult *res, const char *err)
{
    tf_tool_call_t *call = ud;
    call->r->dbq = NULL;
    if (err != NULL) {
        tf_tool_fail(call, "memory is unavailable right now (%s); try again shortly", err);
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        tf_tool_fail(call, "the database refused this: %s", msg != NULL ? msg : "unknown error");
        return;
    }
    if (PQntuples(res) == 0) {
        tf_tool_fail(call, "no such memory");
        return;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (j == NULL) {
        tf_tool_fail(call, "unreadable answer from the database");
        return;
    }
    notify_changed(call, j);
    tf_tool_result(call, j);
}

static int query(tf_tool_call_t *call, const char *sql, int n, const char *const *p)
{
    call->r->dbq = tf_db_query(call->r->thr->db, sql, n, p, on_json, call);
    if (call->r->dbq == NULL)
        tf_tool_fail(call, "memory is unavailable right now (database down); try again shortly");
    return 0;
}

/* --- arguments ---------------------------------------------------------------------------- */

/* A JSON argument (tags, metadata) as compact text for a ::jsonb parameter,
 * or NULL (SQL NULL) when absent. The caller frees it. */
static char *arg_json(const tf_tool_call_t *call, const char *name)
{
    json_t *v = json_object_get(call->args, name);
    return v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
}

/* --- the tools ------------------------------------------------------------------------------ */

/* memory_store: Store a memory. With a key, an existing memory of that key
 * in the namespace is replaced (ON CONFLICT on the partial unique index). */
int tf_tool_memory_store(tf_tool_call_t *call)
{
    char *tags = arg_json(call, "tags"), *meta = arg_json(call, "metadata");
    const char *p[6] = {call->r->who.user_id, tf_tool_arg_str(call, "namespace", "default"), tf_tool_arg_str(call, "key", NULL),
                        tf_tool_arg_str(call, "content", ""), tags ? tags : "[]", meta ? meta : "{}"};
    /* created: a replaced row keeps the created_at of the transaction that
     * first stored it, an earlier one; now() is this statement's own. */
    query(call,
          "INSERT INTO memories AS m (user_id, namespace, key, content, tags, metadata) "
          "VALUES ($1::uuid, $2, $3, $4, " TAGS("$5") ", $6::jsonb) "
          "ON CONFLICT (user_id, namespace, key) WHERE key IS NOT NULL "
          "DO UPDATE SET content = EXCLUDED.content, tags = EXCLUDED.tags, metadata = EXCLUDED.metadata "
          "RETURNING (jsonb_build_object('id', m.id, 'namespace', m.namespace, 'created', m.created_at = now(), "
          "'created_at', " TS("m.created_at") ", 'updated_at', " TS("m.updated_at") ") || "
          "CASE WHEN m.key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('key', m.key) END)::text",
          6, p);
    free(tags);
    free(meta);
    return 0;
}

/*
 * memory_search: Search memories. Candidates are what full-text search
 * (the GIN index on the generated tsvector) or trigram word similarity (the
 * trigram GIN index; pg_trgm.word_similarity_threshold, 0.6 unless the
 * operator sets it for the database) finds. They are ordered by kind of
 * match first, so the memory holding the query verbatim leads even when
 * another one repeats the query's words more often and ts_rank prefers it:
 *   3 exact   the query's text, case and runs of spaces aside
 *   2 phrase  the query's words next to each other, in order (stemmed)
 *   1 words   all the query's words anywhere (websearch syntax)
 *   0 fuzzy   only trigram similarity (a typo on either side)
 * then by score: ts_rank_cd normalised to [0,1) plus word_similarity.
 */
int tf_tool_memory_search(tf_tool_call_t *call)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%lld", tf_tool_arg_int(call, "limit", 10));
    char *tags = arg_json(call, "tags");
    const char *p[5] = {call->r->who.user_id, tf_tool_arg_str(call, "query", ""), tf_tool_arg_str(call, "namespace", NULL), tags, lim};
    query(call,
          "WITH q AS (SELECT websearch_to_tsquery('english', $2) AS w, phraseto_tsquery('english', $2) AS ph, "
          "  lower(regexp_replace(btrim(replace($2, '\"', '')), '\\s+', ' ', 'g')) AS exact), "
          "hits AS (SELECT m.*, "
          "  CASE WHEN q.exact <> '' AND strpos(lower(regexp_replace(m.content, '\\s+', ' ', 'g')), q.exact) > 0 THEN 3 "
          "       WHEN numnode(q.ph) > 0 AND m.search @@ q.ph THEN 2 WHEN m.search @@ q.w THEN 1 ELSE 0 END AS class, "
          "  round((ts_rank_cd(m.search, q.w, 32) + word_similarity($2, m.content))::numeric, 4) AS score "
          "  FROM memories m, q "
          "  WHERE m.user_id = $1::uuid AND ($3::text IS NULL OR m.namespace = $3::text) "
          "    AND ($4::jsonb IS NULL OR m.tags @> " TAGS("$4") ") "
          "    AND (m.search @@ q.w OR $2 <% m.content) "
          "  ORDER BY class DESC, score DESC, m.updated_at DESC, m.id LIMIT $5::int) "
          "SELECT json_build_object('count', count(*), 'results', coalesce(json_agg(" MEMORY_JSON
          " || jsonb_build_object('match', (ARRAY['fuzzy', 'words', 'phrase', 'exact'])[m.class + 1], 'score', m.score) "
          "ORDER BY m.class DESC, m.score DESC, m.updated_at DESC, m.id), '[]'))::text FROM hits m",
          5, p);
    free(tags);
    return 0;
}

/* memory_get: Get a memory, by id or by key (namespace "default" unless given). */
int tf_tool_memory_get(tf_tool_call_t *call)
{
    const char *id = tf_tool_arg_str(call, "id", NULL), *key = tf_tool_arg_str(call, "key", NULL);
    /* JSON Schema's oneOf is outside the spec subset, so the handler checks it. */
    if ((id == NULL) == (key == NULL)) {
        arg_error(call, id ? "/key" : "/id", "oneOf", "give either id or key, not %s", id ? "both" : "neither");
        return 0;
    }
    if (id != NULL) {
        const char *p[2] = {call->r->who.user_id, id};
        return query(call, "SELECT " MEMORY_JSON "::text FROM memories m WHERE m.user_id = $1::uuid AND m.id = $2::uuid", 2, p);
    }
    const char *p[3] = {call->r->who.user_id, tf_tool_arg_str(call, "namespace", "default"), key};
    return query(call, "SELECT " MEMORY_JSON "::text FROM memories m WHERE m.user_id = $1::uuid AND m.namespace = $2 AND m.key = $3", 3,
                 p);
}

/*
 * memory_list: List memories, newest first. Keyset pagination: the cursor is
 * the last item's (created_at in microseconds since the epoch, id), so a
 * page stays right while memories are added or deleted, and a deep page
 * costs an index range scan instead of skipping rows. One row more than the
 * page is read to know whether there is a next page.
 */
int tf_tool_memory_list(tf_tool_call_t *call)
{
    char lim[24], off[24], micros[24] = "", cid[40] = "";
    snprintf(lim, sizeof(lim), "%lld", tf_tool_arg_int(call, "limit", 20));
    snprintf(off, sizeof(off), "%lld", tf_tool_arg_int(call, "offset", 0));
    const char *cursor = tf_tool_arg_str(call, "cursor", NULL);
    if (cursor != NULL) {
        /* The schema's pattern guarantees "<digits>_<uuid>". */
        const char *us = strchr(cursor, '_');
        snprintf(micros, sizeof(micros), "%.*s", (int)(us - cursor), cursor);
        snprintf(cid, sizeof(cid), "%s", us + 1);
    }
    const char *p[6] = {call->r->who.user_id, tf_tool_arg_str(call, "namespace", NULL), cursor ? micros : NULL, cursor ? cid : NULL, off, lim};
    return query(call,
                 "WITH page AS (SELECT m.* FROM memories m WHERE m.user_id = $1::uuid AND ($2::text IS NULL OR m.namespace = $2::text) "
                 "  AND ($3::bigint IS NULL OR (m.created_at, m.id) < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid)) "
                 "  ORDER BY m.created_at DESC, m.id DESC OFFSET $5::int LIMIT $6::int + 1), "
                 "numbered AS (SELECT page.*, row_number() OVER (ORDER BY created_at DESC, id DESC) AS rn FROM page) "
                 "SELECT (jsonb_build_object('count', count(*) FILTER (WHERE m.rn <= $6::int), "
                 "  'total', (SELECT count(*) FROM memories t WHERE t.user_id = $1::uuid AND ($2::text IS NULL OR t.namespace = $2::text)), "
                 "  'memories', coalesce(jsonb_agg(" MEMORY_JSON " ORDER BY m.rn) FILTER (WHERE m.rn <= $6::int), '[]')) || "
                 "  CASE WHEN count(*) > $6::int THEN jsonb_build_object('next_cursor', "
                 "    (SELECT (extract(epoch FROM l.created_at) * 1000000)::bigint || '_' || l.id FROM numbered l WHERE l.rn = $6::int)) "
                 "  ELSE '{}'::jsonb END)::text FROM numbered m",
                 6, p);
}

/* memory_update: Update a memory; absent fields keep their value, updated_at
 * is set by the table's trigger. */
int tf_tool_memory_update(tf_tool_call_t *call)
{
    json_t *a = call->args;
    if (!json_object_get(a, "content") && !json_object_get(a, "tags") && !json_object_get(a, "metadata")) {
        arg_error(call, "/content", "anyOf", "nothing to change: give content, tags or metadata");
        return 0;
    }
    char *tags = arg_json(call, "tags"), *meta = arg_json(call, "metadata");
    const char *p[5] = {call->r->who.user_id, tf_tool_arg_str(call, "id", ""), tf_tool_arg_str(call, "content", NULL), tags, meta};
    query(call,
          "UPDATE memories m SET content = coalesce($3, m.content), "
          "tags = CASE WHEN $4::jsonb IS NULL THEN m.tags ELSE " TAGS("$4") " END, metadata = coalesce($5::jsonb, m.metadata) "
          "WHERE m.user_id = $1::uuid AND m.id = $2::uuid RETURNING " MEMORY_JSON "::text",
          5, p);
    free(tags);
    free(meta);
    return 0;
}

/* memory_delete: Delete a memory; deleting what is not there is not an error
 * (idempotent), it says deleted: false. */
int tf_tool_memory_delete(tf_tool_call_t *call)
{
    const char *p[2] = {call->r->who.user_id, tf_tool_arg_str(call, "id", "")};
    return query(call,
                 "WITH d AS (DELETE FROM memories WHERE user_id = $1::uuid AND id = $2::uuid RETURNING id) "
                 "SELECT json_build_object('id', $2::uuid, 'deleted', EXISTS (SELECT 1 FROM d))::text",
                 2, p);
}

/* memory_clear: Clear memories of one namespace, or all of the caller's. */
int tf_tool_memory_clear(tf_tool_call_t *call)
{
    /* The schema already demands confirm: true (enum [true]); checked again
     * because this is the one call that cannot be undone, and a later edit
     * of the spec must not turn it into a one-word accident. */
    if (!tf_tool_arg_bool(call, "confirm", 0)) {
        arg_error(call, "/confirm", "enum", "must be true: clearing deletes memories for good");
        return 0;
    }
    const char *p[2] = {call->r->who.user_id, tf_tool_arg_str(call, "namespace", NULL)};
    return query(call,
                 "WITH d AS (DELETE FROM memories WHERE user_id = $1::uuid AND ($2::text IS NULL OR namespace = $2::text) RETURNING 1) "
                 "SELECT (jsonb_build_object('deleted', (SELECT count(*) FROM d)) || "
                 "CASE WHEN $2::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('namespace', $2::text) END)::text",
                 2, p);
}

/* memory_stats: Memory statistics. Bytes are what the caller stored (UTF-8
 * of content and key, metadata as JSON text), not the table's disk use. */
int tf_tool_memory_stats(tf_tool_call_t *call)
{
    const char *p[1] = {call->r->who.user_id};
    return query(call,
                 "WITH s AS (SELECT namespace, count(*) AS n, "
                 "  sum(octet_length(content) + coalesce(octet_length(key), 0) + octet_length(metadata::text)) AS b, "
                 "  min(created_at) AS lo, max(created_at) AS hi FROM memories WHERE user_id = $1::uuid GROUP BY namespace) "
                 "SELECT (jsonb_build_object('count', coalesce(sum(n), 0), 'bytes', coalesce(sum(b), 0), "
                 "  'namespaces', coalesce(jsonb_agg(jsonb_build_object('namespace', namespace, 'count', n, 'bytes', b) ORDER BY namespace), '[]')) || "
                 "  CASE WHEN count(*) = 0 THEN '{}'::jsonb "
                 "  ELSE jsonb_build_object('oldest', " TS("min(lo)") ", 'newest', " TS("max(hi)") ") END)::text FROM s",
                 1, p);
}

/* memory_tags: Memory tags. Tags are stored lower-cased (tools/memory.c's
 * TAGS), so the prefix is lower-cased too; LIKE's wildcards in it are
 * escaped so "50%" means those three characters. */
int tf_tool_memory_tags(tf_tool_call_t *call)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%lld", tf_tool_arg_int(call, "limit", 100));
    const char *p[4] = {call->r->who.user_id, tf_tool_arg_str(call, "namespace", NULL), tf_tool_arg_str(call, "prefix", ""), lim};
    return query(call,
                 "WITH t AS (SELECT tag, count(*) AS n FROM memories, unnest(tags) AS tag "
                 "  WHERE user_id = $1::uuid AND ($2::text IS NULL OR namespace = $2::text) "
                 "  AND tag LIKE replace(replace(replace(lower($3), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' GROUP BY tag) "
                 "SELECT json_build_object('total', (SELECT count(*) FROM t), 'tags', coalesce((SELECT json_agg(json_build_object('tag', tag, 'count', n) "
                 "  ORDER BY n DESC, tag) FROM (SELECT * FROM t ORDER BY n DESC, tag LIMIT $4::int) l), '[]'))::text",
                 4, p);
}
