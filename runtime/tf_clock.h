/*
 * tf_clock.h - the one monotonic clock every module measures with.
 *
 * Inline so that low modules (tf_curl, tf_admit) and the unit tests that
 * link them alone need nothing else.
 */
#ifndef TF_CLOCK_H
#define TF_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t tf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
