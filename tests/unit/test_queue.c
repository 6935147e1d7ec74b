/*
 * The VMM's side of an I/O queue (pv/queue.c) over a ring in ordinary
 * heap memory, with this file playing the guest: requests come out in
 * order and as copies, the completion ring never overflows, indices that
 * cannot be right break the queue for good, and nothing the guest writes
 * into the VMM's half of the ring changes what the VMM does.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <shale/abi/queue.h>

#include "pv/queue.h"

/* A queue and its ring; the test is the guest, with indices of its own. */
struct ring {
	struct pv_queue q;
	uint8_t *mem;
	struct shale_queue_ctl *ctl;
	struct shale_sqe *sq;
	struct shale_cqe *cq;
	uint32_t entries;
	uint32_t sq_tail, cq_head;
};

static void ring_open(struct ring *r, uint32_t entries)
{
	size_t size = SHALE_QUEUE_RING_SIZE(entries);

	memset(r, 0, sizeof(*r));
	r->mem = calloc(1, size);
	assert_non_null(r->mem);
	r->ctl = (struct shale_queue_ctl *)r->mem;
	r->sq = (struct shale_sqe *)(r->mem + SHALE_QUEUE_SQ_OFFSET);
	r->cq = (struct shale_cqe *)(r->mem + SHALE_QUEUE_CQ_OFFSET(entries));
	r->entries = entries;
	pv_queue_init(&r->q, r->mem, entries);
}

static void ring_close(struct ring *r)
{
	free(r->mem);
	r->mem = NULL;
}

/* The request the guest puts in as its n-th: every field tells n apart. */
static struct shale_sqe request(uint32_t n)
{
	return (struct shale_sqe){
		.op = (uint16_t)(n % 4),
		.flags = (uint16_t)(n >> 16),
		.len = 512 + n,
		.user_data = 0x1000000000ull + n,
		.addr = 0x200000ull + 4096ull * n,
		.offset = 0x80000000000ull + 512ull * n,
	};
}

/* The guest puts k requests in and publishes sq_tail. */
static void guest_submit(struct ring *r, uint32_t k)
{
	while (k--) {
		r->sq[r->sq_tail & (r->entries - 1)] = request(r->sq_tail);
		r->sq_tail++;
	}
	r->ctl->sq_tail = r->sq_tail;
}

/* The guest takes k completions (they must be there) and publishes cq_head. */
static void guest_consume(struct ring *r, uint32_t k)
{
	assert_true(atomic_load(&r->q.cq_tail) - r->cq_head >= k);
	r->cq_head += k;
	r->ctl->cq_head = r->cq_head;
}

static void assert_sqe_equal(const struct shale_sqe *a, const struct shale_sqe *b)
{
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->user_data, b->user_data);
	assert_int_equal(a->addr, b->addr);
	assert_int_equal(a->offset, b->offset);
}

/* Takes one request, which must be the guest's n-th. */
static void take_expect(struct ring *r, uint32_t n)
{
	struct shale_sqe sqe, want = request(n);

	assert_int_equal(pv_queue_take(&r->q, &sqe), 1);
	assert_sqe_equal(&sqe, &want);
}

static void assert_broken(struct ring *r, const char *what)
{
	struct shale_sqe sqe;

	assert_true(atomic_load(&r->q.broken));
	assert_true(r->ctl->flags & SHALE_QF_BROKEN);
	assert_non_null(strstr(r->q.why, what));
	assert_int_equal(pv_queue_unconsumed(&r->q), -1);
	assert_true(pv_queue_arm(&r->q));
	assert_int_equal(pv_queue_take(&r->q, &sqe), -1);
}

static void test_entries_ok(void **state)
{
	static const uint32_t good[] = { 1, 2, 4, 8, 64, 512, 1024 };
	static const uint32_t bad[] = { 0, 3, 5, 6, 12, 1000, 1023, 1025, 2048, 4096,
					1u << 31, UINT32_MAX };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(pv_queue_entries_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pv_queue_entries_ok(bad[i]));
}

static void test_init(void **state)
{
	struct ring r;

	ring_open(&r, 8);
	/* The guest zeroes the ring, but the VMM publishes its half anyway. */
	memset(r.mem, 0xa5, SHALE_QUEUE_RING_SIZE(8));
	pv_queue_init(&r.q, r.mem, 8);
	assert_int_equal(r.ctl->sq_head, 0);
	assert_int_equal(r.ctl->cq_tail, 0);
	assert_int_equal(r.ctl->flags, 0);
	assert_ptr_equal(r.q.ctl, r.mem);
	assert_ptr_equal(r.q.sq, r.mem + 128);
	assert_ptr_equal(r.q.cq, r.mem + 128 + 32 * 8);
	assert_int_equal(r.q.entries, 8);
	assert_int_equal(r.q.sq_head, 0);
	assert_int_equal(atomic_load(&r.q.cq_tail), 0);
	assert_int_equal(r.q.held, 0);
	assert_false(atomic_load(&r.q.broken));
	ring_close(&r);
}

static void test_take_in_order(void **state)
{
	struct ring r;

	ring_open(&r, 8);
	guest_submit(&r, 3);
	for (uint32_t n = 0; n < 3; n++) {
		take_expect(&r, n);
		assert_int_equal(r.ctl->sq_head, n + 1);
		assert_int_equal(r.q.held, n + 1);
	}
	guest_submit(&r, 2);
	take_expect(&r, 3);
	take_expect(&r, 4);
	assert_int_equal(r.ctl->sq_head, 5);
	ring_close(&r);
}

static void test_take_nothing(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	assert_int_equal(r.ctl->sq_head, 0);
	assert_int_equal(r.q.held, 0);
	/* A request in the slot that the guest has not published yet. */
	r.sq[0] = request(0);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	guest_submit(&r, 1);
	take_expect(&r, 0);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	assert_int_equal(r.ctl->sq_head, 1);
	assert_false(atomic_load(&r.q.broken));
	ring_close(&r);
}

static void test_take_copies(void **state)
{
	struct ring r;
	struct shale_sqe sqe, want = request(0);

	ring_open(&r, 4);
	guest_submit(&r, 1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 1);
	/* The guest rewrites the slot at once: the VMM's copy stays. */
	memset(&r.sq[0], 0xff, sizeof(r.sq[0]));
	assert_sqe_equal(&sqe, &want);
	ring_close(&r);
}

static void test_completion_ring_never_overflows(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	guest_submit(&r, 4);
	for (uint32_t n = 0; n < 4; n++)
		take_expect(&r, n);
	/* Four held: a fifth would have no completion slot. */
	guest_submit(&r, 2);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	assert_int_equal(r.ctl->sq_head, 4);
	assert_int_equal(r.q.held, 4);
	/* A completion the guest has not consumed still takes its slot. */
	pv_queue_complete(&r.q, request(0).user_data, 0);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	guest_consume(&r, 1);
	take_expect(&r, 4);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	/* Completions for everything held, none consumed: still full. */
	for (uint32_t n = 1; n < 5; n++)
		pv_queue_complete(&r.q, request(n).user_data, 0);
	assert_int_equal(r.q.held, 0);
	assert_int_equal(pv_queue_unconsumed(&r.q), 4);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	guest_consume(&r, 4);
	take_expect(&r, 5);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	ring_close(&r);
}

static void test_complete_posts(void **state)
{
	struct ring r;

	ring_open(&r, 4);
	/* Three times round the completion ring. */
	for (uint32_t n = 0; n < 12; n++) {
		guest_submit(&r, 1);
		take_expect(&r, n);
		pv_queue_complete(&r.q, request(n).user_data, -(int64_t)n);
		assert_int_equal(r.ctl->cq_tail, n + 1);
		assert_int_equal(atomic_load(&r.q.cq_tail), n + 1);
		assert_int_equal(r.q.held, 0);
		assert_int_equal(r.cq[n % 4].user_data, request(n).user_data);
		assert_int_equal(r.cq[n % 4].ret, -(int64_t)n);
		assert_int_equal(pv_queue_unconsumed(&r.q), 1);
		guest_consume(&r, 1);
		assert_int_equal(pv_queue_unconsumed(&r.q), 0);
	}
	ring_close(&r);
}

static void test_out_of_order(void **state)
{
	struct ring r;

	ring_open(&r, 4);
	guest_submit(&r, 3);
	for (uint32_t n = 0; n < 3; n++)
		take_expect(&r, n);
	pv_queue_complete(&r.q, request(2).user_data, 30);
	pv_queue_complete(&r.q, request(0).user_data, 10);
	assert_int_equal(r.q.held, 1);
	pv_queue_complete(&r.q, request(1).user_data, 20);
	assert_int_equal(r.q.held, 0);
	assert_int_equal(r.ctl->cq_tail, 3);
	assert_int_equal(r.cq[0].user_data, request(2).user_data);
	assert_int_equal(r.cq[0].ret, 30);
	assert_int_equal(r.cq[1].user_data, request(0).user_data);
	assert_int_equal(r.cq[1].ret, 10);
	assert_int_equal(r.cq[2].user_data, request(1).user_data);
	assert_int_equal(r.cq[2].ret, 20);
	ring_close(&r);
}

static void test_sq_tail_at_limit(void **state)
{
	struct ring r;

	/* Exactly `entries` ahead is a full ring, not a broken one. */
	ring_open(&r, 4);
	guest_submit(&r, 4);
	for (uint32_t n = 0; n < 4; n++)
		take_expect(&r, n);
	assert_false(atomic_load(&r.q.broken));
	ring_close(&r);
}

static void test_sq_tail_too_far(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	guest_submit(&r, 2);
	take_expect(&r, 0);
	/* sq_head is 1: 5 ahead is one too many. */
	r.ctl->sq_tail = 6;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "sq_tail");
	assert_int_equal(r.ctl->sq_head, 1);
	/* Putting it right does not mend the queue. */
	r.ctl->sq_tail = 2;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "sq_tail");
	/* The VMM's writes keep saying so, whatever the guest wrote there. */
	r.ctl->flags = 0;
	pv_queue_disarm(&r.q);
	assert_true(r.ctl->flags & SHALE_QF_BROKEN);
	ring_close(&r);
}

static void test_sq_tail_behind(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	guest_submit(&r, 2);
	take_expect(&r, 0);
	take_expect(&r, 1);
	/* The guest takes back a request the VMM has taken. */
	r.ctl->sq_tail = 1;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "sq_tail");
	ring_close(&r);
}

/* entries=4, one request taken and completed: cq_tail is 1. */
static void one_completed(struct ring *r)
{
	ring_open(r, 4);
	guest_submit(r, 1);
	take_expect(r, 0);
	pv_queue_complete(&r->q, request(0).user_data, 0);
}

static void test_cq_head_past_tail(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	one_completed(&r);
	r.ctl->cq_head = 2;
	/* Looking changes nothing. */
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	assert_false(atomic_load(&r.q.broken));
	assert_int_equal(r.ctl->flags, 0);
	guest_submit(&r, 1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "cq_head");
	r.ctl->cq_head = 1;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	ring_close(&r);
}

static void test_cq_head_too_far_behind(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	for (uint32_t n = 0; n < 5; n++) {
		guest_submit(&r, 1);
		take_expect(&r, n);
		pv_queue_complete(&r.q, request(n).user_data, 0);
		guest_consume(&r, 1);
	}
	/* cq_tail is 5: a cq_head of 1 leaves a full ring, 0 more than one. */
	r.ctl->cq_head = 1;
	assert_int_equal(pv_queue_unconsumed(&r.q), 4);
	guest_submit(&r, 1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	assert_false(atomic_load(&r.q.broken));
	r.ctl->cq_head = 0;
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "cq_head");
	ring_close(&r);
}

/* What the VMM did in one step of run_script(). */
struct step {
	uint32_t waiting; /* published, not taken, before the take */
	int take;
	struct shale_sqe sqe;
	int64_t unconsumed;
	bool arm;
	uint32_t sq_head, cq_tail, held, flags;
};

/*
 * A fixed pseudo-random mix of submits, arms, takes, completions and
 * consumes; with `scribble`, the guest writes junk over the VMM's half of
 * ctl before every call.
 */
static void run_script(struct step *out, size_t n, bool scribble)
{
	struct ring r;
	uint32_t x = 1, junk = 0x9e3779b9;

	ring_open(&r, 4);
	for (size_t i = 0; i < n; i++) {
		struct step *s = &out[i];
		uint32_t room = 4 - (r.sq_tail - r.q.sq_head), k;

		x = x * 1103515245u + 12345u;
		k = (x >> 16) % 3;
		guest_submit(&r, k < room ? k : room);
		if (scribble) {
			r.ctl->sq_head = junk;
			r.ctl->cq_tail = junk * 3;
			r.ctl->flags = junk;
			junk = junk * 69069u + 1u;
		}
		s->waiting = r.sq_tail - r.q.sq_head;
		s->arm = pv_queue_arm(&r.q);
		if (scribble)
			r.ctl->flags = junk;
		if (x >> 31)
			pv_queue_disarm(&r.q);
		memset(&s->sqe, 0, sizeof(s->sqe));
		s->take = pv_queue_take(&r.q, &s->sqe);
		if ((x >> 20) % 3 && r.q.held)
			pv_queue_complete(&r.q, i, (int64_t)i);
		if ((x >> 24) % 4 == 0)
			guest_consume(&r, atomic_load(&r.q.cq_tail) - r.cq_head);
		s->unconsumed = pv_queue_unconsumed(&r.q);
		s->sq_head = r.q.sq_head;
		s->cq_tail = atomic_load(&r.q.cq_tail);
		s->held = r.q.held;
		s->flags = r.q.flags;
	}
	assert_false(atomic_load(&r.q.broken));
	ring_close(&r);
}

static void test_vmm_indices_not_trusted(void **state)
{
	enum { STEPS = 200 };
	static struct step clean[STEPS], scribbled[STEPS];
	unsigned taken = 0, idle = 0, full = 0, slept = 0, woke = 0;

	run_script(clean, STEPS, false);
	run_script(scribbled, STEPS, true);
	for (size_t i = 0; i < STEPS; i++) {
		taken += clean[i].take == 1;
		idle += clean[i].take == 0 && !clean[i].waiting;
		full += clean[i].take == 0 && clean[i].waiting;
		slept += clean[i].arm;
		woke += !clean[i].arm;
		assert_int_equal(clean[i].take, scribbled[i].take);
		assert_sqe_equal(&clean[i].sqe, &scribbled[i].sqe);
		assert_int_equal(clean[i].unconsumed, scribbled[i].unconsumed);
		assert_int_equal(clean[i].arm, scribbled[i].arm);
		assert_int_equal(clean[i].sq_head, scribbled[i].sq_head);
		assert_int_equal(clean[i].cq_tail, scribbled[i].cq_tail);
		assert_int_equal(clean[i].held, scribbled[i].held);
		assert_int_equal(clean[i].flags, scribbled[i].flags);
	}
	/* The script went through full rings and idle ones. */
	assert_int_equal(taken, clean[STEPS - 1].sq_head);
	assert_true(taken > 0 && idle > 0 && full > 0 && slept > 0 && woke > 0);
}

static void test_vmm_publishes_own_indices(void **state)
{
	struct ring r;

	ring_open(&r, 4);
	guest_submit(&r, 2);
	r.ctl->sq_head = 1000;
	r.ctl->cq_tail = 2000;
	take_expect(&r, 0);
	assert_int_equal(r.ctl->sq_head, 1);
	assert_int_equal(r.ctl->cq_tail, 2000);
	pv_queue_complete(&r.q, 1, 0);
	assert_int_equal(r.ctl->cq_tail, 1);
	r.ctl->sq_head = 0;
	take_expect(&r, 1);
	assert_int_equal(r.ctl->sq_head, 2);
	ring_close(&r);
}

/*
 * The indices wrap at 2^32 requests, which no test can submit one by one:
 * the queue is put in the state a VM would have left it in after
 * 2^32 - 2 requests, all completed and consumed, and driven across.
 */
static void ring_near_wrap(struct ring *r, uint32_t entries, uint32_t start)
{
	ring_open(r, entries);
	r->q.sq_head = start;
	atomic_store(&r->q.cq_tail, start);
	r->ctl->sq_head = r->ctl->cq_tail = start;
	r->sq_tail = r->cq_head = start;
	r->ctl->sq_tail = r->ctl->cq_head = start;
}

static void test_wrap_around(void **state)
{
	struct ring r;
	struct shale_sqe sqe;
	const uint32_t start = UINT32_MAX - 1;

	ring_near_wrap(&r, 4, start);
	/* A full ring that straddles the wrap, completed in reverse. */
	guest_submit(&r, 4);
	for (uint32_t n = 0; n < 4; n++)
		take_expect(&r, start + n);
	assert_int_equal(r.ctl->sq_head, start + 4);
	guest_submit(&r, 1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	for (uint32_t n = 4; n-- > 0;)
		pv_queue_complete(&r.q, request(start + n).user_data, n);
	assert_int_equal(pv_queue_unconsumed(&r.q), 4);
	for (uint32_t n = 0; n < 4; n++) {
		uint32_t slot = (start + n) % 4;

		assert_int_equal(r.cq[slot].user_data, request(start + 3 - n).user_data);
		assert_int_equal(r.cq[slot].ret, 3 - n);
	}
	guest_consume(&r, 4);
	assert_int_equal(r.cq_head, 2); /* past zero */
	take_expect(&r, start + 4);
	/* Round and round across the wrap, one at a time. */
	pv_queue_complete(&r.q, 0, 0);
	guest_consume(&r, 1);
	for (uint32_t n = 5; n < 64; n++) {
		guest_submit(&r, 1);
		take_expect(&r, start + n);
		pv_queue_complete(&r.q, request(start + n).user_data, 0);
		assert_int_equal(r.cq[(start + n) % 4].user_data, request(start + n).user_data);
		guest_consume(&r, 1);
	}
	assert_int_equal(r.ctl->sq_head, start + 64);
	assert_false(atomic_load(&r.q.broken));
	ring_close(&r);
}

static void test_wrap_around_bad_indices(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	/* sq_head 2^32 - 1 after one take: a tail of 4 is 5 ahead. */
	ring_near_wrap(&r, 4, UINT32_MAX - 1);
	guest_submit(&r, 4);
	take_expect(&r, UINT32_MAX - 1);
	assert_int_equal(pv_queue_unconsumed(&r.q), 0);
	r.ctl->sq_tail = 4;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "sq_tail");
	ring_close(&r);

	/* cq_tail is 1 after two completions from 2^32 - 1: a head of 2 is past it. */
	ring_near_wrap(&r, 4, UINT32_MAX);
	guest_submit(&r, 2);
	take_expect(&r, UINT32_MAX);
	take_expect(&r, 0);
	pv_queue_complete(&r.q, 0, 0);
	pv_queue_complete(&r.q, 1, 0);
	assert_int_equal(r.ctl->cq_tail, 1);
	assert_int_equal(pv_queue_unconsumed(&r.q), 2);
	r.ctl->cq_head = 2;
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	guest_submit(&r, 1);
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_broken(&r, "cq_head");
	ring_close(&r);
}

static void test_arm(void **state)
{
	struct ring r;

	ring_open(&r, 4);
	/* Nothing to take: sleep, and the guest must notify. */
	assert_true(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, SHALE_QF_NEED_NOTIFY);
	pv_queue_disarm(&r.q);
	assert_int_equal(r.ctl->flags, 0);

	/* A request arrived: do not sleep, and take the flag back. */
	guest_submit(&r, 1);
	assert_false(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, 0);
	take_expect(&r, 0);
	assert_true(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, SHALE_QF_NEED_NOTIFY);
	pv_queue_disarm(&r.q);

	/* Requests wait, but no completion slot is free: sleep until a consume. */
	guest_submit(&r, 4);
	for (uint32_t n = 1; n < 4; n++)
		take_expect(&r, n);
	assert_int_equal(r.sq_tail - r.ctl->sq_head, 1);
	assert_true(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, SHALE_QF_NEED_NOTIFY);
	pv_queue_complete(&r.q, 0, 0);
	assert_true(pv_queue_arm(&r.q)); /* completed, but not consumed */
	guest_consume(&r, 1);
	assert_false(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, 0);

	/* The flag the guest sees is the VMM's, whatever it wrote there. */
	r.ctl->flags = 0xffffffff;
	pv_queue_disarm(&r.q);
	assert_int_equal(r.ctl->flags, 0);
	take_expect(&r, 4);
	r.ctl->flags = 0;
	assert_true(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, SHALE_QF_NEED_NOTIFY);
	assert_int_equal(r.q.flags, SHALE_QF_NEED_NOTIFY);
	pv_queue_disarm(&r.q);
	assert_int_equal(r.q.flags, 0);
	ring_close(&r);
}

static void test_arm_broken(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, 4);
	r.ctl->sq_tail = 5;
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	/* A broken queue has nothing to do: sleep, without asking for a notify. */
	assert_true(pv_queue_arm(&r.q));
	assert_int_equal(r.ctl->flags, SHALE_QF_BROKEN);
	pv_queue_disarm(&r.q);
	assert_int_equal(r.ctl->flags, SHALE_QF_BROKEN);
	ring_close(&r);

	/* A request waits and cq_head is impossible: stay awake; the take breaks it. */
	ring_open(&r, 4);
	r.ctl->cq_head = 5;
	r.ctl->sq_tail = 1;
	assert_false(pv_queue_arm(&r.q));
	assert_false(r.ctl->flags & SHALE_QF_NEED_NOTIFY);
	assert_int_equal(pv_queue_take(&r.q, &sqe), -1);
	assert_true(r.ctl->flags & SHALE_QF_BROKEN);
	ring_close(&r);
}

static void test_unconsumed(void **state)
{
	struct ring r;

	ring_open(&r, 4);
	assert_int_equal(pv_queue_unconsumed(&r.q), 0);
	guest_submit(&r, 4);
	for (uint32_t n = 0; n < 4; n++)
		take_expect(&r, n);
	assert_int_equal(pv_queue_unconsumed(&r.q), 0); /* taken is not completed */
	for (uint32_t n = 0; n < 4; n++) {
		pv_queue_complete(&r.q, n, 0);
		assert_int_equal(pv_queue_unconsumed(&r.q), n + 1);
	}
	guest_consume(&r, 3);
	assert_int_equal(pv_queue_unconsumed(&r.q), 1);
	guest_consume(&r, 1);
	assert_int_equal(pv_queue_unconsumed(&r.q), 0);
	r.ctl->cq_head = 5;
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	r.ctl->cq_head = 0; /* exactly a ring behind */
	assert_int_equal(pv_queue_unconsumed(&r.q), 4);
	r.ctl->cq_head = UINT32_MAX;
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	r.ctl->cq_head = 4;
	assert_int_equal(pv_queue_unconsumed(&r.q), 0);
	ring_close(&r);

	/* Broken by sq_tail, with a cq_head that is fine. */
	ring_open(&r, 4);
	r.ctl->sq_tail = 100;
	assert_int_equal(pv_queue_take(&r.q, &(struct shale_sqe){ 0 }), -1);
	assert_int_equal(pv_queue_unconsumed(&r.q), -1);
	ring_close(&r);
}

static void test_big_ring(void **state)
{
	struct ring r;
	struct shale_sqe sqe;

	ring_open(&r, SHALE_QUEUE_MAX_ENTRIES);
	guest_submit(&r, SHALE_QUEUE_MAX_ENTRIES);
	for (uint32_t n = 0; n < SHALE_QUEUE_MAX_ENTRIES; n++)
		take_expect(&r, n);
	assert_int_equal(pv_queue_take(&r.q, &sqe), 0);
	for (uint32_t n = SHALE_QUEUE_MAX_ENTRIES; n-- > 0;)
		pv_queue_complete(&r.q, request(n).user_data, n);
	/* The last completion went into the last slot: the ring's last bytes. */
	assert_int_equal(r.cq[SHALE_QUEUE_MAX_ENTRIES - 1].user_data, request(0).user_data);
	assert_int_equal(pv_queue_unconsumed(&r.q), SHALE_QUEUE_MAX_ENTRIES);
	guest_consume(&r, SHALE_QUEUE_MAX_ENTRIES);
	guest_submit(&r, 1);
	take_expect(&r, SHALE_QUEUE_MAX_ENTRIES);
	ring_close(&r);
}

/*
 * The VMM thread takes and completes while the guest (and its vCPU, which
 * asks pv_queue_unconsumed() as QUEUE_WAIT does) consumes each completion
 * the moment the guest's cq_tail shows it. The VMM's own cq_tail must never
 * be behind what the guest already saw: the guest's cq_head would then
 * look past it, and the queue broken.
 */
#define RACE_REQUESTS 200000u

struct race {
	struct ring r;
	atomic_bool failed;
};

static void *race_vmm(void *arg)
{
	struct race *x = arg;
	struct shale_sqe sqe;
	uint32_t done = 0;

	while (done < RACE_REQUESTS && !atomic_load(&x->failed)) {
		int n = pv_queue_take(&x->r.q, &sqe);

		if (n < 0) {
			atomic_store(&x->failed, true);
			break;
		}
		if (n == 1) {
			pv_queue_complete(&x->r.q, sqe.user_data, 0);
			done++;
		}
	}
	return NULL;
}

static void test_complete_vs_consume_race(void **state)
{
	struct race x = { 0 };
	uint32_t consumed = 0, submitted = 0;
	pthread_t t;

	ring_open(&x.r, 8);
	assert_int_equal(pthread_create(&t, NULL, race_vmm, &x), 0);
	while (consumed < RACE_REQUESTS && !atomic_load(&x.failed)) {
		struct ring *r = &x.r;
		uint32_t tail;

		if (submitted < RACE_REQUESTS && submitted - consumed < r->entries) {
			r->sq[submitted & (r->entries - 1)] = request(submitted);
			submitted++;
			__atomic_store_n(&r->ctl->sq_tail, submitted, __ATOMIC_RELEASE);
		}
		tail = __atomic_load_n(&r->ctl->cq_tail, __ATOMIC_ACQUIRE);
		if (tail != consumed) {
			consumed++;
			__atomic_store_n(&r->ctl->cq_head, consumed, __ATOMIC_RELEASE);
			if (pv_queue_unconsumed(&r->q) < 0)
				atomic_store(&x.failed, true);
		}
	}
	pthread_join(t, NULL);
	if (atomic_load(&x.failed))
		fail_msg("the queue broke after %u completions: %s", consumed,
			 x.r.q.why[0] ? x.r.q.why : "pv_queue_unconsumed() said -1");
	assert_int_equal(consumed, RACE_REQUESTS);
	ring_close(&x.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_ok),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_take_in_order),
		cmocka_unit_test(test_take_nothing),
		cmocka_unit_test(test_take_copies),
		cmocka_unit_test(test_completion_ring_never_overflows),
		cmocka_unit_test(test_complete_posts),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_sq_tail_at_limit),
		cmocka_unit_test(test_sq_tail_too_far),
		cmocka_unit_test(test_sq_tail_behind),
		cmocka_unit_test(test_cq_head_past_tail),
		cmocka_unit_test(test_cq_head_too_far_behind),
		cmocka_unit_test(test_vmm_indices_not_trusted),
		cmocka_unit_test(test_vmm_publishes_own_indices),
		cmocka_unit_test(test_wrap_around),
		cmocka_unit_test(test_wrap_around_bad_indices),
		cmocka_unit_test(test_arm),
		cmocka_unit_test(test_arm_broken),
		cmocka_unit_test(test_unconsumed),
		cmocka_unit_test(test_big_ring),
		cmocka_unit_test(test_complete_vs_consume_race),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
