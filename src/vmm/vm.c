#include "vmm/vm.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "util/util.h"
#include "vmm/irq.h"
#include "vmm/vcpu.h"

#define PT_2M (2 * MiB)

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

/*
 * /dev/kvm is opened once per process and kept: a Linux guest's reboot
 * builds a new VM from it inside the sandbox, where /dev/kvm cannot be
 * opened any more.
 */
static int kvm_dev_fd = -1;

static int open_kvm(void)
{
	int fd, version;

	if (kvm_dev_fd >= 0)
		return kvm_dev_fd;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err == ENOENT || err == ENODEV || err == ENXIO)
			log_err("/dev/kvm: not present: this host offers no KVM "
				"(load kvm-intel, kvm-amd or another KVM module)");
		else if (err == EACCES || err == EPERM)
			log_err("/dev/kvm: permission denied: add this user to the "
				"'kvm' group or run as root");
		else
			log_err("/dev/kvm: %s", strerror(err));
		return -err;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		log_err("/dev/kvm: not a KVM device (%s): this host offers no KVM", strerror(errno));
		close(fd);
		return -ENODEV;
	}
	if (version != KVM_API_VERSION) {
		log_err("/dev/kvm: KVM API version %d, shale needs %d", version,
			KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			log_err("/dev/kvm: missing capability %s", required_caps[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	kvm_dev_fd = fd;
	return fd;
}

int vm_create(struct vm *vm)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = vm->pause_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->stats = &vm->own_stats;
	iobus_init(&vm->pio);
	iobus_init(&vm->mmio);
	vm_mark(vm, "start");

	vm->kvm_fd = open_kvm();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	x86_cpuid_prefetch(vm->kvm_fd);

	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -ENOTSUP;
	}
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		return ret;
	}
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		ret = -errno;
		log_err("eventfd: %s", strerror(errno));
		return ret;
	}
	vm->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->pause_fd < 0) {
		ret = -errno;
		log_err("eventfd: %s", strerror(errno));
		return ret;
	}
	vm_mark(vm, "kvm");
	return 0;
}

int vm_write_all(struct vm *vm, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		struct pollfd fds[2] = {
			{ .fd = fd, .events = POLLOUT },
			{ .fd = vm->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!(fds[0].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
			if (fds[1].revents & POLLIN)
				return -ECANCELED;
			continue;
		}
		n = write(fd, p, MIN(len, (size_t)4096));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void vm_mark(struct vm *vm, const char *name)
{
	struct timespec cpu;

	if (vm->nr_marks == VM_MAX_MARKS)
		return;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	vm->mark[vm->nr_marks++] = (struct vm_mark){
		.name = name,
		.cpu_ns = (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec,
	};
}

static int add_slot(struct vm *vm, unsigned slot, gpa_t gpa, uint64_t size, uint8_t *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	int ret;

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = -errno;
		log_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return ret;
	}
	return gmem_add_region(&vm->gmem, gpa, size, host);
}

int vm_add_ram(struct vm *vm, uint64_t size, uint64_t hole_start, uint64_t hole_end)
{
	uint64_t low = MIN(size, hole_start);
	void *ram;
	int ret;

	/*
	 * MAP_NORESERVE: guest RAM costs nothing until the guest touches it,
	 * so a 4 GiB guest that uses 1 MiB costs 1 MiB. A kernel guest touches
	 * a lot of it at once: there RAM is 2 MiB-aligned and asks for huge
	 * pages, which take one fault per 2 MiB instead of 512.
	 */
	uint64_t slack = vm->ram_hugepages ? PT_2M : 0;
	uint8_t *map = mmap(NULL, size + slack, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (map == MAP_FAILED) {
		ret = -errno;
		log_err("cannot map %llu MiB of guest memory: %s",
			(unsigned long long)(size / MiB), strerror(errno));
		return ret;
	}
	ram = map;
	if (slack) {
		uint8_t *aligned = (uint8_t *)ALIGN_UP((uintptr_t)map, (uintptr_t)PT_2M);

		if (aligned > map)
			munmap(map, (size_t)(aligned - map));
		if (aligned + size < map + size + slack)
			munmap(aligned + size, (size_t)(map + size + slack - (aligned + size)));
		ram = aligned;
		madvise(ram, size, MADV_HUGEPAGE);
	}
	madvise(ram, size, MADV_DONTDUMP);
	vm->ram = ram;
	vm->ram_size = size;

	/* RAM that would overlap the hole (MMIO) continues above it. */
	ret = add_slot(vm, 0, 0, low, ram);
	if (!ret && size > low)
		ret = add_slot(vm, 1, hole_end, size - low, (uint8_t *)ram + low);
	return ret;
}

/* For the exit file: a stop that logs no line still gets a message. */
static void describe_stop(struct vm *vm)
{
	const char *what;

	switch (vm->reason) {
	case VM_STOP_EXIT:
		snprintf(vm->stop_message, sizeof(vm->stop_message),
			 "the guest exited with status %d", vm->status & 0xff);
		return;
	case VM_STOP_POWEROFF:
		what = "the guest powered off";
		break;
	case VM_STOP_RESET:
		what = "the guest reset the machine";
		break;
	case VM_STOP_ERROR:
		what = "the VM stopped on a host error";
		break;
	default:
		what = "the VM stopped";
		break;
	}
	snprintf(vm->stop_message, sizeof(vm->stop_message), "%s", what);
}

void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, const char *fmt, ...)
{
	uint64_t one = 1;
	bool first;

	pthread_mutex_lock(&vm->lock);
	first = vm->reason == VM_RUNNING;
	if (first) {
		vm->reason = reason;
		vm->status = status;
		if (fmt) {
			va_list ap;

			va_start(ap, fmt);
			vsnprintf(vm->stop_message, sizeof(vm->stop_message), fmt, ap);
			va_end(ap);
			log_err("%s", vm->stop_message);
		} else {
			describe_stop(vm);
		}
		atomic_store_explicit(&vm->stopping, true, memory_order_release);
	}
	pthread_mutex_unlock(&vm->lock);
	if (!first)
		return;

	/* A parked vCPU wakes up, sees the stop and ends its thread. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpu[i]);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("eventfd write: %s", strerror(errno));
}

void vm_set_irq(struct vm *vm, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (vm->set_irq) {
		vm->set_irq(vm, gsi, level);
		return;
	}
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		die("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

int vm_exit_status(const struct vm *vm)
{
	switch (vm->reason) {
	case VM_STOP_EXIT:
		return vm->status & 0xff;
	case VM_STOP_POWEROFF:
	case VM_STOP_QUIT:
		return 0;
	case VM_STOP_RESET:
		return vm->status;
	case VM_STOP_CRASH:
		return SHALE_EXIT_GUEST_CRASH;
	case VM_STOP_TIMEOUT:
		return SHALE_EXIT_TIMEOUT;
	case VM_STOP_SIGNAL:
		return SHALE_EXIT_SIGNAL_BASE + vm->status;
	case VM_STOP_KILLED:
		return SHALE_EXIT_KILLED;
	case VM_RUNNING:
	case VM_STOP_ERROR:
		break;
	}
	return SHALE_EXIT_VMM_ERROR;
}

void vm_destroy(struct vm *vm)
{
	if (vm->nr_vcpus && !vm_stopping(vm))
		vm_stop(vm, VM_STOP_ERROR, 0, NULL);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(vm->vcpu[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(vm->vcpu[i]);
	vm->nr_vcpus = 0;
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->pause_fd >= 0)
		close(vm->pause_fd);
	vm->pause_fd = -1;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	/* kvm_fd stays open for the next VM (open_kvm()). */
	vm->stop_fd = vm->vm_fd = vm->kvm_fd = -1;
	irq_destroy(vm);
	iobus_destroy(&vm->pio);
	iobus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
}

bool vm_all_parked(struct vm *vm)
{
	bool all;

	pthread_mutex_lock(&vm->pause_lock);
	all = vm_paused(vm) && vm->parked == vm->nr_started;
	pthread_mutex_unlock(&vm->pause_lock);
	return all;
}

bool vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store_explicit(&vm->pause_requested, true, memory_order_release);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(vm->vcpu[i]);
	return vm_all_parked(vm);
}

void vm_resume(struct vm *vm)
{
	uint64_t count;

	pthread_mutex_lock(&vm->pause_lock);
	atomic_store_explicit(&vm->pause_requested, false, memory_order_release);
	/* Reset under the lock: the last vCPU to park writes it under the lock too. */
	if (read(vm->pause_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		die("eventfd read: %s", strerror(errno));
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_park(struct vm *vm)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->pause_lock);
	if (!vm_paused(vm) || vm_stopping(vm)) {
		pthread_mutex_unlock(&vm->pause_lock);
		return;
	}
	if (++vm->parked == vm->nr_started &&
	    write(vm->pause_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("eventfd write: %s", strerror(errno));
	while (vm_paused(vm) && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_read_exits(const struct vm *vm, uint64_t exits[VM_EXIT_NR])
{
	for (unsigned c = 0; c < VM_EXIT_NR; c++) {
		exits[c] = vm->stats->exits_retired[c];
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			exits[c] += atomic_load_explicit(&vm->vcpu[i]->exits[c],
							 memory_order_relaxed);
	}
}

const char *vm_stop_reason_name(enum vm_stop_reason reason)
{
	static const char *const names[] = {
		[VM_RUNNING] = "running",
		[VM_STOP_EXIT] = "exit",
		[VM_STOP_POWEROFF] = "poweroff",
		[VM_STOP_RESET] = "reset",
		[VM_STOP_CRASH] = "crash",
		[VM_STOP_TIMEOUT] = "timeout",
		[VM_STOP_SIGNAL] = "signal",
		[VM_STOP_QUIT] = "quit",
		[VM_STOP_ERROR] = "error",
		[VM_STOP_KILLED] = "killed",
	};

	return (unsigned)reason < ARRAY_SIZE(names) ? names[reason] : "error";
}
