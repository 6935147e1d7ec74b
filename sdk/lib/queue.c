/*
 * shale guest SDK: the I/O queues. The memory-ordering rules are those of
 * docs/abi.md: store-release of our indices after the entries they cover,
 * load-acquire of the VMM's before reading what they cover, and a full
 * fence between publishing sq_tail and reading flags.
 */
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

#define RING_ALIGN 4096u
#define DEFAULT_SPIN_NS 200000u /* about two exits on PVM */
#define SPIN_FLOOR_NS 2000u     /* the least a spin lasts: much less than an exit */

static uint32_t load_vmm(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_guest(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

int64_t shale_queue_open(struct shale_queue *q, unsigned queue, unsigned entries)
{
	size_t size = SHALE_QUEUE_RING_SIZE(entries);
	struct shale_hc_queue_setup a;
	uint8_t *mem;

	if (!entries || entries > SHALE_QUEUE_MAX_ENTRIES || (entries & (entries - 1)))
		return SHALE_EINVAL;
	/* Never freed: the VMM serves the ring for the life of the VM. */
	mem = malloc(size + RING_ALIGN);
	if (!mem)
		return SHALE_EFAULT;
	mem = (uint8_t *)(((uintptr_t)mem + RING_ALIGN - 1) & ~(uintptr_t)(RING_ALIGN - 1));
	memset(mem, 0, size);

	a = (struct shale_hc_queue_setup){
		.queue = queue,
		.entries = entries,
		.ring = (uintptr_t)mem,
	};
	shale_hypercall(SHALE_HC_QUEUE_SETUP, &a);
	if (a.ret != SHALE_OK)
		return a.ret;
	*q = (struct shale_queue){
		.ctl = (struct shale_queue_ctl *)mem,
		.sq = (struct shale_sqe *)(mem + SHALE_QUEUE_SQ_OFFSET),
		.cq = (struct shale_cqe *)(mem + SHALE_QUEUE_CQ_OFFSET(entries)),
		.queue = queue,
		.entries = entries,
		/* Spinning pays only while the VMM's I/O thread polls. */
		.spin_ns = shale_boot_info()->flags & SHALE_BOOT_F_IO_POLL ? DEFAULT_SPIN_NS : 0,
		.spin_now = shale_boot_info()->flags & SHALE_BOOT_F_IO_POLL ? DEFAULT_SPIN_NS : 0,
	};
	return SHALE_OK;
}

int64_t shale_queue_prep(struct shale_queue *q, uint16_t op, const void *buf, uint32_t len,
			 uint64_t offset, uint64_t user_data)
{
	if (q->held >= q->entries)
		return SHALE_EAGAIN;
	q->sq[q->sq_tail & (q->entries - 1)] = (struct shale_sqe){
		.op = op,
		.len = len,
		.user_data = user_data,
		.addr = (uintptr_t)buf,
		.offset = offset,
	};
	q->sq_tail++;
	q->held++;
	return SHALE_OK;
}

static void notify(struct shale_queue *q)
{
	uint32_t nr = q->queue;

	__asm__ __volatile__("outl %0, %w1"
			     :
			     : "a"(nr), "Nd"(SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY))
			     : "memory");
	q->notifies++;
}

/* Notifies when the VMM sleeps with requests of ours it has not taken. */
static void notify_if_needed(struct shale_queue *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((load_vmm(&q->ctl->flags) & SHALE_QF_NEED_NOTIFY) &&
	    load_vmm(&q->ctl->sq_head) != q->sq_tail)
		notify(q);
}

void shale_queue_submit(struct shale_queue *q)
{
	store_guest(&q->ctl->sq_tail, q->sq_tail);
	notify_if_needed(q);
}

bool shale_queue_reap(struct shale_queue *q, struct shale_cqe *cqe)
{
	if (load_vmm(&q->ctl->cq_tail) == q->cq_head)
		return false;
	*cqe = q->cq[q->cq_head & (q->entries - 1)];
	q->cq_head++;
	q->held--;
	store_guest(&q->ctl->cq_head, q->cq_head);
	/* The VMM may have left requests in the ring for want of a completion slot. */
	notify_if_needed(q);
	return true;
}

int64_t shale_queue_wait(struct shale_queue *q, struct shale_cqe *cqe, uint64_t deadline_ns)
{
	const struct shale_boot_info *bi = shale_boot_info();
	uint64_t khz = bi->tsc_khz;
	uint64_t spin_cycles = khz ? q->spin_now * khz / 1000000 : 0;
	uint64_t t0 = rdtsc(), slept;

	if (q->held == 0 || (load_vmm(&q->ctl->flags) & SHALE_QF_BROKEN))
		return SHALE_EINVAL;
	/* rdtsc now and then only: it is cheap in ring 3, but not free. */
	for (unsigned i = 0; spin_cycles; i++) {
		if (shale_queue_reap(q, cqe))
			return SHALE_OK;
		if (i % 64 == 63 && rdtsc() - t0 >= spin_cycles)
			break;
		__builtin_ia32_pause();
	}
	t0 = rdtsc();
	for (;;) {
		struct shale_hc_queue_wait a = {
			.queue = q->queue,
			.min = 1,
			.deadline_ns = deadline_ns,
		};

		if (shale_queue_reap(q, cqe))
			break;
		shale_hypercall(SHALE_HC_QUEUE_WAIT, &a);
		q->sleeps++;
		if (a.ret != SHALE_OK) {
			if (!shale_queue_reap(q, cqe))
				return a.ret;
			break;
		}
	}
	/*
	 * As KVM's halt polling: a sleep shorter than spin_ns would have been
	 * a spin had the spin been longer, so spin longer next time; a longer
	 * one would have been spun in vain, so spin less.
	 */
	slept = khz ? (rdtsc() - t0) * 1000000 / khz : UINT64_MAX;
	if (slept < q->spin_ns)
		q->spin_now = q->spin_now * 2 > q->spin_ns ? q->spin_ns : q->spin_now * 2;
	else
		q->spin_now = q->spin_now / 2 < SPIN_FLOOR_NS ? SPIN_FLOOR_NS : q->spin_now / 2;
	return SHALE_OK;
}

int64_t shale_queue_submit_wait(struct shale_queue *q, struct shale_cqe *cqe,
				uint64_t deadline_ns)
{
	store_guest(&q->ctl->sq_tail, q->sq_tail);
	/*
	 * QUEUE_WAIT takes and starts what waits in the ring itself. Only a
	 * VMM that polls, which the spin below waits for, needs a notify.
	 */
	if (shale_boot_info()->flags & SHALE_BOOT_F_IO_POLL)
		notify_if_needed(q);
	return shale_queue_wait(q, cqe, deadline_ns);
}

int64_t shale_queue_call(struct shale_queue *q, uint16_t op, const void *buf, uint32_t len,
			 uint64_t offset)
{
	uint64_t tag = q->sq_tail;
	struct shale_cqe cqe;
	int64_t r = shale_queue_prep(q, op, buf, len, offset, tag);

	if (r)
		return r;
	r = shale_queue_submit_wait(q, &cqe, SHALE_NO_DEADLINE);
	while (!r && cqe.user_data != tag)
		r = shale_queue_wait(q, &cqe, SHALE_NO_DEADLINE);
	return r ? r : cqe.ret;
}
