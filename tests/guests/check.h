/*
 * The checks of the test guests, each one C file: CHECK(expr, want)
 * evaluates expr once and, when it is not want, prints one line (the
 * guest's name CHECK_GUEST, the line, the expression, what it gave and
 * what was wanted) and counts it in `failures`, which the guest returns as
 * its exit status.
 */
#ifndef SHALE_TESTS_GUESTS_CHECK_H
#define SHALE_TESTS_GUESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

#ifndef CHECK_GUEST
#error "define CHECK_GUEST, the guest's name, before including check.h"
#endif

static int failures;

#define CHECK(expr, want) check(#expr, (int64_t)(expr), (int64_t)(want), __LINE__)

static void check(const char *what, int64_t got, int64_t want, int line)
{
	if (got == want)
		return;
	printf("%s:%d: %s = %lld, want %lld\n", CHECK_GUEST, line, what, (long long)got,
	       (long long)want);
	failures++;
}

#endif
