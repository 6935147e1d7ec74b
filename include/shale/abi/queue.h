/*
 * shale para-virtual guest ABI, version 2: I/O queues.
 *
 * Version 2 adds one request/completion queue per device in guest RAM, so
 * that a guest moves many requests per VM exit, or none: a VMM I/O thread
 * serves the queue while the vCPU runs on, and the guest notifies it (one
 * exit) only when the VMM said it went to sleep. Every version 1 call
 * stays. docs/abi.md ("I/O queues") is the prose version of this file,
 * with the memory-ordering rules.
 *
 * Ring memory, SHALE_QUEUE_RING_SIZE(entries) bytes at a 4 KiB-aligned
 * guest address the guest may write (heap or stack, never its image):
 *
 *   0                  struct shale_queue_ctl (two 64-byte lines)
 *   128                struct shale_sqe sq[entries]   (guest writes)
 *   128 + 32*entries   struct shale_cqe cq[entries]   (VMM writes)
 *
 * Indices are free-running 32-bit counters; entry i lives at i % entries.
 * The guest owns sq_tail and cq_head, the VMM sq_head, cq_tail and flags.
 * The VMM holds at most `entries` requests between taking them (sq_head)
 * and the guest consuming their completions (cq_head), so the completion
 * ring never overflows. Completions come in any order; user_data says
 * which request each one ends.
 */
#ifndef SHALE_ABI_QUEUE_H
#define SHALE_ABI_QUEUE_H

#include <stdint.h>

#include <shale/abi/hypercall.h> /* SHALE_HC_QUEUE_SETUP, _NOTIFY, _WAIT */

/* Queues, one per device; a queue's number is its device. */
#define SHALE_QUEUE_CONSOLE 0
#define SHALE_QUEUE_BLOCK 1
#define SHALE_QUEUE_NET 2
#define SHALE_QUEUE_COUNT 3

#define SHALE_QUEUE_MAX_ENTRIES 1024u

/* Request opcodes. Which a queue takes: see docs/abi.md. */
#define SHALE_OP_NOP 0   /* any queue: completes with 0, touches nothing */
#define SHALE_OP_READ 1  /* block: read len bytes at offset; net: receive one frame */
#define SHALE_OP_WRITE 2 /* block: write at offset; net: send one frame; console */
#define SHALE_OP_FLUSH 3 /* block: what completed writes wrote reaches the disk */

/* shale_queue_ctl.flags, written by the VMM. */
#define SHALE_QF_NEED_NOTIFY 0x1u /* the I/O thread sleeps: notify after submitting */
#define SHALE_QF_BROKEN 0x2u      /* the VMM gave up on this queue (bad indices) */

struct shale_queue_ctl {
	/* Written by the guest, read by the VMM. */
	uint32_t sq_tail; /* requests the guest has put in sq[] */
	uint32_t cq_head; /* completions the guest has taken from cq[] */
	uint32_t _guest_pad[14];
	/* Written by the VMM, read by the guest. */
	uint32_t sq_head; /* requests the VMM has taken */
	uint32_t cq_tail; /* completions the VMM has put in cq[] */
	uint32_t flags;   /* SHALE_QF_* */
	uint32_t _vmm_pad[13];
};

struct shale_sqe {
	uint16_t op;        /* SHALE_OP_* */
	uint16_t flags;     /* 0 */
	uint32_t len;       /* bytes at addr */
	uint64_t user_data; /* returned as is in the completion */
	uint64_t addr;      /* guest address of the buffer */
	uint64_t offset;    /* block: byte offset on the disk; else 0 */
};

struct shale_cqe {
	uint64_t user_data; /* the request's */
	int64_t ret;        /* bytes transferred (or 0), or a SHALE_E* error */
};

#define SHALE_QUEUE_SQ_OFFSET 128u
#define SHALE_QUEUE_CQ_OFFSET(entries) (SHALE_QUEUE_SQ_OFFSET + 32u * (entries))
#define SHALE_QUEUE_RING_SIZE(entries) (SHALE_QUEUE_CQ_OFFSET(entries) + 16u * (entries))

/*
 * QUEUE_SETUP: starts serving queue `queue` from the ring at `ring`, which
 * the guest has zeroed. Once per queue per VM: a second setup, a size that
 * is not a power of two up to SHALE_QUEUE_MAX_ENTRIES, unknown flags or a
 * misaligned ring give SHALE_EINVAL; ring memory the guest cannot write,
 * SHALE_EFAULT; a device the VM lacks, SHALE_ENODEV.
 */
struct shale_hc_queue_setup {
	uint32_t queue;   /* in: SHALE_QUEUE_* */
	uint32_t entries; /* in: ring size, a power of two */
	uint64_t ring;    /* in: guest address, 4 KiB-aligned */
	uint32_t flags;   /* in: 0 */
	uint32_t _pad;
	int64_t ret;      /* out */
};

/*
 * QUEUE_WAIT: blocks until at least `min` completions wait in the ring
 * (cq_tail - cq_head >= min), or the monotonic clock reaches deadline_ns.
 * ret: SHALE_OK, SHALE_EAGAIN at the deadline, SHALE_EINVAL for a queue
 * not set up, a broken one, or min outside 1..entries.
 */
struct shale_hc_queue_wait {
	uint32_t queue;       /* in */
	uint32_t min;         /* in */
	uint64_t deadline_ns; /* in: CLOCK_MONOTONIC; UINT64_MAX: no deadline */
	int64_t ret;          /* out */
};

_Static_assert(sizeof(struct shale_queue_ctl) == 128, "shale_queue_ctl size");
_Static_assert(sizeof(struct shale_sqe) == 32, "shale_sqe size");
_Static_assert(sizeof(struct shale_cqe) == 16, "shale_cqe size");
_Static_assert(sizeof(struct shale_hc_queue_setup) == 32, "shale_hc_queue_setup size");
_Static_assert(sizeof(struct shale_hc_queue_wait) == 24, "shale_hc_queue_wait size");

#endif /* SHALE_ABI_QUEUE_H */
