/*
 * The VMM's side of one para-virtual I/O queue (include/shale/abi/queue.h):
 * taking requests from a ring in guest memory and putting completions
 * back. Pure ring logic, no I/O: the I/O thread (pv/ioq.c) and the fuzz
 * harness drive it.
 *
 * The guest owns the ring memory and may change any byte of it at any
 * time. So the VMM keeps its own indices (sq_head, cq_tail) and never reads
 * them back, reads each guest index once per look, copies a request out
 * before checking it, and treats indices that cannot be right as the end
 * of the queue: it is marked broken and the VM is stopped with the reason.
 */
#ifndef SHALE_PV_QUEUE_H
#define SHALE_PV_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shale/abi/queue.h>

struct pv_queue {
	struct shale_queue_ctl *ctl; /* guest memory */
	struct shale_sqe *sq;        /* guest memory */
	struct shale_cqe *cq;        /* guest memory */
	uint32_t entries;            /* a power of two */
	uint32_t sq_head;            /* requests taken */
	/* Completions posted; QUEUE_WAIT reads it too: never behind ctl->cq_tail. */
	atomic_uint cq_tail;
	uint32_t held;               /* taken, not yet completed */
	uint32_t flags;              /* what ctl->flags should say */
	atomic_bool broken;
	char why[160];               /* why it broke */
};

/* Whether `entries` is a ring size the ABI allows. */
bool pv_queue_entries_ok(uint32_t entries);

/*
 * Lays `q` over ring memory `mem` of SHALE_QUEUE_RING_SIZE(entries) bytes
 * (checked by the caller) and publishes the VMM's indices as zero.
 */
void pv_queue_init(struct pv_queue *q, void *mem, uint32_t entries);

/*
 * Takes the next request into *sqe (a copy: the guest may rewrite the slot
 * at once). 1: taken; 0: none waiting, or no completion slot would be left
 * for it; -1: the guest's indices are impossible (q->why says how), the
 * queue is broken and takes nothing more.
 */
int pv_queue_take(struct pv_queue *q, struct shale_sqe *sqe);

/* Ends one taken request. */
void pv_queue_complete(struct pv_queue *q, uint64_t user_data, int64_t ret);

/*
 * Completions the guest has not consumed, or -1 when its cq_head cannot be
 * right or the queue is broken. Changes nothing: safe from another thread
 * than the one that takes and completes.
 */
int64_t pv_queue_unconsumed(const struct pv_queue *q);

/*
 * Before the I/O thread sleeps: asks the guest to notify. True when there
 * is still nothing to take after that (sleep: no request, or no completion
 * slot for one until the guest consumes); false when a request arrived
 * meanwhile (the flag is taken back).
 */
bool pv_queue_arm(struct pv_queue *q);
/* After it woke: the guest need not notify while the thread polls. */
void pv_queue_disarm(struct pv_queue *q);

#endif
