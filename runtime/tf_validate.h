/*
 * tf_validate - support for the generated validators (generated/tf_validators.c).
 *
 * The generator writes one straight-line C function per schema node; the
 * small pieces they share (the JSON pointer of the current position, UTF-8
 * length, error formatting) live here so the generated code stays short.
 */
#ifndef TF_VALIDATE_H
#define TF_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

#include "tf_spec.h"

#define TF_VPATH_MAX 64

/* Where the validator is inside the document: a stack of keys/indexes. */
typedef struct tf_vpath {
    int depth;
    const char *key[TF_VPATH_MAX]; /* NULL for an array index */
    size_t idx[TF_VPATH_MAX];
} tf_vpath_t;

static inline void tf_v_push_key(tf_vpath_t *p, const char *key)
{
    if (p->depth < TF_VPATH_MAX) {
        p->key[p->depth] = key;
        p->idx[p->depth] = 0;
    }
    p->depth++;
}

static inline void tf_v_push_idx(tf_vpath_t *p, size_t i)
{
    if (p->depth < TF_VPATH_MAX) {
        p->key[p->depth] = NULL;
        p->idx[p->depth] = i;
    }
    p->depth++;
}

static inline void tf_v_pop(tf_vpath_t *p)
{
    p->depth--;
}

/* Fills err (pointer from p, RFC 6901 escaped) and returns -1. */
int tf_v_fail(tf_verr_t *err, const tf_vpath_t *p, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Number of Unicode code points in a UTF-8 string (jansson guarantees valid UTF-8). */
size_t tf_v_utf8_len(const char *s, size_t len);

/* JSON Schema "integer": an integer, or a real with an integral value. */
int tf_v_is_integer(const json_t *v);
/* JSON Schema "number": integer or real. */
double tf_v_number(const json_t *v);

#endif
