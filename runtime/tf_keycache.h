/*
 * tf_keycache - one event-loop thread's memory of API keys, so a request
 * with a key seen recently needs no database round trip.
 *
 * An entry maps a key's SHA-256 (the bytea text tf_crypto_sha256_bytea
 * makes) to its user and key id, or records that no live key has that
 * hash (unknown or revoked), so a client repeating a bad key costs nothing
 * either. Entries live TF_AUTH_CACHE_TTL_NS and are void as soon as the
 * caller's invalidation epoch moves (tf_auth_invalidate_all: a key revoked,
 * a user disabled, on this node or another one), so a revocation applies
 * to the very next request.
 *
 * The entry also remembers when the key's last_used_at was last written,
 * so the caller writes it at most once per TF_KEYCACHE_TOUCH_NS.
 *
 * Lookups of keys that are not cached go to the database; a client sending
 * many different unknown keys would make every one of them a query. Per
 * client address (an IPv6 address by its /64), unknown results draw on a
 * token bucket (burst TF_KEYCACHE_MISS_BURST, refilled at
 * TF_KEYCACHE_MISS_PER_S); once it is empty, uncached keys from that
 * address are refused without a query until it refills. Buckets live in a
 * small hashed table: addresses that share a slot share its balance (a
 * newcomer never starts with a fresh burst). Valid keys never draw on it, and a key this thread has seen
 * valid before (its entry expired or voided since) is looked up regardless,
 * so a client sharing an address with a flood keeps working.
 *
 * No locks and no loop: per thread, like the rest of tf_auth's caches;
 * time and epoch are passed in (unit tests drive them).
 */
#ifndef TF_KEYCACHE_H
#define TF_KEYCACHE_H

#include <stdint.h>

/* How long a cached user or key is believed without asking again. */
#define TF_AUTH_CACHE_TTL_NS (3ull * 1000000000ull)
/* last_used_at is written at most this often per key. */
#define TF_KEYCACHE_TOUCH_NS (60ull * 1000000000ull)
#define TF_KEYCACHE_MISS_BURST 20
#define TF_KEYCACHE_MISS_PER_S 10

/* The hash text: "\x" and 64 hex digits. */
#define TF_KEYCACHE_HASH_LEN 66

typedef struct tf_keycache tf_keycache_t;

tf_keycache_t *tf_keycache_create(void);
void tf_keycache_free(tf_keycache_t *c);

enum { TF_KEY_MISS = 0, TF_KEY_VALID = 1, TF_KEY_UNKNOWN = 2 };

/*
 * Looks `hash` up as of `epoch`. TF_KEY_VALID fills user_id and key_id and
 * sets *touch to 1 when last_used_at is due (and counts it as written now:
 * the caller writes it). TF_KEY_UNKNOWN: no live key has that hash.
 */
int tf_keycache_get(tf_keycache_t *c, const char *hash, uint64_t epoch, uint64_t now_ns, char user_id[40], char key_id[40],
                    int *touch);

/*
 * Remembers a lookup: user_id NULL for no live key. `epoch` is the one read
 * when the lookup started, so a change announced while it ran leaves the
 * entry void. used_age_s: seconds since last_used_at, < 0 for never.
 * Returns 1 when last_used_at is due (counted as written now).
 */
int tf_keycache_put(tf_keycache_t *c, const char *hash, const char *user_id, const char *key_id, uint64_t epoch, uint64_t now_ns,
                    double used_age_s);

/* 1 when this thread last knew `hash` as a live key (expired or voided since). */
int tf_keycache_was_valid(tf_keycache_t *c, const char *hash);

/* 1: an uncached key from addr may be looked up; 0: refuse, *retry_after_s set. */
int tf_keycache_miss_allowed(tf_keycache_t *c, const char *addr, uint64_t now_ns, unsigned *retry_after_s);
/* A lookup from addr found no live key: one token less. */
void tf_keycache_miss_charge(tf_keycache_t *c, const char *addr, uint64_t now_ns);

#endif
