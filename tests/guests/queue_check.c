/*
 * Checks the I/O queues (ABI v2) from inside a guest. With no argument:
 * set-up errors, many requests in flight, bad requests answered with
 * errors while the queue goes on, the console queue, and QUEUE_WAIT;
 * prints one line per failed check and exits with the number of failures.
 * Run with a disk of at least 9 MiB and without a network. Modes:
 *
 *   net-order    with --net: completions out of order (a receive buffer
 *                posted before a NOP completes after it, once a frame comes)
 *   corrupt-sq   publishes sq_tail far past the VMM's sq_head
 *   corrupt-cq   moves cq_head past cq_tail
 *
 * The corrupt modes must be stopped by the VMM as crashed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

#define CHECK_GUEST "queue_check"
#include "check.h"

#define PAGE 4096u
#define DEPTH 64u
#define BLK 4096u

static uint8_t ring[2][SHALE_QUEUE_RING_SIZE(1024)] __attribute__((aligned(PAGE)));
static uint8_t bufs[DEPTH][BLK] __attribute__((aligned(PAGE)));
static const uint8_t text_page[PAGE] __attribute__((aligned(PAGE))) = { 1 };

static int64_t setup(uint32_t queue, uint32_t entries, uint64_t ring_gpa, uint32_t flags)
{
	struct shale_hc_queue_setup a = {
		.queue = queue, .entries = entries, .ring = ring_gpa, .flags = flags,
	};

	shale_hypercall(SHALE_HC_QUEUE_SETUP, &a);
	return a.ret;
}

static int64_t wait_call(uint32_t queue, uint32_t min, uint64_t deadline)
{
	struct shale_hc_queue_wait a = { .queue = queue, .min = min, .deadline_ns = deadline };

	shale_hypercall(SHALE_HC_QUEUE_WAIT, &a);
	return a.ret;
}

/* One request on its own; its completion's ret. */
static int64_t one(struct shale_queue *q, uint16_t op, uint16_t flags, uint64_t addr,
		   uint32_t len, uint64_t offset)
{
	int64_t r = shale_queue_prep(q, op, (const void *)(uintptr_t)addr, len, offset, 99);
	struct shale_cqe cqe;

	if (r)
		return r;
	q->sq[(q->sq_tail - 1) & (q->entries - 1)].flags = flags;
	shale_queue_submit(q);
	r = shale_queue_wait(q, &cqe, SHALE_NO_DEADLINE);
	return r ? r : cqe.ret;
}

static void setup_errors(void)
{
	uint64_t r0 = (uintptr_t)ring[0];

	CHECK(setup(SHALE_QUEUE_COUNT, 16, r0, 0), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_BLOCK, 3, r0, 0), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_BLOCK, 0, r0, 0), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_BLOCK, 2048, r0, 0), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_BLOCK, 16, r0 + 64, 0), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_BLOCK, 16, r0, 1), SHALE_EINVAL);
	CHECK(setup(SHALE_QUEUE_NET, 16, r0, 0), SHALE_ENODEV);
	/* Ring memory the guest cannot write: its code, the VMM's pages, past RAM. */
	CHECK(setup(SHALE_QUEUE_BLOCK, 16, (uintptr_t)text_page, 0), SHALE_EFAULT);
	CHECK(setup(SHALE_QUEUE_BLOCK, 16, 0x2000, 0), SHALE_EFAULT);
	CHECK(setup(SHALE_QUEUE_BLOCK, 16, shale_boot_info()->mem_size, 0), SHALE_EFAULT);
	/* Waiting on a queue nobody set up. */
	CHECK(wait_call(SHALE_QUEUE_BLOCK, 1, 0), SHALE_EINVAL);
}

/* DEPTH writes of a page each, then DEPTH reads, all in flight at once. */
static void many_in_flight(struct shale_queue *q)
{
	bool seen[DEPTH] = { false };
	struct shale_cqe cqe;
	unsigned got = 0, bad = 0;

	for (unsigned i = 0; i < DEPTH; i++) {
		memset(bufs[i], 0x40 + i, BLK);
		CHECK(shale_queue_prep(q, SHALE_OP_WRITE, bufs[i], BLK, (uint64_t)i * BLK, i),
		      SHALE_OK);
	}
	CHECK(shale_queue_prep(q, SHALE_OP_NOP, 0, 0, 0, 1000), SHALE_EAGAIN); /* full */
	shale_queue_submit(q);
	for (unsigned i = 0; i < DEPTH; i++) {
		CHECK(shale_queue_wait(q, &cqe, SHALE_NO_DEADLINE), SHALE_OK);
		CHECK(cqe.ret, BLK);
	}
	CHECK(one(q, SHALE_OP_FLUSH, 0, 0, 0, 0), SHALE_OK);

	memset(bufs, 0, sizeof(bufs));
	for (unsigned i = 0; i < DEPTH; i++)
		shale_queue_prep(q, SHALE_OP_READ, bufs[i], BLK, (uint64_t)i * BLK, i);
	shale_queue_submit(q);
	while (got < DEPTH && shale_queue_wait(q, &cqe, SHALE_NO_DEADLINE) == SHALE_OK) {
		if (cqe.user_data >= DEPTH || seen[cqe.user_data] || cqe.ret != BLK) {
			bad++;
			continue;
		}
		seen[cqe.user_data] = true;
		got++;
	}
	CHECK(got, DEPTH);
	CHECK(bad, 0);
	for (unsigned i = 0; i < DEPTH; i++)
		for (unsigned j = 0; j < BLK; j++)
			if (bufs[i][j] != 0x40 + i) {
				CHECK(bufs[i][j], 0x40 + i);
				break;
			}
	CHECK(q->held, 0);
}

/*
 * Run with --net and a peer that sends a frame: a receive buffer posted
 * before a NOP completes after it, when the frame arrives.
 */
static int net_order(void)
{
	static uint8_t frame[1514];
	struct shale_queue q;
	struct shale_cqe first, second;
	uint64_t deadline = shale_clock_monotonic_ns() + 20000000000ull;

	CHECK(shale_queue_open(&q, SHALE_QUEUE_NET, 8), SHALE_OK);
	CHECK(shale_queue_prep(&q, SHALE_OP_READ, frame, sizeof(frame), 0, 1), SHALE_OK);
	CHECK(shale_queue_prep(&q, SHALE_OP_NOP, 0, 0, 0, 2), SHALE_OK);
	shale_queue_submit(&q);
	CHECK(shale_queue_wait(&q, &first, deadline), SHALE_OK);
	CHECK(first.user_data, 2);
	CHECK(first.ret, 0);
	CHECK(shale_queue_wait(&q, &second, deadline), SHALE_OK);
	CHECK(second.user_data, 1);
	CHECK(second.ret >= 14, 1);
	printf("queue_check: net-order: %d failures\n", failures);
	return failures;
}

static void bad_requests(struct shale_queue *q)
{
	uint64_t b = (uintptr_t)bufs[0];
	uint64_t ram = shale_boot_info()->mem_size;

	CHECK(one(q, 99, 0, b, BLK, 0), SHALE_EINVAL);
	CHECK(one(q, SHALE_OP_READ, 1, b, BLK, 0), SHALE_EINVAL);
	CHECK(one(q, SHALE_OP_READ, 0, b, 100, 0), SHALE_EINVAL);
	CHECK(one(q, SHALE_OP_READ, 0, b, BLK, 100), SHALE_EINVAL);
	CHECK(one(q, SHALE_OP_READ, 0, b, BLK, 1ull << 40), SHALE_ENOSPC);
	CHECK(one(q, SHALE_OP_READ, 0, b, SHALE_BLOCK_IO_MAX + 512, 0), SHALE_EINVAL);
	/* Buffers the guest could not itself write (a read stores into them). */
	CHECK(one(q, SHALE_OP_READ, 0, 0x2000, BLK, 0), SHALE_EFAULT);
	CHECK(one(q, SHALE_OP_READ, 0, (uintptr_t)text_page, BLK, 0), SHALE_EFAULT);
	CHECK(one(q, SHALE_OP_READ, 0, ram - 512, BLK, 0), SHALE_EFAULT);
	CHECK(one(q, SHALE_OP_WRITE, 0, 0xfffffffffffff000ull, BLK, 0), SHALE_EFAULT);
	/* A write may come from read-only memory. */
	CHECK(one(q, SHALE_OP_WRITE, 0, (uintptr_t)text_page, BLK, 8u << 20), BLK);
	/* After all that, the queue still works. */
	CHECK(one(q, SHALE_OP_READ, 0, b, BLK, 0), BLK);
	CHECK(bufs[0][0], 0x40);
}

static void console_queue(void)
{
	static const char msg[] = "queue_check: console through its queue\n";
	struct shale_queue q;

	CHECK(shale_queue_open(&q, SHALE_QUEUE_CONSOLE, 8), SHALE_OK);
	CHECK(one(&q, SHALE_OP_WRITE, 0, (uintptr_t)msg, sizeof(msg) - 1, 0), sizeof(msg) - 1);
	CHECK(one(&q, SHALE_OP_READ, 0, (uintptr_t)bufs[0], 16, 0), SHALE_EINVAL);
	CHECK(one(&q, SHALE_OP_WRITE, 0, 0x2000, 16, 0), SHALE_EFAULT);
	CHECK(one(&q, SHALE_OP_WRITE, 0, (uintptr_t)msg, SHALE_CONSOLE_MAX + 1, 0), SHALE_EINVAL);
}

static void waits(struct shale_queue *q)
{
	uint64_t now = shale_clock_monotonic_ns();
	struct shale_cqe cqe;

	CHECK(wait_call(q->queue, 0, now), SHALE_EINVAL);
	CHECK(wait_call(q->queue, q->entries + 1, now), SHALE_EINVAL);
	/* Nothing outstanding: the deadline ends the wait. */
	CHECK(wait_call(q->queue, 1, now + 2000000), SHALE_EAGAIN);
	CHECK(shale_clock_monotonic_ns() - now >= 2000000, 1);
	CHECK(shale_queue_wait(q, &cqe, SHALE_NO_DEADLINE), SHALE_EINVAL); /* held 0 */
}

static _Noreturn void corrupt(const char *how)
{
	struct shale_queue q;

	if (shale_queue_open(&q, SHALE_QUEUE_BLOCK, 16) != SHALE_OK) {
		printf("queue_check: no block queue\n");
		exit(3);
	}
	CHECK(one(&q, SHALE_OP_NOP, 0, 0, 0, 0), 0);
	if (!strcmp(how, "corrupt-sq")) {
		__atomic_store_n(&q.ctl->sq_tail, q.sq_tail + 5000, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&q.ctl->cq_head, q.cq_head + 3, __ATOMIC_RELEASE);
		shale_queue_prep(&q, SHALE_OP_NOP, 0, 0, 0, 0);
		__atomic_store_n(&q.ctl->sq_tail, q.sq_tail, __ATOMIC_RELEASE);
	}
	/* Ring whether or not the VMM asked to be: it must stop the VM either way. */
	__asm__ __volatile__("outl %0, %w1" : : "a"(SHALE_QUEUE_BLOCK),
			     "Nd"(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY)) : "memory");
	for (;;)
		wait_call(SHALE_QUEUE_BLOCK, 1, UINT64_MAX);
}

int main(int argc, char **argv)
{
	struct shale_queue q;

	if (argc > 1 && !strcmp(argv[1], "net-order"))
		return net_order();
	if (argc > 1)
		corrupt(argv[1]);
	setup_errors();
	CHECK(setup(SHALE_QUEUE_BLOCK, DEPTH, (uintptr_t)ring[0], 0), SHALE_OK);
	CHECK(setup(SHALE_QUEUE_BLOCK, DEPTH, (uintptr_t)ring[1], 0), SHALE_EINVAL); /* twice */
	q = (struct shale_queue){
		.ctl = (struct shale_queue_ctl *)ring[0],
		.sq = (struct shale_sqe *)(ring[0] + SHALE_QUEUE_SQ_OFFSET),
		.cq = (struct shale_cqe *)(ring[0] + SHALE_QUEUE_CQ_OFFSET(DEPTH)),
		.queue = SHALE_QUEUE_BLOCK,
		.entries = DEPTH,
		.spin_ns = 100000,
		.spin_now = 2000,
	};
	many_in_flight(&q);
	bad_requests(&q);
	waits(&q);
	console_queue();
	printf("queue_check: %d failures (%llu notifies, %llu sleeps)\n", failures,
	       (unsigned long long)q.notifies, (unsigned long long)q.sleeps);
	return failures;
}
