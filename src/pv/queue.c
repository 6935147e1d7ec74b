#include "pv/queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Ordering (docs/abi.md, "Memory ordering"): a load-acquire of the guest's
 * index before reading the entries it covers, a store-release of the VMM's
 * index after writing the entries it covers, and a full fence between
 * setting NEED_NOTIFY and the last look at sq_tail (the guest fences
 * between publishing sq_tail and reading flags).
 */
static uint32_t load_guest(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_vmm(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

bool pv_queue_entries_ok(uint32_t entries)
{
	return entries && entries <= SHALE_QUEUE_MAX_ENTRIES && !(entries & (entries - 1));
}

void pv_queue_init(struct pv_queue *q, void *mem, uint32_t entries)
{
	uint8_t *base = mem;

	memset(q, 0, sizeof(*q));
	q->ctl = mem;
	q->sq = (struct shale_sqe *)(base + SHALE_QUEUE_SQ_OFFSET);
	q->cq = (struct shale_cqe *)(base + SHALE_QUEUE_CQ_OFFSET(entries));
	q->entries = entries;
	store_vmm(&q->ctl->sq_head, 0);
	store_vmm(&q->ctl->cq_tail, 0);
	store_vmm(&q->ctl->flags, 0);
}

static int broken(struct pv_queue *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int broken(struct pv_queue *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->why, sizeof(q->why), fmt, ap);
	va_end(ap);
	q->flags |= SHALE_QF_BROKEN;
	store_vmm(&q->ctl->flags, q->flags);
	atomic_store(&q->broken, true);
	return -1;
}

int64_t pv_queue_unconsumed(const struct pv_queue *q)
{
	uint32_t tail = atomic_load(&q->cq_tail);
	uint32_t head = load_guest(&q->ctl->cq_head);

	/* cq_head may trail cq_tail by at most a ring, and never pass it. */
	if (atomic_load(&q->broken) || tail - head > q->entries)
		return -1;
	return tail - head;
}

int pv_queue_take(struct pv_queue *q, struct shale_sqe *sqe)
{
	uint32_t tail, avail;
	int64_t unconsumed;

	if (atomic_load(&q->broken))
		return -1;
	tail = load_guest(&q->ctl->sq_tail);
	avail = tail - q->sq_head;
	if (avail > q->entries)
		return broken(q, "sq_tail is %u, %u past the VMM's sq_head %u in a queue of %u",
			      tail, avail, q->sq_head, q->entries);
	if (!avail)
		return 0;
	unconsumed = pv_queue_unconsumed(q);
	if (unconsumed < 0) {
		uint32_t head = load_guest(&q->ctl->cq_head), ctail = atomic_load(&q->cq_tail);

		return broken(q, "cq_head is %u, %s the VMM's cq_tail %u in a queue of %u", head,
			      (int32_t)(ctail - head) < 0 ? "past" : "too far behind", ctail,
			      q->entries);
	}
	/* Every request taken must find a completion slot. */
	if (q->held + (uint64_t)unconsumed >= q->entries)
		return 0;
	memcpy(sqe, &q->sq[q->sq_head & (q->entries - 1)], sizeof(*sqe));
	q->sq_head++;
	q->held++;
	store_vmm(&q->ctl->sq_head, q->sq_head);
	return 1;
}

void pv_queue_complete(struct pv_queue *q, uint64_t user_data, int64_t ret)
{
	uint32_t tail = atomic_load_explicit(&q->cq_tail, memory_order_relaxed);
	struct shale_cqe *c = &q->cq[tail & (q->entries - 1)];

	c->user_data = user_data;
	c->ret = ret;
	q->held--;
	/*
	 * Our own index before the guest's copy: once the guest sees the
	 * completion it may consume it and call QUEUE_WAIT, whose
	 * pv_queue_unconsumed() runs on another thread than this one. Were
	 * q->cq_tail still behind there, the guest's cq_head would be past it
	 * and look impossible (QUEUE_WAIT answered EINVAL).
	 */
	atomic_store(&q->cq_tail, tail + 1);
	store_vmm(&q->ctl->cq_tail, tail + 1);
}

bool pv_queue_arm(struct pv_queue *q)
{
	if (atomic_load(&q->broken))
		return true;
	q->flags |= SHALE_QF_NEED_NOTIFY;
	store_vmm(&q->ctl->flags, q->flags);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load_guest(&q->ctl->sq_tail) == q->sq_head)
		return true;
	/*
	 * Requests wait, but with no completion slot for them the guest must
	 * consume first; it notifies after that when it sees the flag.
	 */
	int64_t unconsumed = pv_queue_unconsumed(q);
	if (unconsumed >= 0 && q->held + (uint64_t)unconsumed >= q->entries)
		return true;
	/* Impossible indices: stay awake, and the next take breaks the queue. */
	pv_queue_disarm(q);
	return false;
}

void pv_queue_disarm(struct pv_queue *q)
{
	q->flags &= ~SHALE_QF_NEED_NOTIFY;
	store_vmm(&q->ctl->flags, q->flags);
}
