/*
 * tf_keycache.c - see tf_keycache.h.
 */
#include "tf_keycache.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SLOTS 512
#define ADDR_SLOTS 256
/* How far into debt a concurrent burst of unknown keys drives an address. */
#define MISS_FLOOR (-(double)TF_KEYCACHE_MISS_BURST)

typedef struct key_entry {
    char hash[TF_KEYCACHE_HASH_LEN + 1]; /* "" when free */
    int valid;                           /* 0: no live key has this hash */
    char user_id[40], key_id[40];
    uint64_t fetched_ns, epoch;
    uint64_t touched_ns; /* when last_used_at was last written (as far as we know) */
    int touched_known;
} key_entry_t;

/*
 * A token bucket per slot, not per address: every address that hashes to
 * the slot draws on the one balance. Giving a newcomer a full burst would
 * let a client rotating through colliding addresses refill at will; the
 * price is that an address sharing a slot with a flood is refused unknown
 * keys too (its known keys never draw on the budget).
 */
typedef struct addr_bucket {
    double tokens;
    uint64_t at_ns;
    int used; /* 0: a fresh slot, full burst */
} addr_bucket_t;

struct tf_keycache {
    key_entry_t keys[KEY_SLOTS];
    addr_bucket_t addrs[ADDR_SLOTS];
};

static uint32_t fnv(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

tf_keycache_t *tf_keycache_create(void)
{
    return calloc(1, sizeof(tf_keycache_t));
}

void tf_keycache_free(tf_keycache_t *c)
{
    free(c);
}

static key_entry_t *slot(tf_keycache_t *c, const char *hash)
{
    /* A SHA-256 is uniformly random already: its last 8 hex digits are a fine index. */
    size_t n = strlen(hash);
    return &c->keys[strtoul(hash + (n > 8 ? n - 8 : 0), NULL, 16) % KEY_SLOTS];
}

static int touch_due(key_entry_t *e, uint64_t now_ns)
{
    if (e->touched_known && now_ns - e->touched_ns < TF_KEYCACHE_TOUCH_NS)
        return 0;
    e->touched_ns = now_ns;
    e->touched_known = 1;
    return 1;
}

int tf_keycache_get(tf_keycache_t *c, const char *hash, uint64_t epoch, uint64_t now_ns, char user_id[40], char key_id[40],
                    int *touch)
{
    *touch = 0;
    key_entry_t *e = slot(c, hash);
    if (strcmp(e->hash, hash) != 0 || e->epoch != epoch || now_ns - e->fetched_ns > TF_AUTH_CACHE_TTL_NS)
        return TF_KEY_MISS;
    if (!e->valid)
        return TF_KEY_UNKNOWN;
    memcpy(user_id, e->user_id, sizeof(e->user_id));
    memcpy(key_id, e->key_id, sizeof(e->key_id));
    *touch = touch_due(e, now_ns);
    return TF_KEY_VALID;
}

int tf_keycache_put(tf_keycache_t *c, const char *hash, const char *user_id, const char *key_id, uint64_t epoch, uint64_t now_ns,
                    double used_age_s)
{
    key_entry_t *e = slot(c, hash);
    /* An unknown key never evicts a live one: a flood of made-up keys
     * would otherwise push real clients' keys out and into the budget. */
    if (user_id == NULL && e->valid && strcmp(e->hash, hash) != 0)
        return 0;
    if (strcmp(e->hash, hash) != 0) {
        memset(e, 0, sizeof(*e));
        snprintf(e->hash, sizeof(e->hash), "%s", hash);
    }
    e->fetched_ns = now_ns;
    e->epoch = epoch;
    e->valid = user_id != NULL;
    if (!e->valid)
        return 0;
    snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
    snprintf(e->key_id, sizeof(e->key_id), "%s", key_id);
    /* The later of the database's word (another thread or node may have
     * written since) and ours (our write may not have committed yet). */
    if (used_age_s >= 0 && used_age_s * 1e9 < (double)TF_KEYCACHE_TOUCH_NS) {
        uint64_t db = now_ns - (uint64_t)(used_age_s * 1e9);
        if (!e->touched_known || db > e->touched_ns)
            e->touched_ns = db;
        e->touched_known = 1;
    }
    return touch_due(e, now_ns);
}

int tf_keycache_was_valid(tf_keycache_t *c, const char *hash)
{
    key_entry_t *e = slot(c, hash);
    return e->valid && strcmp(e->hash, hash) == 0;
}

/*
 * What an address is budgeted as: an IPv6 address by its /64, since one
 * subscriber (one attacker) gets a whole /64 and could otherwise draw a
 * fresh budget from every address in it. An IPv4-mapped IPv6 address is
 * its IPv4 address. Anything else (IPv4, "unknown") is taken as it is.
 */
static void addr_key(const char *addr, char out[INET6_ADDRSTRLEN + 3])
{
    struct in6_addr a;
    if (inet_pton(AF_INET6, addr, &a) != 1) {
        snprintf(out, INET6_ADDRSTRLEN + 3, "%s", addr);
        return;
    }
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        inet_ntop(AF_INET, &a.s6_addr[12], out, INET6_ADDRSTRLEN);
        return;
    }
    memset(&a.s6_addr[8], 0, 8);
    inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN);
    strcat(out, "/64");
}

static addr_bucket_t *bucket(tf_keycache_t *c, const char *addr, uint64_t now_ns)
{
    char key[INET6_ADDRSTRLEN + 3];
    addr_key(addr, key);
    addr_bucket_t *b = &c->addrs[fnv(key) % ADDR_SLOTS];
    if (!b->used)
        b->tokens = TF_KEYCACHE_MISS_BURST;
    else
        b->tokens += (double)(now_ns - b->at_ns) / 1e9 * TF_KEYCACHE_MISS_PER_S;
    b->used = 1;
    if (b->tokens > TF_KEYCACHE_MISS_BURST)
        b->tokens = TF_KEYCACHE_MISS_BURST;
    b->at_ns = now_ns;
    return b;
}

int tf_keycache_miss_allowed(tf_keycache_t *c, const char *addr, uint64_t now_ns, unsigned *retry_after_s)
{
    addr_bucket_t *b = bucket(c, addr, now_ns);
    if (b->tokens >= 1)
        return 1;
    double wait = (1 - b->tokens) / TF_KEYCACHE_MISS_PER_S;
    *retry_after_s = (unsigned)wait + 1;
    return 0;
}

void tf_keycache_miss_charge(tf_keycache_t *c, const char *addr, uint64_t now_ns)
{
    addr_bucket_t *b = bucket(c, addr, now_ns);
    b->tokens -= 1;
    if (b->tokens < MISS_FLOOR)
        b->tokens = MISS_FLOOR;
}
