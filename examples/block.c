/*
 * Reads the whole disk and prints its FNV-1a 64 checksum. With "fill N"
 * it then overwrites the disk with byte N, flushes, and reads it back.
 *
 *   block              checksum <16 hex digits>
 *   block fill 0xa5    checksum ..., then "verified" (exit 1 on mismatch)
 *
 * Exits 2 when the VM has no disk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

#define CHUNK (1u << 20)

static struct shale_hc_block_info disk;
static unsigned char *buf;
static uint64_t chunk;

static void check(int64_t r, const char *what, uint64_t off)
{
	if (r < 0) {
		printf("block: %s at offset %llu: %s\n", what,
		       (unsigned long long)off, shale_strerror(r));
		exit(1);
	}
}

static uint64_t io_len(uint64_t off)
{
	return disk.capacity - off < chunk ? disk.capacity - off : chunk;
}

static uint64_t checksum(void)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */

	for (uint64_t off = 0; off < disk.capacity; off += chunk) {
		uint64_t n = io_len(off);

		check(shale_block_read(off, buf, n), "read", off);
		for (uint64_t i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ull; /* FNV-1a 64 prime */
		}
	}
	return h;
}

static void fill(unsigned char byte)
{
	if (disk.flags & SHALE_BLOCK_F_READONLY) {
		printf("block: the disk is read-only\n");
		exit(1);
	}
	memset(buf, byte, chunk);
	for (uint64_t off = 0; off < disk.capacity; off += chunk)
		check(shale_block_write(off, buf, io_len(off)), "write", off);
	check(shale_block_flush(), "flush", 0);

	for (uint64_t off = 0; off < disk.capacity; off += chunk) {
		uint64_t n = io_len(off);

		check(shale_block_read(off, buf, n), "read back", off);
		for (uint64_t i = 0; i < n; i++) {
			if (buf[i] != byte) {
				printf("block: byte %llu is 0x%02x, not 0x%02x\n",
				       (unsigned long long)(off + i), buf[i],
				       byte);
				exit(1);
			}
		}
	}
	printf("verified\n");
}

int main(int argc, char **argv)
{
	int64_t r = shale_block_info(&disk);
	int fill_byte = -1;

	if (argc == 3 && !strcmp(argv[1], "fill")) {
		char *end;
		unsigned long v = strtoul(argv[2], &end, 0);

		if (*argv[2] && !*end && v <= 255)
			fill_byte = (int)v;
	}
	if (argc > 1 && fill_byte < 0) {
		printf("usage: block [fill BYTE]\n");
		return 1;
	}
	if (r == SHALE_ENODEV) {
		printf("block: no disk\n");
		return 2;
	}
	check(r, "info", 0);

	/* Whole sectors, within what the device accepts in one request. */
	chunk = CHUNK < disk.max_io ? CHUNK : disk.max_io;
	if (disk.sector_size)
		chunk -= chunk % disk.sector_size;
	buf = chunk ? malloc(chunk) : NULL;
	if (!buf) {
		printf("block: cannot set up a %llu-byte buffer\n",
		       (unsigned long long)chunk);
		return 1;
	}

	printf("checksum %016llx\n", (unsigned long long)checksum());
	if (fill_byte >= 0)
		fill((unsigned char)fill_byte);
	return 0;
}
