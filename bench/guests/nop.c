/*
 * Null hypercall benchmark: N round trips to the VMM that do nothing,
 * timed with the host's monotonic clock.
 *
 *   nop [N]     prints "calls <N> ns <elapsed>"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <shale/guest.h>

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000u;
	uint64_t t0, t1;

	if (!n) {
		printf("nop: the call count must be a positive number\n");
		return 1;
	}
	t0 = shale_clock_monotonic_ns();
	for (uint64_t i = 0; i < n; i++)
		shale_nop();
	t1 = shale_clock_monotonic_ns();

	printf("calls %llu ns %llu\n", (unsigned long long)n,
	       (unsigned long long)(t1 - t0));
	return 0;
}
