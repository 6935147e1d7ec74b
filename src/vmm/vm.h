/*
 * A virtual machine: the KVM VM, its guest RAM, the I/O buses and its vCPUs,
 * plus the one record of why it stopped. vm_stop() is the single way to end
 * a VM; any thread may call it and the first reason given wins.
 */
#ifndef SHALE_VMM_VM_H
#define SHALE_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/gmem.h"
#include "vmm/iobus.h"

#define VM_MAX_VCPUS 64
#define VM_MAX_MARKS 12

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT,     /* the guest asked to exit, with a status */
	VM_STOP_POWEROFF, /* the guest powered off (status 0) */
	VM_STOP_RESET,    /* the guest asked for a reset */
	VM_STOP_CRASH,    /* guest exception, triple fault, ABI violation */
	VM_STOP_TIMEOUT,  /* --timeout elapsed */
	VM_STOP_SIGNAL,   /* SIGINT or SIGTERM to the VMM */
	VM_STOP_QUIT,     /* the user quit from the console */
	VM_STOP_ERROR,    /* a host-side failure */
	VM_STOP_KILLED,   /* the control socket's "kill" */
};

/* Why a vCPU left KVM_RUN, for the control socket's stats. */
enum vm_exit_class {
	VM_EXIT_IO,
	VM_EXIT_MMIO,
	VM_EXIT_HLT,
	VM_EXIT_HYPERCALL, /* port I/O to the para-virtual hypercall ports */
	VM_EXIT_SHUTDOWN,
	VM_EXIT_INTR,      /* a signal: a kick, for a pause or a stop */
	VM_EXIT_SYSTEM_EVENT,
	VM_EXIT_OTHER,
	VM_EXIT_NR,
};

/*
 * Counters of a VM's devices, monotonic. Any thread adds (relaxed
 * atomics); the control socket reads. The CLI may keep one across the
 * VMs of one run (reboots), so that they stay monotonic.
 */
struct vm_stats {
	atomic_uint_fast64_t block_reads, block_writes, block_flushes;
	atomic_uint_fast64_t block_read_bytes, block_write_bytes;
	atomic_uint_fast64_t net_rx_packets, net_tx_packets, net_rx_bytes, net_tx_bytes;
	/* Exits of vCPUs already destroyed; live ones count in struct vcpu. */
	uint64_t exits_retired[VM_EXIT_NR];
};

static inline void vm_stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* What an I/O access to an address no device claims does. */
enum vm_unclaimed_io {
	VM_IO_STRICT,  /* stop the VM: para-virtual guests have no such ports */
	VM_IO_IGNORE,  /* reads return all ones, writes vanish: as on a PC */
};

struct vcpu;
struct irq_table;

/*
 * Raises or lowers an interrupt line (a GSI of the in-kernel irqchip).
 * vm_set_irq() calls KVM_IRQ_LINE unless a test installed `set_irq`.
 */
struct vm;
typedef void (*vm_irq_fn)(struct vm *vm, unsigned gsi, bool level);

struct vm {
	int kvm_fd; /* /dev/kvm: the process's, shared by every VM, never closed */
	int vm_fd;
	int vcpu_mmap_size;
	struct gmem gmem;
	void *ram;
	uint64_t ram_size;
	bool ram_hugepages; /* set before vm_add_ram(): back RAM with huge pages */
	struct iobus pio;
	struct iobus mmio;
	enum vm_unclaimed_io unclaimed_io;
	vm_irq_fn set_irq; /* NULL: the in-kernel irqchip */

	struct vcpu *vcpu[VM_MAX_VCPUS];
	unsigned nr_vcpus;

	/* The stop record: written once, under lock, by the first vm_stop(). */
	pthread_mutex_t lock;
	atomic_bool stopping;
	enum vm_stop_reason reason;
	int status;
	int stop_fd; /* eventfd, readable once the VM is stopping */
	char stop_message[512]; /* the line logged for the stop, or a description */

	/*
	 * Pause (control socket): vCPU threads leave KVM_RUN and wait on
	 * pause_cond until vm_resume() or vm_stop(). pause_fd (eventfd)
	 * becomes readable once every started vCPU is parked.
	 */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_requested;
	unsigned parked;
	unsigned nr_started; /* vCPU threads started */
	int pause_fd;

	/* MSI routes (vmm/irq.h): created on first use, freed by vm_destroy(). */
	struct irq_table *irq;

	struct vm_stats *stats; /* &own_stats unless the caller points it elsewhere */
	struct vm_stats own_stats;

	/* When the first vCPU first entered the guest (CLOCK_MONOTONIC, ns). */
	atomic_uint_fast64_t first_entry_ns;
	atomic_uint_fast64_t first_entry_cpu_ns; /* process CPU time by then */

	/* Set-up steps, for --stats: the process CPU time as each ended. */
	struct vm_mark {
		const char *name;
		uint64_t cpu_ns;
	} mark[VM_MAX_MARKS];
	unsigned nr_marks;
};

/*
 * Opens /dev/kvm (once per process) and creates an empty VM. -errno with a message logged.
 * Marks "start" (everything since exec) and "kvm" (creating the VM).
 */
int vm_create(struct vm *vm);
/*
 * Writes all of buf to fd (guest output, from a vCPU or a device), a page
 * at a time once poll() says fd takes more, so that a reader that stops
 * reading holds the writer only until the VM stops: then -ECANCELED, and
 * the rest is dropped. Output the fd takes at once is written even after
 * the stop (the last lines of a guest that panicked). 0 or -errno.
 */
int vm_write_all(struct vm *vm, int fd, const void *buf, size_t len);
/* Records that the set-up step `name` (a string literal) ends now. */
void vm_mark(struct vm *vm, const char *name);
/*
 * Maps `size` bytes of lazily allocated RAM from guest address 0; the part
 * that would lie in [hole_start, hole_end) starts at hole_end instead.
 * VM_NO_HOLE: one contiguous range.
 */
#define VM_NO_HOLE UINT64_MAX, UINT64_MAX
int vm_add_ram(struct vm *vm, uint64_t size, uint64_t hole_start, uint64_t hole_end);
/* Stops and joins the vCPUs, then frees everything. */
void vm_destroy(struct vm *vm);

/*
 * Records why the VM stops (only the first call counts) and kicks every
 * vCPU out of the guest. `fmt` (may be NULL) is logged as the one line
 * explaining the stop. Safe from any thread.
 */
void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline bool vm_stopping(struct vm *vm)
{
	return atomic_load_explicit(&vm->stopping, memory_order_acquire);
}

void vm_set_irq(struct vm *vm, unsigned gsi, bool level);

/*
 * Asks every vCPU to leave the guest and park; pause_fd says when they
 * all have. Returns true if they all are parked already. vm_stop() ends
 * a pause. Main thread only, as vm_resume().
 */
bool vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
static inline bool vm_paused(struct vm *vm)
{
	return atomic_load_explicit(&vm->pause_requested, memory_order_acquire);
}
/* Called by a vCPU thread: waits while a pause is requested. */
void vm_park(struct vm *vm);
/* True once every started vCPU is parked (after vm_pause()). */
bool vm_all_parked(struct vm *vm);

/* Exits by class: the retired ones plus every live vCPU's. */
void vm_read_exits(const struct vm *vm, uint64_t exits[VM_EXIT_NR]);
/* The name of a stop reason in the exit file: "exit", "crash", ... */
const char *vm_stop_reason_name(enum vm_stop_reason reason);

/* The exit status of `shale run` for the recorded stop. */
int vm_exit_status(const struct vm *vm);

#endif
