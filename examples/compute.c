/*
 * CPU-bound kernel for comparing a guest with the host: N rounds of an
 * xorshift64 step mixed by a multiply, a dependency chain the compiler can
 * neither fold nor vectorise. Builds as a guest and, unchanged, natively.
 *
 *   compute [N]     prints "result <value> ns <elapsed>"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef SHALE_GUEST
#include <shale/guest.h>

static uint64_t now_ns(void)
{
	return shale_clock_monotonic_ns();
}
#else
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}
#endif

static uint64_t kernel(uint64_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;

	while (n--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc = (acc ^ x) * 0xff51afd7ed558ccdull;
	}
	return acc ^ x;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 300000000u;
	uint64_t t0 = now_ns();
	uint64_t result = kernel(n);
	uint64_t t1 = now_ns();

	printf("result %016llx ns %llu\n", (unsigned long long)result,
	       (unsigned long long)(t1 - t0));
	return 0;
}
