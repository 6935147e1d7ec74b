#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

/* Kicks a vCPU thread out of KVM_RUN or a blocking wait. */
#define SIG_KICK SIGUSR1

/* The vCPU this thread runs, for vcpu_ppoll()'s pause. */
static __thread struct vcpu *this_vcpu;

static void kick_handler(int sig)
{
	(void)sig;
}

void vcpu_signals_init(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set;

	/* No SA_RESTART: the kick must interrupt KVM_RUN and ppoll. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIG_KICK, &sa, NULL))
		die("sigaction: %s", strerror(errno));
	/* Blocked by default; threads created later inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* The thread's mask with the kick signal let through. */
static void unblocked_mask(sigset_t *set)
{
	pthread_sigmask(SIG_SETMASK, NULL, set);
	sigdelset(set, SIG_KICK);
}

int vcpu_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout)
{
	sigset_t set;

	int ret, err;

	unblocked_mask(&set);
	ret = ppoll(fds, n, timeout, &set);
	err = errno;
	if (ret < 0 && err == EINTR && this_vcpu)
		vm_park(this_vcpu->vm);
	errno = err;
	return ret;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out)
{
	struct {
		struct kvm_signal_mask hdr;
		uint8_t bits[8];
	} mask;
	struct vcpu *vcpu;
	sigset_t set;
	int ret;

	if (vm->nr_vcpus == VM_MAX_VCPUS)
		return -ENOSPC;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		free(vcpu);
		return ret;
	}
	vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		log_err("mmap of vCPU %u state: %s", id, strerror(errno));
		close(vcpu->fd);
		free(vcpu);
		return ret;
	}

	/* Inside KVM_RUN the kick signal is deliverable (it is blocked outside). */
	unblocked_mask(&set);
	mask.hdr.len = 8;
	memcpy(mask.bits, &set, 8);
	if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &mask) < 0) {
		ret = -errno;
		log_err("KVM_SET_SIGNAL_MASK: %s", strerror(errno));
		munmap(vcpu->run, vm->vcpu_mmap_size);
		close(vcpu->fd);
		free(vcpu);
		return ret;
	}
	vm->vcpu[vm->nr_vcpus++] = vcpu;
	*out = vcpu;
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	/* Its exits stay in the VM's counts. */
	for (unsigned c = 0; c < VM_EXIT_NR; c++)
		vcpu->vm->stats->exits_retired[c] += atomic_load(&vcpu->exits[c]);
	munmap(vcpu->run, vcpu->vm->vcpu_mmap_size);
	close(vcpu->fd);
	free(vcpu);
}

void vcpu_kick(struct vcpu *vcpu)
{
	/*
	 * immediate_exit covers a vCPU that is between its stop check and
	 * KVM_RUN with the signal already consumed by an earlier wait.
	 */
	vcpu->run->immediate_exit = 1;
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, SIG_KICK);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

void vcpu_describe(struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(buf, len, "vCPU %u: registers unavailable", vcpu->id);
		return;
	}
	snprintf(buf, len, "vCPU %u rip 0x%llx rsp 0x%llx cr2 0x%llx cs 0x%x", vcpu->id,
		 (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		 (unsigned long long)sregs.cr2, sregs.cs.selector);
}

static void io_error(struct vcpu *vcpu, int err, const char *space, uint64_t addr,
		     unsigned size, bool is_write)
{
	char where[160];

	if (vm_stopping(vcpu->vm))
		return;
	vcpu_describe(vcpu, where, sizeof(where));
	if (err == -ENOENT)
		vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
			"guest crashed: %u-byte %s of %s 0x%llx, which no device claims (%s)",
			size, is_write ? "write" : "read", space, (unsigned long long)addr,
			where);
	else
		vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
			"guest crashed: bad %u-byte %s of %s 0x%llx: %s (%s)", size,
			is_write ? "write" : "read", space, (unsigned long long)addr,
			strerror(-err), where);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;

	/*
	 * KVM guarantees data_offset + count * size lies in the run page. It
	 * may hand over several accesses of a rep ins/outs in one exit: once
	 * one of them stopped the VM, the rest must not run after the stop
	 * was reported.
	 */
	for (uint32_t i = 0; i < run->io.count && !vm_stopping(vcpu->vm); i++, data += size) {
		int err = iobus_access(&vcpu->vm->pio, vcpu, run->io.port, data, size,
				       is_write);

		/* On a PC, unclaimed ports and widths a chip ignores float high. */
		if ((err == -ENOENT || err == -EINVAL) && vcpu->vm->unclaimed_io == VM_IO_IGNORE) {
			if (!is_write)
				memset(data, 0xff, size);
			continue;
		}
		if (err) {
			io_error(vcpu, err, "I/O port", run->io.port, size, is_write);
			return;
		}
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	int err;

	err = iobus_access(&vcpu->vm->mmio, vcpu, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len, run->mmio.is_write);
	if ((err == -ENOENT || err == -EINVAL) && vcpu->vm->unclaimed_io == VM_IO_IGNORE) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return;
	}
	if (err)
		io_error(vcpu, err, "MMIO address", run->mmio.phys_addr, run->mmio.len,
			 run->mmio.is_write);
}

static enum vm_exit_class exit_class(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO:
		return VM_EXIT_IO;
	case KVM_EXIT_MMIO:
		return VM_EXIT_MMIO;
	case KVM_EXIT_HLT:
		return VM_EXIT_HLT;
	case KVM_EXIT_SHUTDOWN:
		return VM_EXIT_SHUTDOWN;
	case KVM_EXIT_INTR:
		return VM_EXIT_INTR;
	case KVM_EXIT_SYSTEM_EVENT:
		return VM_EXIT_SYSTEM_EVENT;
	default:
		return VM_EXIT_OTHER;
	}
}

static void count_exit(struct vcpu *vcpu)
{
	atomic_uint_fast64_t *c = &vcpu->exits[vcpu->exit_class];

	/* One writer: a plain add, no locked instruction on the exit path. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;
	char where[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return;
	case KVM_EXIT_INTR:
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_stop(vm, VM_STOP_RESET, 0, NULL);
		else
			vm_stop(vm, VM_STOP_POWEROFF, 0, NULL);
		return;
	default:
		break;
	}

	vcpu_describe(vcpu, where, sizeof(where));
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		vm_stop(vm, VM_STOP_CRASH, 0, "guest crashed: triple fault (%s)", where);
		break;
	case KVM_EXIT_HLT:
		vm_stop(vm, VM_STOP_CRASH, 0,
			"guest crashed: halted with no interrupt to wake it (%s)", where);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_stop(vm, VM_STOP_CRASH, 0,
			"guest crashed: VM entry failed, hardware reason 0x%llx (%s)",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			where);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_stop(vm, VM_STOP_CRASH, 0,
			"guest crashed: KVM internal error %u (%s)", run->internal.suberror,
			where);
		break;
	default:
		vm_stop(vm, VM_STOP_ERROR, 0, "unexpected KVM exit reason %u (%s)",
			run->exit_reason, where);
		break;
	}
}

/* For --stats: how long the VMM took from exec to the first guest instruction. */
static void note_first_entry(struct vm *vm)
{
	uint_fast64_t zero = 0;
	struct timespec cpu;

	if (atomic_load_explicit(&vm->first_entry_ns, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	if (atomic_compare_exchange_strong(&vm->first_entry_ns, &zero, clock_monotonic_ns()))
		atomic_store(&vm->first_entry_cpu_ns,
			     (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec);
}

/*
 * KVM_RUN returns EINTR for a kick that is pending, but the signal stays
 * pending (it is blocked outside KVM_RUN): take it, or every later
 * KVM_RUN would return at once. A stop never ran again; a pause does.
 */
static void consume_kick(void)
{
	static const struct timespec zero;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	while (sigtimedwait(&set, NULL, &zero) == SIG_KICK)
		;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;

	this_vcpu = vcpu;
	sandbox_enter_thread(SANDBOX_VCPU);
	note_first_entry(vm);
	while (!vm_stopping(vm)) {
		/* Parked here, the vCPU is outside KVM_RUN with its state saved. */
		if (vm_paused(vm)) {
			vm_park(vm);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				consume_kick();
				vcpu->exit_class = VM_EXIT_INTR;
				count_exit(vcpu);
				continue;
			}
			vm_stop(vm, VM_STOP_ERROR, 0, "KVM_RUN on vCPU %u: %s", vcpu->id,
				strerror(errno));
			break;
		}
		vcpu->exit_class = exit_class(vcpu->run->exit_reason);
		handle_exit(vcpu);
		count_exit(vcpu);
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	int err;

	/* Counted first: a pause must wait for this vCPU as soon as it runs. */
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_started++;
	pthread_mutex_unlock(&vm->pause_lock);
	err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (err) {
		pthread_mutex_lock(&vm->pause_lock);
		vm->nr_started--;
		pthread_mutex_unlock(&vm->pause_lock);
		log_err("cannot start vCPU %u thread: %s", vcpu->id, strerror(err));
		return -err;
	}
	vcpu->thread_started = true;
	return 0;
}
