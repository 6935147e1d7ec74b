/*
 * One thread per vCPU, looping on KVM_RUN. The thread keeps the kick signal
 * blocked except inside KVM_RUN and inside blocking waits (vcpu_ppoll), so
 * vm_stop() can always interrupt it without losing the wake-up.
 */
#ifndef SHALE_VMM_VCPU_H
#define SHALE_VMM_VCPU_H

#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmm/vm.h"

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/*
	 * Exits by class (enum vm_exit_class): written by this vCPU's thread
	 * only, read by anyone (relaxed atomics, no locked instruction).
	 */
	atomic_uint_fast64_t exits[VM_EXIT_NR];
	enum vm_exit_class exit_class; /* of the exit being handled */
};

/* The exit being handled is a hypercall (called by the PV dispatcher). */
static inline void vcpu_note_hypercall(struct vcpu *vcpu)
{
	if (vcpu) /* NULL in the unit tests and fuzz harnesses */
		vcpu->exit_class = VM_EXIT_HYPERCALL;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

/* Installs the kick signal handler; once per process, before any vCPU. */
void vcpu_signals_init(void);

/*
 * ppoll() for the vCPU thread, interruptible by vm_stop(). Returns as
 * ppoll() does; -1 with errno EINTR when kicked. A kick for a pause parks
 * the vCPU here until it is resumed, then returns -1/EINTR: callers that
 * wait for a deadline go on waiting.
 */
int vcpu_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout);

/* A report of the vCPU's state (rip, rsp, cr2, cs) for crash messages. */
void vcpu_describe(struct vcpu *vcpu, char *buf, size_t len);

#endif
