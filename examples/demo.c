/*
 * The guest `shale run` starts when given no image: a short tour of what a
 * para-virtual shale guest is and of the hypercalls it has.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

#define NOPS 1000

/* Days since 1970-01-01 to a proleptic Gregorian date (civil calendar). */
static void civil(int64_t days, int *y, unsigned int *m, unsigned int *d)
{
	/* Count from 0000-03-01 so that leap days end each 400-year era. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned int doe = (unsigned int)(z - era * 146097);
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void show_clock(void)
{
	uint64_t wall = shale_clock_wall_ns() / 1000000000u;
	uint64_t mono = shale_clock_monotonic_ns();
	unsigned int mon, day, sec = wall % 86400;
	int year;

	civil((int64_t)(wall / 86400), &year, &mon, &day);
	printf("clock:    %04d-%02u-%02u %02u:%02u:%02u UTC; host monotonic "
	       "%llu.%03llu s\n", year, mon, day, sec / 3600, sec / 60 % 60,
	       sec % 60, (unsigned long long)(mono / 1000000000u),
	       (unsigned long long)(mono / 1000000u % 1000));
}

static void show_devices(void)
{
	struct shale_hc_block_info disk;
	struct shale_hc_net_info net;
	int64_t r;

	r = shale_block_info(&disk);
	if (r == SHALE_OK)
		printf("block:    %llu KiB disk, %s\n",
		       (unsigned long long)(disk.capacity >> 10),
		       disk.flags & SHALE_BLOCK_F_READONLY ? "read-only"
							   : "read-write");
	else
		printf("block:    none (%s)\n", shale_strerror(r));

	r = shale_net_info(&net);
	if (r == SHALE_OK)
		printf("net:      MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u\n",
		       net.mac[0], net.mac[1], net.mac[2], net.mac[3],
		       net.mac[4], net.mac[5], net.mtu);
	else
		printf("net:      none (%s)\n", shale_strerror(r));
}

/* Allocates blocks of mixed sizes, checks them, frees them all. */
static void show_malloc(void)
{
	enum { N = 200 };
	unsigned char *p[N];
	size_t before, after, largest;
	int bad = 0;

	shale_heap_stats(&before, NULL);
	for (int i = 0; i < N; i++) {
		p[i] = malloc(16 + i * 97 % 4000);
		if (p[i])
			memset(p[i], i, 16);
	}
	for (int i = 0; i < N; i += 2)
		free(p[i]);
	for (int i = 1; i < N; i += 2)
		bad += !p[i] || p[i][15] != i || (uintptr_t)p[i] % 16;
	for (int i = 1; i < N; i += 2)
		free(p[i]);
	shale_heap_stats(&after, &largest);
	printf("malloc:   %d blocks, %s; heap %zu KiB free, in %s\n", N,
	       bad ? "CORRUPTED" : "all intact", after >> 10,
	       before == after && largest == after ? "one piece again"
						   : "pieces");
}

int main(int argc, char **argv)
{
	const struct shale_boot_info *bi = shale_boot_info();
	unsigned char rnd[8];
	uint64_t t0, t1;

	printf("Hello from the shale demo guest.\n"
	       "shale is a KVM hypervisor. This program is a para-virtual "
	       "guest: a static\nELF that runs in ring 3 with no kernel "
	       "below it and asks the VMM for\neverything through hypercalls, "
	       "each one port write.\n\n");
	printf("abi:      version %u; %llu MiB of RAM, %llu KiB of heap\n",
	       bi->abi_version, (unsigned long long)(bi->mem_size >> 20),
	       (unsigned long long)((bi->heap_end - bi->heap_start) >> 10));
	printf("args:    ");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("%s\n", argc ? "" : " (none)");
	show_clock();
	if (shale_random(rnd, sizeof(rnd)) == (int64_t)sizeof(rnd))
		printf("random:   %02x%02x%02x%02x%02x%02x%02x%02x\n", rnd[0],
		       rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	else
		printf("random:   unavailable\n");
	show_devices();
	show_malloc();

	t0 = shale_clock_monotonic_ns();
	for (int i = 0; i < NOPS; i++)
		shale_nop();
	t1 = shale_clock_monotonic_ns();
	printf("exits:    %d NOP hypercalls, %llu ns per round trip\n", NOPS,
	       (unsigned long long)((t1 - t0) / NOPS));
	printf("Bye: main() returns 0, and exit() ends the VM.\n");
	return 0;
}
