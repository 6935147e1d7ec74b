/*
 * The VMM's seccomp allow-lists (docs/security.md has this table with each
 * syscall's reason), compiled by libseccomp into BPF at build time: this
 * program writes $(B)/gen/sandbox_filters.c (src/vmm/sandbox_filters.h)
 * to standard output. It runs on the build host, which is the target.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/sandbox_filters.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KVMIO 0xAE

/* Which threads need a syscall: a mask of 1 << enum sandbox_thread. */
#define M (1u << SANDBOX_MAIN)
#define V (1u << SANDBOX_VCPU)
#define I (1u << SANDBOX_IO)
/*
 * A virtio device's I/O thread only (virtio-vsock's sockets): in the I/O
 * filter, not in the para-virtual vCPU's, so that the para-virtual I/O
 * thread, which runs both, cannot make these calls either.
 */
#define S (1u << 8)

enum arg_rule {
	ANY,
	KVM_IOCTL,    /* ioctl: KVM's (type 0xAE), on whatever fd */
	VCPU_IOCTL,   /* ioctl: what a vCPU and its devices ask of KVM (vcpu_ioctls) */
	TTY_IOCTL,    /* ioctl: the terminal's modes (console, stdio) */
	DIRFD,        /* *at(): only from the VMM's directories (the marks) */
	DIRFD2,       /* renameat(): within one of those directories */
	THREAD,       /* clone: CLONE_THREAD only: no new process */
	EMPTY_PATH,   /* newfstatat: fstat() of a descriptor (AT_EMPTY_PATH) */
	FILTER,       /* seccomp: only to add a filter */
	ENOSYS_RULE,  /* clone3: ENOSYS, so that the C library uses clone */
	UNIX_SOCKET,  /* socket: AF_UNIX only (virtio-vsock's host side) */
};

static const struct rule {
	int nr;
	unsigned threads;
	enum arg_rule arg;
} rules[] = {
	/* Descriptors: eventfds, signalfd, sockets, the tap, the console, logs. */
	{ SCMP_SYS(read), M | V | I, ANY },
	{ SCMP_SYS(write), M | V | I, ANY },
	{ SCMP_SYS(pread64), M | V | I, ANY },
	{ SCMP_SYS(pwrite64), V | I, ANY },
	{ SCMP_SYS(preadv), I, ANY },
	{ SCMP_SYS(pwritev), I, ANY },
	{ SCMP_SYS(fallocate), I, ANY },
	/* virtio-net: frames between guest RAM and the tap, one per call. */
	{ SCMP_SYS(readv), I, ANY },
	{ SCMP_SYS(writev), I, ANY },
	{ SCMP_SYS(close), M | V | I, ANY },
	{ SCMP_SYS(fstat), M | V | I, ANY },
	{ SCMP_SYS(newfstatat), M | V | I, EMPTY_PATH },
	{ SCMP_SYS(lseek), M, ANY },
	{ SCMP_SYS(fsync), M | V | I, ANY },
	{ SCMP_SYS(fdatasync), V | I, ANY },
	{ SCMP_SYS(openat), M | V | I, DIRFD },
	{ SCMP_SYS(renameat), M | V | I, DIRFD2 },
	{ SCMP_SYS(renameat2), M | V | I, DIRFD2 },
	{ SCMP_SYS(unlinkat), M, DIRFD },
	{ SCMP_SYS(ioctl), M, KVM_IOCTL },
	{ SCMP_SYS(ioctl), V, VCPU_IOCTL },
	{ SCMP_SYS(ioctl), M, TTY_IOCTL },
	/* Waiting. */
	{ SCMP_SYS(poll), M | V | I, ANY },
	{ SCMP_SYS(ppoll), M | V | I, ANY },
	{ SCMP_SYS(epoll_wait), M | I, ANY },
	{ SCMP_SYS(epoll_pwait), M | I, ANY },
	{ SCMP_SYS(epoll_ctl), M | V | I, ANY },
	{ SCMP_SYS(futex), M | V | I, ANY },
	{ SCMP_SYS(sched_yield), V | I, ANY },
	{ SCMP_SYS(nanosleep), M | V | I, ANY },
	{ SCMP_SYS(clock_nanosleep), M | V | I, ANY },
	{ SCMP_SYS(clock_gettime), M | V | I, ANY },
	{ SCMP_SYS(clock_getres), M | V | I, ANY },
	{ SCMP_SYS(gettimeofday), M | V | I, ANY },
	{ SCMP_SYS(restart_syscall), M | V | I, ANY },
	/* The control socket and console clients. */
	{ SCMP_SYS(accept4), M, ANY },
	{ SCMP_SYS(sendto), M | V | I, ANY },
	{ SCMP_SYS(recvfrom), M, ANY },
	{ SCMP_SYS(setsockopt), M, ANY },
	{ SCMP_SYS(shutdown), M | V | I, ANY },
	/* virtio-vsock: the I/O thread accepts at PATH and connects to PATH_P. */
	{ SCMP_SYS(accept4), S, ANY },
	{ SCMP_SYS(socket), S, UNIX_SOCKET },
	{ SCMP_SYS(connect), S, ANY },
	{ SCMP_SYS(readv), S, ANY },
	/* New VMs (a Linux guest's reboot) and the PV I/O queues' set-up. */
	{ SCMP_SYS(eventfd2), M | V, ANY },
	{ SCMP_SYS(epoll_create1), V, ANY },
	{ SCMP_SYS(io_uring_setup), V, ANY },
	{ SCMP_SYS(io_uring_register), V, ANY },
	{ SCMP_SYS(io_uring_enter), V | I, ANY },
	{ SCMP_SYS(sched_getaffinity), V, ANY },
	/* Memory: guest RAM, vCPU state, malloc. */
	{ SCMP_SYS(mmap), M | V | I, ANY },
	{ SCMP_SYS(munmap), M | V | I, ANY },
	{ SCMP_SYS(mprotect), M | V | I, ANY },
	{ SCMP_SYS(mremap), M | V | I, ANY },
	{ SCMP_SYS(madvise), M | V | I, ANY },
	{ SCMP_SYS(brk), M | V | I, ANY },
	{ SCMP_SYS(mincore), M, ANY }, /* --stats: guest RAM touched */
	/* Threads: vCPUs (main), the I/O thread (its vCPU); and their ends. */
	{ SCMP_SYS(clone), M | V, THREAD },
	{ SCMP_SYS(clone3), M | V, ENOSYS_RULE },
	{ SCMP_SYS(set_robust_list), M | V | I, ANY },
	{ SCMP_SYS(rseq), M | V | I, ANY },
	{ SCMP_SYS(seccomp), M | V, FILTER },
	{ SCMP_SYS(exit), M | V | I, ANY },
	{ SCMP_SYS(exit_group), M | V | I, ANY },
	/* Signals: kicks of vCPUs, abort() of die(). */
	{ SCMP_SYS(rt_sigprocmask), M | V | I, ANY },
	{ SCMP_SYS(rt_sigaction), M | V | I, ANY },
	{ SCMP_SYS(rt_sigreturn), M | V | I, ANY },
	{ SCMP_SYS(rt_sigtimedwait), V, ANY },
	{ SCMP_SYS(tgkill), M | V | I, ANY },
	{ SCMP_SYS(getpid), M | V | I, ANY },
	{ SCMP_SYS(gettid), M | V | I, ANY },
	/* json-c seeds its hash tables (the control socket's requests). */
	{ SCMP_SYS(getrandom), M | V | I, ANY },
};

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	static const unsigned long tty_ioctls[] = { TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ };
	/*
	 * A vCPU runs, reads and sets its registers (exits, crash reports),
	 * and its devices raise interrupts and wire up notifications; making
	 * VMs, vCPUs or memory slots is the main thread's alone.
	 */
	static const unsigned long vcpu_ioctls[] = {
		KVM_RUN,       KVM_GET_REGS,  KVM_SET_REGS,	KVM_GET_SREGS,	      KVM_SET_SREGS,
		KVM_GET_FPU,   KVM_GET_MSRS,  KVM_GET_LAPIC,	KVM_GET_VCPU_EVENTS, KVM_IRQ_LINE,
		KVM_IRQFD,     KVM_IOEVENTFD, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI,
	};
	int ret = 0;

	switch (r->arg) {
	case ANY:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	case KVM_IOCTL:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8));
	case VCPU_IOCTL:
		for (size_t i = 0; !ret && i < ARRAY_SIZE(vcpu_ioctls); i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_A1(SCMP_CMP_EQ, vcpu_ioctls[i]));
		return ret;
	case TTY_IOCTL:
		for (size_t i = 0; !ret && i < ARRAY_SIZE(tty_ioctls); i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_A1(SCMP_CMP_EQ, tty_ioctls[i]));
		return ret;
	case DIRFD:
		for (unsigned i = 0; !ret && i < SANDBOX_MAX_DIRS; i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_A0(SCMP_CMP_EQ, SANDBOX_DIRFD_MARK + i));
		return ret;
	case DIRFD2:
		for (unsigned i = 0; !ret && i < SANDBOX_MAX_DIRS; i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 2,
					       SCMP_A0(SCMP_CMP_EQ, SANDBOX_DIRFD_MARK + i),
					       SCMP_A2(SCMP_CMP_EQ, SANDBOX_DIRFD_MARK + i));
		return ret;
	case THREAD:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	case EMPTY_PATH:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	case FILTER:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
	case ENOSYS_RULE:
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), r->nr, 0);
	case UNIX_SOCKET:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	}
	return -EINVAL;
}

/* The allow-list of the threads in `mask`; anything else kills the process. */
static scmp_filter_ctx build_filter(unsigned mask)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ret;

	if (!ctx)
		return NULL;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; !ret && i < ARRAY_SIZE(rules); i++)
		if (rules[i].threads & mask)
			ret = add_rule(ctx, &rules[i]);
	if (ret) {
		fprintf(stderr, "seccomp_rules: %s\n", strerror(-ret));
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static const struct {
	const char *name;
	unsigned mask;
} filters[SANDBOX_NR_FILTERS] = {
	[SANDBOX_FILTER_MAIN] = { "main", M | V | I | S },
	[SANDBOX_FILTER_VCPU] = { "vcpu", V },
	[SANDBOX_FILTER_VCPU_PV] = { "vcpu_pv", V | I },
	[SANDBOX_FILTER_IO] = { "io", I | S },
};

/* Filter `f` as a C array; every directory mark must be in it. */
static int emit(unsigned f)
{
	scmp_filter_ctx ctx = build_filter(filters[f].mask);
	struct sock_filter *insn;
	unsigned marks = 0;
	off_t size;
	int fd, ret;

	if (!ctx)
		return -1;
	fd = memfd_create("seccomp_rules", 0);
	ret = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END);
	insn = size > 0 ? malloc((size_t)size) : NULL;
	if (ret || !insn || pread(fd, insn, (size_t)size, 0) != size ||
	    size % sizeof(*insn) || size / sizeof(*insn) > BPF_MAXINSNS) {
		fprintf(stderr, "seccomp_rules: cannot export filter %s\n", filters[f].name);
		return -1;
	}
	close(fd);
	printf("static const struct sock_filter %s_insns[] = {\n", filters[f].name);
	for (size_t i = 0; i < (size_t)size / sizeof(*insn); i++) {
		if (insn[i].k >= SANDBOX_DIRFD_MARK && insn[i].k < SANDBOX_DIRFD_MARK + SANDBOX_MAX_DIRS)
			marks |= 1u << (insn[i].k - SANDBOX_DIRFD_MARK);
		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", insn[i].code, insn[i].jt, insn[i].jf,
		       insn[i].k);
	}
	printf("};\n\n");
	free(insn);
	if (marks != (1u << SANDBOX_MAX_DIRS) - 1) {
		fprintf(stderr, "seccomp_rules: filter %s lacks directory marks\n", filters[f].name);
		return -1;
	}
	return 0;
}

int main(void)
{
	printf("/* Generated by src/vmm/seccomp_rules.c: do not edit. */\n"
	       "#include \"vmm/sandbox_filters.h\"\n\n");
	for (unsigned f = 0; f < SANDBOX_NR_FILTERS; f++)
		if (emit(f))
			return 1;
	printf("const struct sandbox_filter sandbox_filters[SANDBOX_NR_FILTERS] = {\n");
	for (unsigned f = 0; f < SANDBOX_NR_FILTERS; f++)
		printf("\t{ %s_insns, sizeof(%s_insns) / sizeof(%s_insns[0]) },\n",
		       filters[f].name, filters[f].name, filters[f].name);
	printf("};\n");
	return fflush(stdout) ? 1 : 0;
}
