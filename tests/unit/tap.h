/*
 * tap.h - the TAP output every unit test prints: "ok N - what" or
 * "not ok N - what" per check, then the plan. tests/unit/run.sh counts
 * these lines. Header-only: each test is one program.
 */
#ifndef TF_TEST_TAP_H
#define TF_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
    va_list ap;
    printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    tap_failed += !cond;
}

/* Prints the plan; the exit status of the test. */
static int tap_end(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed != 0;
}

#endif
