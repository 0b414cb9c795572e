/*
 * tf_keycache unit test: hits and misses, the epoch (a revocation anywhere
 * voids every entry), the TTL, negative entries, the once-a-minute
 * last_used_at rule (ours and the database's word), the per-address
 * budget for unknown keys (burst, refill, Retry-After, valid keys free,
 * shared slots inherit their balance, IPv6 by /64), and the hash-tail index.
 *
 * Build: cc -Iruntime tests/unit/test_keycache.c runtime/tf_keycache.c
 */
#include "tap.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tf_keycache.h"


#define S 1000000000ull

static void hash_of(char *out, int i)
{
    snprintf(out, TF_KEYCACHE_HASH_LEN + 1, "\\x%064x", i);
}

int main(void)
{
    tf_keycache_t *c = tf_keycache_create();
    char h[TF_KEYCACHE_HASH_LEN + 1], h2[TF_KEYCACHE_HASH_LEN + 1], h3[TF_KEYCACHE_HASH_LEN + 1], uid[40], kid[40];
    int touch;
    uint64_t t = 1000 * S;
    hash_of(h, 1);
    hash_of(h2, 2);
    hash_of(h3, 3);

    ok(tf_keycache_get(c, h, 1, t, uid, kid, &touch) == TF_KEY_MISS, "empty cache: miss");
    ok(tf_keycache_put(c, h, "user-1", "key-1", 1, t, -1) == 1, "a key never used: last_used_at due at once");
    ok(tf_keycache_get(c, h, 1, t + 1, uid, kid, &touch) == TF_KEY_VALID && strcmp(uid, "user-1") == 0 && strcmp(kid, "key-1") == 0,
       "hit: user and key id");
    ok(touch == 0, "  ... last_used_at not due again within the minute");
    ok(tf_keycache_get(c, h, 2, t + 1, uid, kid, &touch) == TF_KEY_MISS, "the epoch moved (revocation, disabled user): miss");
    ok(tf_keycache_get(c, h, 1, t + TF_AUTH_CACHE_TTL_NS + 1, uid, kid, &touch) == TF_KEY_MISS, "past the TTL: miss");
    ok(tf_keycache_get(c, h2, 1, t, uid, kid, &touch) == TF_KEY_MISS, "another hash: miss");

    /* A lookup that started before a change lands with the old epoch. */
    tf_keycache_put(c, h, "user-1", "key-1", 1, t, 5);
    ok(tf_keycache_get(c, h, 2, t, uid, kid, &touch) == TF_KEY_MISS, "an entry put with the epoch its lookup started in is void after a bump");

    /* last_used_at: the database says 50 s ago -> due 10 s later, once. */
    ok(tf_keycache_put(c, h3, "user-1", "key-1", 3, t, 50) == 0, "last used 50 s ago (database): not due");
    tf_keycache_get(c, h3, 3, t + 2 * S, uid, kid, &touch);
    ok(touch == 0, "  ... 2 s later: not due");
    ok(tf_keycache_put(c, h3, "user-1", "key-1", 3, t + 11 * S, 61) == 1, "refreshed 11 s later (database still says 50 s then): due");
    ok(tf_keycache_put(c, h3, "user-1", "key-1", 3, t + 12 * S, 62) == 0,
       "  ... and not again while the database still shows the old time (our write has not landed)");
    ok(tf_keycache_put(c, h3, "user-1", "key-1", 3, t + 12 * S, 0.5) == 0, "  ... nor once it shows ours");
    tf_keycache_get(c, h3, 3, t + 12 * S + TF_AUTH_CACHE_TTL_NS / 2, uid, kid, &touch);
    ok(touch == 0, "a cached hit within the minute: not due");
    tf_keycache_put(c, h3, "user-1", "key-1", 3, t + 71 * S, 59.5);
    tf_keycache_get(c, h3, 3, t + 72 * S + S / 2, uid, kid, &touch);
    ok(touch == 1, "a cached hit once the minute is over: due");
    tf_keycache_get(c, h3, 3, t + 72 * S + S / 2 + 1, uid, kid, &touch);
    ok(touch == 0, "  ... once");

    ok(tf_keycache_was_valid(c, h3) && !tf_keycache_was_valid(c, h2), "was_valid: a key seen live, not one never seen");
    ok(tf_keycache_get(c, h3, 99, t + 500 * S, uid, kid, &touch) == TF_KEY_MISS && tf_keycache_was_valid(c, h3),
       "  ... still after its entry expired and the epoch moved (so it skips the unknown-key budget)");

    /* Negative entries. */
    tf_keycache_put(c, h2, NULL, NULL, 3, t, -1);
    ok(tf_keycache_get(c, h2, 3, t + S, uid, kid, &touch) == TF_KEY_UNKNOWN, "an unknown key is remembered as unknown");
    ok(tf_keycache_get(c, h2, 3, t + TF_AUTH_CACHE_TTL_NS + 1, uid, kid, &touch) == TF_KEY_MISS, "  ... for the TTL only");
    tf_keycache_put(c, h, NULL, NULL, 4, t, -1);
    ok(tf_keycache_get(c, h, 4, t, uid, kid, &touch) == TF_KEY_UNKNOWN && !tf_keycache_was_valid(c, h),
       "a revoked key (no live row) turns unknown in place");

    /* The budget for unknown keys, per address. */
    unsigned ra = 0;
    int allowed = 0;
    uint64_t u = 5000 * S;
    for (int i = 0; i < 100; i++)
        if (tf_keycache_miss_allowed(c, "10.0.0.1", u, &ra)) {
            allowed++;
            tf_keycache_miss_charge(c, "10.0.0.1", u);
        }
    ok(allowed == TF_KEYCACHE_MISS_BURST, "100 unknown keys at once from one address: %d looked up (burst %d)", allowed,
       TF_KEYCACHE_MISS_BURST);
    int refused = !tf_keycache_miss_allowed(c, "10.0.0.1", u, &ra);
    ok(refused && ra >= 1, "  ... then refused, Retry-After %u s", ra);
    ok(tf_keycache_miss_allowed(c, "10.0.0.2", u, &ra), "  ... another address is not affected");
    ok(tf_keycache_miss_allowed(c, "10.0.0.1", u + S / TF_KEYCACHE_MISS_PER_S + 1000, &ra), "one refill interval later: one more lookup");
    /* A flood of concurrent lookups (allowed, then all unknown) drives the address into debt. */
    for (int i = 0; i < 200; i++)
        tf_keycache_miss_charge(c, "10.0.0.3", u);
    refused = !tf_keycache_miss_allowed(c, "10.0.0.3", u + S, &ra);
    ok(refused && ra >= 2, "a concurrent flood leaves a debt: refused 1 s later (Retry-After %u)", ra);
    ok(tf_keycache_miss_allowed(c, "10.0.0.3", u + S * (2 * TF_KEYCACHE_MISS_BURST / TF_KEYCACHE_MISS_PER_S + 1), &ra),
       "  ... but the debt is bounded: allowed again after %d s", 2 * TF_KEYCACHE_MISS_BURST / TF_KEYCACHE_MISS_PER_S + 1);

    /* Budget slots are shared: an address that lands in a drained slot
     * inherits its balance, so rotating through colliding addresses buys no
     * fresh burst. The first of 2000 addresses refused right after 10.5.0.1
     * drained its budget is one that shares its slot. */
    {
        tf_keycache_t *k = tf_keycache_create();
        uint64_t v = 7000 * S;
        while (tf_keycache_miss_allowed(k, "10.5.0.1", v, &ra))
            tf_keycache_miss_charge(k, "10.5.0.1", v);
        char other[48] = "";
        for (int i = 0; i < 2000 && other[0] == '\0'; i++) {
            char a[48];
            snprintf(a, sizeof(a), "10.6.%d.%d", i / 256, i % 256);
            if (!tf_keycache_miss_allowed(k, a, v, &ra))
                snprintf(other, sizeof(other), "%s", a);
        }
        ok(other[0] != '\0', "an address sharing a drained slot (%s) starts with its empty balance, not a fresh burst", other);
        ok(!tf_keycache_miss_allowed(k, "10.5.0.1", v, &ra), "  ... and its visit gave the first address no fresh burst either");
        allowed = 0;
        for (int i = 0; i < 100; i++)
            if (tf_keycache_miss_allowed(k, other, v + S, &ra)) {
                allowed++;
                tf_keycache_miss_charge(k, other, v + S);
            }
        ok(allowed == TF_KEYCACHE_MISS_PER_S, "  ... 1 s later it may look up what the slot refilled: %d (rate %d/s, burst %d)", allowed,
           TF_KEYCACHE_MISS_PER_S, TF_KEYCACHE_MISS_BURST);
        tf_keycache_free(k);
    }

    /* IPv6: one budget per /64 (a subscriber owns the whole /64). */
    {
        tf_keycache_t *k = tf_keycache_create();
        uint64_t v = 8000 * S;
        allowed = 0;
        for (int i = 0; i < 1000; i++) {
            char a[64];
            snprintf(a, sizeof(a), "2001:db8:1:2:%x:%x::%x", i * 7 % 65536, i, i + 1);
            while (tf_keycache_miss_allowed(k, a, v, &ra)) {
                allowed++;
                tf_keycache_miss_charge(k, a, v);
            }
        }
        ok(allowed == TF_KEYCACHE_MISS_BURST, "1000 addresses of one IPv6 /64, each until refused: %d lookups in all (one burst)", allowed);
        ok(tf_keycache_miss_allowed(k, "2001:db8:1:3::1", v, &ra), "  ... the next /64 has its own budget");
        while (tf_keycache_miss_allowed(k, "10.7.7.7", v, &ra))
            tf_keycache_miss_charge(k, "10.7.7.7", v);
        ok(!tf_keycache_miss_allowed(k, "::ffff:10.7.7.7", v, &ra), "an IPv4-mapped IPv6 address shares its IPv4 address's budget");
        tf_keycache_free(k);
    }

    /* The key table is indexed by the hash's tail: two hashes ending in the
     * same 8 hex digits share a slot, and a live key replaces a live key. */
    {
        tf_keycache_t *k = tf_keycache_create();
        char a[TF_KEYCACHE_HASH_LEN + 1], b[TF_KEYCACHE_HASH_LEN + 1];
        snprintf(a, sizeof(a), "\\x%056d%s", 1, "deadbeef");
        snprintf(b, sizeof(b), "\\x%056d%s", 2, "deadbeef");
        tf_keycache_put(k, a, "user-a", "key-a", 1, t, -1);
        tf_keycache_put(k, b, "user-b", "key-b", 1, t, -1);
        ok(tf_keycache_get(k, a, 1, t, uid, kid, &touch) == TF_KEY_MISS && tf_keycache_get(k, b, 1, t, uid, kid, &touch) == TF_KEY_VALID,
           "hashes with the same last 8 hex digits share a slot (the tail is the index)");
        tf_keycache_free(k);
    }

    /* A flood of unknown keys must not push a live key out: its slot is
     * shared with some of them (2000 hashes over 512 slots). */
    {
        tf_keycache_t *f = tf_keycache_create();
        char live[TF_KEYCACHE_HASH_LEN + 1], junk[TF_KEYCACHE_HASH_LEN + 1];
        hash_of(live, 7777777);
        tf_keycache_put(f, live, "user-live", "key-live", 9, t, -1);
        for (int i = 0; i < 2000; i++) {
            hash_of(junk, 1000000 + i);
            tf_keycache_put(f, junk, NULL, NULL, 9, t, -1);
        }
        ok(tf_keycache_was_valid(f, live) && tf_keycache_get(f, live, 9, t, uid, kid, &touch) == TF_KEY_VALID && strcmp(uid, "user-live") == 0,
           "2000 unknown keys later, the live key is still cached (negative entries never evict a live one)");
        tf_keycache_free(f);
    }
    tf_keycache_free(c);
    return tap_end();
}
