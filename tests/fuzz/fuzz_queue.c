/*
 * The VMM's side of an I/O queue (pv/queue.c) against a guest that may
 * write any byte of the ring at any time: the requests, its own indices,
 * and the VMM's indices and flags too. The input is
 *
 *   byte 0      bits 0-3: the ring has 1 << (n % 11) entries; bit 4: it
 *               starts full of junk (0xa5) instead of zeroed
 *   then        operations, each an opcode byte (bits 0-2: what, bits
 *               3-7: an argument `a`) and its operands:
 *
 *   0  guest    writes a + 1 bytes, which follow a two-byte little-endian
 *               offset into the ring (modulo its size; cut at its end)
 *   1  guest    puts `a` requests in at its sq_tail and publishes it
 *   2  guest    consumes up to `a` completions, as far as cq_tail says
 *   3  guest    changes a ctl field (a % 5: sq_tail, cq_head, sq_head,
 *               cq_tail, flags): a / 5 even, sets it to the next four
 *               bytes (little-endian); odd, adds the next byte (signed)
 *   4  VMM      takes up to a + 1 requests
 *   5  VMM      completes (a & 3) + 1 held requests, each chosen by the
 *               next byte, which also makes its ret
 *   6  VMM      arms (a even) or disarms (a odd)
 *   7  VMM      counts the unconsumed completions
 *
 * The harness keeps its own model of what the VMM should know (its
 * indices, what it holds, its flags) and a shadow of the ring, so that
 * after every VMM call it checks: the result is the one the ABI asks for,
 * a request taken is a copy of its slot at that moment, the VMM wrote its
 * own indices, flags and completion slot and not one other byte of the
 * ring, it holds at most `entries` requests, taken minus completed is
 * what it holds, a broken queue stays broken, and while the guest has
 * moved cq_head only forward and never past cq_tail, no completion lands
 * on one the guest has not consumed.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <shale/abi/queue.h>

#include "fuzz.h"
#include "pv/queue.h"

enum {
	OP_WRITE,
	OP_SUBMIT,
	OP_CONSUME,
	OP_SET,
	OP_TAKE,
	OP_COMPLETE,
	OP_ARM,
	OP_UNCONSUMED,
};

#define F_JUNK 0x10u

/* A cursor over the input. */
struct script {
	const uint8_t *p, *end;
};

static bool next(struct script *s, uint8_t *b)
{
	if (s->p == s->end)
		return false;
	*b = *s->p++;
	return true;
}

static bool next_n(struct script *s, void *out, size_t n)
{
	if ((size_t)(s->end - s->p) < n)
		return false;
	memcpy(out, s->p, n);
	s->p += n;
	return true;
}

static struct pv_queue q;
static uint8_t *ring, *shadow; /* the ring, and what it should hold */
static size_t ring_size;
static uint32_t entries;

/* What the VMM should know. */
static struct {
	uint32_t sq_head, cq_tail, held, flags;
	bool broken;
	uint64_t taken, completed;
	/* cq_head has only moved forward, never past cq_tail. */
	bool cq_honest;
	uint32_t cq_head; /* the guest's, when last looked at */
	uint64_t serial;  /* of the guest's requests */
	struct shale_sqe held_sqe[SHALE_QUEUE_MAX_ENTRIES];
} m;

static struct shale_queue_ctl *ctl_of(uint8_t *mem)
{
	return (struct shale_queue_ctl *)mem;
}

static struct shale_sqe *sqe_of(uint8_t *mem, uint32_t i)
{
	return (struct shale_sqe *)(mem + SHALE_QUEUE_SQ_OFFSET) + (i & (entries - 1));
}

static struct shale_cqe *cqe_of(uint8_t *mem, uint32_t i)
{
	return (struct shale_cqe *)(mem + SHALE_QUEUE_CQ_OFFSET(entries)) + (i & (entries - 1));
}

/* The guest writes: to the ring and to the shadow alike. */
static void guest_write(size_t off, const void *p, size_t n)
{
	memcpy(ring + off, p, n);
	memcpy(shadow + off, p, n);
}

static void guest_write32(size_t off, uint32_t v)
{
	guest_write(off, &v, sizeof(v));
}

#define CTL_OFF(field) offsetof(struct shale_queue_ctl, field)

static uint32_t guest_cq_head(void)
{
	return ctl_of(ring)->cq_head;
}

/* After every guest step: did cq_head stay within [what it was, cq_tail]? */
static void note_cq_head(void)
{
	uint32_t head = guest_cq_head();

	if (head - m.cq_head > m.cq_tail - m.cq_head)
		m.cq_honest = false;
	m.cq_head = head;
}

/*
 * The invariants that hold between any two calls; `ring_too`: and the
 * ring's bytes, all of them (the guest's writes go to the shadow as well,
 * so once after each VMM step catches any stray write in it).
 */
static void check_state(bool ring_too)
{
	FUZZ_CHECK(q.ctl == ctl_of(ring));
	FUZZ_CHECK((uint8_t *)q.sq == ring + SHALE_QUEUE_SQ_OFFSET);
	FUZZ_CHECK((uint8_t *)q.cq == ring + SHALE_QUEUE_CQ_OFFSET(entries));
	FUZZ_CHECK(q.entries == entries);
	FUZZ_CHECK(q.sq_head == m.sq_head);
	FUZZ_CHECK(atomic_load(&q.cq_tail) == m.cq_tail);
	FUZZ_CHECK(q.held == m.held);
	FUZZ_CHECK(q.held <= entries);
	FUZZ_CHECK(m.taken - m.completed == q.held);
	FUZZ_CHECK(q.flags == m.flags);
	FUZZ_CHECK(atomic_load(&q.broken) == m.broken);
	FUZZ_CHECK(!m.broken || (q.flags & SHALE_QF_BROKEN));
	FUZZ_CHECK(!(q.flags & ~(SHALE_QF_BROKEN | SHALE_QF_NEED_NOTIFY)));
	/* The ABI's promise: the completion ring never overflows. */
	if (m.cq_honest)
		FUZZ_CHECK((uint64_t)q.held + (m.cq_tail - guest_cq_head()) <= entries);
	/* Not one byte of the ring but those the VMM should have written. */
	FUZZ_CHECK(!memcmp(ring, shadow, sizeof(struct shale_queue_ctl)));
	if (ring_too)
		FUZZ_CHECK(!memcmp(ring, shadow, ring_size));
}

/* The VMM writes its flags, and the shadow follows. */
static void vmm_wrote_flags(void)
{
	ctl_of(shadow)->flags = m.flags;
}

static void broke(const char *what)
{
	m.broken = true;
	m.flags |= SHALE_QF_BROKEN;
	vmm_wrote_flags();
	FUZZ_CHECK(memchr(q.why, '\0', sizeof(q.why)));
	FUZZ_CHECK(strstr(q.why, what));
}

/* cq_tail - cq_head as the VMM should see it, or -1 when that cannot be right. */
static int64_t expect_unconsumed(void)
{
	uint32_t n = m.cq_tail - guest_cq_head();

	return m.broken || n > entries ? -1 : (int64_t)n;
}

static void vmm_take(void)
{
	const struct shale_queue_ctl *ctl = ctl_of(shadow);
	uint32_t avail = ctl->sq_tail - m.sq_head;
	struct shale_sqe slot = *sqe_of(shadow, m.sq_head), sqe;
	int64_t unconsumed = expect_unconsumed();
	int want, r;

	if (m.broken)
		want = -1;
	else if (avail > entries)
		want = -1;
	else if (!avail)
		want = 0;
	else if (unconsumed < 0)
		want = -1;
	else
		want = m.held + (uint64_t)unconsumed < entries;

	memset(&sqe, 0x5a, sizeof(sqe));
	r = pv_queue_take(&q, &sqe);
	FUZZ_CHECK(r == want);
	if (r == 1) {
		FUZZ_CHECK(m.held < entries);
		/* A copy of the slot as it was, however the guest rewrites it now. */
		FUZZ_CHECK(!memcmp(&sqe, &slot, sizeof(sqe)));
		m.held_sqe[m.held++] = sqe;
		m.sq_head++;
		m.taken++;
		ctl_of(shadow)->sq_head = m.sq_head;
	} else if (r < 0 && !m.broken) {
		broke(avail > entries ? "sq_tail" : "cq_head");
	}
}

static void vmm_complete(uint8_t pick)
{
	uint32_t i;
	struct shale_sqe sqe;
	struct shale_cqe *c;
	int64_t ret = (int64_t)(int8_t)pick * 4097;

	if (!m.held)
		return;
	i = pick % m.held;
	sqe = m.held_sqe[i];
	m.held_sqe[i] = m.held_sqe[--m.held];
	/* The slot the completion lands on is one the guest has consumed. */
	if (m.cq_honest)
		FUZZ_CHECK(m.cq_tail - guest_cq_head() < entries);

	pv_queue_complete(&q, sqe.user_data, ret);
	c = cqe_of(shadow, m.cq_tail);
	c->user_data = sqe.user_data;
	c->ret = ret;
	m.cq_tail++;
	m.completed++;
	ctl_of(shadow)->cq_tail = m.cq_tail;
}

static void vmm_arm(void)
{
	int64_t unconsumed = expect_unconsumed();
	bool want = true;

	if (!m.broken) {
		m.flags |= SHALE_QF_NEED_NOTIFY;
		/* Requests wait and a slot is free, or the indices are impossible. */
		if (ctl_of(shadow)->sq_tail != m.sq_head &&
		    (unconsumed < 0 || m.held + (uint64_t)unconsumed < entries)) {
			m.flags &= ~SHALE_QF_NEED_NOTIFY;
			want = false;
		}
		vmm_wrote_flags();
	}
	FUZZ_CHECK(pv_queue_arm(&q) == want);
}

static void vmm_disarm(void)
{
	pv_queue_disarm(&q);
	m.flags &= ~SHALE_QF_NEED_NOTIFY;
	vmm_wrote_flags();
}

/* The guest puts n requests in, numbered, and publishes sq_tail. */
static void guest_submit(unsigned n)
{
	uint32_t tail = ctl_of(ring)->sq_tail;

	while (n--) {
		struct shale_sqe sqe = {
			.op = (uint16_t)(m.serial % 4),
			.len = (uint32_t)m.serial * 512,
			.user_data = m.serial ^ 0x5eed000000000000ull,
			.addr = 0x100000 + m.serial * 4096,
			.offset = m.serial << 9,
		};

		m.serial++;
		guest_write((size_t)((uint8_t *)sqe_of(ring, tail) - ring), &sqe, sizeof(sqe));
		tail++;
	}
	guest_write32(CTL_OFF(sq_tail), tail);
}

static void guest_consume(unsigned n)
{
	const struct shale_queue_ctl *ctl = ctl_of(ring);
	uint32_t have = ctl->cq_tail - ctl->cq_head;

	guest_write32(CTL_OFF(cq_head), ctl->cq_head + (n < have ? n : have));
}

static bool guest_set(struct script *s, unsigned a)
{
	static const size_t off[5] = {
		CTL_OFF(sq_tail), CTL_OFF(cq_head), CTL_OFF(sq_head), CTL_OFF(cq_tail),
		CTL_OFF(flags),
	};
	uint32_t v;
	uint8_t d;

	if ((a / 5) % 2 == 0) {
		if (!next_n(s, &v, sizeof(v)))
			return false;
	} else {
		if (!next(s, &d))
			return false;
		memcpy(&v, ring + off[a % 5], sizeof(v));
		v += (uint32_t)(int32_t)(int8_t)d;
	}
	guest_write32(off[a % 5], v);
	return true;
}

static bool guest_bytes(struct script *s, unsigned a)
{
	uint8_t buf[32];
	uint16_t at;
	size_t n = a + 1, off;

	if (!next_n(s, &at, sizeof(at)) || !next_n(s, buf, n))
		return false;
	off = at % ring_size;
	guest_write(off, buf, n < ring_size - off ? n : ring_size - off);
	return true;
}

/* One operation; false at the end of the input. */
static bool step(struct script *s)
{
	uint8_t op, b;
	unsigned a;

	if (!next(s, &op))
		return false;
	a = op >> 3;
	switch (op & 7) {
	case OP_WRITE:
		if (!guest_bytes(s, a))
			return false;
		break;
	case OP_SUBMIT:
		guest_submit(a);
		break;
	case OP_CONSUME:
		guest_consume(a);
		break;
	case OP_SET:
		if (!guest_set(s, a))
			return false;
		break;
	case OP_TAKE:
		for (unsigned i = 0; i <= a; i++) {
			uint32_t held = m.held;

			vmm_take();
			check_state(false);
			if (m.held == held)
				break;
		}
		break;
	case OP_COMPLETE:
		for (unsigned i = 0; i <= (a & 3u); i++) {
			if (!next(s, &b))
				return false;
			vmm_complete(b);
			check_state(false);
		}
		break;
	case OP_ARM:
		if (a % 2)
			vmm_disarm();
		else
			vmm_arm();
		break;
	case OP_UNCONSUMED:
		FUZZ_CHECK(pv_queue_unconsumed(&q) == expect_unconsumed());
		break;
	}
	note_cq_head();
	check_state((op & 7) >= OP_TAKE);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, data + size };
	uint8_t head;

	if (!next(&s, &head))
		return 0;
	entries = 1u << ((head & 0xf) % 11);
	FUZZ_CHECK(pv_queue_entries_ok(entries));
	ring_size = SHALE_QUEUE_RING_SIZE(entries);
	/* Allocated to the byte, so the sanitizers see where the ring ends. */
	ring = malloc(ring_size);
	shadow = malloc(ring_size);
	if (!ring || !shadow)
		abort();
	memset(ring, head & F_JUNK ? 0xa5 : 0, ring_size);
	memset(&m, 0, sizeof(m));
	m.cq_honest = true;
	m.cq_head = guest_cq_head();

	pv_queue_init(&q, ring, entries);
	memcpy(shadow, ring, ring_size);
	/* The VMM's half says zero, whatever was there. */
	FUZZ_CHECK(ctl_of(ring)->sq_head == 0 && ctl_of(ring)->cq_tail == 0 &&
		   ctl_of(ring)->flags == 0);
	if (m.cq_head != 0)
		m.cq_honest = false; /* a junk cq_head is past cq_tail from the start */
	check_state(true);

	while (step(&s))
		;

	free(ring);
	free(shadow);
	ring = shadow = NULL;
	return 0;
}
