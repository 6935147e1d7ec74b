/*
 * Disk read benchmark: reads the whole disk in requests of REQ bytes
 * (default 1 MiB) and prints one line a script can parse:
 *
 *   bytes <total> requests <count> ns <elapsed>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

int main(int argc, char **argv)
{
	struct shale_hc_block_info disk;
	uint64_t req = 1u << 20, off, count = 0, t0, t1;
	int64_t r = shale_block_info(&disk);
	unsigned char *buf;

	if (argc > 1) {
		char *end;

		req = strtoull(argv[1], &end, 0);
		if (!*argv[1] || *end)
			req = 0;
	}
	if (r < 0) {
		printf("blockread: %s\n", shale_strerror(r));
		return r == SHALE_ENODEV ? 2 : 1;
	}
	if (!req || !disk.sector_size || req % disk.sector_size ||
	    req > disk.max_io) {
		printf("blockread: the request size must be a multiple of %u "
		       "up to %llu bytes\n", disk.sector_size,
		       (unsigned long long)disk.max_io);
		return 1;
	}
	buf = malloc(req);
	if (!buf) {
		printf("blockread: no memory for a %llu-byte buffer\n",
		       (unsigned long long)req);
		return 1;
	}
	/* Touch the buffer first: its first-use page faults are not I/O. */
	memset(buf, 0, req);

	t0 = shale_clock_monotonic_ns();
	for (off = 0; off < disk.capacity; off += req, count++) {
		uint64_t n = disk.capacity - off < req ? disk.capacity - off : req;

		r = shale_block_read(off, buf, n);
		if (r < 0) {
			printf("blockread: read at %llu: %s\n",
			       (unsigned long long)off, shale_strerror(r));
			return 1;
		}
	}
	t1 = shale_clock_monotonic_ns();

	printf("bytes %llu requests %llu ns %llu\n",
	       (unsigned long long)disk.capacity, (unsigned long long)count,
	       (unsigned long long)(t1 - t0));
	return 0;
}
