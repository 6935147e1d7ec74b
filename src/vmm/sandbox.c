#include "vmm/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "util/util.h"

/*
 * Descriptors the VMM may open after the sandbox: new control and console
 * connections (64), a Linux guest's VM rebuilt on reboot (its vCPUs are
 * closed first), a rotated console log, the exit file.
 */
#define NOFILE_MARGIN 256
#define KVMIO 0xAE

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZERS 1
#else
#define SANDBOX_SANITIZERS 0
#endif

/* Which threads need a syscall: a mask of 1 << enum sandbox_thread. */
#define M (1u << SANDBOX_MAIN)
#define V (1u << SANDBOX_VCPU)
#define I (1u << SANDBOX_IO)

enum arg_rule {
	ANY,
	KVM_IOCTL,    /* ioctl: KVM's (type 0xAE), on whatever fd */
	TTY_IOCTL,    /* ioctl: the terminal's modes (console, stdio) */
	DIRFD,        /* *at(): only from the directories of cfg->dirfd */
	DIRFD2,       /* renameat(): both directories from cfg->dirfd */
	THREAD,       /* clone: CLONE_THREAD only: no new process */
	EMPTY_PATH,   /* newfstatat: fstat() of a descriptor (AT_EMPTY_PATH) */
	FILTER,       /* seccomp: only to add a filter */
	ENOSYS_RULE,  /* clone3: ENOSYS, so that the C library uses clone */
};

/* docs/security.md has this table, with each syscall's reason. */
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
	{ SCMP_SYS(ioctl), M | V, KVM_IOCTL },
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

/* The threads' own filters, built by sandbox_apply(). */
static struct sock_fprog thread_prog[3];
static bool applied, jailed;

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, const struct sandbox_config *cfg)
{
	static const unsigned long tty_ioctls[] = { TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ };
	int ret = 0;

	switch (r->arg) {
	case ANY:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	case KVM_IOCTL:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, KVMIO << 8));
	case TTY_IOCTL:
		for (size_t i = 0; !ret && i < ARRAY_SIZE(tty_ioctls); i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_A1(SCMP_CMP_EQ, tty_ioctls[i]));
		return ret;
	case DIRFD:
		for (unsigned i = 0; !ret && i < cfg->nr_dirs; i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
					       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)cfg->dirfd[i]));
		return ret;
	case DIRFD2:
		for (unsigned i = 0; !ret && i < cfg->nr_dirs; i++)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 2,
					       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)cfg->dirfd[i]),
					       SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)cfg->dirfd[i]));
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
	}
	return -EINVAL;
}

/* The allow-list of the threads in `mask`; anything else kills the process. */
static scmp_filter_ctx build_filter(unsigned mask, const struct sandbox_config *cfg)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ret;

	if (!ctx)
		return NULL;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; !ret && i < ARRAY_SIZE(rules); i++)
		if (rules[i].threads & mask)
			ret = add_rule(ctx, &rules[i], cfg);
	if (ret) {
		log_err("sandbox: seccomp filter: %s", strerror(-ret));
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/* A thread's filter as BPF, installed later by the thread itself. */
static int export_filter(unsigned mask, const struct sandbox_config *cfg,
			 struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = build_filter(mask, cfg);
	int fd, ret;
	off_t size;

	if (!ctx)
		return -EINVAL;
	fd = memfd_create("shale-seccomp", MFD_CLOEXEC);
	ret = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (!ret) {
		size = lseek(fd, 0, SEEK_END);
		prog->filter = malloc(size > 0 ? (size_t)size : 1);
		prog->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
		if (size <= 0 || !prog->filter ||
		    pread(fd, prog->filter, (size_t)size, 0) != size)
			ret = -EIO;
	}
	if (fd >= 0)
		close(fd);
	if (ret)
		log_err("sandbox: cannot build a thread's seccomp filter: %s", strerror(-ret));
	return ret;
}

/* One past the highest open descriptor. */
static int fd_end(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int end = 3;

	if (!d)
		return 1024;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd >= end)
			end = fd + 1;
	}
	closedir(d);
	return end;
}

static int set_limits(void)
{
	struct rlimit core = { 0, 0 }, files;

	if (setrlimit(RLIMIT_CORE, &core) || getrlimit(RLIMIT_NOFILE, &files)) {
		log_err("sandbox: resource limits: %s", strerror(errno));
		return -errno;
	}
	rlim_t want = (rlim_t)fd_end() + NOFILE_MARGIN;

	if (files.rlim_max == RLIM_INFINITY || files.rlim_max > want) {
		files.rlim_cur = files.rlim_max = want;
		if (setrlimit(RLIMIT_NOFILE, &files)) {
			log_err("sandbox: RLIMIT_NOFILE: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/*
 * New mount, network and IPC namespaces (and a user namespace when not
 * root), with an empty read-only tmpfs as the root: nothing on the host
 * can be named any more. Descriptors opened before keep working, the
 * tap's included (it stays in the host's network namespace). 0, or
 * -errno when the host does not allow it.
 */
static int jail(void)
{
	int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (uid != 0)
		flags |= CLONE_NEWUSER;
	if (unshare(flags))
		return -errno;
	if (uid != 0) {
		/* The same ids inside: files the VMM creates keep their owner. */
		int ret = write_file("/proc/self/setgroups", "deny");

		snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
		if (!ret)
			ret = write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
		if (!ret)
			ret = write_file("/proc/self/gid_map", map);
		if (ret)
			return ret;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("shale-jail", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=1,mode=0555") ||
	    chdir("/tmp") ||
	    mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL))
		return -errno;
	/*
	 * pivot_root(2): the old root stacked on the new one, then detached.
	 * An initramfs root cannot be pivoted: there the old root stays
	 * mounted but out of reach by name (chroot), which without
	 * capabilities and with chroot() forbidden is as good.
	 */
	if (syscall(SYS_pivot_root, ".", ".")) {
		if (errno != EINVAL || chroot("."))
			return -errno;
	} else if (umount2(".", MNT_DETACH)) {
		return -errno;
	}
	return chdir("/") ? -errno : 0;
}

static int drop_privileges(const struct sandbox_config *cfg)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[2] = { { 0 } };

	if (cfg->user_set) {
		if (setgroups(0, NULL) || setresgid(cfg->gid, cfg->gid, cfg->gid) ||
		    setresuid(cfg->uid, cfg->uid, cfg->uid)) {
			log_err("sandbox: --user %u: %s", (unsigned)cfg->uid, strerror(errno));
			return -errno;
		}
		if (!setuid(0)) {
			log_err("sandbox: --user %u: root could be regained", (unsigned)cfg->uid);
			return -EPERM;
		}
	}
	/* Root that stays root, or root in the jail's user namespace: no capabilities. */
	if (syscall(SYS_capset, &hdr, none)) {
		log_err("sandbox: dropping capabilities: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * SHALE_SANDBOX_TEST (tests/integration only): the VMM itself does what the
 * sandbox must stop, right after it is in place, and says what happened.
 *   syscall  socket(AF_INET) on the main thread: killed by SIGSYS
 *   open     openat() of /etc/hostname from an allowed directory fd: ENOENT
 *   vcpu     accept4() on a vCPU thread, allowed on the main one: SIGSYS
 *   state    what the layers set: ids, no_new_privs, limits, the jail
 */
static const char *test_mode(void)
{
	const char *t = getenv("SHALE_SANDBOX_TEST");

	return t ? t : "";
}

/* Read before seccomp, which forbids getuid() and prctl(PR_GET_...). */
static void test_state(char *buf, size_t size)
{
	struct rlimit core, files;

	if (strcmp(test_mode(), "state"))
		return;
	getrlimit(RLIMIT_CORE, &core);
	getrlimit(RLIMIT_NOFILE, &files);
	snprintf(buf, size,
		 "sandbox-test: uid=%u gid=%u groups=%d nnp=%d core=%llu nofile=%llu jail=%s seccomp=%s",
		 (unsigned)getuid(), (unsigned)getgid(), getgroups(0, NULL),
		 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (unsigned long long)core.rlim_cur,
		 (unsigned long long)files.rlim_cur, jailed ? "yes" : "no",
		 SANDBOX_SANITIZERS ? "no" : "yes");
}

static void test_main(const struct sandbox_config *cfg, const char *state)
{
	const char *t = test_mode();

	if (*state) {
		fprintf(stderr, "%s\n", state);
	} else if (!strcmp(t, "syscall")) {
		fprintf(stderr, "sandbox-test: socket(AF_INET) after the sandbox\n");
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		fprintf(stderr, "sandbox-test: socket() returned %d: not killed\n", fd);
	} else if (!strcmp(t, "open")) {
		int fd = -1;

		if (cfg->nr_dirs)
			fd = openat(cfg->dirfd[0], "/etc/hostname", O_RDONLY | O_CLOEXEC);
		fprintf(stderr, "sandbox-test: open /etc/hostname: %s (jail: %s)\n",
			!cfg->nr_dirs ? "no directory fd" : fd >= 0 ? "opened" : strerror(errno),
			jailed ? "yes" : "no");
		if (fd >= 0)
			close(fd);
	}
}

int sandbox_apply(const struct sandbox_config *cfg)
{
	scmp_filter_ctx ctx;
	char state[256] = "";
	int ret;

	ret = set_limits();
	if (ret)
		return ret;
	if (SANDBOX_SANITIZERS) {
		/*
		 * ASan's runtime reads /proc/self/maps, and LeakSanitizer clones
		 * and ptraces a helper at exit: a sanitizer build keeps the
		 * limits, the privilege drop and no_new_privs, but neither the
		 * jail nor seccomp.
		 */
		log_info("sandbox: sanitizer build: no jail, no seccomp");
		ret = drop_privileges(cfg);
		if (!ret && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			ret = -errno;
		test_state(state, sizeof(state));
		if (*state)
			fprintf(stderr, "%s\n", state);
		return ret;
	}
	ret = jail();
	jailed = !ret;
	if (ret)
		log_info("sandbox: no jail on this host (%s): seccomp only", strerror(-ret));
	ret = drop_privileges(cfg);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_err("sandbox: no_new_privs: %s", strerror(errno));
		return -errno;
	}
	/* The threads' filters first: exporting them needs a memfd. */
	ret = export_filter(V | (cfg->pv ? I : 0), cfg, &thread_prog[SANDBOX_VCPU]);
	if (!ret)
		ret = export_filter(I, cfg, &thread_prog[SANDBOX_IO]);
	if (ret)
		return ret;
	test_state(state, sizeof(state));
	ctx = build_filter(M | V | I, cfg);
	if (!ctx)
		return -EINVAL;
	ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		log_err("sandbox: seccomp: %s", strerror(-ret));
		return ret;
	}
	applied = true;
	log_info("sandbox: %s, seccomp filters, no new privileges%s",
		 jailed ? "jail" : "no jail", cfg->user_set ? ", --user" : "");
	test_main(cfg, state);
	return 0;
}

void sandbox_enter_thread(enum sandbox_thread kind)
{
	const struct sock_fprog *prog = &thread_prog[kind];

	if (!applied || !prog->len)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog))
		die("seccomp for a thread: %s", strerror(errno));
	if (kind == SANDBOX_VCPU && !strcmp(test_mode(), "vcpu")) {
		fprintf(stderr, "sandbox-test: accept4() on a vCPU thread\n");
		int fd = accept4(-1, NULL, NULL, 0);

		fprintf(stderr, "sandbox-test: accept4() returned %d: not killed\n", fd);
	}
}

bool sandbox_jailed(void)
{
	return jailed;
}

int sandbox_parse_user(const char *arg, uid_t *uid, gid_t *gid)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);
	bool numeric = *arg && !*end;
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	/* fgetpwent, not getpwnam: a static binary has no NSS modules. */
	while (f && (pw = fgetpwent(f))) {
		if (numeric ? pw->pw_uid == n : !strcmp(pw->pw_name, arg)) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			fclose(f);
			return 0;
		}
	}
	if (f)
		fclose(f);
	if (numeric && n < (unsigned long)(uid_t)-1) {
		*uid = (uid_t)n;
		*gid = (gid_t)n;
		return 0;
	}
	log_err("--user %s: no such user in /etc/passwd", arg);
	return -EINVAL;
}
