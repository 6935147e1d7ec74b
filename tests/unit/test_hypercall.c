/*
 * Hypercall handlers, called the way the hypercall port calls them but
 * with no vCPU and no KVM: a struct vm put together by hand around 4 MiB
 * of fake guest RAM, a memfd as the console, a temporary file as the disk
 * and a socket pair standing in for the tap device. Argument structs are
 * placed in the fake RAM as a guest would place them, and every result is
 * read back from there.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <shale/abi/hypercall.h>

#include "fake_vm.h"
#include "pv/pv.h"
#include "util/util.h"

#define RAM_SIZE (4 * MiB)
#define ARG_GPA 0x1000u   /* where the tests put argument structs */
#define DATA_GPA 0x10000u /* and the buffers they name */
#define DISK_SIZE (64 * KiB)

static const char guest_args[] = "guest\0-v\0file.txt";

struct fixture {
	struct fake_vm fv;
	struct pv_guest pv;
	char disk_path[256];
	int net_peer; /* the other end of pv.net.fd, or -1 */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, RAM_SIZE))
		return -1;

	f->pv.vm = &f->fv.vm;
	f->pv.console_fd = memfd_create("console", MFD_CLOEXEC);
	if (f->pv.console_fd < 0)
		return -1;
	f->pv.args = malloc(sizeof(guest_args));
	if (!f->pv.args)
		return -1;
	memcpy(f->pv.args, guest_args, sizeof(guest_args));
	f->pv.args_size = sizeof(guest_args);
	f->pv.argc = 3;
	f->pv.block.disk.fd = -1;
	f->pv.net.fd = -1;
	/* The guest may use all of RAM, unless a test says less. */
	f->pv.range[0] = (struct pv_range){ 0, RAM_SIZE, true };
	f->pv.nr_ranges = 1;
	f->net_peer = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pv_destroy(&f->pv);
	if (f->net_peer >= 0)
		close(f->net_peer);
	if (f->disk_path[0])
		unlink(f->disk_path);
	close(f->pv.console_fd);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

static void put(struct fixture *f, uint64_t gpa, const void *p, size_t n)
{
	assert_true(gpa <= RAM_SIZE && n <= RAM_SIZE - gpa);
	memcpy(f->fv.ram + gpa, p, n);
}

static void get(struct fixture *f, uint64_t gpa, void *p, size_t n)
{
	assert_true(gpa <= RAM_SIZE && n <= RAM_SIZE - gpa);
	memcpy(p, f->fv.ram + gpa, n);
}

static void hc(struct fixture *f, unsigned nr, uint32_t gpa)
{
	pv_hypercall(&f->pv, NULL, nr, gpa);
}

static size_t console_size(struct fixture *f)
{
	off_t end = lseek(f->pv.console_fd, 0, SEEK_END);

	assert_true(end >= 0);
	return (size_t)end;
}

/* Console. */

static int64_t console_write(struct fixture *f, uint64_t data, uint64_t len)
{
	struct shale_hc_console_write c = { .data = data, .len = len, .ret = 12345 };

	put(f, ARG_GPA, &c, sizeof(c));
	hc(f, SHALE_HC_CONSOLE_WRITE, ARG_GPA);
	get(f, ARG_GPA, &c, sizeof(c));
	assert_int_equal(c.data, data);
	assert_int_equal(c.len, len);
	return c.ret;
}

static void test_console_write(void **state)
{
	struct fixture *f = *state;
	char out[16] = { 0 };

	put(f, DATA_GPA, "hello, world\n", 13);
	assert_int_equal(console_write(f, DATA_GPA, 13), 13);
	assert_int_equal(console_size(f), 13);
	assert_int_equal(pread(f->pv.console_fd, out, sizeof(out), 0), 13);
	assert_memory_equal(out, "hello, world\n", 13);

	assert_int_equal(console_write(f, DATA_GPA, 0), 0);
	/* An empty write at the very end of RAM is still inside it. */
	assert_int_equal(console_write(f, RAM_SIZE, 0), 0);
	assert_int_equal(console_write(f, RAM_SIZE - 1, 1), 1);
	assert_int_equal(console_size(f), 14);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_console_max(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(console_write(f, 0, SHALE_CONSOLE_MAX), SHALE_CONSOLE_MAX);
	assert_int_equal(console_size(f), SHALE_CONSOLE_MAX);
	assert_int_equal(console_write(f, 0, SHALE_CONSOLE_MAX + 1), SHALE_EINVAL);
	assert_int_equal(console_write(f, DATA_GPA, UINT64_MAX), SHALE_EINVAL);
	assert_int_equal(console_size(f), SHALE_CONSOLE_MAX);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_console_bad_buffer(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(console_write(f, RAM_SIZE, 1), SHALE_EFAULT);
	assert_int_equal(console_write(f, RAM_SIZE + 1, 0), SHALE_EFAULT);
	assert_int_equal(console_write(f, RAM_SIZE - 3, 4), SHALE_EFAULT);
	assert_int_equal(console_write(f, RAM_SIZE - 16, SHALE_CONSOLE_MAX), SHALE_EFAULT);
	/* data + len wraps around to a small address. */
	assert_int_equal(console_write(f, UINT64_MAX - 1, 4), SHALE_EFAULT);
	assert_int_equal(console_write(f, UINT64_MAX, 2), SHALE_EFAULT);
	assert_int_equal(console_write(f, 1ull << 32, 1), SHALE_EFAULT);
	assert_int_equal(console_size(f), 0);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_console_host_error(void **state)
{
	struct fixture *f = *state;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int console = f->pv.console_fd;

	/* The host cannot write: the guest hears of it, the VM goes on. */
	assert_true(fd >= 0);
	f->pv.console_fd = fd;
	put(f, DATA_GPA, "x", 1);
	assert_int_equal(console_write(f, DATA_GPA, 1), SHALE_EIO);
	f->pv.console_fd = console;
	close(fd);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* Argument structs outside RAM and unknown hypercalls stop the VM. */

static void test_struct_outside_ram(void **state)
{
	struct fixture *f = *state;
	static const uint32_t gpas[] = {
		RAM_SIZE - sizeof(struct shale_hc_console_write) + 1, RAM_SIZE - 1, RAM_SIZE,
		RAM_SIZE + 0x1000, UINT32_MAX - 8, UINT32_MAX,
	};
	uint8_t tail[64], after[64];
	int status;

	/* A plausible console struct straddling the end of RAM. */
	put(f, DATA_GPA, "leak", 4);
	for (size_t i = 0; i < sizeof(tail); i++)
		tail[i] = (uint8_t)i;
	memcpy(tail + sizeof(tail) - 16, &(uint64_t){ DATA_GPA }, 8);
	memcpy(tail + sizeof(tail) - 8, &(uint64_t){ 4 }, 8);
	put(f, RAM_SIZE - sizeof(tail), tail, sizeof(tail));

	for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++) {
		/* A fresh VM each time: only the first stop is recorded. */
		f->fv.vm.reason = VM_RUNNING;
		atomic_store(&f->fv.vm.stopping, false);

		hc(f, SHALE_HC_CONSOLE_WRITE, gpas[i]);
		assert_int_equal(fake_vm_stop_reason(&f->fv, &status), VM_STOP_CRASH);
		assert_int_equal(status, SHALE_EXIT_GUEST_CRASH);
		get(f, RAM_SIZE - sizeof(after), after, sizeof(after));
		assert_memory_equal(after, tail, sizeof(tail));
	}
	assert_int_equal(console_size(f), 0);
}

static void test_struct_at_end_of_ram(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_console_write c = { .data = DATA_GPA, .len = 2 };
	uint32_t gpa = RAM_SIZE - sizeof(c);

	put(f, DATA_GPA, "ok", 2);
	put(f, gpa, &c, sizeof(c));
	hc(f, SHALE_HC_CONSOLE_WRITE, gpa);
	get(f, gpa, &c, sizeof(c));
	assert_int_equal(c.ret, 2);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_unknown_hypercall(void **state)
{
	struct fixture *f = *state;
	static const unsigned nrs[] = { SHALE_HC_COUNT, 20, SHALE_HC_MAX - 2, SHALE_HC_MAX, 1000 };

	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		f->fv.vm.reason = VM_RUNNING;
		atomic_store(&f->fv.vm.stopping, false);
		hc(f, nrs[i], ARG_GPA);
		assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_CRASH);
	}
}

static void test_nop(void **state)
{
	struct fixture *f = *state;
	uint8_t before[64], after[64];

	memset(before, 0xa5, sizeof(before));
	put(f, ARG_GPA, before, sizeof(before));
	/* No argument struct, so no address is wrong. */
	hc(f, SHALE_HC_NOP, ARG_GPA);
	hc(f, SHALE_HC_NOP, UINT32_MAX);
	get(f, ARG_GPA, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(after));
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* Exit. */

static void test_exit(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_exit e = { .status = 3 };
	int status;

	put(f, ARG_GPA, &e, sizeof(e));
	hc(f, SHALE_HC_EXIT, ARG_GPA);
	assert_int_equal(fake_vm_stop_reason(&f->fv, &status), VM_STOP_EXIT);
	assert_int_equal(f->fv.vm.status, 3);
	assert_int_equal(status, 3);

	/* The first stop wins. */
	e.status = 9;
	put(f, ARG_GPA, &e, sizeof(e));
	hc(f, SHALE_HC_EXIT, ARG_GPA);
	assert_int_equal(f->fv.vm.reason, VM_STOP_EXIT);
	assert_int_equal(f->fv.vm.status, 3);
	hc(f, 40, ARG_GPA);
	assert_int_equal(f->fv.vm.reason, VM_STOP_EXIT);
}

static void test_exit_status_range(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_exit e = { .status = 0x1ff };
	int status;

	put(f, ARG_GPA, &e, sizeof(e));
	hc(f, SHALE_HC_EXIT, ARG_GPA);
	assert_int_equal(fake_vm_stop_reason(&f->fv, &status), VM_STOP_EXIT);
	assert_int_equal(status, 0xff);
}

static void test_exit_outside_ram(void **state)
{
	struct fixture *f = *state;

	hc(f, SHALE_HC_EXIT, RAM_SIZE - 4);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_CRASH);
}

/* Clock. */

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_clock(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_clock c = { 0 };
	uint64_t mono0 = now_ns(CLOCK_MONOTONIC), wall0 = now_ns(CLOCK_REALTIME);
	uint64_t mono1, wall1;

	put(f, ARG_GPA, &c, sizeof(c));
	hc(f, SHALE_HC_CLOCK, ARG_GPA);
	mono1 = now_ns(CLOCK_MONOTONIC);
	wall1 = now_ns(CLOCK_REALTIME);
	get(f, ARG_GPA, &c, sizeof(c));
	assert_in_range(c.monotonic_ns, mono0, mono1);
	assert_in_range(c.wall_ns, wall0, wall1);
	/* After 2020-01-01. */
	assert_true(c.wall_ns > 1577836800ull * 1000000000ull);

	hc(f, SHALE_HC_CLOCK, RAM_SIZE - 8);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_CRASH);
}

/* Random. */

static int64_t buffer_call(struct fixture *f, unsigned nr, uint64_t data, uint64_t len)
{
	struct shale_hc_buffer b = { .data = data, .len = len, .ret = 12345 };

	put(f, ARG_GPA, &b, sizeof(b));
	hc(f, nr, ARG_GPA);
	get(f, ARG_GPA, &b, sizeof(b));
	assert_int_equal(b.data, data);
	assert_int_equal(b.len, len);
	return b.ret;
}

static void test_random(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[SHALE_RANDOM_MAX + 16];
	unsigned same = 0;

	memset(f->fv.ram + DATA_GPA, 0, sizeof(buf));
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, DATA_GPA, 64), 64);
	get(f, DATA_GPA, buf, sizeof(buf));
	for (unsigned i = 0; i < 64; i++)
		same += buf[i] == 0;
	assert_true(same < 16);
	for (unsigned i = 64; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, DATA_GPA, 0), 0);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, DATA_GPA, SHALE_RANDOM_MAX),
			 SHALE_RANDOM_MAX);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, RAM_SIZE - SHALE_RANDOM_MAX,
				     SHALE_RANDOM_MAX), SHALE_RANDOM_MAX);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_random_rejects(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];

	memset(f->fv.ram + DATA_GPA, 0, 2 * SHALE_RANDOM_MAX);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, DATA_GPA, SHALE_RANDOM_MAX + 1),
			 SHALE_EINVAL);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, DATA_GPA, UINT64_MAX), SHALE_EINVAL);
	get(f, DATA_GPA, buf, sizeof(buf));
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, RAM_SIZE - 8, 16), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, UINT64_MAX - 7, 16), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, RAM_SIZE + 4096, 1), SHALE_EFAULT);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* Args. */

static void test_args(void **state)
{
	struct fixture *f = *state;
	const int64_t size = sizeof(guest_args);
	uint8_t buf[64], fill[64];

	memset(fill, 0xee, sizeof(fill));

	/* len 0 asks for the size and copies nothing. */
	put(f, DATA_GPA, fill, sizeof(fill));
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, DATA_GPA, 0), size);
	get(f, DATA_GPA, buf, sizeof(buf));
	assert_memory_equal(buf, fill, sizeof(buf));

	/* Too small by one: the size again, and still nothing copied. */
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, DATA_GPA, size - 1), size);
	get(f, DATA_GPA, buf, sizeof(buf));
	assert_memory_equal(buf, fill, sizeof(buf));

	/* Exactly the size: argv[0] NUL argv[1] NUL ..., nothing more. */
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, DATA_GPA, size), size);
	get(f, DATA_GPA, buf, sizeof(buf));
	assert_memory_equal(buf, guest_args, (size_t)size);
	assert_int_equal(buf[size], 0xee);

	/* Larger than needed. */
	put(f, DATA_GPA, fill, sizeof(fill));
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, DATA_GPA, 4096), size);
	get(f, DATA_GPA, buf, sizeof(buf));
	assert_memory_equal(buf, guest_args, (size_t)size);
	assert_int_equal(buf[size], 0xee);

	/* Flush against the end of RAM. */
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, RAM_SIZE - size, size), size);
	get(f, RAM_SIZE - size, buf, (size_t)size);
	assert_memory_equal(buf, guest_args, (size_t)size);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_args_bad_buffer(void **state)
{
	struct fixture *f = *state;
	const int64_t size = sizeof(guest_args);

	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, RAM_SIZE - size + 1, size), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, RAM_SIZE, 4096), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, UINT64_MAX - 4, 4096), SHALE_EFAULT);
	/* Too small: only the size, so the bad address is never used. */
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, UINT64_MAX, 1), size);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* Block. */

/*
 * Hypercalls may name only memory the guest itself can access, and write
 * only where it could write: not its page tables (unlisted here), not its
 * code (read-only here). Ranges that touch count as one.
 */
static void test_guest_access(void **state)
{
	struct fixture *f = *state;
	static const uint8_t code[32] = "code that must stay as it is...";
	uint8_t check[32];
	int status;

	f->pv.range[0] = (struct pv_range){ ARG_GPA, ARG_GPA + 0x1000, true };
	f->pv.range[1] = (struct pv_range){ 0x4000, 0x6000, false }; /* code */
	f->pv.range[2] = (struct pv_range){ 0x6000, 0x8000, true };  /* data */
	f->pv.nr_ranges = 3;
	put(f, 0x4ff0, code, sizeof(code));

	/* Reading: code and data, across their border; nothing unlisted. */
	assert_int_equal(console_write(f, 0x4000, 16), 16);
	assert_int_equal(console_write(f, 0x5ff0, 32), 32);
	assert_int_equal(console_write(f, 0x3ff0, 32), SHALE_EFAULT);
	assert_int_equal(console_write(f, 0x7ff0, 32), SHALE_EFAULT);
	assert_int_equal(console_write(f, 0x2000, 1), SHALE_EFAULT);

	/* Writing: data only; code, unlisted pages and mixtures are refused. */
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, 0x6ff0, 32), 32);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, 0x5ff0, 32), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, 0x4ff0, 16), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_RANDOM, 0x2000, 16), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, 0x4000, 64), SHALE_EFAULT);
	assert_int_equal(buffer_call(f, SHALE_HC_ARGS, 0x6000, 64), sizeof(guest_args));
	get(f, 0x4ff0, check, sizeof(check));
	assert_memory_equal(check, code, sizeof(code));
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);

	/* The argument struct is written back: in code it is a crash. */
	put(f, 0x4000, &(struct shale_hc_buffer){ .data = 0x6000, .len = 16 },
	    sizeof(struct shale_hc_buffer));
	hc(f, SHALE_HC_RANDOM, 0x4000);
	assert_int_equal(fake_vm_stop_reason(&f->fv, &status), VM_STOP_CRASH);
	assert_int_equal(status, SHALE_EXIT_GUEST_CRASH);
	get(f, 0x4ff0, check, sizeof(check));
	assert_memory_equal(check, code, sizeof(code));
}

static void make_disk(struct fixture *f, uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	uint8_t *buf = malloc(size);
	int fd;

	assert_non_null(buf);
	snprintf(f->disk_path, sizeof(f->disk_path), "%s/shale-test-disk-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(f->disk_path);
	assert_true(fd >= 0);
	for (uint64_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i / SHALE_BLOCK_SECTOR + i);
	assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
	close(fd);
	free(buf);
}

static uint8_t disk_byte(uint64_t off)
{
	return (uint8_t)(off / SHALE_BLOCK_SECTOR + off);
}

static void open_disk(struct fixture *f, bool readonly)
{
	make_disk(f, DISK_SIZE);
	assert_int_equal(pv_block_open(&f->pv.block, f->disk_path, readonly), 0);
}

static int64_t block_info(struct fixture *f, struct shale_hc_block_info *bi)
{
	memset(bi, 0x5a, sizeof(*bi));
	put(f, ARG_GPA, bi, sizeof(*bi));
	hc(f, SHALE_HC_BLOCK_INFO, ARG_GPA);
	get(f, ARG_GPA, bi, sizeof(*bi));
	return bi->ret;
}

static int64_t block_io(struct fixture *f, unsigned nr, uint64_t offset, uint64_t data,
			uint64_t len)
{
	struct shale_hc_block_io io = { .offset = offset, .data = data, .len = len, .ret = 12345 };

	put(f, ARG_GPA, &io, sizeof(io));
	hc(f, nr, ARG_GPA);
	get(f, ARG_GPA, &io, sizeof(io));
	assert_int_equal(io.offset, offset);
	assert_int_equal(io.data, data);
	assert_int_equal(io.len, len);
	return io.ret;
}

static int64_t block_flush(struct fixture *f)
{
	struct shale_hc_status s = { .ret = 12345 };

	put(f, ARG_GPA, &s, sizeof(s));
	hc(f, SHALE_HC_BLOCK_FLUSH, ARG_GPA);
	get(f, ARG_GPA, &s, sizeof(s));
	return s.ret;
}

static void test_block_none(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_block_info bi;

	assert_int_equal(block_info(f, &bi), SHALE_ENODEV);
	assert_int_equal(bi.capacity, 0);
	assert_int_equal(bi.sector_size, 0);
	assert_int_equal(bi.flags, 0);
	assert_int_equal(bi.max_io, 0);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 0, DATA_GPA, 512), SHALE_ENODEV);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_WRITE, 0, DATA_GPA, 512), SHALE_ENODEV);
	assert_int_equal(block_flush(f), SHALE_ENODEV);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_block_info(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_block_info bi;

	open_disk(f, false);
	assert_int_equal(block_info(f, &bi), SHALE_OK);
	assert_int_equal(bi.capacity, DISK_SIZE);
	assert_int_equal(bi.sector_size, SHALE_BLOCK_SECTOR);
	assert_int_equal(bi.flags, 0);
	assert_int_equal(bi.max_io, SHALE_BLOCK_IO_MAX);
}

static void test_block_odd_size(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_block_info bi;

	/* The partial last sector is invisible. */
	make_disk(f, 3 * SHALE_BLOCK_SECTOR + 100);
	assert_int_equal(pv_block_open(&f->pv.block, f->disk_path, false), 0);
	assert_int_equal(block_info(f, &bi), SHALE_OK);
	assert_int_equal(bi.capacity, 3 * SHALE_BLOCK_SECTOR);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 3 * SHALE_BLOCK_SECTOR, DATA_GPA,
				  SHALE_BLOCK_SECTOR), SHALE_ENOSPC);
}

static void test_block_read_write(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[2048], disk[2048];

	open_disk(f, false);

	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 512, DATA_GPA, 1024), 1024);
	get(f, DATA_GPA, buf, 1024);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(buf[i], disk_byte(512 + i));

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0xc3 ^ i);
	put(f, DATA_GPA + 4096, buf, sizeof(buf));
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_WRITE, 4096, DATA_GPA + 4096, sizeof(buf)),
			 sizeof(buf));
	assert_int_equal(pread(f->pv.block.disk.fd, disk, sizeof(disk), 4096), sizeof(disk));
	assert_memory_equal(disk, buf, sizeof(buf));
	/* Neighbours untouched. */
	assert_int_equal(pread(f->pv.block.disk.fd, disk, 1, 4095), 1);
	assert_int_equal(disk[0], disk_byte(4095));
	assert_int_equal(pread(f->pv.block.disk.fd, disk, 1, 4096 + sizeof(buf)), 1);
	assert_int_equal(disk[0], disk_byte(4096 + sizeof(buf)));

	memset(f->fv.ram + DATA_GPA, 0, sizeof(buf));
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 4096, DATA_GPA, sizeof(buf)),
			 sizeof(buf));
	get(f, DATA_GPA, disk, sizeof(disk));
	assert_memory_equal(disk, buf, sizeof(buf));

	/* The last sector, and an empty request at the end. */
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, DISK_SIZE - 512, DATA_GPA, 512), 512);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_WRITE, DISK_SIZE - 512, DATA_GPA, 512), 512);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, DISK_SIZE, DATA_GPA, 0), 0);
	/* The whole disk into the end of RAM. */
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 0, RAM_SIZE - DISK_SIZE, DISK_SIZE),
			 DISK_SIZE);
	assert_int_equal(block_flush(f), SHALE_OK);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);

	/* The control socket's counters: every request that reached the disk. */
	struct vm_stats *st = f->fv.vm.stats;

	assert_int_equal(st->block_reads, 5);
	assert_int_equal(st->block_read_bytes, 1024 + sizeof(buf) + 512 + DISK_SIZE);
	assert_int_equal(st->block_writes, 2);
	assert_int_equal(st->block_write_bytes, sizeof(buf) + 512);
	assert_int_equal(st->block_flushes, 1);
}

static void test_block_unaligned(void **state)
{
	struct fixture *f = *state;

	open_disk(f, false);
	for (unsigned nr = SHALE_HC_BLOCK_READ; nr <= SHALE_HC_BLOCK_WRITE; nr++) {
		assert_int_equal(block_io(f, nr, 100, DATA_GPA, 512), SHALE_EINVAL);
		assert_int_equal(block_io(f, nr, 511, DATA_GPA, 512), SHALE_EINVAL);
		assert_int_equal(block_io(f, nr, 512, DATA_GPA, 100), SHALE_EINVAL);
		assert_int_equal(block_io(f, nr, 0, DATA_GPA, 513), SHALE_EINVAL);
		assert_int_equal(block_io(f, nr, 0, DATA_GPA, 1), SHALE_EINVAL);
	}
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_block_out_of_range(void **state)
{
	struct fixture *f = *state;
	const uint64_t top = UINT64_MAX & ~(uint64_t)(SHALE_BLOCK_SECTOR - 1);

	open_disk(f, false);
	for (unsigned nr = SHALE_HC_BLOCK_READ; nr <= SHALE_HC_BLOCK_WRITE; nr++) {
		assert_int_equal(block_io(f, nr, DISK_SIZE, DATA_GPA, 512), SHALE_ENOSPC);
		assert_int_equal(block_io(f, nr, DISK_SIZE - 512, DATA_GPA, 1024), SHALE_ENOSPC);
		assert_int_equal(block_io(f, nr, DISK_SIZE + 512, DATA_GPA, 0), SHALE_ENOSPC);
		assert_int_equal(block_io(f, nr, 0, DATA_GPA, DISK_SIZE + 512), SHALE_ENOSPC);
		/* offset + len wraps around to a small number. */
		assert_int_equal(block_io(f, nr, top, DATA_GPA, 1024), SHALE_ENOSPC);
		assert_int_equal(block_io(f, nr, top - 511, DATA_GPA, 1024), SHALE_EINVAL);
		/* Larger than any single request may be. */
		assert_int_equal(block_io(f, nr, 0, DATA_GPA, SHALE_BLOCK_IO_MAX + 512),
				 SHALE_EINVAL);
		assert_int_equal(block_io(f, nr, 0, DATA_GPA, top), SHALE_EINVAL);
	}
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_block_bad_buffer(void **state)
{
	struct fixture *f = *state;
	uint8_t disk[512];

	open_disk(f, false);
	for (unsigned nr = SHALE_HC_BLOCK_READ; nr <= SHALE_HC_BLOCK_WRITE; nr++) {
		assert_int_equal(block_io(f, nr, 0, RAM_SIZE - 256, 512), SHALE_EFAULT);
		assert_int_equal(block_io(f, nr, 0, RAM_SIZE, 512), SHALE_EFAULT);
		assert_int_equal(block_io(f, nr, 0, UINT64_MAX - 511, 1024), SHALE_EFAULT);
		assert_int_equal(block_io(f, nr, 0, 1ull << 40, 512), SHALE_EFAULT);
	}
	/* The failed writes left the disk alone. */
	assert_int_equal(pread(f->pv.block.disk.fd, disk, sizeof(disk), 0), sizeof(disk));
	for (unsigned i = 0; i < sizeof(disk); i++)
		assert_int_equal(disk[i], disk_byte(i));
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_block_readonly(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_block_info bi;
	uint8_t disk[512];

	open_disk(f, true);
	assert_int_equal(block_info(f, &bi), SHALE_OK);
	assert_int_equal(bi.flags, SHALE_BLOCK_F_READONLY);
	assert_int_equal(bi.capacity, DISK_SIZE);

	memset(f->fv.ram + DATA_GPA, 0x77, 512);
	assert_int_equal(block_io(f, SHALE_HC_BLOCK_WRITE, 0, DATA_GPA, 512), SHALE_EROFS);
	assert_int_equal(pread(f->pv.block.disk.fd, disk, sizeof(disk), 0), sizeof(disk));
	for (unsigned i = 0; i < sizeof(disk); i++)
		assert_int_equal(disk[i], disk_byte(i));

	assert_int_equal(block_io(f, SHALE_HC_BLOCK_READ, 0, DATA_GPA, 512), 512);
	assert_int_equal(f->fv.ram[DATA_GPA + 3], disk_byte(3));
	assert_int_equal(block_flush(f), SHALE_OK);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_block_open_errors(void **state)
{
	struct fixture *f = *state;
	struct pv_block other = { .disk.fd = -1 };

	assert_int_equal(pv_block_open(&other, "/nonexistent/disk.img", false), -ENOENT);
	assert_int_equal(other.disk.fd, -1);
	assert_int_equal(pv_block_open(&other, "/dev/null", false), -EINVAL);

	/* A disk in use by one VM cannot be opened for writing by another. */
	open_disk(f, false);
	assert_int_equal(pv_block_open(&other, f->disk_path, false), -EWOULDBLOCK);
	assert_int_equal(pv_block_open(&other, f->disk_path, true), -EWOULDBLOCK);
	assert_int_equal(other.disk.fd, -1);
}

/* Network. */

static void test_net_none(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_net_info ni;

	memset(&ni, 0x5a, sizeof(ni));
	put(f, ARG_GPA, &ni, sizeof(ni));
	hc(f, SHALE_HC_NET_INFO, ARG_GPA);
	get(f, ARG_GPA, &ni, sizeof(ni));
	assert_int_equal(ni.ret, SHALE_ENODEV);
	assert_int_equal(ni.mtu, 0);

	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, DATA_GPA, 1514), SHALE_ENODEV);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 60), SHALE_ENODEV);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 0), SHALE_ENODEV);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, UINT64_MAX, 1514), SHALE_ENODEV);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* A datagram socket pair behaves like a tap device: one frame per call. */
static void attach_net(struct fixture *f)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
				    sv), 0);
	f->pv.net.fd = sv[0];
	f->net_peer = sv[1];
	memcpy(f->pv.net.mac, mac, sizeof(mac));
	f->pv.net.mtu = 1500;
}

static void test_net_info(void **state)
{
	struct fixture *f = *state;
	struct shale_hc_net_info ni;

	attach_net(f);
	memset(&ni, 0x5a, sizeof(ni));
	put(f, ARG_GPA, &ni, sizeof(ni));
	hc(f, SHALE_HC_NET_INFO, ARG_GPA);
	get(f, ARG_GPA, &ni, sizeof(ni));
	assert_int_equal(ni.ret, SHALE_OK);
	assert_memory_equal(ni.mac, f->pv.net.mac, 6);
	assert_int_equal(ni.mtu, 1500);
	assert_int_equal(ni._pad, 0);
	assert_int_equal(ni._pad2, 0);
}

static void test_net_frames(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[2000], got[2000];

	attach_net(f);
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 3);

	/* Nothing waiting. */
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, DATA_GPA, 1514), SHALE_EAGAIN);

	/* In: a frame, and one truncated to the buffer. */
	assert_int_equal(write(f->net_peer, frame, 60), 60);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, DATA_GPA, 1514), 60);
	get(f, DATA_GPA, got, 60);
	assert_memory_equal(got, frame, 60);
	assert_int_equal(write(f->net_peer, frame, 100), 100);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, DATA_GPA, 20), 20);
	/* A huge len is clamped to one frame, not checked against RAM as is. */
	assert_int_equal(write(f->net_peer, frame, 1514), 1514);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, RAM_SIZE - 1514, UINT64_MAX), 1514);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_READ, RAM_SIZE - 100, 1514), SHALE_EFAULT);

	/* Out: one frame, of a size between a header and header + MTU. */
	put(f, DATA_GPA, frame, 1514);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 1514), 1514);
	assert_int_equal(read(f->net_peer, got, sizeof(got)), 1514);
	assert_memory_equal(got, frame, 1514);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 14), 14);
	assert_int_equal(read(f->net_peer, got, sizeof(got)), 14);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 13), SHALE_EINVAL);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, 1515), SHALE_EINVAL);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, DATA_GPA, UINT64_MAX), SHALE_EINVAL);
	assert_int_equal(buffer_call(f, SHALE_HC_NET_WRITE, RAM_SIZE - 59, 60), SHALE_EFAULT);
	assert_int_equal(read(f->net_peer, got, sizeof(got)), -1);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

/* Poll. */

static struct shale_hc_poll do_poll(struct fixture *f, uint64_t deadline, uint64_t events)
{
	struct shale_hc_poll p = { .deadline_ns = deadline, .events = events, .ready = 99,
				   .ret = 12345 };

	put(f, ARG_GPA, &p, sizeof(p));
	hc(f, SHALE_HC_POLL, ARG_GPA);
	get(f, ARG_GPA, &p, sizeof(p));
	assert_int_equal(p.deadline_ns, deadline);
	assert_int_equal(p.events, events);
	return p;
}

static void test_poll_past_deadline(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct shale_hc_poll p;

	p = do_poll(f, 0, 0);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, 0);
	p = do_poll(f, t0 - 1000000000ull, SHALE_POLL_NET);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, 0);
	p = do_poll(f, t0, 0);
	assert_int_equal(p.ret, SHALE_OK);
	/* "At once": far less than any deadline a test would notice. */
	assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 500000000ull);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_poll_bad_events(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct shale_hc_poll p;

	/* Refused before any wait, however far the deadline. */
	p = do_poll(f, UINT64_MAX, 0x4);
	assert_int_equal(p.ret, SHALE_EINVAL);
	assert_int_equal(p.ready, 0);
	p = do_poll(f, UINT64_MAX, SHALE_POLL_NET | (1ull << 63));
	assert_int_equal(p.ret, SHALE_EINVAL);
	assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 500000000ull);

	hc(f, SHALE_HC_POLL, RAM_SIZE - 16);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_CRASH);
}

static void test_poll_waits(void **state)
{
	struct fixture *f = *state;
	const uint64_t wait = 20000000ull;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), t1;
	struct shale_hc_poll p;

	p = do_poll(f, t0 + wait, 0);
	t1 = now_ns(CLOCK_MONOTONIC);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, 0);
	assert_true(t1 - t0 >= wait);
	assert_true(t1 - t0 < wait + 1000000000ull);

	/* Waiting for a network that is not there is just a sleep. */
	t0 = now_ns(CLOCK_MONOTONIC);
	p = do_poll(f, t0 + wait, SHALE_POLL_NET);
	t1 = now_ns(CLOCK_MONOTONIC);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, 0);
	assert_true(t1 - t0 >= wait);
}

static void test_poll_net_ready(void **state)
{
	struct fixture *f = *state;
	uint64_t t0, t1;
	struct shale_hc_poll p;

	attach_net(f);
	assert_int_equal(write(f->net_peer, "frame", 5), 5);
	t0 = now_ns(CLOCK_MONOTONIC);
	p = do_poll(f, t0 + 10000000000ull, SHALE_POLL_NET);
	t1 = now_ns(CLOCK_MONOTONIC);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, SHALE_POLL_NET);
	assert_true(t1 - t0 < 1000000000ull);

	/* Readiness is not reported when not asked for. */
	t0 = now_ns(CLOCK_MONOTONIC);
	p = do_poll(f, t0 + 5000000ull, 0);
	assert_int_equal(p.ready, 0);
}

/* SHALE_POLL_SHUTDOWN: never ready until asked for, then at once and for good. */
static void test_poll_shutdown(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct shale_hc_poll p;

	p = do_poll(f, t0 + 20000000ull, SHALE_POLL_SHUTDOWN | SHALE_POLL_NET);
	assert_int_equal(p.ret, SHALE_OK);
	assert_int_equal(p.ready, 0);
	assert_true(now_ns(CLOCK_MONOTONIC) - t0 >= 20000000ull);

	pv_request_shutdown(&f->pv);
	for (int i = 0; i < 2; i++) {
		t0 = now_ns(CLOCK_MONOTONIC);
		p = do_poll(f, UINT64_MAX, SHALE_POLL_SHUTDOWN);
		assert_int_equal(p.ret, SHALE_OK);
		assert_int_equal(p.ready, SHALE_POLL_SHUTDOWN);
		assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 500000000ull);
	}
	/* Not reported to a guest that does not ask. */
	p = do_poll(f, 0, SHALE_POLL_NET);
	assert_int_equal(p.ready, 0);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_console_write),
		T(test_console_max),
		T(test_console_bad_buffer),
		T(test_console_host_error),
		T(test_guest_access),
		T(test_struct_outside_ram),
		T(test_struct_at_end_of_ram),
		T(test_unknown_hypercall),
		T(test_nop),
		T(test_exit),
		T(test_exit_status_range),
		T(test_exit_outside_ram),
		T(test_clock),
		T(test_random),
		T(test_random_rejects),
		T(test_args),
		T(test_args_bad_buffer),
		T(test_block_none),
		T(test_block_info),
		T(test_block_odd_size),
		T(test_block_read_write),
		T(test_block_unaligned),
		T(test_block_out_of_range),
		T(test_block_bad_buffer),
		T(test_block_readonly),
		T(test_block_open_errors),
		T(test_net_none),
		T(test_net_info),
		T(test_net_frames),
		T(test_poll_past_deadline),
		T(test_poll_bad_events),
		T(test_poll_waits),
		T(test_poll_net_ready),
		T(test_poll_shutdown),
	};

	return cmocka_run_group_tests_name("hypercall", tests, NULL, NULL);
}
