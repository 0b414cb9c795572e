/*
 * tf_auth.c - see tf_auth.h.
 */
#include "tf_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tf_crypto.h"
#include "tf_db.h"
#include "tf_jwt.h"
#include "tf_keycache.h"
#include "tf_log.h"
#include "tf_server.h"
#include "tf_tiers.h"

#define CACHE_SLOTS 512
#define CACHE_TTL_NS TF_AUTH_CACHE_TTL_NS

typedef struct cached_user {
    char id[40];
    char email[256];
    int tier, is_admin, disabled;
    double valid_after; /* users.tokens_valid_after, epoch seconds */
    uint64_t fetched_ns;
    uint64_t epoch;
} cached_user_t;

static __thread cached_user_t *cache;
static __thread tf_keycache_t *key_tab;
static uint64_t invalidation_epoch = 1;

static uint64_t epoch_now(void)
{
    return __atomic_load_n(&invalidation_epoch, __ATOMIC_ACQUIRE);
}

void tf_auth_invalidate_all(void)
{
    __atomic_add_fetch(&invalidation_epoch, 1, __ATOMIC_RELEASE);
}

/*
 * Verified access tokens, per thread. Checking a JWT (base64, JSON, HMAC)
 * cost more than the rest of a request; a token seen before is compared
 * byte for byte instead. Only fully verified tokens enter, tied to the key
 * set that verified them (a reload with new keys misses), and each still
 * expires on its own exp.
 */
#define TOK_SLOTS 512
#define TOK_MAX 1024
typedef struct tok_entry {
    const tf_jwt_keys_t *keys;
    size_t len;
    uint32_t sub_hash; /* fnv(cl.sub): the user cache slot, hashed once */
    tf_jwt_claims_t cl;
    char tok[TOK_MAX];
} tok_entry_t;
static __thread tok_entry_t *tok_cache;

static uint32_t fnv(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/*
 * The slot of a token: its last 8 bytes are signature (base64url of an HMAC
 * or a signature), as random as any hash of them would be. A crafted token
 * can only evict another from its slot, which costs a verification.
 */
static size_t tok_slot(const char *tok, size_t len)
{
    uint64_t v = 0;
    memcpy(&v, tok + (len >= 8 ? len - 8 : 0), len >= 8 ? 8 : len);
    return (size_t)((v * 0x9e3779b97f4a7c15ull) >> 32) % TOK_SLOTS;
}

/*
 * Verifies `tok`, from the cache when it was verified before. On success
 * *clp points at the claims (in the cache, or in `own`) and *sub_hash is
 * fnv(sub), the user cache slot.
 */
static int verify_cached(const tf_jwt_keys_t *keys, const char *tok, size_t len, long long now, tf_jwt_claims_t *own,
                         const tf_jwt_claims_t **clp, uint32_t *sub_hash, char *why, size_t whylen)
{
    if (len > TOK_MAX) {
        if (tf_jwt_verify(keys, tok, len, now, own, why, whylen) != 0)
            return -1;
        *clp = own;
        *sub_hash = fnv(own->sub, strlen(own->sub));
        return 0;
    }
    if (tok_cache == NULL)
        tok_cache = calloc(TOK_SLOTS, sizeof(*tok_cache));
    tok_entry_t *e = &tok_cache[tok_slot(tok, len)];
    if (e->keys == keys && e->len == len && memcmp(e->tok, tok, len) == 0) {
        if (e->cl.exp > now - 30) {
            *clp = &e->cl;
            *sub_hash = e->sub_hash;
            return 0;
        }
        e->keys = NULL;
    }
    if (tf_jwt_verify(keys, tok, len, now, own, why, whylen) != 0)
        return -1;
    e->keys = keys;
    e->len = len;
    e->cl = *own;
    e->sub_hash = fnv(own->sub, strlen(own->sub));
    memcpy(e->tok, tok, len);
    *clp = &e->cl;
    *sub_hash = e->sub_hash;
    return 0;
}

void tf_auth_thread_exit(void)
{
    free(cache);
    cache = NULL;
    free(tok_cache);
    tok_cache = NULL;
    tf_keycache_free(key_tab);
    key_tab = NULL;
}

static cached_user_t *cache_slot(uint32_t id_hash)
{
    if (cache == NULL)
        cache = calloc(CACHE_SLOTS, sizeof(*cache));
    return &cache[id_hash % CACHE_SLOTS];
}

static const cached_user_t *cache_get(const char *id, uint32_t id_hash)
{
    cached_user_t *c = cache_slot(id_hash);
    if (strcmp(c->id, id) != 0 || c->epoch != epoch_now() ||
        tf_now_ns() - c->fetched_ns > CACHE_TTL_NS)
        return NULL;
    return c;
}

static void unauthorized(tf_req_t *r, const char *code, const char *msg)
{
    tf_add_header(r, "www-authenticate", "Bearer realm=\"triforce\", error=\"invalid_token\"");
    tf_respond_error(r, 401, code, NULL, "%s", msg);
}

static int is_admin_email(const tf_conf_t *c, const char *email)
{
    for (unsigned i = 0; i < c->admins_count; i++)
        if (strcasecmp(c->admins[i], email) == 0)
            return 1;
    return 0;
}

int tf_auth_who_from_row(tf_req_t *r, const char *id, const char *email, const char *tier, int is_admin)
{
    int t = tf_tier_find(tier);
    r->who.authenticated = 1;
    snprintf(r->who.user_id, sizeof(r->who.user_id), "%s", id);
    snprintf(r->who.subject, sizeof(r->who.subject), "%s", email);
    r->who.tier = t >= 0 ? t : TF_TIER_REGISTERED;
    r->who.is_admin = is_admin || is_admin_email(r->conf, email);
    return 0;
}

/* --- the user row, for tokens and proxies --------------------------------- */

typedef struct lookup {
    tf_auth_done_fn done;
    long long token_iat; /* JWT iat, or -1 when not a JWT */
    uint64_t epoch;      /* when the lookup started: a change announced meanwhile voids what it finds */
    const char *key_hash; /* an API key's lookup: its hash, for the key cache */
} lookup_t;

/* Columns: id, email, tier, is_admin, disabled, tokens_valid_after (epoch). */
#define USER_COLUMNS "u.id::text, u.email, u.tier, u.is_admin, u.disabled, extract(epoch from u.tokens_valid_after)::float8"

static cached_user_t *remember(const char *id, const char *email, int tier, int admin, int disabled, double valid_after,
                               uint64_t epoch)
{
    cached_user_t *c = cache_slot(fnv(id, strlen(id)));
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->email, sizeof(c->email), "%s", email);
    c->tier = tier;
    c->is_admin = admin;
    c->disabled = disabled;
    c->valid_after = valid_after;
    c->fetched_ns = tf_now_ns();
    c->epoch = epoch;
    return c;
}

/* Applies a cached or fetched user; returns 0 to go on, -1 after answering. */
static int apply_user(tf_req_t *r, const cached_user_t *u, long long token_iat)
{
    if (u->disabled) {
        tf_respond_error(r, 403, "account_disabled", NULL, "this account is disabled");
        return -1;
    }
    if (token_iat >= 0 && (double)token_iat < u->valid_after) {
        unauthorized(r, "token_revoked", "this token was revoked (logged out); log in or refresh again");
        return -1;
    }
    r->who.authenticated = 1;
    /* Same sizes, and remember() keeps both terminated: plain copies. */
    _Static_assert(sizeof(r->who.user_id) == sizeof(u->id) && sizeof(r->who.subject) == sizeof(u->email), "identity sizes");
    memcpy(r->who.user_id, u->id, strlen(u->id) + 1);
    memcpy(r->who.subject, u->email, strlen(u->email) + 1);
    r->who.tier = u->tier;
    r->who.is_admin = u->is_admin || is_admin_email(r->conf, u->email);
    return 0;
}

static tf_keycache_t *key_cache(void)
{
    if (key_tab == NULL)
        key_tab = tf_keycache_create();
    return key_tab;
}

static void on_touched(void *ud, PGresult *res, const char *err)
{
    /* last_used_at is informative: a failed write costs the request nothing. */
    if (err != NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        tf_log(TF_LOG_DEBUG, "api", NULL, "API key last use not recorded: %s", err != NULL ? err : PQresultErrorMessage(res));
}

/* Records a key's use, fire-and-forget: nothing waits for it. The WHERE
 * keeps it to one write a minute across threads and nodes too. */
static void touch_key(tf_req_t *r, const char *key_id)
{
    const char *p[1] = {key_id};
    tf_db_query(r->thr->db,
                "UPDATE api_keys SET last_used_at = now() WHERE id = $1::uuid AND "
                "(last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')",
                1, p, on_touched, NULL);
}

static void on_user_row(void *ud, PGresult *res, const char *err)
{
    tf_req_t *r = ud;
    lookup_t *lk = r->auth_ctx;
    r->dbq = NULL;
    if (err != NULL) {
        tf_respond_db_unavailable(r);
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* e.g. a signed token whose sub is not a uuid */
        tf_log(TF_LOG_WARN, "api", r->id, "credential lookup failed: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        unauthorized(r, "invalid_credentials", "the credentials are not valid");
        return;
    }
    if (PQntuples(res) != 1) {
        if (lk->key_hash != NULL) {
            /* Unknown or revoked: remembered, and counted against the address. */
            tf_keycache_put(key_cache(), lk->key_hash, NULL, NULL, lk->epoch, tf_now_ns(), -1);
            tf_keycache_miss_charge(key_cache(), tf_req_limit_key(r), tf_now_ns());
        }
        unauthorized(r, "invalid_credentials", "the credentials are not valid");
        return;
    }
    int tier = tf_tier_find(PQgetvalue(res, 0, 2));
    cached_user_t *u = remember(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), tier >= 0 ? tier : TF_TIER_REGISTERED,
                                PQgetvalue(res, 0, 3)[0] == 't', PQgetvalue(res, 0, 4)[0] == 't', strtod(PQgetvalue(res, 0, 5), NULL),
                                lk->epoch);
    if (lk->key_hash != NULL && PQnfields(res) >= 8) {
        double age = PQgetisnull(res, 0, 7) ? -1 : strtod(PQgetvalue(res, 0, 7), NULL);
        if (tf_keycache_put(key_cache(), lk->key_hash, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 6), lk->epoch, tf_now_ns(), age))
            touch_key(r, PQgetvalue(res, 0, 6));
    }
    if (apply_user(r, u, lk->token_iat) == 0)
        lk->done(r);
}

static int lookup_key(tf_req_t *r, tf_auth_done_fn done, long long token_iat, const char *key_hash, const char *sql,
                      const char *param)
{
    lookup_t *lk = h2o_mem_alloc_pool(&r->h2o->pool, sizeof(*lk));
    lk->done = done;
    lk->token_iat = token_iat;
    lk->epoch = epoch_now();
    lk->key_hash = key_hash;
    r->auth_ctx = lk;
    const char *params[1] = {param};
    r->dbq = tf_db_query(r->thr->db, sql, 1, params, on_user_row, r);
    if (r->dbq == NULL) {
        tf_respond_db_unavailable(r);
        return -1;
    }
    return 0;
}

static int lookup(tf_req_t *r, tf_auth_done_fn done, long long token_iat, const char *sql, const char *param)
{
    return lookup_key(r, done, token_iat, NULL, sql, param);
}

/* An API key: from the key cache when it knows the key (no database round
 * trip), else one SELECT; last_used_at is written on the side. */
static int identify_key(tf_req_t *r, tf_auth_done_fn done, const char *tok, size_t tlen)
{
    char hash[67];
    tf_crypto_sha256_bytea(tok, tlen, hash);
    tf_keycache_t *kc = key_cache();
    uint64_t now = tf_now_ns();
    char uid[40], kid[40];
    int touch;
    switch (tf_keycache_get(kc, hash, epoch_now(), now, uid, kid, &touch)) {
    case TF_KEY_UNKNOWN:
        unauthorized(r, "invalid_credentials", "the credentials are not valid");
        return -1;
    case TF_KEY_VALID: {
        if (touch)
            touch_key(r, kid);
        const cached_user_t *u = cache_get(uid, fnv(uid, strlen(uid)));
        if (u != NULL)
            return apply_user(r, u, -1) == 0 ? 1 : -1;
        /* The user's slot went to someone else: fetch the user alone. */
        return lookup(r, done, -1, "SELECT " USER_COLUMNS " FROM users u WHERE u.id = $1::uuid",
                      h2o_strdup(&r->h2o->pool, uid, strlen(uid)).base);
    }
    default:
        break;
    }
    unsigned retry_after;
    if (!tf_keycache_was_valid(kc, hash) && !tf_keycache_miss_allowed(kc, tf_req_limit_key(r), now, &retry_after)) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry_after);
        tf_add_header(r, "retry-after", ra);
        tf_respond_error(r, 429, "too_many_invalid_keys", NULL, "too many unknown API keys from this address; retry later");
        return -1;
    }
    char *h = h2o_strdup(&r->h2o->pool, hash, sizeof(hash) - 1).base;
    return lookup_key(r, done, -1, h, "SELECT " USER_COLUMNS ", k.id::text, extract(epoch from now() - k.last_used_at)::float8 "
                      "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1::bytea AND k.revoked_at IS NULL", h);
}

/* --- entry point ----------------------------------------------------------- */

int tf_auth_peer_is_trusted_proxy(tf_req_t *r)
{
    if (r->conf->trusted_proxies_count == 0)
        return 0;
    /* The connection's own peer: a forwarded address must never make itself trusted. */
    return tf_addr_in_nets(r->conf->trusted_proxies, r->conf->trusted_proxies_count, tf_req_peer(r));
}

static int is_mcp_path(h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    return (p.len == 4 && memcmp(p.base, "/mcp", 4) == 0) || (p.len == 7 && memcmp(p.base, "/v1/mcp", 7) == 0);
}

int tf_auth_identify(tf_req_t *r, tf_auth_done_fn done)
{
    memset(&r->who, 0, sizeof(r->who));
    r->who.tier = TF_TIER_GUEST;
    h2o_req_t *req = r->h2o;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) {
        /* The seeds' bare X-User-ID is believed only from a configured proxy. */
        ssize_t x = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-user-id"), -1);
        if (x >= 0 && tf_auth_peer_is_trusted_proxy(r)) {
            h2o_iovec_t v = req->headers.entries[x].value;
            char *email = h2o_strdup(&req->pool, v.base, v.len).base;
            return lookup(r, done, -1, "SELECT " USER_COLUMNS " FROM users u WHERE lower(u.email) = lower($1)", email);
        }
        /* Conformance mode (tests, loopback only; see tf_conf.c): the MCP
         * endpoint treats a caller without credentials as the configured user. */
        if (r->conf->mcp_conformance_user != NULL && is_mcp_path(req))
            return lookup(r, done, -1, "SELECT " USER_COLUMNS " FROM users u WHERE lower(u.email) = lower($1)",
                          r->conf->mcp_conformance_user);
        return 1;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 8 || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer "))) {
        unauthorized(r, "invalid_credentials", "use Authorization: Bearer <token or API key>");
        return -1;
    }
    const char *tok = v.base + 7;
    size_t tlen = v.len - 7;
    while (tlen > 0 && *tok == ' ')
        tok++, tlen--;

    if (tlen > 3 && memcmp(tok, "tf_", 3) == 0)
        return identify_key(r, done, tok, tlen);

    if (r->conf->jwt == NULL) {
        unauthorized(r, "auth_not_configured", "token authentication is not configured on this server");
        return -1;
    }
    tf_jwt_claims_t own;
    const tf_jwt_claims_t *cl;
    uint32_t sub_hash;
    char why[128];
    if (verify_cached(r->conf->jwt, tok, tlen, (long long)time(NULL), &own, &cl, &sub_hash, why, sizeof(why)) != 0) {
        tf_log(TF_LOG_INFO, "api", r->id, "token refused: %s", why); /* the reason, never the token */
        unauthorized(r, "invalid_token", why);
        return -1;
    }
    const cached_user_t *u = cache_get(cl->sub, sub_hash);
    if (u != NULL)
        return apply_user(r, u, cl->iat) == 0 ? 1 : -1;
    return lookup(r, done, cl->iat, "SELECT " USER_COLUMNS " FROM users u WHERE u.id = $1::uuid", h2o_strdup(&req->pool, cl->sub, strlen(cl->sub)).base);
}
