/*
 * tools/resources.c - handlers of the dynamic MCP resources of
 * spec/resources.yaml (see runtime/tf_resource.h): the tiers, the models
 * the caller's tier may use, and the caller's memories.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/tf_api.h"
#include "tf_catalog.h"
#include "tf_db.h"
#include "tf_mesh.h"
#include "tf_providers.h"
#include "tf_resource.h"
#include "tf_server.h"
#include "tf_tiers.h"

int tf_resource_tiers(tf_resource_read_t *rd)
{
    json_t *a = json_array();
    for (size_t i = 0; i < tf_tiers_count; i++)
        json_array_append_new(a, tf_tier_to_json(tf_conf_tier(rd->r->conf, (int)i)));
    tf_resource_json(rd, json_pack("{s:o}", "tiers", a));
    return 0;
}

int tf_resource_models(tf_resource_read_t *rd)
{
    const tf_tier_t *t = tf_conf_tier(rd->r->conf, rd->r->who.tier);
    json_t *a = json_array();
    for (size_t k = 0; k < tf_providers_count; k++)
        for (size_t i = 0; i < tf_providers[k].nmodels; i++) {
            const tf_spec_model_t *m = &tf_providers[k].models[i];
            if (tf_mesh_tier_allows(t, m->name))
                json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:f, s:f}", "model", m->name, "provider", tf_providers[k].id,
                                                   "family", m->family ? m->family : "", "quality", m->quality, "cost_input_per_mtok",
                                                   m->cost_input, "cost_output_per_mtok", m->cost_output));
        }
    tf_resource_json(rd, json_pack("{s:s, s:o}", "tier", t->id, "models", a));
    return 0;
}

/* --- memories (the table of tools/memory.c) ------------------------------------------------ */

static void on_recent(void *ud, PGresult *res, const char *err)
{
    tf_resource_read_t *rd = ud;
    rd->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        tf_resource_not_found(rd);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", PQgetvalue(res, i, 0), "uri", "", "namespace", PQgetvalue(res, i, 1),
                              "preview", PQgetvalue(res, i, 3), "updated_at", PQgetvalue(res, i, 4));
        char uri[80];
        snprintf(uri, sizeof(uri), "triforce://memory/%s", PQgetvalue(res, i, 0));
        json_object_set_new(e, "uri", json_string(uri));
        json_object_set_new(e, "key", PQgetisnull(res, i, 2) ? json_null() : json_string(PQgetvalue(res, i, 2)));
        json_array_append_new(a, e);
    }
    tf_resource_json(rd, json_pack("{s:o}", "memories", a));
}

int tf_resource_memory_recent(tf_resource_read_t *rd)
{
    const char *p[1] = {rd->r->who.user_id};
    rd->r->dbq = tf_db_query(rd->r->thr->db,
                             "SELECT id::text, namespace, key, left(content, 200), to_char(updated_at AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM memories WHERE user_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT 50",
                             1, p, on_recent, rd);
    return rd->r->dbq != NULL ? 0 : -1;
}

static void on_item(void *ud, PGresult *res, const char *err)
{
    tf_resource_read_t *rd = ud;
    rd->r->dbq = NULL;
    if (err != NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        tf_resource_not_found(rd);
        return;
    }
    json_t *m = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (m == NULL)
        tf_resource_not_found(rd);
    else
        tf_resource_json(rd, m);
}

int tf_resource_memory_item(tf_resource_read_t *rd)
{
    const char *id = json_string_value(json_object_get(rd->vars, "id"));
    /* Only a uuid can name a memory; anything else is simply not found (no query). */
    int ok = id != NULL && strlen(id) == 36;
    for (size_t i = 0; ok && i < 36; i++)
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? id[i] == '-' : strchr("0123456789abcdefABCDEF", id[i]) != NULL;
    if (!ok) {
        tf_resource_not_found(rd);
        return 0;
    }
    const char *p[2] = {rd->r->who.user_id, id};
    rd->r->dbq = tf_db_query(rd->r->thr->db,
                             "SELECT json_build_object('id', id, 'namespace', namespace, 'key', key, 'content', content, 'tags', tags, "
                             "'metadata', metadata, 'created_at', created_at, 'updated_at', updated_at)::text "
                             "FROM memories WHERE user_id = $1::uuid AND id = $2::uuid",
                             2, p, on_item, rd);
    return rd->r->dbq != NULL ? 0 : -1;
}

/* The conformance suite's template fixture: test://template/{id}/data. */
int tf_resource_fixture_template(tf_resource_read_t *rd)
{
    const char *id = json_string_value(json_object_get(rd->vars, "id"));
    char data[200];
    snprintf(data, sizeof(data), "Data for ID: %s", id ? id : "");
    tf_resource_json(rd, json_pack("{s:s, s:b, s:s}", "id", id ? id : "", "templateTest", 1, "data", data));
    return 0;
}
