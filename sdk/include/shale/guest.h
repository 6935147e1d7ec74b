/*
 * shale guest SDK: hypercall wrappers for para-virtual guests.
 *
 * A guest runs at CPL 3 (the TSS I/O bitmap opens the hypercall ports) and
 * reaches the VMM with one `outl` of the address of an argument struct
 * (include/shale/abi/hypercall.h). Each call is a VM exit: a microsecond
 * or so on VMX/SVM, ~75-120 us on PVM. Batch work into few calls, or use
 * the I/O queues (shale/queue.h).
 *
 * The wrappers keep the argument struct on the stack. Guest memory is
 * identity-mapped and below 4 GiB, so a pointer truncated to 32 bits is the
 * struct's guest physical address. Unless noted, a wrapper returns what the
 * VMM put in `ret`: a byte count or SHALE_OK, or a negative SHALE_E* code.
 */
#ifndef SHALE_GUEST_H
#define SHALE_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include <shale/abi/hypercall.h>

/*
 * Issue hypercall NR with argument struct ARG. The "memory" clobber makes
 * the compiler store the struct before the exit and reload it after, as the
 * VMM reads and writes it behind the compiler's back.
 */
static inline void shale_hypercall(unsigned int nr, void *arg)
{
	uint32_t gpa = (uint32_t)(uintptr_t)arg;

	__asm__ __volatile__("outl %0, %w1"
			     :
			     : "a"(gpa), "Nd"(SHALE_HC_PORT(nr))
			     : "memory");
}

/* Boot information the VMM left for this guest; set up by the start code. */
const struct shale_boot_info *shale_boot_info(void);

/* A short English description of a SHALE_E* code, for error messages. */
const char *shale_strerror(int64_t err);

/* A round trip to the VMM that does nothing; measures the exit cost. */
static inline void shale_nop(void)
{
	shale_hypercall(SHALE_HC_NOP, NULL);
}

/*
 * Write LEN bytes (at most SHALE_CONSOLE_MAX) to the console, unbuffered.
 * stdio's printf buffers lines and is usually the better choice.
 */
static inline int64_t shale_console_write(const void *buf, size_t len)
{
	struct shale_hc_console_write a = {
		.data = (uintptr_t)buf,
		.len = len,
	};

	shale_hypercall(SHALE_HC_CONSOLE_WRITE, &a);
	return a.ret;
}

/*
 * End the VM with STATUS (0..255; higher bits are dropped). Does not flush
 * stdio: exit() does that first.
 */
static inline _Noreturn void shale_exit(int status)
{
	struct shale_hc_exit a = { .status = status & 0xff };

	shale_hypercall(SHALE_HC_EXIT, &a);
	/* A VMM that resumes us is broken; fault rather than run on. */
	__builtin_trap();
}

/* Host CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t shale_clock_monotonic_ns(void)
{
	struct shale_hc_clock a = { 0 };

	shale_hypercall(SHALE_HC_CLOCK, &a);
	return a.monotonic_ns;
}

/* Host wall-clock time in nanoseconds since 1970-01-01 UTC. */
static inline uint64_t shale_clock_wall_ns(void)
{
	struct shale_hc_clock a = { 0 };

	shale_hypercall(SHALE_HC_CLOCK, &a);
	return a.wall_ns;
}

/*
 * Wait until one of EVENTS (SHALE_POLL_* bits) is ready or the monotonic
 * clock reaches DEADLINE_NS. Returns the ready bits (0 at the deadline) or
 * a negative SHALE_E* code.
 */
static inline int64_t shale_poll(uint64_t deadline_ns, uint64_t events)
{
	struct shale_hc_poll a = {
		.deadline_ns = deadline_ns,
		.events = events,
	};

	shale_hypercall(SHALE_HC_POLL, &a);
	return a.ret < 0 ? a.ret : (int64_t)a.ready;
}

/*
 * Wait until the VMM asks this guest to shut down (SHALE_POLL_SHUTDOWN,
 * ABI version 2) or the monotonic clock reaches DEADLINE_NS (UINT64_MAX:
 * no deadline). Returns 1 when a shutdown is requested (and from then on
 * at once), 0 at the deadline, or a negative SHALE_E* code.
 */
static inline int64_t shale_wait_shutdown(uint64_t deadline_ns)
{
	int64_t r = shale_poll(deadline_ns, SHALE_POLL_SHUTDOWN);

	return r < 0 ? r : (r & SHALE_POLL_SHUTDOWN) != 0;
}

/* Fill *INFO; returns SHALE_OK, or SHALE_ENODEV when there is no disk. */
static inline int64_t shale_block_info(struct shale_hc_block_info *info)
{
	struct shale_hc_block_info a = { 0 };

	shale_hypercall(SHALE_HC_BLOCK_INFO, &a);
	*info = a;
	return a.ret;
}

/*
 * Read or write LEN bytes at byte OFFSET of the disk. Both must be
 * multiples of the sector size, LEN at most info.max_io. These go through
 * an I/O queue (shale/queue.h) opened on first use, so that a VMM that is
 * polling serves them without a VM exit; with no disk they return
 * SHALE_ENODEV as the version 1 calls do.
 */
int64_t shale_block_read(uint64_t offset, void *buf, uint64_t len);
int64_t shale_block_write(uint64_t offset, const void *buf, uint64_t len);
/* Make completed writes durable on the host. */
int64_t shale_block_flush(void);

/* The same as one version 1 hypercall each (SHALE_HC_BLOCK_READ, ...). */
static inline int64_t shale_hc_block_rw(unsigned int nr, uint64_t offset,
					const void *buf, uint64_t len)
{
	struct shale_hc_block_io a = {
		.offset = offset,
		.data = (uintptr_t)buf,
		.len = len,
	};

	shale_hypercall(nr, &a);
	return a.ret;
}

static inline int64_t shale_hc_block_flush(void)
{
	struct shale_hc_status a = { 0 };

	shale_hypercall(SHALE_HC_BLOCK_FLUSH, &a);
	return a.ret;
}

/* Fill *INFO; returns SHALE_OK, or SHALE_ENODEV when there is no network. */
static inline int64_t shale_net_info(struct shale_hc_net_info *info)
{
	struct shale_hc_net_info a = { 0 };

	shale_hypercall(SHALE_HC_NET_INFO, &a);
	*info = a;
	return a.ret;
}

/* The calls whose argument is one struct shale_hc_buffer. */
static inline int64_t shale_buffer_call(unsigned int nr, const void *buf,
				      size_t len)
{
	struct shale_hc_buffer a = {
		.data = (uintptr_t)buf,
		.len = len,
	};

	shale_hypercall(nr, &a);
	return a.ret;
}

/*
 * Receive one Ethernet frame into BUF (truncated to LEN); returns its
 * length, or SHALE_EAGAIN when none is waiting.
 */
static inline int64_t shale_net_read(void *buf, size_t len)
{
	return shale_buffer_call(SHALE_HC_NET_READ, buf, len);
}

/* Send one Ethernet frame of LEN bytes. */
static inline int64_t shale_net_write(const void *buf, size_t len)
{
	return shale_buffer_call(SHALE_HC_NET_WRITE, buf, len);
}

/*
 * Fill BUF with LEN bytes from the host's CSPRNG, in as many calls of
 * SHALE_RANDOM_MAX bytes as it takes. Returns LEN or a SHALE_E* code.
 */
int64_t shale_random(void *buf, size_t len);

/*
 * Copy the arguments, consecutive NUL-terminated strings, into BUF. Returns
 * the size of the whole block, and copies nothing when it exceeds LEN. The
 * start code already does this for main()'s argv.
 */
static inline int64_t shale_args(void *buf, size_t len)
{
	return shale_buffer_call(SHALE_HC_ARGS, buf, len);
}

/* Free bytes on the heap, and the largest block malloc() could return now. */
void shale_heap_stats(size_t *free_bytes, size_t *largest);

#endif /* SHALE_GUEST_H */
