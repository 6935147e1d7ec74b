/*
 * Memory benchmark guest: allocates MIB MiB (default 32) and writes every
 * byte, so that the VMM's --stats show that much guest RAM in use.
 *
 *   touch [MIB]     prints "touched <MIB> MiB sum <checksum>"
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 32u;
	size_t size = (size_t)mib << 20;
	unsigned char *p;
	uint64_t sum = 0;

	if (!mib || mib > 4096) {
		printf("touch: want a size in MiB from 1 to 4096\n");
		return 1;
	}
	p = malloc(size);
	if (!p) {
		printf("touch: cannot allocate %llu MiB\n", (unsigned long long)mib);
		return 1;
	}
	memset(p, 0xa5, size);
	/* Read one byte a page back, so the stores cannot be dropped. */
	for (size_t off = 0; off < size; off += 4096)
		sum += p[off];
	printf("touched %llu MiB sum %llu\n", (unsigned long long)mib,
	       (unsigned long long)sum);
	return 0;
}
