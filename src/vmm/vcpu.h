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
#include <stdbool.h>

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
};

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);
void vcpu_destroy(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

/* Installs the kick signal handler; once per process, before any vCPU. */
void vcpu_signals_init(void);

/*
 * ppoll() for the vCPU thread, interruptible by vm_stop(). Returns as
 * ppoll() does; -1 with errno EINTR when kicked.
 */
int vcpu_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout);

/* A report of the vCPU's state (rip, rsp, cr2, cs) for crash messages. */
void vcpu_describe(struct vcpu *vcpu, char *buf, size_t len);

#endif
