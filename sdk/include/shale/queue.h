/*
 * shale guest SDK: the I/O queues of ABI version 2 (shale/abi/queue.h).
 *
 * Asynchronous use: open a queue once, then prepare requests, submit them
 * (one VM exit at most, none while the VMM's I/O thread is polling), and
 * reap completions as they come, in any order, matched by user_data:
 *
 *     struct shale_queue q;
 *     shale_queue_open(&q, SHALE_QUEUE_BLOCK, 64);
 *     shale_queue_prep(&q, SHALE_OP_READ, buf, len, offset, 7);
 *     shale_queue_submit(&q);
 *     shale_queue_wait(&q, &cqe, SHALE_NO_DEADLINE);   // cqe.user_data == 7
 *
 * shale_block_read(), shale_block_write() and shale_block_flush() in
 * shale/guest.h are blocking wrappers over a queue of their own.
 *
 * One thread of execution per queue: a guest is single-threaded, and
 * nothing here may be called from two contexts at once.
 */
#ifndef SHALE_QUEUE_H
#define SHALE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <shale/abi/queue.h>

#define SHALE_NO_DEADLINE UINT64_MAX

struct shale_queue {
	struct shale_queue_ctl *ctl;
	struct shale_sqe *sq;
	struct shale_cqe *cq;
	uint32_t queue;    /* SHALE_QUEUE_* */
	uint32_t entries;
	uint32_t sq_tail;  /* ours; published by shale_queue_submit() */
	uint32_t cq_head;
	uint32_t held;     /* prepared or submitted, completion not yet reaped */
	/*
	 * How long shale_queue_wait() may spin before it sleeps in the VMM:
	 * 200 us where the boot info says SHALE_BOOT_F_IO_POLL, else 0. The
	 * spin adapts within that (spin_now, at least 2 us), as KVM's halt
	 * polling does: a sleep shorter than spin_ns doubles it, a longer one
	 * halves it. Set both to change it.
	 */
	uint64_t spin_ns;
	uint64_t spin_now;
	uint64_t notifies; /* VM exits spent on notifying (statistics) */
	uint64_t sleeps;   /* waits that slept in the VMM */
};

/*
 * Sets up queue `queue` (SHALE_QUEUE_*) with `entries` slots (a power of
 * two up to SHALE_QUEUE_MAX_ENTRIES), its ring taken from the heap.
 * SHALE_OK, SHALE_ENODEV without the device, or another SHALE_E* code.
 */
int64_t shale_queue_open(struct shale_queue *q, unsigned queue, unsigned entries);

/*
 * Puts one request in the ring, not yet visible to the VMM. SHALE_OK, or
 * SHALE_EAGAIN when `entries` requests are outstanding already: reap first.
 */
int64_t shale_queue_prep(struct shale_queue *q, uint16_t op, const void *buf, uint32_t len,
			 uint64_t offset, uint64_t user_data);

/* Makes the prepared requests visible; notifies only a sleeping VMM. */
void shale_queue_submit(struct shale_queue *q);

/* Takes one completion into *cqe if there is one: true, else false. */
bool shale_queue_reap(struct shale_queue *q, struct shale_cqe *cqe);

/*
 * Takes one completion, waiting for it until the monotonic clock reaches
 * deadline_ns: spins for q->spin_ns, then sleeps in the VMM. SHALE_OK,
 * SHALE_EAGAIN at the deadline, SHALE_EINVAL with nothing outstanding or a
 * queue the VMM gave up on.
 */
int64_t shale_queue_wait(struct shale_queue *q, struct shale_cqe *cqe, uint64_t deadline_ns);

/*
 * shale_queue_submit(), then shale_queue_wait(), without the notify where
 * the VMM does not poll: there QUEUE_WAIT starts the requests itself, and
 * a request costs one VM exit instead of two. For a guest that has
 * nothing else to do until a completion comes.
 */
int64_t shale_queue_submit_wait(struct shale_queue *q, struct shale_cqe *cqe,
				uint64_t deadline_ns);

/*
 * Submits one request and waits for its completion: its ret. For a queue
 * with nothing else outstanding (other completions would be dropped).
 */
int64_t shale_queue_call(struct shale_queue *q, uint16_t op, const void *buf, uint32_t len,
			 uint64_t offset);

#endif
