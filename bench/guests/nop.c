/*
 * Null request benchmark: N round trips to the VMM that do nothing, timed
 * with the host's monotonic clock. By default each is a NOP hypercall (one
 * VM exit); with `queue`, a NOP request through the console's I/O queue,
 * submitted and waited for one at a time (no exit while the VMM's I/O
 * thread polls).
 *
 *   nop [N [queue]]   prints "calls <N> ns <elapsed> notifies <n> sleeps <n>"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000u;
	bool queued = argc > 2 && !strcmp(argv[2], "queue");
	struct shale_queue q = { 0 };
	uint64_t t0, t1;
	int64_t r;

	if (!n) {
		printf("nop: the call count must be a positive number\n");
		return 1;
	}
	if (queued && (r = shale_queue_open(&q, SHALE_QUEUE_CONSOLE, 8)) != SHALE_OK) {
		printf("nop: no console queue: %s\n", shale_strerror(r));
		return 1;
	}
	t0 = shale_clock_monotonic_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (!queued) {
			shale_nop();
		} else if ((r = shale_queue_call(&q, SHALE_OP_NOP, 0, 0, 0)) != 0) {
			printf("nop: queued NOP: %s\n", shale_strerror(r));
			return 1;
		}
	}
	t1 = shale_clock_monotonic_ns();

	printf("calls %llu ns %llu notifies %llu sleeps %llu\n", (unsigned long long)n,
	       (unsigned long long)(t1 - t0), (unsigned long long)q.notifies,
	       (unsigned long long)q.sleeps);
	return 0;
}
