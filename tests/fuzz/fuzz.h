/*
 * The libFuzzer entry point every harness defines. Built with clang's
 * -fsanitize=fuzzer it is driven by libFuzzer; otherwise standalone.c
 * replays a corpus and mutations of it through the same function.
 */
#ifndef SHALE_TESTS_FUZZ_H
#define SHALE_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Like assert(), but independent of NDEBUG; abort() is what fuzzers catch. */
#define FUZZ_CHECK(cond)                                                          \
	do {                                                                      \
		if (!(cond))                                                      \
			fuzz_fail(__FILE__, __LINE__, #cond);                     \
	} while (0)

static inline _Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/*
 * Whether all n bytes at p are `byte` (a guard area's pattern): one
 * memcmp of the area against itself shifted by a byte, not a compare the
 * fuzzer instruments for every byte, which made the check cost 95% of
 * a run.
 */
static inline bool fuzz_all_bytes(const uint8_t *p, size_t n, uint8_t byte)
{
	return !n || (p[0] == byte && !memcmp(p, p + 1, n - 1));
}

#endif
