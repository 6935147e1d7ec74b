/*
 * A malicious guest: one attack on the VMM per mode (argv[1]). Modes that
 * the VMM must answer with errors check each answer, print
 * "attack: MODE: N calls, F failures" and exit with F; modes the VMM must
 * stop end in a crash report (status 126) and never reach their end
 * (exit 3 if they do). Used by tests/malicious/run-tests.sh, which says
 * what each needs (disk, memory, arguments).
 *
 *   hc-wild            every hypercall that takes a buffer, at addresses
 *                      past RAM, wrapping, in VMM-owned pages, in the
 *                      guard page, with huge lengths (with --disk, the
 *                      block calls check the buffer too)
 *   hc-struct-straddle an argument struct running off the end of RAM
 *   hc-rep-crash       one rep outsl of 64 hypercalls whose second stops
 *                      the VM: none may run after it
 *   queue-wild         the same through the block and console queues (and
 *                      the network's, with --net), and rings set up where
 *                      the guest may not write
 *   queue-race         rewrites requests while the VMM takes them, and
 *                      scribbles on the VMM's indices (--disk)
 *   queue-backwards    moves sq_tail back behind what the VMM took
 *   queue-self         a block read that lands on its own ring, over
 *                      sq_tail (--disk whose first sector is not zero)
 *   queue-stall        fills a queue, never consumes, sleeps SECS
 *   queue-shared       two queues on one ring
 *   storm-nop|storm-rep|storm-notify|storm-poll SECS
 *                      VM exits as fast as it can for SECS seconds
 *   flood-hc|flood-queue MIB
 *                      MIB MiB of console output, 1 MiB per request
 *   exc-storm, exc-bad-rsp, exc-noncanon-rsp, exc-tf
 *                      exceptions: in a loop, on a wild stack, single-step
 *   sys-gdt, sys-tss, sys-idt, sys-stubs, sys-xstack, sys-pt, sys-lidt,
 *   sys-ltr            the CPU's tables and the exception path
 *   mem-touch          writes every page of the heap and the stack
 *   mem-malloc         allocates until the heap is gone, then asks for more
 *   disk-bounds        reads and writes at and past the end of the disk,
 *                      huge and wrapping offsets; writes the last sector
 *                      (--disk; "ro" as argv[2] for a read-only one)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

#define CHECK_GUEST "attack"
#include "check.h"

#define PAGE 4096u
#define SEC 1000000000ull
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static volatile uint64_t sink;
static unsigned calls;

static uint8_t buf[2 * PAGE] __attribute__((aligned(PAGE)));
static const uint8_t ro_page[PAGE] __attribute__((aligned(PAGE))) = { 1 };
/* Each ring on a page boundary of its own. */
#define RING_BYTES ((SHALE_QUEUE_RING_SIZE(1024) + PAGE - 1) / PAGE * PAGE)
static uint8_t ring_mem[3][RING_BYTES] __attribute__((aligned(PAGE)));

static const struct shale_boot_info *bi(void)
{
	return shale_boot_info();
}

static void out32(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %w1" : : "a"(v), "Nd"(port) : "memory");
}

/* --- wild buffers ---------------------------------------------------------- */

/* Addresses no call may touch, for a buffer of `len` bytes. */
static unsigned bad_addrs(uint64_t *a, uint64_t len, bool fill)
{
	unsigned n = 0;
	uint64_t ram = bi()->mem_size;

	a[n++] = 0;                       /* the null page */
	a[n++] = ram;                     /* just past RAM */
	a[n++] = ram - len / 2;           /* running off its end */
	a[n++] = 1ull << 32;              /* 4 GiB */
	a[n++] = 1ull << 40;
	a[n++] = 0x8000000000000000ull;   /* negative as a signed number */
	a[n++] = 0 - (uint64_t)len / 2;   /* wraps around */
	a[n++] = 0xfffffffffffff000ull;
	a[n++] = 0x2000;                  /* GDT */
	a[n++] = 0x2100;                  /* TSS and its I/O bitmap */
	a[n++] = 0x3000;                  /* IDT */
	a[n++] = 0x4000;                  /* exception stubs */
	a[n++] = 0x5000;                  /* exception stack */
	a[n++] = 0x8000;                  /* PML4 */
	a[n++] = 0xa000;                  /* page directories */
	a[n++] = 0xe000;                  /* page tables */
	a[n++] = 0xff000;                 /* the last VMM page */
	a[n++] = 0x1000 - len / 2;        /* from the null page into the boot info */
	a[n++] = bi()->heap_end;          /* the guard page */
	a[n++] = bi()->heap_end - len / 2; /* heap into the guard page */
	a[n++] = 0x100000 - len / 2;      /* the VMM's last page into the image */
	if (fill) {
		a[n++] = SHALE_BOOT_INFO_GPA;     /* read-only */
		a[n++] = (uintptr_t)ro_page;      /* read-only data */
		a[n++] = (uintptr_t)&bad_addrs;   /* code */
	}
	return n;
}

static int64_t buffer_call(unsigned nr, uint64_t data, uint64_t len)
{
	struct shale_hc_buffer b = { .data = data, .len = len };

	calls++;
	shale_hypercall(nr, &b);
	return b.ret;
}

static int64_t console_call(uint64_t data, uint64_t len)
{
	struct shale_hc_console_write c = { .data = data, .len = len };

	calls++;
	shale_hypercall(SHALE_HC_CONSOLE_WRITE, &c);
	return c.ret;
}

static int64_t block_call(unsigned nr, uint64_t offset, uint64_t data, uint64_t len)
{
	struct shale_hc_block_io b = { .offset = offset, .data = data, .len = len };

	calls++;
	shale_hypercall(nr, &b);
	return b.ret;
}

static int64_t setup_call(uint32_t queue, uint32_t entries, uint64_t ring)
{
	struct shale_hc_queue_setup a = { .queue = queue, .entries = entries, .ring = ring };

	calls++;
	shale_hypercall(SHALE_HC_QUEUE_SETUP, &a);
	return a.ret;
}

static int64_t wait_call(uint32_t queue, uint32_t min, uint64_t deadline)
{
	struct shale_hc_queue_wait a = { .queue = queue, .min = min, .deadline_ns = deadline };

	calls++;
	shale_hypercall(SHALE_HC_QUEUE_WAIT, &a);
	return a.ret;
}

/* Huge lengths at a good address, among them sizes a 32-bit truncation would shrink. */
static const uint64_t huge_lens[] = {
	UINT64_MAX, 1ull << 63, (1ull << 32) + 512, (1ull << 32), 1ull << 31,
	SHALE_BLOCK_IO_MAX + 512, 0 - 512ull,
};

static int finish(const char *mode)
{
	printf("attack: %s: %u calls, %d failures\n", mode, calls, failures);
	return failures;
}

static int hc_wild(void)
{
	uint64_t a[32];
	unsigned n;
	struct shale_hc_net_info ni;
	bool net = shale_net_info(&ni) == SHALE_OK;
	struct shale_hc_block_info di;
	bool disk = shale_block_info(&di) == SHALE_OK;
	int64_t efault_blk = disk ? SHALE_EFAULT : SHALE_ENODEV;
	int64_t einval_blk = disk ? SHALE_EINVAL : SHALE_ENODEV;
	uint8_t canary[64];
	struct shale_boot_info saved = *bi();

	/* Buffers the VMM would fill. */
	n = bad_addrs(a, 512, true);
	for (unsigned i = 0; i < n; i++) {
		CHECK(buffer_call(SHALE_HC_RANDOM, a[i], 512), SHALE_EFAULT);
		CHECK(block_call(SHALE_HC_BLOCK_READ, 0, a[i], 512), efault_blk);
		CHECK(buffer_call(SHALE_HC_NET_READ, a[i], 1514), net ? SHALE_EFAULT : SHALE_ENODEV);
	}
	/* ARGS fills args_size bytes, whatever len says. */
	n = bad_addrs(a, bi()->args_size, true);
	for (unsigned i = 0; i < n; i++)
		CHECK(buffer_call(SHALE_HC_ARGS, a[i], 4096), SHALE_EFAULT);
	/* Buffers the VMM would read: the boot info and code are readable. */
	n = bad_addrs(a, 512, false);
	for (unsigned i = 0; i < n; i++) {
		CHECK(console_call(a[i], 512), SHALE_EFAULT);
		CHECK(block_call(SHALE_HC_BLOCK_WRITE, 0, a[i], 512), efault_blk);
	}
	n = bad_addrs(a, 60, false);
	for (unsigned i = 0; i < n; i++)
		CHECK(buffer_call(SHALE_HC_NET_WRITE, a[i], 60), net ? SHALE_EFAULT : SHALE_ENODEV);
	/* Huge lengths from a good buffer. */
	for (unsigned i = 0; i < ARRAY_LEN(huge_lens); i++) {
		uint64_t len = huge_lens[i];

		CHECK(console_call((uintptr_t)buf, len), SHALE_EINVAL);
		CHECK(buffer_call(SHALE_HC_RANDOM, (uintptr_t)buf, len), SHALE_EINVAL);
		CHECK(block_call(SHALE_HC_BLOCK_READ, 0, (uintptr_t)buf, len), einval_blk);
		CHECK(block_call(SHALE_HC_BLOCK_WRITE, 0, (uintptr_t)buf, len), einval_blk);
		/* ARGS copies args_size bytes, whatever len says it has room for. */
		CHECK(buffer_call(SHALE_HC_ARGS, (uintptr_t)buf, len), bi()->args_size);
		CHECK(buffer_call(SHALE_HC_NET_WRITE, (uintptr_t)buf, len),
		      net ? SHALE_EINVAL : SHALE_ENODEV);
	}
	CHECK(console_call((uintptr_t)buf, SHALE_CONSOLE_MAX + 1), SHALE_EINVAL);
	CHECK(buffer_call(SHALE_HC_RANDOM, (uintptr_t)buf, SHALE_RANDOM_MAX + 1), SHALE_EINVAL);
	/* A fill that would run 8 bytes into the guard page leaves the heap as it was. */
	uint8_t *edge = (uint8_t *)(uintptr_t)(bi()->heap_end - 56);
	memset(canary, 0x5a, sizeof(canary));
	memcpy(edge, canary, 56);
	CHECK(buffer_call(SHALE_HC_RANDOM, (uintptr_t)edge, 64), SHALE_EFAULT);
	CHECK(memcmp(edge, canary, 56), 0);
	CHECK(block_call(SHALE_HC_BLOCK_READ, 0, bi()->heap_end - 512, 1024), efault_blk);
	CHECK(memcmp(edge, canary, 56), 0);
	/* Other fields out of range. */
	CHECK(wait_call(UINT32_MAX, 1, 0), SHALE_EINVAL);
	CHECK(wait_call(SHALE_QUEUE_CONSOLE, UINT32_MAX, 0), SHALE_EINVAL);
	CHECK(setup_call(UINT32_MAX, 16, (uintptr_t)ring_mem[0]), SHALE_EINVAL);
	CHECK(setup_call(SHALE_QUEUE_CONSOLE, UINT32_MAX, (uintptr_t)ring_mem[0]), SHALE_EINVAL);
	CHECK(setup_call(SHALE_QUEUE_CONSOLE, 0x80000000u, (uintptr_t)ring_mem[0]), SHALE_EINVAL);
	CHECK(shale_poll(0, ~0ull), SHALE_EINVAL);
	out32(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY), UINT32_MAX); /* no queue: ignored */
	out32(SHALE_HC_PORT(SHALE_HC_NOP), UINT32_MAX);
	/* The boot info the VMM wrote is as it was. */
	CHECK(memcmp(&saved, bi(), sizeof(saved)), 0);
	return finish("hc-wild");
}

/*
 * One rep outsl: 64 console writes, the second with its argument struct in
 * the null page. The VMM stops the VM at the second; the other 62 must not
 * run after that (a line each if they did).
 */
static void hc_rep_crash(void)
{
	static struct shale_hc_console_write c = { 0, 26, 0 };
	static uint32_t gpas[64];
	const void *src = gpas;
	unsigned long cnt = ARRAY_LEN(gpas);

	c.data = (uintptr_t)"attack: rep console write\n";
	for (unsigned i = 0; i < ARRAY_LEN(gpas); i++)
		gpas[i] = (uint32_t)(uintptr_t)&c;
	gpas[1] = 0;
	__asm__ __volatile__("rep outsl"
			     : "+S"(src), "+c"(cnt)
			     : "d"(SHALE_HC_PORT(SHALE_HC_CONSOLE_WRITE))
			     : "memory");
}

static void hc_struct_straddle(void)
{
	/* 16 bytes of a 24-byte struct in RAM, the rest past its end. */
	out32(SHALE_HC_PORT(SHALE_HC_CONSOLE_WRITE), (uint32_t)(bi()->stack_top - 16));
}

/* --- I/O queues ------------------------------------------------------------ */

struct ring {
	struct shale_queue_ctl *ctl;
	struct shale_sqe *sq;
	struct shale_cqe *cq;
	uint32_t queue, entries, tail, head;
};

static bool ring_open(struct ring *r, uint32_t queue, uint32_t entries, void *mem)
{
	memset(mem, 0, SHALE_QUEUE_RING_SIZE(entries));
	*r = (struct ring){
		.ctl = mem,
		.sq = (struct shale_sqe *)((uint8_t *)mem + SHALE_QUEUE_SQ_OFFSET),
		.cq = (struct shale_cqe *)((uint8_t *)mem + SHALE_QUEUE_CQ_OFFSET(entries)),
		.queue = queue,
		.entries = entries,
	};
	return setup_call(queue, entries, (uintptr_t)mem) == SHALE_OK;
}

static void ring_post(struct ring *r, uint16_t op, uint16_t flags, uint64_t addr, uint32_t len,
		      uint64_t offset, uint64_t user_data)
{
	r->sq[r->tail & (r->entries - 1)] = (struct shale_sqe){
		.op = op, .flags = flags, .len = len, .user_data = user_data,
		.addr = addr, .offset = offset,
	};
	r->tail++;
}

static void ring_kick(struct ring *r)
{
	__atomic_store_n(&r->ctl->sq_tail, r->tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	out32(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY), r->queue);
}

/* The next completion, within 10 s; ret SHALE_EAGAIN (and a failure) if none. */
static struct shale_cqe ring_reap(struct ring *r)
{
	uint64_t deadline = shale_clock_monotonic_ns() + 10 * SEC;
	struct shale_cqe c = { UINT64_MAX, SHALE_EAGAIN };

	while (__atomic_load_n(&r->ctl->cq_tail, __ATOMIC_ACQUIRE) == r->head) {
		if (wait_call(r->queue, 1, deadline) == SHALE_EAGAIN) {
			CHECK(r->queue, UINT32_MAX); /* timed out */
			return c;
		}
	}
	c = r->cq[r->head & (r->entries - 1)];
	r->head++;
	__atomic_store_n(&r->ctl->cq_head, r->head, __ATOMIC_RELEASE);
	return c;
}

static int64_t ring_one(struct ring *r, uint16_t op, uint16_t flags, uint64_t addr, uint32_t len,
			uint64_t offset)
{
	uint64_t ud = 0x1234 + calls++;
	struct shale_cqe c;

	ring_post(r, op, flags, addr, len, offset, ud);
	ring_kick(r);
	c = ring_reap(r);
	CHECK(c.user_data == ud || c.ret == SHALE_EAGAIN, 1);
	return c.ret;
}

static int queue_wild(void)
{
	struct ring blk, con;
	uint64_t a[32];
	unsigned n;
	uint64_t cap;
	struct shale_hc_block_info info;

	CHECK(shale_block_info(&info), SHALE_OK);
	cap = info.capacity;
	/*
	 * Rings where the guest may not write, or running off RAM or the heap
	 * (1024 entries: 49280 bytes from the page below each address).
	 */
	n = bad_addrs(a, 2 * PAGE, true);
	for (unsigned i = 0; i < n; i++)
		CHECK(setup_call(SHALE_QUEUE_BLOCK, 1024, a[i] & ~0xfffull), SHALE_EFAULT);
	CHECK(setup_call(SHALE_QUEUE_BLOCK, 1024, bi()->mem_size - PAGE), SHALE_EFAULT);
	CHECK(setup_call(SHALE_QUEUE_BLOCK, 1024, bi()->heap_end - PAGE), SHALE_EFAULT);
	CHECK(setup_call(SHALE_QUEUE_BLOCK, 1024, bi()->stack_top - 2 * PAGE), SHALE_EFAULT);
	if (!ring_open(&blk, SHALE_QUEUE_BLOCK, 16, ring_mem[0]) ||
	    !ring_open(&con, SHALE_QUEUE_CONSOLE, 16, ring_mem[1])) {
		CHECK(0, 1);
		return finish("queue-wild");
	}
	n = bad_addrs(a, 512, true);
	for (unsigned i = 0; i < n; i++)
		CHECK(ring_one(&blk, SHALE_OP_READ, 0, a[i], 512, 0), SHALE_EFAULT);
	n = bad_addrs(a, 512, false);
	for (unsigned i = 0; i < n; i++) {
		CHECK(ring_one(&blk, SHALE_OP_WRITE, 0, a[i], 512, 0), SHALE_EFAULT);
		CHECK(ring_one(&con, SHALE_OP_WRITE, 0, a[i], 512, 0), SHALE_EFAULT);
	}
	/* Huge lengths (len is 32 bits here), offsets past the end and wrapping. */
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, UINT32_MAX, 0), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, 0xfffffe00u, 0), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_WRITE, 0, (uintptr_t)buf, 0x80000000u, 0), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, 512, cap), SHALE_ENOSPC);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, 1024, cap - 512), SHALE_ENOSPC);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, 1024, 0 - 512ull), SHALE_ENOSPC);
	CHECK(ring_one(&blk, SHALE_OP_WRITE, 0, (uintptr_t)buf, 1024, 1ull << 63), SHALE_ENOSPC);
	CHECK(ring_one(&con, SHALE_OP_WRITE, 0, (uintptr_t)buf, UINT32_MAX, 0), SHALE_EINVAL);
	CHECK(ring_one(&con, SHALE_OP_WRITE, 0, (uintptr_t)buf, SHALE_CONSOLE_MAX + 1, 0),
	      SHALE_EINVAL);
	/* Unknown ops and flags, a flush with a wild buffer (it has none). */
	CHECK(ring_one(&blk, 0xffff, 0, (uintptr_t)buf, 512, 0), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0xffff, (uintptr_t)buf, 512, 0), SHALE_EINVAL);
	CHECK(ring_one(&con, SHALE_OP_READ, 0, (uintptr_t)buf, 512, 0), SHALE_EINVAL);
	CHECK(ring_one(&con, SHALE_OP_FLUSH, 0, 0x8000, 512, 0), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_FLUSH, 0, 0x8000, UINT32_MAX, 1ull << 63), SHALE_OK);
	/* With --net: frames of wrong sizes, and receive buffers the guest may not write. */
	struct shale_hc_net_info ni;
	struct ring net;

	if (shale_net_info(&ni) == SHALE_OK && ring_open(&net, SHALE_QUEUE_NET, 16, ring_mem[2])) {
		n = bad_addrs(a, 1514, true);
		for (unsigned i = 0; i < n; i++)
			CHECK(ring_one(&net, SHALE_OP_READ, 0, a[i], 1514, 0), SHALE_EFAULT);
		n = bad_addrs(a, 60, false);
		for (unsigned i = 0; i < n; i++)
			CHECK(ring_one(&net, SHALE_OP_WRITE, 0, a[i], 60, 0), SHALE_EFAULT);
		CHECK(ring_one(&net, SHALE_OP_WRITE, 0, (uintptr_t)buf, 13, 0), SHALE_EINVAL);
		CHECK(ring_one(&net, SHALE_OP_WRITE, 0, (uintptr_t)buf, 1515, 0), SHALE_EINVAL);
		CHECK(ring_one(&net, SHALE_OP_WRITE, 0, (uintptr_t)buf, UINT32_MAX, 0), SHALE_EINVAL);
		CHECK(ring_one(&net, SHALE_OP_READ, 0, (uintptr_t)buf, 13, 0), SHALE_EINVAL);
		CHECK(ring_one(&net, SHALE_OP_FLUSH, 0, (uintptr_t)buf, 64, 0), SHALE_EINVAL);
	}
	/* Setting a queue up again, elsewhere, is refused; the first one lives on. */
	CHECK(setup_call(SHALE_QUEUE_BLOCK, 16, (uintptr_t)ring_mem[1]), SHALE_EINVAL);
	CHECK(ring_one(&blk, SHALE_OP_READ, 0, (uintptr_t)buf, 512, 0), 512);
	CHECK(ring_one(&con, SHALE_OP_WRITE, 0, (uintptr_t)"attack: console queue alive\n", 28, 0),
	      28);
	return finish("queue-wild");
}

/*
 * Keeps rewriting the requests the VMM is about to take: each is copied
 * once and checked on the copy, so every completion is one of the answers
 * a consistent request gets. The VMM's own indices are scribbled on too:
 * the VMM never reads them back.
 */
static int queue_race(unsigned rounds)
{
	struct ring r;
	uint64_t cap;
	struct shale_hc_block_info info;
	unsigned odd = 0;

	CHECK(shale_block_info(&info), SHALE_OK);
	cap = info.capacity;
	memset(buf, 0xa5, sizeof(buf));
	if (!ring_open(&r, SHALE_QUEUE_BLOCK, 64, ring_mem[0])) {
		CHECK(0, 1);
		return finish("queue-race");
	}
	for (unsigned round = 0; round < rounds; round++) {
		for (unsigned i = 0; i < 32; i++)
			ring_post(&r, SHALE_OP_WRITE, 0, (uintptr_t)buf, PAGE, 0, i);
		__atomic_store_n(&r.ctl->sq_tail, r.tail, __ATOMIC_RELEASE);
		out32(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY), r.queue);
		/* Rewrite the slots while the I/O thread takes them. */
		for (unsigned k = 0; k < 2000; k++) {
			struct shale_sqe *s = &r.sq[(r.tail - 1 - (k % 32)) & (r.entries - 1)];
			volatile struct shale_sqe *v = s;

			v->addr = (k & 1) ? 0x8000 : (uintptr_t)buf;
			v->len = (k & 2) ? UINT32_MAX : PAGE;
			v->offset = (k & 4) ? cap : (k & 8) ? 0 - 512ull : 0;
			v->op = (k & 16) ? SHALE_OP_READ : SHALE_OP_WRITE;
			v->flags = (k & 32) ? 1 : 0;
			r.ctl->sq_head = (uint32_t)k * 7919u;
			r.ctl->flags = 0;
		}
		for (unsigned i = 0; i < 32; i++) {
			struct shale_cqe c = ring_reap(&r);

			calls++;
			if (c.ret != PAGE && c.ret != SHALE_EFAULT && c.ret != SHALE_EINVAL &&
			    c.ret != SHALE_ENOSPC) {
				CHECK(c.ret, PAGE);
				odd++;
			}
			if (c.ret == SHALE_EAGAIN)
				return finish("queue-race");
		}
	}
	/* The page tables are intact: the guest still runs, and its code is as it was. */
	CHECK(*(volatile uint8_t *)ro_page, 1);
	CHECK(odd, 0);
	return finish("queue-race");
}

static _Noreturn void stopped_or_exit(const char *mode)
{
	/* The VMM must have stopped the VM by now; wait for it a while. */
	for (unsigned i = 0; i < 100; i++)
		shale_poll(shale_clock_monotonic_ns() + 100000000ull, 0);
	printf("attack: %s did not stop the VM\n", mode);
	exit(3);
}

static void queue_backwards(void)
{
	struct ring r;

	if (!ring_open(&r, SHALE_QUEUE_BLOCK, 16, ring_mem[0]))
		exit(4);
	CHECK(ring_one(&r, SHALE_OP_NOP, 0, 0, 0, 0), 0);
	/* The VMM took request 0; now there was never one. */
	r.tail--;
	ring_kick(&r);
	wait_call(r.queue, 1, shale_clock_monotonic_ns() + SEC);
	stopped_or_exit("queue-backwards");
}

static void queue_self(void)
{
	struct ring r;

	if (!ring_open(&r, SHALE_QUEUE_BLOCK, 16, ring_mem[0]))
		exit(4);
	/* The disk's first page lands on the ring: on sq_tail, cq_head and the slots. */
	ring_post(&r, SHALE_OP_READ, 0, (uintptr_t)ring_mem[0], PAGE, 0, 1);
	ring_kick(&r);
	for (unsigned i = 0; i < 20; i++) {
		wait_call(r.queue, 1, shale_clock_monotonic_ns() + 100000000ull);
		out32(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY), r.queue);
	}
	stopped_or_exit("queue-self");
}

static int queue_stall(unsigned secs)
{
	struct ring r;

	if (!ring_open(&r, SHALE_QUEUE_CONSOLE, 16, ring_mem[0])) {
		CHECK(0, 1);
		return finish("queue-stall");
	}
	/* Twice the ring: the VMM takes 16, then has no completion slot for more. */
	for (unsigned i = 0; i < 16; i++)
		ring_post(&r, SHALE_OP_NOP, 0, 0, 0, 0, i);
	ring_kick(&r);
	shale_poll(shale_clock_monotonic_ns() + 200000000ull, 0);
	for (unsigned i = 0; i < 16; i++)
		ring_post(&r, SHALE_OP_NOP, 0, 0, 0, 0, i);
	ring_kick(&r);
	printf("attack: queue-stall: sleeping\n");
	shale_poll(shale_clock_monotonic_ns() + secs * SEC, 0);
	CHECK(__atomic_load_n(&r.ctl->sq_head, __ATOMIC_ACQUIRE), 16);
	CHECK(__atomic_load_n(&r.ctl->cq_tail, __ATOMIC_ACQUIRE), 16);
	return finish("queue-stall");
}

/*
 * Two queues on one ring: each serves every request. A console write of 64
 * bytes is a bad block request (not whole sectors): both complete at once,
 * so neither queue finds the guest's cq_head past its own cq_tail.
 */
static int queue_shared(void)
{
	struct ring r;
	static const char msg[64] = "attack: one request, two devices\n";

	if (!ring_open(&r, SHALE_QUEUE_BLOCK, 16, ring_mem[0]) ||
	    setup_call(SHALE_QUEUE_CONSOLE, 16, (uintptr_t)ring_mem[0]) != SHALE_OK) {
		CHECK(0, 1);
		return finish("queue-shared");
	}
	for (unsigned i = 0; i < 50; i++) {
		struct shale_cqe c;

		calls++;
		ring_post(&r, SHALE_OP_WRITE, 0, (uintptr_t)msg, 34, 0, i);
		ring_kick(&r);
		c = ring_reap(&r);
		if (c.ret == SHALE_EAGAIN)
			break;
		/* The slot holds whichever completion came last. */
		if (c.ret != 34 && c.ret != SHALE_EINVAL)
			CHECK(c.ret, 34);
		shale_poll(shale_clock_monotonic_ns() + 1000000ull, 0);
	}
	return finish("queue-shared");
}

/* --- exit storms and floods ------------------------------------------------ */

static int storm(const char *mode, unsigned secs)
{
	uint64_t end = shale_clock_monotonic_ns() + secs * SEC, n = 0;
	static uint32_t zeros[1024];
	struct ring r;
	bool notify = !strcmp(mode, "storm-notify");

	if (notify && !ring_open(&r, SHALE_QUEUE_CONSOLE, 16, ring_mem[0]))
		return 4;
	do {
		/* rep outsl: 1024 exits per round; about 50 ms on PVM. */
		for (unsigned i = 0; i < (notify || strcmp(mode, "storm-rep") ? 256u : 1u); i++) {
			if (!strcmp(mode, "storm-rep")) {
				/* 1024 hypercalls in one instruction. */
				const void *src = zeros;
				unsigned long cnt = ARRAY_LEN(zeros);

				__asm__ __volatile__("rep outsl"
						     : "+S"(src), "+c"(cnt)
						     : "d"(SHALE_HC_PORT(SHALE_HC_NOP))
						     : "memory");
				n += ARRAY_LEN(zeros);
			} else if (notify) {
				out32(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY), SHALE_QUEUE_CONSOLE);
				n++;
			} else if (!strcmp(mode, "storm-poll")) {
				shale_poll(0, 0);
				n++;
			} else {
				shale_nop();
				n++;
			}
		}
	} while (shale_clock_monotonic_ns() < end);
	printf("attack: %s: %llu exits in %u s\n", mode, (unsigned long long)n, secs);
	return 0;
}

static int flood(const char *mode, unsigned mib)
{
	uint8_t *mb = malloc(SHALE_CONSOLE_MAX);
	uint64_t done = 0;

	if (!mb)
		return 4;
	for (unsigned i = 0; i < SHALE_CONSOLE_MAX; i++)
		mb[i] = (i % 64 == 63) ? '\n' : 'a' + i % 26;
	if (!strcmp(mode, "flood-hc")) {
		for (unsigned i = 0; i < mib; i++)
			if (console_call((uintptr_t)mb, SHALE_CONSOLE_MAX) == SHALE_CONSOLE_MAX)
				done++;
	} else {
		struct ring r;

		if (!ring_open(&r, SHALE_QUEUE_CONSOLE, 1024, ring_mem[0]))
			return 4;
		for (unsigned i = 0; i < mib;) {
			unsigned batch = MIN(mib - i, 1024u);

			for (unsigned j = 0; j < batch; j++)
				ring_post(&r, SHALE_OP_WRITE, 0, (uintptr_t)mb, SHALE_CONSOLE_MAX, 0, j);
			ring_kick(&r);
			for (unsigned j = 0; j < batch; j++)
				if (ring_reap(&r).ret == SHALE_CONSOLE_MAX)
					done++;
			i += batch;
		}
	}
	printf("attack: %s: %llu MiB written\n", mode, (unsigned long long)done);
	return done == mib ? 0 : 1;
}

/* --- exceptions and the CPU's tables --------------------------------------- */

static void exc_storm(void)
{
	for (;;)
		__asm__ __volatile__("ud2");
}

static void exc_bad_rsp(void)
{
	/* The exception is delivered on the VMM's stack (TSS rsp0), not this one. */
	__asm__ __volatile__("xor %%esp, %%esp\n\tud2" : : : "memory");
}

static void exc_noncanon_rsp(void)
{
	__asm__ __volatile__("movabs $0x8000000000000000, %%rsp\n\tpush %%rax" : : : "memory");
}

static void exc_tf(void)
{
	/* The trap flag: a #DB after the next instruction. */
	__asm__ __volatile__("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\tnop\n\tnop" : : : "memory");
}

static void poke(uint64_t gpa)
{
	*(volatile uint64_t *)(uintptr_t)gpa = 0;
}

static void sys_lidt(void)
{
	static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = { 0, 0 };

	__asm__ __volatile__("lidt %0" : : "m"(d));
}

static void sys_ltr(void)
{
	__asm__ __volatile__("ltr %w0" : : "r"(0x28));
}

/* --- memory ------------------------------------------------------------------ */

static int mem_touch(void)
{
	uint64_t pages = 0;
	uint64_t sp = (uintptr_t)__builtin_frame_address(0) & ~(uint64_t)(PAGE - 1);

	for (uint64_t p = bi()->heap_start; p < bi()->heap_end; p += PAGE, pages++)
		*(volatile uint8_t *)(uintptr_t)p = 1;
	for (uint64_t p = bi()->stack_top - SHALE_STACK_SIZE; p < sp - PAGE; p += PAGE, pages++)
		*(volatile uint8_t *)(uintptr_t)p = 1;
	printf("attack: mem-touch: %llu MiB touched of %llu\n",
	       (unsigned long long)(pages * PAGE >> 20), (unsigned long long)(bi()->mem_size >> 20));
	return 0;
}

static int mem_malloc(void)
{
	uint64_t mib = 0;
	/* Through a volatile: the compiler refuses a literal size past PTRDIFF_MAX. */
	volatile size_t huge = SIZE_MAX;

	CHECK(malloc(huge) == NULL, 1);
	CHECK(malloc(huge / 2) == NULL, 1);
	CHECK(malloc(bi()->mem_size) == NULL, 1);
	for (;;) {
		uint8_t *p = malloc(1 << 20);

		if (!p)
			break;
		for (unsigned i = 0; i < (1 << 20); i += PAGE)
			p[i] = 1;
		mib++;
	}
	CHECK(malloc(1 << 20) == NULL, 1);
	CHECK(mib + 8 >= (bi()->heap_end - bi()->heap_start) >> 20, 1);
	printf("attack: mem-malloc: %llu MiB allocated, then none\n", (unsigned long long)mib);
	return finish("mem-malloc");
}

/* --- the disk ---------------------------------------------------------------- */

static const char canary_magic[] = "SHALE-CANARY";

static bool has_magic(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + sizeof(canary_magic) - 1 <= len; i++)
		if (p[i] == 'S' && !memcmp(p + i, canary_magic, sizeof(canary_magic) - 1))
			return true;
	return false;
}

static int disk_bounds(bool ro)
{
	struct shale_hc_block_info info;
	uint64_t cap, b = (uintptr_t)buf;
	int64_t w = ro ? SHALE_EROFS : SHALE_ENOSPC;
	struct ring r;
	bool found = false;

	CHECK(shale_block_info(&info), SHALE_OK);
	cap = info.capacity;
	CHECK(!!(info.flags & SHALE_BLOCK_F_READONLY), ro);
	static const struct { uint64_t off, len; } past[] = {
		{ 0, 0 }, /* replaced by cap below */
		{ 0, 0 }, { 0, 0 }, { 0 - 512ull, 1024 }, { 0 - 512ull, 512 },
		{ 1ull << 63, 512 }, { (1ull << 63) - 512, 1024 }, { 0xfffffffffffff000ull, 8192 },
	};
	for (unsigned i = 0; i < ARRAY_LEN(past); i++) {
		uint64_t off = past[i].off, len = past[i].len;

		if (i == 0)
			off = cap, len = 512;
		else if (i == 1)
			off = cap - 512, len = 1024;
		else if (i == 2)
			off = cap + 512, len = 512;
		CHECK(block_call(SHALE_HC_BLOCK_READ, off, b, len), SHALE_ENOSPC);
		CHECK(block_call(SHALE_HC_BLOCK_WRITE, off, b, len), w);
	}
	/* Not sector multiples, or over the largest request. */
	CHECK(block_call(SHALE_HC_BLOCK_READ, 1, b, 512), SHALE_EINVAL);
	CHECK(block_call(SHALE_HC_BLOCK_READ, 0, b, 511), SHALE_EINVAL);
	CHECK(block_call(SHALE_HC_BLOCK_READ, 0, b, SHALE_BLOCK_IO_MAX + 512), SHALE_EINVAL);
	/* Nothing at the end, the last sector itself, and a flush. */
	CHECK(block_call(SHALE_HC_BLOCK_READ, cap, b, 0), 0);
	memset(buf, 'Z', 512);
	CHECK(block_call(SHALE_HC_BLOCK_WRITE, cap - 512, b, 512), ro ? SHALE_EROFS : 512);
	CHECK(shale_hc_block_flush(), SHALE_OK);
	/* The same through the block queue. */
	if (ring_open(&r, SHALE_QUEUE_BLOCK, 16, ring_mem[0])) {
		CHECK(ring_one(&r, SHALE_OP_READ, 0, b, 512, cap), SHALE_ENOSPC);
		CHECK(ring_one(&r, SHALE_OP_WRITE, 0, b, 512, cap), w);
		CHECK(ring_one(&r, SHALE_OP_WRITE, 0, b, 1024, cap - 512), w);
		CHECK(ring_one(&r, SHALE_OP_WRITE, 0, b, 1024, 0 - 512ull), w);
		CHECK(ring_one(&r, SHALE_OP_READ, 0, b, 512, 1ull << 63), SHALE_ENOSPC);
		CHECK(ring_one(&r, SHALE_OP_FLUSH, 0, 0, 0, 0), SHALE_OK);
	} else {
		CHECK(0, 1);
	}
	/* All the guest can read is its own disk: no byte of the host's files. */
	for (uint64_t off = 0; off < cap; off += PAGE) {
		uint64_t len = MIN((uint64_t)PAGE, cap - off);

		if (block_call(SHALE_HC_BLOCK_READ, off, b, len) != (int64_t)len) {
			CHECK(off, UINT64_MAX);
			break;
		}
		found |= has_magic(buf, len);
	}
	CHECK(found, 0);
	return finish(ro ? "disk-bounds ro" : "disk-bounds");
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;

	if (!strcmp(m, "hc-wild"))
		return hc_wild();
	if (!strcmp(m, "hc-struct-straddle"))
		hc_struct_straddle();
	else if (!strcmp(m, "hc-rep-crash"))
		hc_rep_crash();
	else if (!strcmp(m, "queue-wild"))
		return queue_wild();
	else if (!strcmp(m, "queue-race"))
		return queue_race(n ? n : 200);
	else if (!strcmp(m, "queue-backwards"))
		queue_backwards();
	else if (!strcmp(m, "queue-self"))
		queue_self();
	else if (!strcmp(m, "queue-stall"))
		return queue_stall(n ? n : 2);
	else if (!strcmp(m, "queue-shared"))
		return queue_shared();
	else if (!strncmp(m, "storm-", 6))
		return storm(m, n ? n : 2);
	else if (!strncmp(m, "flood-", 6))
		return flood(m, n ? n : 16);
	else if (!strcmp(m, "exc-storm"))
		exc_storm();
	else if (!strcmp(m, "exc-bad-rsp"))
		exc_bad_rsp();
	else if (!strcmp(m, "exc-noncanon-rsp"))
		exc_noncanon_rsp();
	else if (!strcmp(m, "exc-tf"))
		exc_tf();
	else if (!strcmp(m, "sys-gdt"))
		poke(0x2000);
	else if (!strcmp(m, "sys-tss"))
		poke(0x2100 + 104); /* the I/O bitmap */
	else if (!strcmp(m, "sys-idt"))
		poke(0x3000);
	else if (!strcmp(m, "sys-stubs"))
		poke(0x4000);
	else if (!strcmp(m, "sys-xstack"))
		poke(0x6ff8);
	else if (!strcmp(m, "sys-pt"))
		poke(0xe000);
	else if (!strcmp(m, "sys-lidt"))
		sys_lidt();
	else if (!strcmp(m, "sys-ltr"))
		sys_ltr();
	else if (!strcmp(m, "mem-touch"))
		return mem_touch();
	else if (!strcmp(m, "mem-malloc"))
		return mem_malloc();
	else if (!strcmp(m, "disk-bounds"))
		return disk_bounds(argc > 2 && !strcmp(argv[2], "ro"));
	else {
		printf("attack: unknown mode '%s'\n", m);
		return 2;
	}
	printf("attack: %s did not stop the VM\n", m);
	return 3;
}
