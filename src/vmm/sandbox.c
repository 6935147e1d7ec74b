#include "vmm/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/sandbox_filters.h"

/*
 * Descriptors the VMM may open after the sandbox: new control and console
 * connections (64), a Linux guest's VM rebuilt on reboot (its vCPUs are
 * closed first), a rotated console log, the exit file.
 */
#define NOFILE_MARGIN 256

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZERS 1
#else
#define SANDBOX_SANITIZERS 0
#endif

/* The threads' own filters, built by sandbox_apply(). */
static struct sock_fprog thread_prog[3];
static bool applied, jailed;
/* "landlock" or "mount" once jailed */
static const char *jail_kind = "no";
/* The process filter, ready once applied, installed by sandbox_seal(). */
static struct sock_fprog main_prog;
static bool sealed;
static pthread_mutex_t seal_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seal_cond = PTHREAD_COND_INITIALIZER;
/* SHALE_SANDBOX_TEST: what sandbox_seal() tries, and the state line. */
static struct sandbox_config test_cfg;
static char test_line[256];
/* The network namespace the jail put the VMM in (its inode), for the tests. */
static unsigned long jail_netns;

int sandbox_filter_prepare(enum sandbox_filter_id id, const int *dirfd, unsigned nr_dirs,
			   struct sock_fprog *prog)
{
	const struct sandbox_filter *f;
	struct sock_filter *insn;

	if ((unsigned)id >= SANDBOX_NR_FILTERS || nr_dirs > SANDBOX_MAX_DIRS)
		return -EINVAL;
	for (unsigned i = 0; i < nr_dirs; i++)
		if (dirfd[i] < 0)
			return -EINVAL;
	f = &sandbox_filters[id];
	insn = malloc(f->len * sizeof(*insn));
	if (!insn)
		return -ENOMEM;
	memcpy(insn, f->insns, f->len * sizeof(*insn));
	for (unsigned i = 0; i < f->len; i++) {
		uint32_t k = insn[i].k - SANDBOX_DIRFD_MARK;

		/* libseccomp compares an argument's low word with BPF_JEQ | BPF_K. */
		if (insn[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && insn[i].k >= SANDBOX_DIRFD_MARK &&
		    k < SANDBOX_MAX_DIRS)
			insn[i].k = k < nr_dirs ? (uint32_t)dirfd[k] : (uint32_t)INT32_MAX;
	}
	prog->filter = insn;
	prog->len = f->len;
	return 0;
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
 * The network namespace VMMs run in as root: one, empty, shared by all of
 * them and kept by a bind mount, so that a VMM joins it (setns, ~20 us)
 * instead of creating its own (~0.5 ms, and as much again for the
 * kernel to tear it down). Sharing it gives nothing away: there is
 * nothing in it, and seccomp forbids creating sockets anyway.
 */
#define SHARED_NETNS_DIR "/run/shale"
#define SHARED_NETNS "netns"

static int join_netns_at(int dirfd)
{
	int fd = openat(dirfd, SHARED_NETNS, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int ret;

	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Joins SHARED_NETNS_DIR/SHARED_NETNS, first making it (under a lock on
 * the directory) when no VMM has yet. The directory must be root's and
 * writable by root only: whoever could replace the namespace would choose
 * the network of every VMM. 0, or -errno.
 */
static int join_shared_netns(void)
{
	struct stat st;
	int dirfd, fd, ret;

	if (mkdir(SHARED_NETNS_DIR, 0755) && errno != EEXIST)
		return -errno;
	dirfd = open(SHARED_NETNS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	if (fstat(dirfd, &st) || st.st_uid != 0 || (st.st_mode & 022)) {
		close(dirfd);
		return -EPERM;
	}
	ret = join_netns_at(dirfd);
	if (ret && !flock(dirfd, LOCK_EX)) {
		ret = join_netns_at(dirfd);
		if (ret) {
			/* A file left by an earlier unmount is made use of again. */
			fd = openat(dirfd, SHARED_NETNS, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
				    0444);
			if (fd < 0 || unshare(CLONE_NEWNET) ||
			    mount("/proc/self/ns/net", SHARED_NETNS_DIR "/" SHARED_NETNS, NULL,
				  MS_BIND, NULL))
				ret = -errno;
			else
				ret = 0;
			if (fd >= 0)
				close(fd);
		}
	}
	close(dirfd); /* and the lock */
	return ret;
}

/*
 * Landlock (where the kernel has it): no file may be opened, made, removed
 * or executed but beneath the directories of cfg->dirfd, whatever path
 * reaches it ('..' from one of them included); no TCP bind or connect; no
 * signal or abstract socket out of the VMM. The kernel's headers may be
 * older than the kernel: what later versions of its ABI add is written
 * down here.
 */
#define LL_ACCESS_FS_TRUNCATE (1ull << 14)  /* ABI 3 */
#define LL_ACCESS_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
#define LL_ACCESS_NET_BIND_TCP (1ull << 0)  /* ABI 4 */
#define LL_ACCESS_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

int sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi > 0 ? (int)abi : 0;
}

static int landlock_jail(const struct sandbox_config *cfg, int abi)
{
	struct ll_ruleset_attr attr = {
		.handled_access_fs = (LANDLOCK_ACCESS_FS_REFER << 1) - 1, /* ABI 1 and 2 */
	};
	uint64_t dir_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
	size_t size = sizeof(attr.handled_access_fs);
	int fd, ret = 0;

	if (abi < 2)
		attr.handled_access_fs &= ~LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3) {
		attr.handled_access_fs |= LL_ACCESS_FS_TRUNCATE;
		dir_access |= LL_ACCESS_FS_TRUNCATE;
	}
	if (abi >= 5)
		attr.handled_access_fs |= LL_ACCESS_FS_IOCTL_DEV;
	if (abi >= 4) {
		attr.handled_access_net = LL_ACCESS_NET_BIND_TCP | LL_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return -errno;
	for (unsigned i = 0; !ret && i < cfg->nr_dirs; i++) {
		struct landlock_path_beneath_attr rule = {
			.allowed_access = dir_access,
			.parent_fd = cfg->dirfd[i],
		};

		if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0))
			ret = -errno;
	}
	if (!ret && syscall(SYS_landlock_restrict_self, fd, 0))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The directories of cfg->dirfd opened again, from the new mount
 * namespace: only its own mounts can be bound into the jail. By the path
 * the descriptor had, checked to be the same directory. ns_fd[] gets the
 * new descriptors (closed by the caller, -1 if unused).
 */
static int open_dirs_here(const struct sandbox_config *cfg, int *ns_fd)
{
	char link[32], path[PATH_MAX];
	struct stat was, is;

	for (unsigned i = 0; i < cfg->nr_dirs; i++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", cfg->dirfd[i]);
		ssize_t n = readlink(link, path, sizeof(path) - 1);

		if (n <= 0 || (size_t)n >= sizeof(path) - 1)
			return -ENAMETOOLONG;
		path[n] = '\0';
		ns_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ns_fd[i] < 0)
			return -errno;
		if (fstat(cfg->dirfd[i], &was) || fstat(ns_fd[i], &is) || was.st_dev != is.st_dev ||
		    was.st_ino != is.st_ino)
			return -ESTALE;
	}
	return 0;
}

/*
 * Binds each directory of cfg->dirfd (opened here as ns_fd[]) at /0, /1,
 * ... of the jail's root (the current directory): seccomp lets openat()
 * and the rest name no other directory, and from one bound there '..'
 * ends at the jail's root, where from the original descriptor it would
 * climb to the host's.
 */
static int bind_dirs(const struct sandbox_config *cfg, const int *ns_fd)
{
	char name[16], src[32];

	for (unsigned i = 0; i < cfg->nr_dirs; i++) {
		snprintf(name, sizeof(name), "%u", i);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", ns_fd[i]);
		if (mkdir(name, 0555) || mount(src, name, NULL, MS_BIND, NULL) ||
		    mount(NULL, name, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL))
			return -errno;
	}
	return 0;
}

/* After the pivot: the descriptors of cfg->dirfd name the bound directories. */
static int reopen_dirs(const struct sandbox_config *cfg)
{
	char name[16];

	for (unsigned i = 0; i < cfg->nr_dirs; i++) {
		snprintf(name, sizeof(name), "/%u", i);
		int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || dup3(fd, cfg->dirfd[i], O_CLOEXEC) < 0) {
			int ret = -errno;

			if (fd >= 0)
				close(fd);
			return ret;
		}
		close(fd);
	}
	return 0;
}

/*
 * The jail: no network (the shared empty namespace as root, a new one in
 * a user namespace otherwise), and no host file but beneath the
 * directories of cfg->dirfd: by Landlock where the kernel has it (and
 * cfg->jail allows), else by a new mount namespace whose read-only tmpfs
 * root holds only those directories.
 * Descriptors opened before keep working, the tap's included (it stays in
 * the host's network namespace). There is no IPC namespace: seccomp
 * allows no System V or POSIX IPC call. 0, or -errno: with *entered
 * false when the host allows no namespaces (the VMM may go on without a
 * jail), true when set-up failed half-way (it may not).
 */
static int jail(const struct sandbox_config *cfg, bool *entered)
{
	int flags = CLONE_NEWNS, ret;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64], opts[64];
	struct stat st;
	int abi = cfg->jail == SANDBOX_JAIL_MOUNT ? 0 : sandbox_landlock_abi();

	if (cfg->jail == SANDBOX_JAIL_LANDLOCK && !abi)
		return -EOPNOTSUPP;
	if (abi)
		flags = 0; /* Landlock instead of a mount namespace */
	if (uid != 0 || join_shared_netns())
		flags |= CLONE_NEWNET;
	if (uid != 0)
		flags |= CLONE_NEWUSER;
	if (flags && unshare(flags))
		return -errno;
	*entered = true;
	if (stat("/proc/self/ns/net", &st) == 0)
		jail_netns = (unsigned long)st.st_ino;
	if (uid != 0) {
		/* The same ids inside: files the VMM creates keep their owner. */
		ret = write_file("/proc/self/setgroups", "deny");

		snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
		if (!ret)
			ret = write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
		if (!ret)
			ret = write_file("/proc/self/gid_map", map);
		if (ret)
			return ret;
	}
	if (abi) {
		ret = landlock_jail(cfg, abi);
		if (!ret)
			jail_kind = "landlock";
		return ret;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	int ns_fd[SANDBOX_MAX_DIRS] = { -1, -1, -1, -1 };

	ret = open_dirs_here(cfg, ns_fd);
	snprintf(opts, sizeof(opts), "size=4k,nr_inodes=%u,mode=0555", 1 + cfg->nr_dirs);
	if (!ret && (mount("shale-jail", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) ||
		     chdir("/tmp")))
		ret = -errno;
	if (!ret)
		ret = bind_dirs(cfg, ns_fd);
	for (unsigned i = 0; i < SANDBOX_MAX_DIRS; i++)
		if (ns_fd[i] >= 0)
			close(ns_fd[i]);
	if (ret)
		return ret;
	if (mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
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
	if (chdir("/"))
		return -errno;
	ret = reopen_dirs(cfg);
	if (!ret)
		jail_kind = "mount";
	return ret;
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
		 "sandbox-test: uid=%u gid=%u groups=%d nnp=%d core=%llu nofile=%llu jail=%s netns=%lu "
		 "seccomp=%s",
		 (unsigned)getuid(), (unsigned)getgid(), getgroups(0, NULL),
		 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), (unsigned long long)core.rlim_cur,
		 (unsigned long long)files.rlim_cur, jail_kind, jail_netns,
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
		/* By name, and up from a directory the VMM may write in. */
		static const char *const paths[] = { "/etc/hostname",
						     "../../../../../../../../etc/hostname" };

		for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
			int fd = -1;

			if (cfg->nr_dirs)
				fd = openat(cfg->dirfd[0], paths[i], O_RDONLY | O_CLOEXEC);
			fprintf(stderr, "sandbox-test: open %s: %s (jail: %s)\n", paths[i],
				!cfg->nr_dirs ? "no directory fd" :
				fd >= 0	      ? "opened" :
						strerror(errno),
				jail_kind);
			if (fd >= 0)
				close(fd);
		}
	}
}

int sandbox_apply(const struct sandbox_config *cfg)
{
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
		test_state(test_line, sizeof(test_line));
		if (*test_line)
			fprintf(stderr, "%s\n", test_line);
		return ret;
	}
	bool entered = false;

	/* First: Landlock takes no_new_privs (or CAP_SYS_ADMIN) to be applied. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_err("sandbox: no_new_privs: %s", strerror(errno));
		return -errno;
	}
	ret = jail(cfg, &entered);
	jailed = !ret;
	if (ret && (entered || cfg->jail != SANDBOX_JAIL_AUTO)) {
		log_err("sandbox: %s jail: %s",
			cfg->jail == SANDBOX_JAIL_MOUNT	   ? "mount-namespace" :
			cfg->jail == SANDBOX_JAIL_LANDLOCK ? "Landlock" :
							     "setting up the",
			ret == -EOPNOTSUPP ? "this kernel has no Landlock" : strerror(-ret));
		return ret;
	}
	if (ret)
		log_info("sandbox: no jail on this host (%s): seccomp only", strerror(-ret));
	ret = drop_privileges(cfg);
	if (ret)
		return ret;
	ret = sandbox_filter_prepare(cfg->pv ? SANDBOX_FILTER_VCPU_PV : SANDBOX_FILTER_VCPU,
				     cfg->dirfd, cfg->nr_dirs, &thread_prog[SANDBOX_VCPU]);
	if (!ret)
		ret = sandbox_filter_prepare(SANDBOX_FILTER_IO, cfg->dirfd, cfg->nr_dirs,
					     &thread_prog[SANDBOX_IO]);
	if (!ret)
		ret = sandbox_filter_prepare(SANDBOX_FILTER_MAIN, cfg->dirfd, cfg->nr_dirs, &main_prog);
	if (ret) {
		log_err("sandbox: seccomp filters: %s", strerror(-ret));
		return ret;
	}
	test_state(test_line, sizeof(test_line));
	test_cfg = *cfg;
	applied = true;
	log_info("sandbox: %s, seccomp filters, no new privileges%s",
		 jailed ? (strcmp(jail_kind, "mount") ? "Landlock jail" : "mount-namespace jail") :
			  "no jail",
		 cfg->user_set ? ", --user" : "");
	return 0;
}

/*
 * The process filter goes in while the first vCPU threads install their
 * own: each thread then runs one filter rather than two stacked, and the
 * two installs (a JIT compilation each) overlap. No vCPU enters the guest
 * before it is in (sandbox_enter_thread() waits for it).
 */
void sandbox_seal(void)
{
	int ret;

	if (!applied || sealed)
		return;
	ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &main_prog) ? -errno : 0;
	free(main_prog.filter);
	main_prog.filter = NULL;
	if (ret)
		die("sandbox: seccomp: %s", strerror(-ret));
	pthread_mutex_lock(&seal_lock);
	sealed = true;
	pthread_cond_broadcast(&seal_cond);
	pthread_mutex_unlock(&seal_lock);
	test_main(&test_cfg, test_line);
}

void sandbox_enter_thread(enum sandbox_thread kind)
{
	const struct sock_fprog *prog = &thread_prog[kind];

	if (!applied || !prog->len)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog))
		die("seccomp for a thread: %s", strerror(errno));
	pthread_mutex_lock(&seal_lock);
	while (!sealed)
		pthread_cond_wait(&seal_cond, &seal_lock);
	pthread_mutex_unlock(&seal_lock);
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
