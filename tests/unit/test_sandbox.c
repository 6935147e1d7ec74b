/*
 * The seccomp filters compiled at build time (src/vmm/seccomp_rules.c),
 * once sandbox_filter_prepare() has put the VMM's directory descriptors
 * in place of the marks: each test installs one in a child process and
 * checks what it lets through and what kills the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/seccomp.h>

#include <cmocka.h>

#include "vmm/sandbox_filters.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * The sanitizer runtime makes syscalls of its own in the child (the VMM's
 * sanitizer builds run without seccomp for that reason): what a filter
 * lets through cannot be checked there, what it kills still can.
 */
#define SKIP_ALLOWED() skip()
#else
#define SKIP_ALLOWED() ((void)0)
#endif

/* A child's exit: 0..255 for _exit(), 1000 + signal when killed. */
#define KILLED(sig) (1000 + (sig))

typedef int (*child_fn)(int allowed_dir, int other_dir);

static char dirs[2][64];

static int setup(void **state)
{
	for (int i = 0; i < 2; i++) {
		snprintf(dirs[i], sizeof(dirs[i]), "/tmp/shale-test-sandbox-XXXXXX");
		if (!mkdtemp(dirs[i]))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char path[sizeof(dirs) + 8];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/f", dirs[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/g", dirs[i]);
		unlink(path);
		rmdir(dirs[i]);
	}
	return 0;
}

/*
 * Runs fn in a child under filter `id` prepared with the first directory
 * only (nr_dirs 1) or none (nr_dirs 0).
 */
static int run_filtered(enum sandbox_filter_id id, unsigned nr_dirs, child_fn fn)
{
	int allowed = open(dirs[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int other = open(dirs[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct sock_fprog prog;
	int status;
	pid_t pid;

	assert_true(allowed >= 0 && other >= 0);
	assert_int_equal(sandbox_filter_prepare(id, &allowed, nr_dirs, &prog), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
			_exit(200);
		_exit(fn(allowed, other));
	}
	free(prog.filter);
	close(allowed);
	close(other);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? KILLED(WTERMSIG(status)) : WEXITSTATUS(status);
}

static int create_in_allowed(int allowed, int other)
{
	int fd = openat(allowed, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return 1;
	close(fd);
	if (renameat(allowed, "f", allowed, "g"))
		return 2;
	return unlinkat(allowed, "g", 0) ? 3 : 0;
}

static int create_in_other(int allowed, int other)
{
	return openat(other, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) < 0 ? 1 : 0;
}

static int open_absolute(int allowed, int other)
{
	/* The filter allows it (the dirfd is ignored): only the jail stops it. */
	int fd = openat(allowed, "/dev/null", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? 1 : 0;
}

static int rename_out(int allowed, int other)
{
	int fd = openat(allowed, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return 1;
	close(fd);
	/* Across directories: killed. */
	renameat(allowed, "f", other, "f");
	return 0;
}

static int open_cwd(int allowed, int other)
{
	open("/dev/null", O_RDONLY | O_CLOEXEC); /* openat(AT_FDCWD, ...) */
	return 0;
}

static int make_socket(int allowed, int other)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int make_unix_socket(int allowed, int other)
{
	return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) < 0 ? 1 : 0;
}

static int new_process(int allowed, int other)
{
	fork(); /* clone without CLONE_THREAD */
	return 0;
}

/* On a descriptor that is no KVM's: refused by the kernel, if the filter lets it by. */
static int ioctl_run(int allowed, int other)
{
	ioctl(allowed, KVM_RUN, 0);
	return 0;
}

static int ioctl_create_vm(int allowed, int other)
{
	ioctl(allowed, KVM_CREATE_VM, 0);
	return 0;
}

static int ioctl_memory_region(int allowed, int other)
{
	struct kvm_userspace_memory_region r = { 0 };

	ioctl(allowed, KVM_SET_USER_MEMORY_REGION, &r);
	return 0;
}

static void test_allowed_directory(void **state)
{
	SKIP_ALLOWED();
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, create_in_allowed), 0);
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, open_absolute), 0);
}

static void test_other_directory_killed(void **state)
{
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, create_in_other), KILLED(SIGSYS));
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, rename_out), KILLED(SIGSYS));
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, open_cwd), KILLED(SIGSYS));
}

static void test_no_directories(void **state)
{
	/* The unused marks match no descriptor, the first included. */
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 0, create_in_allowed), KILLED(SIGSYS));
}

static void test_forbidden_calls(void **state)
{
	for (int id = 0; id < SANDBOX_NR_FILTERS; id++) {
		assert_int_equal(run_filtered(id, 1, make_socket), KILLED(SIGSYS));
		assert_int_equal(run_filtered(id, 1, new_process), KILLED(SIGSYS));
	}
}

/* virtio-vsock's I/O thread makes Unix sockets (and the process list has them); a vCPU does not. */
static void test_unix_sockets(void **state)
{
	assert_int_equal(run_filtered(SANDBOX_FILTER_VCPU, 1, make_unix_socket), KILLED(SIGSYS));
	/* Nor the para-virtual vCPU, whose list its I/O thread runs too. */
	assert_int_equal(run_filtered(SANDBOX_FILTER_VCPU_PV, 1, make_unix_socket), KILLED(SIGSYS));
	SKIP_ALLOWED();
	assert_int_equal(run_filtered(SANDBOX_FILTER_IO, 1, make_unix_socket), 0);
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, make_unix_socket), 0);
}

static void test_io_thread_narrower(void **state)
{
	/* unlinkat is the main thread's only (the control socket at exit). */
	assert_int_equal(run_filtered(SANDBOX_FILTER_IO, 1, create_in_allowed), KILLED(SIGSYS));
}

static void test_vcpu_ioctls(void **state)
{
	SKIP_ALLOWED();
	/* A vCPU runs; making VMs or memory slots is the main thread's. */
	assert_int_equal(run_filtered(SANDBOX_FILTER_VCPU, 1, ioctl_run), 0);
	assert_int_equal(run_filtered(SANDBOX_FILTER_VCPU, 1, ioctl_create_vm), KILLED(SIGSYS));
	assert_int_equal(run_filtered(SANDBOX_FILTER_VCPU_PV, 1, ioctl_memory_region),
			 KILLED(SIGSYS));
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, ioctl_create_vm), 0);
	assert_int_equal(run_filtered(SANDBOX_FILTER_MAIN, 1, ioctl_memory_region), 0);
	/* The I/O thread asks nothing of KVM. */
	assert_int_equal(run_filtered(SANDBOX_FILTER_IO, 1, ioctl_run), KILLED(SIGSYS));
}

static void test_every_mark_replaced(void **state)
{
	int fds[SANDBOX_MAX_DIRS] = { 3, 4, 5, 6 };

	for (int id = 0; id < SANDBOX_NR_FILTERS; id++) {
		struct sock_fprog prog;
		unsigned seen = 0;

		assert_int_equal(sandbox_filter_prepare(id, fds, SANDBOX_MAX_DIRS, &prog), 0);
		assert_int_equal(prog.len, sandbox_filters[id].len);
		for (unsigned i = 0; i < prog.len; i++) {
			assert_false(prog.filter[i].k >= SANDBOX_DIRFD_MARK &&
				     prog.filter[i].k < SANDBOX_DIRFD_MARK + SANDBOX_MAX_DIRS);
			if (sandbox_filters[id].insns[i].k != prog.filter[i].k)
				seen |= 1u << (prog.filter[i].k - 3);
		}
		/* Each descriptor took the place of its mark. */
		assert_int_equal(seen, (1u << SANDBOX_MAX_DIRS) - 1);
		free(prog.filter);
	}
}

static void test_bad_arguments(void **state)
{
	struct sock_fprog prog;
	int bad = -1, fds[SANDBOX_MAX_DIRS + 1] = { 0 };

	assert_int_equal(sandbox_filter_prepare(SANDBOX_NR_FILTERS, fds, 0, &prog), -EINVAL);
	assert_int_equal(sandbox_filter_prepare(SANDBOX_FILTER_MAIN, fds, SANDBOX_MAX_DIRS + 1, &prog),
			 -EINVAL);
	assert_int_equal(sandbox_filter_prepare(SANDBOX_FILTER_MAIN, &bad, 1, &prog), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_directory),
		cmocka_unit_test(test_other_directory_killed),
		cmocka_unit_test(test_no_directories),
		cmocka_unit_test(test_forbidden_calls),
		cmocka_unit_test(test_unix_sockets),
		cmocka_unit_test(test_io_thread_narrower),
		cmocka_unit_test(test_vcpu_ioctls),
		cmocka_unit_test(test_every_mark_replaced),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
