/*
 * Disk read benchmark: reads the whole disk in requests of REQ bytes
 * (default 1 MiB), DEPTH of them in flight through the block I/O queue
 * (default 8), or with DEPTH 0 one version 1 hypercall per request, and
 * prints one line a script can parse. A wait for a completion spins for
 * SPIN_US (default 1000) before it sleeps in the VMM, where the VMM
 * polls (SHALE_BOOT_F_IO_POLL).
 *
 *   bytes <total> requests <count> ns <elapsed> notifies <n> sleeps <n>
 *
 * usage: blockread [REQ [DEPTH [SPIN_US]]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

#define MAX_DEPTH 64

static uint64_t parse(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	return *s && !*end ? v : UINT64_MAX;
}

/* One buffer per request in flight; each completion starts the next read. */
static int read_queued(const struct shale_hc_block_info *disk, uint64_t req, unsigned depth,
		       uint64_t spin_ns, unsigned char *buf, uint64_t *count,
		       struct shale_queue *q)
{
	uint64_t next = 0, done = 0;
	struct shale_cqe cqe;
	int64_t r;

	r = shale_queue_open(q, SHALE_QUEUE_BLOCK, MAX_DEPTH);
	/*
	 * A 1 MiB read from the page cache takes ~150 us: spin long enough
	 * that a slow one does not cost a sleep in the VMM (a VM exit), where
	 * spinning pays at all (the SDK's default is 0 where it does not).
	 */
	if (q->spin_ns)
		q->spin_ns = q->spin_now = spin_ns;
	if (r) {
		printf("blockread: no block queue: %s\n", shale_strerror(r));
		return 1;
	}
	for (;;) {
		while (next < disk->capacity && q->held < depth) {
			uint64_t n = disk->capacity - next < req ? disk->capacity - next : req;
			unsigned slot = (unsigned)(next / req % depth);

			shale_queue_prep(q, SHALE_OP_READ, buf + slot * req, (uint32_t)n, next, next);
			next += n;
			++*count;
		}
		if (done == disk->capacity)
			return 0;
		r = shale_queue_submit_wait(q, &cqe, SHALE_NO_DEADLINE);
		if (r || cqe.ret < 0) {
			printf("blockread: read at %llu: %s\n", (unsigned long long)cqe.user_data,
			       shale_strerror(r ? r : cqe.ret));
			return 1;
		}
		done += (uint64_t)cqe.ret;
	}
}

static int read_v1(const struct shale_hc_block_info *disk, uint64_t req, unsigned char *buf,
		   uint64_t *count)
{
	for (uint64_t off = 0; off < disk->capacity; off += req, ++*count) {
		uint64_t n = disk->capacity - off < req ? disk->capacity - off : req;
		int64_t r = shale_hc_block_rw(SHALE_HC_BLOCK_READ, off, buf, n);

		if (r < 0) {
			printf("blockread: read at %llu: %s\n", (unsigned long long)off,
			       shale_strerror(r));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct shale_hc_block_info disk;
	struct shale_queue q = { 0 };
	uint64_t req = argc > 1 ? parse(argv[1]) : 1u << 20;
	uint64_t depth = argc > 2 ? parse(argv[2]) : 8;
	uint64_t spin_us = argc > 3 ? parse(argv[3]) : 1000;
	uint64_t count = 0, t0, t1;
	int64_t r = shale_block_info(&disk);
	unsigned char *buf;
	int fail;

	if (r < 0) {
		printf("blockread: %s\n", shale_strerror(r));
		return r == SHALE_ENODEV ? 2 : 1;
	}
	if (!req || !disk.sector_size || req % disk.sector_size || req > disk.max_io ||
	    depth > MAX_DEPTH || spin_us > 1000000) {
		printf("blockread: the request size must be a multiple of %u up to %llu "
		       "bytes, the depth at most %u, the spin at most 1000000 us\n",
		       disk.sector_size,
		       (unsigned long long)disk.max_io, MAX_DEPTH);
		return 1;
	}
	buf = malloc(req * (depth ? depth : 1));
	if (!buf) {
		printf("blockread: no memory for the buffers\n");
		return 1;
	}
	/* Touch the buffers first: their first-use page faults are not I/O. */
	memset(buf, 0, req * (depth ? depth : 1));

	t0 = shale_clock_monotonic_ns();
	fail = depth ? read_queued(&disk, req, (unsigned)depth, spin_us * 1000, buf, &count, &q)
		     : read_v1(&disk, req, buf, &count);
	t1 = shale_clock_monotonic_ns();
	if (fail)
		return 1;
	printf("bytes %llu requests %llu ns %llu notifies %llu sleeps %llu\n",
	       (unsigned long long)disk.capacity, (unsigned long long)count,
	       (unsigned long long)(t1 - t0), (unsigned long long)q.notifies,
	       (unsigned long long)q.sleeps);
	return 0;
}
