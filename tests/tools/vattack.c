/*
 * vattack: attacks shale's devices from inside an unmodified Linux guest,
 * as root (tests/linux/init, shale.test=attack). Static, for the busybox
 * initramfs. Each mode prints VATTACK lines and exits 0 when every case
 * ended as shale documents it (docs/security.md, malicious-guest suite).
 *
 *   vattack rings BDF           virtio rings at wild addresses, then rings
 *                               in locked guest memory holding loops, long
 *                               and nested indirect tables, 4 GiB buffers,
 *                               an avail index far ahead: each case must
 *                               end in NEEDS_RESET (read back from the
 *                               status register), and soon
 *   vattack fuzz BDF SECS SEED  random reads and writes of every PCI
 *                               device's configuration space and of BDF's
 *                               BAR 0 for SECS seconds; the read-only
 *                               registers of the devices in use stay as
 *                               they were
 *   vattack race BDF SECS SEED  two vCPUs: one keeps BDF's queue busy with
 *                               requests (some reading the disk into the
 *                               ring itself), resets and broken rings,
 *                               the other moves its BAR, turns decoding
 *                               and MSI-X off and on and resets it through
 *                               the configuration window
 *   vattack reboot BDF          BDF's queue kept full of disk reads, then
 *                               the reset register (0xcf9) written with 8
 *                               requests in flight: a legitimate reboot,
 *                               which must be clean
 *   vattack zeroes BDF          BDF's queue (a disk) kept full of
 *                               WRITE_ZEROES requests of 16 segments of
 *                               the whole disk each, for ever: the VM's
 *                               stop (--timeout) must not wait for them
 *   vattack ports COUNT SEED    port I/O storms (UART, 0xcf8/0xcfc, RTC,
 *                               i8042, ACPI PM, unclaimed ports, rep
 *                               string I/O), COUNT accesses each; what the
 *                               guest's kernel relies on is put back after
 *
 * BDF is a virtio PCI function (0000:00:01.0); it is unbound from its
 * driver first and left reset. The layout of its BAR 0 is shale's
 * (src/devices/virtio/pci.h). Writes that would reboot or power the guest
 * off (0xcf9, SLP_EN, the i8042's reset pulse), or reprogram the chips
 * KVM emulates for the guest's own timers (PIC, PIT), are left out: they
 * are the guest's own business, not an attack on shale.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define BAR_SIZE 0x8000u
#define ISR_OFF 0x1000u
#define NOTIFY_OFF 0x3000u
#define MSIX_OFF 0x4000u
#define MSIX_END 0x6000u

/* Common configuration (virtio 1.2 §4.1.4.3). */
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_DESC 0x20
#define CC_Q_AVAIL 0x28
#define CC_Q_USED 0x30
#define CC_END 0x38

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 0x40u

#define F_INDIRECT (1u << 28)
#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die(const char *what)
{
	printf("VATTACK-ERROR %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- PCI through sysfs -------------------------------------------------- */

static char dev_path[256];

static int cfg_open(const char *bdf)
{
	char p[300];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	return open(p, O_RDWR);
}

static uint32_t cfg_read(int fd, unsigned off, unsigned size)
{
	uint32_t v = 0;

	if (pread(fd, &v, size, off) != (ssize_t)size)
		return 0xffffffffu;
	return v;
}

static void cfg_write(int fd, unsigned off, unsigned size, uint32_t v)
{
	if (pwrite(fd, &v, size, off) != (ssize_t)size)
		printf("VATTACK-NOTE config write at 0x%x failed: %s\n", off, strerror(errno));
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0)
		printf("VATTACK-NOTE %s: %s\n", path, strerror(errno));
	close(fd);
}

/* Unbinds BDF from its driver, turns memory decoding on, maps BAR 0. */
static volatile uint8_t *bar_map(const char *bdf, uint64_t *gpa)
{
	char p[300];
	FILE *f;
	unsigned long long start = 0, end = 0;
	void *m;
	int fd;

	snprintf(dev_path, sizeof(dev_path), "/sys/bus/pci/devices/%s", bdf);
	snprintf(p, sizeof(p), "%s/driver/unbind", dev_path);
	write_file(p, bdf);
	fd = cfg_open(bdf);
	if (fd < 0)
		die("config");
	/* Memory decoding on; INTx off, as a user-space driver would have it. */
	cfg_write(fd, 4, 2, cfg_read(fd, 4, 2) | 0x402);
	close(fd);
	snprintf(p, sizeof(p), "%s/resource", dev_path);
	f = fopen(p, "r");
	if (!f || fscanf(f, "%llx %llx", &start, &end) != 2)
		die("resource");
	fclose(f);
	*gpa = start;
	snprintf(p, sizeof(p), "%s/resource0", dev_path);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0)
		die("resource0");
	m = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap resource0");
	close(fd);
	return m;
}

static volatile uint8_t *bar;

static uint8_t r8(unsigned off) { return bar[off]; }
static void w8(unsigned off, uint8_t v) { bar[off] = v; }
static void w16(unsigned off, uint16_t v) { *(volatile uint16_t *)(bar + off) = v; }
static void w32(unsigned off, uint32_t v) { *(volatile uint32_t *)(bar + off) = v; }

static void w64(unsigned off, uint64_t v)
{
	w32(off, (uint32_t)v);
	w32(off + 4, (uint32_t)(v >> 32));
}

/* The end of the highest System RAM range, from /proc/iomem (root). */
static uint64_t ram_end(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	uint64_t end = 0;

	if (!f)
		die("/proc/iomem");
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (line[0] != ' ' && strstr(line, "System RAM") &&
		    sscanf(line, "%llx-%llx", &a, &b) == 2 && b + 1 > end)
			end = b + 1;
	}
	fclose(f);
	return end;
}

/* ---- rings -------------------------------------------------------------- */

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (§3.1.1). */
static int virtio_init(uint32_t features_lo)
{
	w8(CC_STATUS, 0);
	for (int i = 0; i < 100 && r8(CC_STATUS); i++)
		usleep(1000);
	w8(CC_STATUS, S_ACK);
	w8(CC_STATUS, S_ACK | S_DRIVER);
	w32(CC_GFSELECT, 0);
	w32(CC_GF, features_lo);
	w32(CC_GFSELECT, 1);
	w32(CC_GF, 1); /* VERSION_1 */
	w8(CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return (r8(CC_STATUS) & S_FEATURES_OK) ? 0 : -1;
}

static void queue_go(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	w16(CC_Q_SELECT, 0);
	w16(CC_Q_SIZE, size);
	w16(CC_Q_MSIX, 0xffff);
	w64(CC_Q_DESC, desc);
	w64(CC_Q_AVAIL, avail);
	w64(CC_Q_USED, used);
	w16(CC_Q_ENABLE, 1);
	__sync_synchronize();
	w8(CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	w16(NOTIFY_OFF, 0);
}

static int cases, failures;

/*
 * Waits up to 2 s for NEEDS_RESET; want_reset 0: any outcome will do
 * (the VMM only has to stay up).
 */
static void verdict(const char *name, int want_reset)
{
	double t0 = now(), t;
	uint8_t s;

	do {
		s = r8(CC_STATUS);
		t = now() - t0;
		if (s & S_NEEDS_RESET)
			break;
		usleep(500);
	} while (t < 2.0);
	cases++;
	if (want_reset && !(s & S_NEEDS_RESET))
		failures++;
	printf("VATTACK-CASE %s status=0x%02x %s ms=%.1f\n", name, s,
	       s & S_NEEDS_RESET ? "needs-reset" : want_reset ? "NO-RESET" : "served", t * 1e3);
	w8(CC_STATUS, 0);
}

/* A page of locked memory and its guest-physical address (pagemap, root). */
static void *phys_page(uint64_t *gpa)
{
	/* Shared: a fork (race) must not leave the parent a copy-on-write page. */
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t ent;
	int fd;

	if (p == MAP_FAILED || mlock(p, 4096))
		die("mlock");
	memset(p, 0, 4096);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &ent, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		die("pagemap");
	close(fd);
	if (!(ent & (1ull << 63)) || !(ent & ((1ull << 55) - 1))) {
		errno = EPERM;
		die("pagemap gives no frame number");
	}
	*gpa = (ent & ((1ull << 55) - 1)) * 4096;
	return p;
}

static struct desc *dt, *it; /* descriptor table, indirect table */
static uint16_t *av;          /* avail ring: flags, idx, ring[] */
static uint8_t *data;
static uint64_t dt_gpa, av_gpa, us_gpa, data_gpa, it_gpa;

/* Queue of 8 with the rings in locked pages; avail idx and ring[0] given. */
static void ring_case(const char *name, uint32_t features, uint16_t idx, uint16_t head)
{
	av[0] = 0;
	av[1] = idx;
	av[2] = head;
	if (virtio_init(features)) {
		printf("VATTACK-CASE %s FEATURES-REFUSED\n", name);
		cases++;
		failures++;
		return;
	}
	queue_go(8, dt_gpa, av_gpa, us_gpa);
	verdict(name, 1);
	memset(dt, 0, 4096);
	memset(it, 0, 4096);
}

static void d(struct desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	t[i] = (struct desc){ addr, len, flags, next };
}

static int mode_rings(const char *bdf)
{
	uint64_t bar_gpa, end = ram_end();
	uint32_t device_id;
	uint8_t *us;
	int fd = cfg_open(bdf);

	if (fd < 0)
		die("config");
	device_id = cfg_read(fd, 2, 2);
	close(fd);
	bar = bar_map(bdf, &bar_gpa);
	dt = phys_page(&dt_gpa);
	av = phys_page(&av_gpa);
	us = phys_page(&us_gpa);
	data = phys_page(&data_gpa);
	it = phys_page(&it_gpa);
	(void)us;
	printf("VATTACK-RINGS ram_end=0x%llx bar=0x%llx\n", (unsigned long long)end,
	       (unsigned long long)bar_gpa);

	/* Ring areas outside RAM: refused when the queue is enabled. */
	struct {
		const char *name;
		uint16_t size;
		uint64_t desc, avail, used;
	} wild[] = {
		{ "wild-desc-past-ram", 8, end, av_gpa, us_gpa },
		{ "wild-all-past-ram", 8, end + 0x10000, end + 0x20000, end + 0x30000 },
		{ "wild-desc-straddles-ram-end", 8, end - 64, av_gpa, us_gpa },
		{ "wild-used-pci-hole", 8, dt_gpa, av_gpa, 0xc0000000ull },
		{ "wild-avail-ioapic", 8, dt_gpa, 0xfec00000ull, us_gpa },
		{ "wild-desc-own-bar", 8, bar_gpa, av_gpa, us_gpa },
		{ "wild-used-own-notify", 8, dt_gpa, av_gpa, bar_gpa + NOTIFY_OFF },
		{ "wild-above-4g", 8, 0x100000000ull, av_gpa, us_gpa },
		{ "wild-2p52", 8, 1ull << 52, av_gpa, us_gpa },
		{ "wild-wraps", 8, 0xffffffffffffffc0ull, av_gpa, us_gpa },
		{ "wild-misaligned", 8, dt_gpa + 8, av_gpa + 1, us_gpa + 2 },
		{ "wild-size-3", 3, dt_gpa, av_gpa, us_gpa },
		{ "wild-size-0", 0, dt_gpa, av_gpa, us_gpa },
		{ "wild-size-32768", 32768, dt_gpa, av_gpa, us_gpa },
	};
	for (unsigned i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		if (virtio_init(0)) {
			printf("VATTACK-CASE %s FEATURES-REFUSED\n", wild[i].name);
			cases++;
			failures++;
			continue;
		}
		queue_go(wild[i].size, wild[i].desc, wild[i].avail, wild[i].used);
		verdict(wild[i].name, 1);
	}

	/* Rings in RAM holding what no driver writes: broken at the first look. */
	d(dt, 0, data_gpa, 16, D_NEXT, 1);
	d(dt, 1, data_gpa + 16, 16, D_NEXT, 0);
	ring_case("loop", 0, 1, 0);
	d(dt, 0, data_gpa, 16, D_NEXT, 0);
	ring_case("self-loop", 0, 1, 0);
	for (unsigned i = 0; i < 8; i++)
		d(dt, i, data_gpa + 16 * i, 16, D_NEXT, (uint16_t)((i + 1) % 8));
	ring_case("chain-of-all-8-and-around", 0, 1, 3);
	d(dt, 0, it_gpa, 16 * 16, D_INDIRECT, 0);
	for (unsigned i = 0; i < 16; i++)
		d(it, i, data_gpa, 16, i < 15 ? D_NEXT : 0, (uint16_t)(i + 1));
	ring_case("indirect-longer-than-queue", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 0xfffffff0u, D_INDIRECT, 0);
	ring_case("indirect-len-4g", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 24, D_INDIRECT, 0);
	ring_case("indirect-len-24", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 0, D_INDIRECT, 0);
	ring_case("indirect-len-0", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 32, D_INDIRECT, 0);
	d(it, 0, it_gpa, 32, D_INDIRECT, 0);
	ring_case("indirect-nested", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 32, D_INDIRECT, 0);
	d(it, 0, data_gpa, 16, D_NEXT, 1);
	d(it, 1, data_gpa, 16, D_NEXT, 0);
	ring_case("indirect-loop", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 32, D_INDIRECT, 0);
	d(it, 0, data_gpa, 16, D_NEXT, 7);
	ring_case("indirect-next-outside", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 32, D_INDIRECT | D_NEXT, 1);
	d(dt, 1, data_gpa, 16, 0, 0);
	ring_case("indirect-with-next", F_INDIRECT, 1, 0);
	d(dt, 0, data_gpa, 16, D_NEXT, 1);
	d(dt, 1, it_gpa, 32, D_INDIRECT, 0);
	ring_case("indirect-inside-chain", F_INDIRECT, 1, 0);
	d(dt, 0, it_gpa, 32, D_INDIRECT, 0);
	ring_case("indirect-not-negotiated", 0, 1, 0);
	d(dt, 0, end - 16, 32, D_INDIRECT, 0);
	ring_case("indirect-straddles-ram-end", F_INDIRECT, 1, 0);
	d(dt, 0, data_gpa, 0xffffffffu, D_WRITE, 0);
	ring_case("buffer-4g", 0, 1, 0);
	d(dt, 0, end - 8, 16, 0, 0);
	ring_case("buffer-straddles-ram-end", 0, 1, 0);
	d(dt, 0, bar_gpa, 16, D_WRITE, 0);
	ring_case("buffer-own-bar", 0, 1, 0);
	d(dt, 0, 0xfee00000ull, 16, 0, 0);
	ring_case("buffer-lapic", 0, 1, 0);
	d(dt, 0, data_gpa, 16, 0, 0);
	ring_case("avail-idx-far-ahead", 0, 0x8000, 0);
	ring_case("avail-idx-size-plus-1", 0, 9, 0);
	ring_case("avail-idx-minus-1", 0, 0xffff, 0);
	ring_case("head-out-of-range", 0, 1, 200);
	d(dt, 0, data_gpa, 16, D_NEXT, 100);
	ring_case("next-out-of-range", 0, 1, 0);
	d(dt, 0, data_gpa, 16, D_WRITE | D_NEXT, 1);
	d(dt, 1, data_gpa + 16, 16, 0, 0);
	ring_case("readable-after-writable", 0, 1, 0);
	/* A chain the queue takes but the device cannot: no header, no status. */
	d(dt, 0, data_gpa, 1, 0, 0);
	if (device_id == 0x1042)
		ring_case("blk-no-header", 0, 1, 0);

	/*
	 * All three rings on one page: descriptor 0's address is also the
	 * avail ring (idx 1, head 0), and the used ring the device writes.
	 * The VMM only has to survive it.
	 */
	if (!virtio_init(0)) {
		memset(dt, 0, 4096);
		d(dt, 0, 1ull << 16, 0, 0, 0);
		queue_go(8, dt_gpa, dt_gpa, dt_gpa);
		verdict("rings-overlap", 0);
	}
	w8(CC_STATUS, 0);
	printf("VATTACK-RINGS-DONE cases=%d failures=%d\n", cases, failures);
	return failures ? 1 : 0;
}

/* ---- configuration space and BAR fuzzing ---------------------------------- */

static uint32_t fuzz_value(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return 0xffffffffu;
	case 2:
		return (uint32_t)(rnd() % 16);
	default:
		return (uint32_t)rnd();
	}
}

/* Registers without write bits in shale's functions: writes there change nothing. */
static unsigned ro_offset(void)
{
	static const uint8_t ro[] = { 0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x0e,
				      0x2c, 0x2d, 0x2e, 0x2f, 0x34, 0x3d, 0x40, 0x41, 0x42,
				      0x43, 0x48, 0x4c, 0x50, 0x60, 0x64, 0x74, 0x84, 0x85,
				      0x88, 0x8c, 0x90, 0x91 };

	return ro[rnd() % sizeof(ro)];
}

struct fdev {
	char bdf[64];
	int fd;
	uint8_t before[256];
};

static int mode_fuzz(const char *bdf, double secs)
{
	struct fdev devs[32];
	unsigned nr = 0, me = 0;
	uint64_t bar_gpa;
	uint8_t saved[256];
	long cfg_r = 0, cfg_w = 0, bar_r = 0, bar_w = 0;
	double stop;
	FILE *ls = popen("ls /sys/bus/pci/devices", "r");
	char name[64];

	bar = bar_map(bdf, &bar_gpa);
	while (ls && nr < 32 && fscanf(ls, "%63s", name) == 1) {
		struct fdev *f = &devs[nr];

		snprintf(f->bdf, sizeof(f->bdf), "%s", name);
		f->fd = cfg_open(name);
		if (f->fd < 0 || pread(f->fd, f->before, 256, 0) != 256)
			continue;
		if (!strcmp(name, bdf))
			me = nr;
		nr++;
	}
	if (ls)
		pclose(ls);
	memcpy(saved, devs[me].before, 256);
	stop = now() + secs;
	while (now() < stop) {
		for (int k = 0; k < 64; k++) {
			struct fdev *f = &devs[rnd() % nr];
			unsigned size = 1u << (rnd() % 3), off = (unsigned)(rnd() % 256) & ~(size - 1);
			unsigned boff = (unsigned)(rnd() % BAR_SIZE);
			uint32_t v = fuzz_value();

			switch (rnd() % 4) {
			case 0:
				(void)cfg_read(f->fd, off, size);
				cfg_r++;
				break;
			case 1:
				if (f != &devs[me]) {
					/* A device in use: only its read-only registers. */
					cfg_write(f->fd, ro_offset(), 1, v);
				} else if (off + size > 0x98 && off < 0x9c) {
					/* The window's offset: anywhere but the MSI-X table. */
					v = (uint32_t)(rnd() % 2 ? rnd() % MSIX_OFF
							   : MSIX_END + rnd() % (BAR_SIZE - MSIX_END));
					cfg_write(f->fd, 0x98, 4, v);
				} else {
					cfg_write(f->fd, off, size, v);
				}
				cfg_w++;
				break;
			case 2: {
				unsigned w = 1u << (rnd() % 4);

				boff &= ~(w - 1);
				if (boff + w > BAR_SIZE)
					break;
				if (w == 8)
					(void)*(volatile uint64_t *)(bar + boff);
				else if (w == 4)
					(void)*(volatile uint32_t *)(bar + boff);
				else if (w == 2)
					(void)*(volatile uint16_t *)(bar + boff);
				else
					(void)bar[boff];
				bar_r++;
				break;
			}
			default: {
				unsigned w = 1u << (rnd() % 4);
				uint64_t v64 = (uint64_t)fuzz_value() << 32 | fuzz_value();

				boff &= ~(w - 1);
				/*
				 * Not the MSI-X table (a message of the guest's making
				 * could INIT its own CPU), and ring addresses only
				 * outside RAM (the device would write into the kernel).
				 */
				if (boff + w > BAR_SIZE || (boff + w > MSIX_OFF && boff < MSIX_END))
					break;
				if (boff + w > CC_Q_DESC && boff < CC_END)
					v64 |= 0x8080808080808080ull;
				if (w == 8)
					*(volatile uint64_t *)(bar + boff) = v64;
				else if (w == 4)
					*(volatile uint32_t *)(bar + boff) = (uint32_t)v64;
				else if (w == 2)
					*(volatile uint16_t *)(bar + boff) = (uint16_t)v64;
				else
					bar[boff] = (uint8_t)v64;
				bar_w++;
				break;
			}
			}
		}
	}
	/* The attacked function as the kernel set it up, and reset. */
	cfg_write(devs[me].fd, 4, 2, 0);
	cfg_write(devs[me].fd, 0x10, 4, (uint32_t)saved[0x10] | saved[0x11] << 8 |
		  saved[0x12] << 16 | (uint32_t)saved[0x13] << 24);
	cfg_write(devs[me].fd, 0x3c, 1, saved[0x3c]);
	cfg_write(devs[me].fd, 0x86, 2, (uint32_t)(saved[0x86] | saved[0x87] << 8));
	cfg_write(devs[me].fd, 0x94, 4, 0);
	cfg_write(devs[me].fd, 0x98, 4, 0);
	cfg_write(devs[me].fd, 0x9c, 4, 0);
	cfg_write(devs[me].fd, 4, 2, (uint32_t)(saved[4] | saved[5] << 8) | 2);
	w8(CC_STATUS, 0);
	int changed = 0;
	for (unsigned i = 0; i < nr; i++) {
		uint8_t after[256];

		if (i == me || pread(devs[i].fd, after, 256, 0) != 256)
			continue;
		for (unsigned b = 0; b < 256; b++) {
			/* Status (0x06) has write-1-to-clear bits. */
			if (b == 6 || b == 7 || after[b] == devs[i].before[b])
				continue;
			printf("VATTACK-FUZZ-CHANGED %s 0x%02x: 0x%02x -> 0x%02x\n", devs[i].bdf,
			       b, devs[i].before[b], after[b]);
			changed++;
		}
	}
	printf("VATTACK-FUZZ-DONE devices=%u cfg_reads=%ld cfg_writes=%ld bar_reads=%ld "
	       "bar_writes=%ld changed=%d\n", nr, cfg_r, cfg_w, bar_r, bar_w, changed);
	return changed ? 1 : 0;
}

/* ---- two vCPUs at once -------------------------------------------------- */

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* The configuration side: BAR moves, decoding, MSI-X, resets by the window. */
static void race_config(const char *bdf, double stop)
{
	int fd = cfg_open(bdf);
	uint32_t bar0 = cfg_read(fd, 0x10, 4), cmd = cfg_read(fd, 4, 2);
	long n = 0;

	pin(1);
	while (now() < stop) {
		switch (rnd() % 4) {
		case 0:
			/* Away and back: the other vCPU's accesses meanwhile go nowhere. */
			cfg_write(fd, 0x10, 4, bar0 + 0x100000);
			cfg_write(fd, 0x10, 4, bar0);
			break;
		case 1:
			cfg_write(fd, 4, 2, cmd & ~2u);
			cfg_write(fd, 4, 2, cmd);
			break;
		case 2:
			cfg_write(fd, 0x86, 2, rnd() % 2 ? 0xc000 : 0);
			break;
		default:
			/* Status through the window (§4.1.4.9): read it, now and then reset. */
			cfg_write(fd, 0x94, 1, 0);
			cfg_write(fd, 0x98, 4, CC_STATUS);
			cfg_write(fd, 0x9c, 4, 1);
			if (rnd() % 32)
				(void)cfg_read(fd, 0xa0, 1);
			else
				cfg_write(fd, 0xa0, 1, 0);
			break;
		}
		n++;
		usleep((useconds_t)(rnd() % 2000));
	}
	printf("VATTACK-RACE-CONFIG writes=%ld\n", n);
	_exit(0);
}

static int mode_race(const char *bdf, double secs)
{
	uint64_t bar_gpa;
	int fd = cfg_open(bdf);
	uint32_t device_id, bar0, cmd, msix;
	uint8_t *us;
	long requests = 0, completed = 0, resets = 0, broken = 0;
	uint16_t idx = 0, seen = 0;
	double stop;
	pid_t child;

	if (fd < 0)
		die("config");
	device_id = cfg_read(fd, 2, 2);
	bar = bar_map(bdf, &bar_gpa);
	bar0 = cfg_read(fd, 0x10, 4);
	cmd = cfg_read(fd, 4, 2);
	msix = cfg_read(fd, 0x86, 2);
	dt = phys_page(&dt_gpa);
	av = phys_page(&av_gpa);
	us = phys_page(&us_gpa);
	data = phys_page(&data_gpa);
	/* blk: read sector 0 (header, 512 bytes, status); else one 64-byte buffer. */
	if (device_id == 0x1042) {
		memset(data, 0, 16);
		d(dt, 0, data_gpa, 16, D_NEXT, 1);
		d(dt, 1, data_gpa + 512, 512, D_WRITE | D_NEXT, 2);
		d(dt, 2, data_gpa + 2048, 1, D_WRITE, 0);
		/* The same, with the sector read into the rings themselves. */
		d(dt, 3, data_gpa, 16, D_NEXT, 4);
		d(dt, 4, av_gpa, 512, D_WRITE | D_NEXT, 5);
		d(dt, 5, data_gpa + 2048, 1, D_WRITE, 0);
	} else {
		d(dt, 0, data_gpa + 512, 64, D_WRITE, 0);
		d(dt, 3, av_gpa, 64, D_WRITE, 0);
	}
	/* One request alone first: the device serves this queue. */
	if (!virtio_init(0)) {
		double t0 = now();

		av[2] = 0;
		__atomic_store_n(&av[1], 1, __ATOMIC_RELEASE);
		queue_go(8, dt_gpa, av_gpa, us_gpa);
		while (!__atomic_load_n((uint16_t *)(us + 2), __ATOMIC_ACQUIRE) && now() < t0 + 2)
			usleep(1000);
		printf("VATTACK-RACE-FIRST used=%u status=0x%02x ms=%.1f\n",
		       __atomic_load_n((uint16_t *)(us + 2), __ATOMIC_ACQUIRE), r8(CC_STATUS),
		       (now() - t0) * 1e3);
	}
	fflush(stdout);
	stop = now() + secs;
	child = fork();
	if (child < 0)
		die("fork");
	if (!child)
		race_config(bdf, stop);
	pin(0);
	while (now() < stop) {
		uint16_t used;

		if (virtio_init(0))
			continue;
		memset(av, 0, 4096);
		memset(us, 0, 4096);
		idx = seen = 0;
		queue_go(8, dt_gpa, av_gpa, us_gpa);
		resets++;
		for (int k = 0; k < 2000 && now() < stop; k++) {
			used = __atomic_load_n((uint16_t *)(us + 2), __ATOMIC_ACQUIRE);
			completed += (uint16_t)(used - seen);
			seen = used;
			if ((uint16_t)(idx - used) < 8) {
				av[2 + idx % 8] = rnd() % 16 ? 0 : 3;
				__atomic_store_n(&av[1], ++idx, __ATOMIC_RELEASE);
				requests++;
			}
			if (rnd() % 256 == 0) {
				__atomic_store_n(&av[1], (uint16_t)(idx + 100), __ATOMIC_RELEASE);
				broken++;
			}
			w16(NOTIFY_OFF, 0);
			if (rnd() % 8 == 0)
				(void)r8(ISR_OFF);
			if (rnd() % 512 == 0)
				break;
		}
	}
	/* The other side stops by itself at `stop`. */
	waitpid(child, NULL, 0);
	cfg_write(fd, 4, 2, cmd & ~2u);
	cfg_write(fd, 0x10, 4, bar0);
	cfg_write(fd, 0x86, 2, msix);
	cfg_write(fd, 0x98, 4, 0);
	cfg_write(fd, 0x9c, 4, 0);
	cfg_write(fd, 4, 2, cmd);
	w8(CC_STATUS, 0);
	printf("VATTACK-RACE-DONE requests=%ld completed=%ld resets=%ld broken=%ld\n", requests,
	       completed, resets, broken);
	return completed ? 0 : 1;
}

/* Eight reads in flight, then the chipset's reset (0xcf9): a reboot while the disk works. */
static int mode_reboot(const char *bdf)
{
	uint64_t bar_gpa, sectors_gpa;
	uint8_t *us;
	uint16_t idx = 0;
	long completed = 0;
	double stop;

	bar = bar_map(bdf, &bar_gpa);
	dt = phys_page(&dt_gpa);
	av = phys_page(&av_gpa);
	us = phys_page(&us_gpa);
	data = phys_page(&data_gpa);
	/* The eight sectors fill a page of their own (not past data's end). */
	phys_page(&sectors_gpa);
	for (unsigned i = 0; i < 8; i++) {
		d(dt, 3 * i, data_gpa, 16, D_NEXT, (uint16_t)(3 * i + 1));
		d(dt, 3 * i + 1, sectors_gpa + 512 * i, 512, D_WRITE | D_NEXT, (uint16_t)(3 * i + 2));
		d(dt, 3 * i + 2, data_gpa + 64 + i, 1, D_WRITE, 0);
	}
	if (virtio_init(0) || iopl(3))
		die("set-up");
	queue_go(32, dt_gpa, av_gpa, us_gpa);
	stop = now() + 0.5;
	for (;;) {
		uint16_t used = __atomic_load_n((uint16_t *)(us + 2), __ATOMIC_ACQUIRE);

		if ((uint16_t)(idx - used) < 8) {
			av[2 + idx % 32] = (uint16_t)(3 * (idx % 8));
			__atomic_store_n(&av[1], ++idx, __ATOMIC_RELEASE);
			w16(NOTIFY_OFF, 0);
			continue;
		}
		completed = used;
		if (now() > stop)
			break;
	}
	printf("VATTACK-REBOOT completed=%ld in-flight=8\n", completed);
	fflush(stdout);
	tcdrain(1);
	outb(0x06, 0xcf9);
	sleep(5);
	printf("VATTACK-REBOOT-IGNORED\n");
	return 1;
}

/* A queue full of WRITE_ZEROES of the whole disk, 16 times each, for ever. */
static int mode_zeroes(const char *bdf)
{
	uint64_t bar_gpa, sectors;
	uint8_t *us;
	uint16_t idx = 0;
	long requests = 0;
	/* The capacity in sectors is at offset 0 of the device configuration. */
	bar = bar_map(bdf, &bar_gpa);
	sectors = *(volatile uint64_t *)(bar + 0x2000);
	dt = phys_page(&dt_gpa);
	av = phys_page(&av_gpa);
	us = phys_page(&us_gpa);
	data = phys_page(&data_gpa);
	{
		uint32_t *h = (uint32_t *)data;

		h[0] = 13; /* VIRTIO_BLK_T_WRITE_ZEROES */
		for (unsigned i = 0; i < 16; i++) {
			uint8_t *seg = data + 16 + 16 * i;
			uint32_t n = (uint32_t)sectors, fl = 0;
			uint64_t zero = 0;

			memcpy(seg, &zero, 8);
			memcpy(seg + 8, &n, 4);
			memcpy(seg + 12, &fl, 4);
		}
	}
	d(dt, 0, data_gpa, 16 + 16 * 16, D_NEXT, 1);
	d(dt, 1, data_gpa + 1024, 1, D_WRITE, 0);
	if (virtio_init(1u << 14))
		die("WRITE_ZEROES not offered");
	queue_go(128, dt_gpa, av_gpa, us_gpa);
	for (;;) {
		uint16_t used = __atomic_load_n((uint16_t *)(us + 2), __ATOMIC_ACQUIRE);

		if ((uint16_t)(idx - used) < 128) {
			av[2 + idx % 128] = 0;
			__atomic_store_n(&av[1], ++idx, __ATOMIC_RELEASE);
			w16(NOTIFY_OFF, 0);
			if (++requests == 128)
				printf("VATTACK-ZEROES sectors=%llu queued=128\n",
				       (unsigned long long)sectors);
			continue;
		}
		usleep(1000);
		if (requests < 0)
			break;
	}
	return 1;
}

/* ---- port I/O storms ------------------------------------------------------ */

static void out_w(unsigned size, uint16_t port, uint32_t v)
{
	if (size == 1)
		outb((uint8_t)v, port);
	else if (size == 2)
		outw((uint16_t)v, port);
	else
		outl(v, port);
}

static uint32_t in_w(unsigned size, uint16_t port)
{
	return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

/* Ports the guest's kernel claims (leaves of /proc/ioports) and fixed ones. */
static uint8_t excluded[65536];

static void exclude(unsigned a, unsigned b)
{
	for (unsigned p = a; p <= b && p < 65536; p++)
		excluded[p] = 1;
}

static void load_excluded(void)
{
	FILE *f = fopen("/proc/ioports", "r");
	char line[256], prev[256] = "";
	int prev_depth = -1;

	while (f && fgets(line, sizeof(line), f)) {
		int depth = (int)strspn(line, " ");
		unsigned a, b;

		/* The previous line is a leaf unless this one is nested in it. */
		if (prev_depth >= 0 && depth <= prev_depth &&
		    sscanf(prev + prev_depth, "%x-%x", &a, &b) == 2)
			exclude(a, b);
		snprintf(prev, sizeof(prev), "%s", line);
		prev_depth = depth;
	}
	if (prev_depth >= 0) {
		unsigned a, b;

		if (sscanf(prev + prev_depth, "%x-%x", &a, &b) == 2)
			exclude(a, b);
	}
	if (f)
		fclose(f);
	exclude(0x20, 0x21);   /* PIC (KVM's) */
	exclude(0xa0, 0xa1);
	exclude(0x40, 0x43);   /* PIT (KVM's) */
	exclude(0x61, 0x61);
	exclude(0x4d0, 0x4d1); /* ELCR */
	exclude(0x60, 0x64);   /* i8042, its own storm */
	exclude(0x70, 0x71);   /* RTC, its own storm */
	exclude(0x92, 0x92);   /* port A: fast reset on a PC */
	exclude(0x3f8, 0x3ff); /* UART, its own storm */
	exclude(0x600, 0x60f); /* ACPI PM, its own storm */
	exclude(0xcf8, 0xcff); /* PCI configuration and 0xcf9 reset */
}

static void uart_storm(long n)
{
	const uint16_t u = 0x3f8;
	uint8_t lcr = inb(u + 3), ier, mcr, scr, dll, dlm;

	outb(lcr | 0x80, u + 3);
	dll = inb(u);
	dlm = inb(u + 1);
	outb(lcr, u + 3);
	ier = inb(u + 1);
	mcr = inb(u + 4);
	scr = inb(u + 7);
	/* Loopback: what is written to THR goes to RX, not to the console. */
	outb(0x10, u + 4);
	for (long i = 0; i < n; i++) {
		unsigned reg = (unsigned)(rnd() % 8);
		uint8_t v = (uint8_t)rnd();

		if (rnd() % 2) {
			(void)inb(u + reg);
			continue;
		}
		if (reg == 4)
			v |= 0x10;
		outb(v, u + reg);
	}
	/* 4 KiB through THR at once (rep outsb), and the RX read back (rep insb). */
	{
		static uint8_t buf[4096];

		outb(0x03, u + 3);
		outsb(u, buf, sizeof(buf));
		insb(u, buf, sizeof(buf));
	}
	outb(0x80, u + 3);
	outb(dll, u);
	outb(dlm, u + 1);
	outb(lcr, u + 3);
	outb(0x87, u + 2);
	for (int i = 0; i < 4096 && (inb(u + 5) & 1); i++)
		(void)inb(u);
	outb(ier, u + 1);
	outb(scr, u + 7);
	outb(mcr, u + 4);
	(void)inb(u + 2);
	(void)inb(u + 5);
	(void)inb(u + 6);
}

static void pci_storm(long n)
{
	for (long i = 0; i < n; i++) {
		unsigned bus = (unsigned)(rnd() % 4 ? 0 : rnd() % 256);
		unsigned dev = (unsigned)(rnd() % 32), fn = (unsigned)(rnd() % 8);
		unsigned reg = (unsigned)(rnd() % 256) & ~3u;
		unsigned size = 1u << (rnd() % 3), at = (unsigned)(rnd() % 4) & ~(size - 1);
		uint32_t addr = 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg;

		if (rnd() % 8 == 0)
			addr = (uint32_t)rnd() & 0x7fffffffu; /* enable bit clear */
		outl(addr, 0xcf8);
		/* Writes only where no function answers: the kernel's devices stay as set up. */
		if (rnd() % 2 && (!(addr & 0x80000000u) || bus || dev >= 24 || fn))
			out_w(size, (uint16_t)(0xcfc + at), (uint32_t)rnd());
		else
			(void)in_w(size, (uint16_t)(0xcfc + at));
		if (rnd() % 16 == 0)
			(void)inl(0xcf8);
	}
}

static uint8_t cmos_read(uint8_t r)
{
	outb(r, 0x70);
	return inb(0x71);
}

static void cmos_write(uint8_t r, uint8_t v)
{
	outb(r, 0x70);
	outb(v, 0x71);
}

static void rtc_storm(long n)
{
	uint8_t saved[0x80];

	for (unsigned r = 0; r < 0x80; r++)
		saved[r] = cmos_read((uint8_t)r);
	for (long i = 0; i < n; i++) {
		/* Any register, NMI-disable bit or not, garbage in the clock's BCD too. */
		outb((uint8_t)rnd(), 0x70);
		if (rnd() % 2)
			outb((uint8_t)rnd(), 0x71);
		else
			(void)inb(0x71);
	}
	{
		static uint8_t buf[4096];

		outb(0x0c, 0x70);
		insb(0x71, buf, sizeof(buf));
	}
	cmos_write(0x0b, saved[0x0b] | 0x80);
	for (unsigned r = 0; r < 0x80; r++)
		if (r != 0x0b && r != 0x0c && r != 0x0d)
			cmos_write((uint8_t)r, saved[r]);
	cmos_write(0x0b, saved[0x0b]);
	(void)cmos_read(0x0c);
	outb(0x0d, 0x70);
}

static void kbc_drain(void)
{
	for (int i = 0; i < 64 && (inb(0x64) & 1); i++)
		(void)inb(0x60);
}

static void i8042_storm(long n)
{
	/* Commands that neither reset the machine (0xfe, 0xf0-0xff) nor drive its output port (0xd1). */
	static const uint8_t cmds[] = { 0x20, 0x21, 0x3f, 0x60, 0x61, 0xa1, 0xa7, 0xa8, 0xa9,
					0xaa, 0xab, 0xad, 0xae, 0xc0, 0xd0, 0xd2, 0xd3, 0xd4,
					0xe0, 0x00, 0x55 };
	uint8_t ctr;

	kbc_drain();
	outb(0x20, 0x64);
	for (int i = 0; i < 1000 && !(inb(0x64) & 1); i++)
		usleep(10);
	ctr = inb(0x60);
	for (long i = 0; i < n; i++) {
		switch (rnd() % 4) {
		case 0:
			(void)inb(0x64);
			break;
		case 1:
			(void)inb(0x60);
			break;
		case 2:
			outb(cmds[rnd() % sizeof(cmds)], 0x64);
			break;
		default:
			outb((uint8_t)rnd(), 0x60);
			break;
		}
	}
	kbc_drain();
	outb(0x60, 0x64);
	outb(ctr, 0x60);
	kbc_drain();
}

static void pm_storm(long n)
{
	uint16_t en = inw(0x602), cnt = inw(0x604);

	for (long i = 0; i < n; i++) {
		unsigned size = 1u << (rnd() % 3);
		uint16_t port = (uint16_t)(0x600 + rnd() % 12);
		uint32_t v = (uint32_t)rnd();

		if (rnd() % 2) {
			(void)in_w(size, port);
			continue;
		}
		/* SLP_EN (bit 13 of PM1a_CNT at 0x604) would power the guest off. */
		if (port <= 0x605 && port + size > 0x605)
			v &= ~(0x20u << 8 * (0x605 - port));
		out_w(size, port, v);
	}
	outw(0xffff, 0x600);
	outw(en, 0x602);
	outw(cnt & ~0x2004u, 0x604);
}

static void random_storm(long n)
{
	static uint8_t buf[4096];
	long done = 0;
	unsigned port;

	while (done < n) {
		unsigned size = 1u << (rnd() % 3);

		port = (unsigned)(rnd() % 65536);
		if (port + size > 65536 || excluded[port] || excluded[port + size - 1])
			continue;
		if (rnd() % 2)
			out_w(size, (uint16_t)port, (uint32_t)rnd());
		else
			(void)in_w(size, (uint16_t)port);
		done++;
	}
	/* Whole pages of string I/O at an unclaimed port, 4096 accesses an instruction. */
	for (port = 0x2f8; excluded[port] && port < 0xff00; port += 0x100)
		;
	for (int i = 0; i < 8; i++) {
		outsb((uint16_t)port, buf, sizeof(buf));
		insw((uint16_t)port, buf, sizeof(buf) / 2);
	}
}

static int mode_ports(long n)
{
	struct {
		const char *name;
		void (*fn)(long);
	} storms[] = {
		{ "uart", uart_storm }, { "pci", pci_storm }, { "rtc", rtc_storm },
		{ "i8042", i8042_storm }, { "pm", pm_storm }, { "random", random_storm },
	};

	if (iopl(3))
		die("iopl");
	load_excluded();
	for (unsigned i = 0; i < sizeof(storms) / sizeof(storms[0]); i++) {
		double t0 = now();

		/* Nothing of ours waits in the UART while it is in loopback. */
		fflush(stdout);
		tcdrain(1);
		storms[i].fn(n);
		printf("VATTACK-PORTS %s accesses=%ld s=%.2f\n", storms[i].name, n, now() - t0);
	}
	printf("VATTACK-PORTS-DONE\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "rings"))
		return mode_rings(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "fuzz")) {
		if (argc >= 5)
			rng_state ^= strtoull(argv[4], NULL, 0) * 0x9e3779b97f4a7c15ull;
		return mode_fuzz(argv[2], strtod(argv[3], NULL));
	}
	if (argc >= 4 && !strcmp(argv[1], "race")) {
		if (argc >= 5)
			rng_state ^= strtoull(argv[4], NULL, 0) * 0x9e3779b97f4a7c15ull;
		return mode_race(argv[2], strtod(argv[3], NULL));
	}
	if (argc >= 3 && !strcmp(argv[1], "zeroes"))
		return mode_zeroes(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "reboot"))
		return mode_reboot(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "ports")) {
		if (argc >= 4)
			rng_state ^= strtoull(argv[3], NULL, 0) * 0x9e3779b97f4a7c15ull;
		return mode_ports(strtol(argv[2], NULL, 0));
	}
	fprintf(stderr, "usage: vattack rings BDF | fuzz BDF SECS [SEED] | race BDF SECS [SEED] | "
		"reboot BDF | zeroes BDF | ports COUNT [SEED]\n");
	return 2;
}
