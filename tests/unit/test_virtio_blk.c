/*
 * virtio-blk requests (devices/virtio/blk.c) on a disk image in a
 * temporary file: each request type, the bounds of the disk, a
 * read-only disk, and chains that are no request at all. The chains are
 * made by hand, as virtq_pop() would hand them over.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/blk.h"
#include "fake_vm.h"

#define SECTORS 64u

struct fixture {
	struct fake_vm fv;
	char path[64];
	struct disk disk;
	struct virtio_blk *blk;
};

static struct fixture *make(bool readonly)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t buf[SECTORS * 512];
	int fd;

	assert_non_null(f);
	assert_int_equal(fake_vm_init(&f->fv, 0), 0);
	strcpy(f->path, "/tmp/shale-test-blk.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i / 512 + 1);
	assert_int_equal(write(fd, buf, sizeof(buf)), (int)sizeof(buf));
	close(fd);
	assert_int_equal(disk_open(&f->disk, f->path, readonly, "--disk"), 0);
	assert_int_equal(virtio_blk_create(&f->fv.vm, NULL, 0, &f->disk, "serial-123", &f->blk), 0);
	return f;
}

static int setup_rw(void **state)
{
	*state = make(false);
	return 0;
}

static int setup_ro(void **state)
{
	*state = make(true);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_blk_destroy(f->blk);
	disk_close(&f->disk);
	unlink(f->path);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

struct req {
	struct { uint32_t type, reserved; uint64_t sector; } hdr;
	uint8_t data[4096];
	uint8_t status;
	struct virtq_chain c;
};

/* header | data (readable for OUT-like, writable for IN-like) | status */
static void chain(struct req *r, uint32_t type, uint64_t sector, size_t len, bool data_in)
{
	memset(&r->c, 0, sizeof(r->c));
	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = sector;
	r->status = 0xee;
	r->c.iov[0] = (struct iovec){ &r->hdr, sizeof(r->hdr) };
	r->c.nr_out = 1;
	r->c.out_len = sizeof(r->hdr);
	if (len && !data_in) {
		r->c.iov[1] = (struct iovec){ r->data, len };
		r->c.nr_out = 2;
		r->c.out_len += len;
	}
	if (len && data_in) {
		r->c.iov[r->c.nr_out + r->c.nr_in++] = (struct iovec){ r->data, len };
		r->c.in_len += len;
	}
	r->c.iov[r->c.nr_out + r->c.nr_in++] = (struct iovec){ &r->status, 1 };
	r->c.in_len += 1;
}

static uint8_t sector_byte(struct fixture *f, uint64_t sector)
{
	uint8_t b = 0;

	assert_int_equal(pread(f->disk.fd, &b, 1, (off_t)(sector * 512)), 1);
	return b;
}

static void test_read(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_IN, 3, 1024, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	assert_int_equal(r.data[0], 4);
	assert_int_equal(r.data[1023], 5);
	assert_int_equal(atomic_load(&f->fv.vm.stats->block_reads), 1);
	/* The last sectors, then one past the end, then a partial sector. */
	chain(&r, VIRTIO_BLK_T_IN, SECTORS - 2, 1024, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	chain(&r, VIRTIO_BLK_T_IN, SECTORS - 1, 1024, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	chain(&r, VIRTIO_BLK_T_IN, UINT64_MAX, 512, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	chain(&r, VIRTIO_BLK_T_IN, 0, 100, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
}

static void test_write_flush(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_OUT, 10, 512, false);
	memset(r.data, 0x77, 512);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(sector_byte(f, 10), 0x77);
	assert_int_equal(sector_byte(f, 11), 12);
	chain(&r, VIRTIO_BLK_T_FLUSH, 0, 0, false);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(atomic_load(&f->fv.vm.stats->block_flushes), 1);
	chain(&r, VIRTIO_BLK_T_OUT, SECTORS, 512, false);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
}

/* The header may be split anywhere (§2.6.4: any framing). */
static void test_split_header(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_IN, 5, 512, true);
	memmove(&r.c.iov[2], &r.c.iov[1], 2 * sizeof(struct iovec));
	r.c.iov[0].iov_len = 5;
	r.c.iov[1] = (struct iovec){ (uint8_t *)&r.hdr + 5, sizeof(r.hdr) - 5 };
	r.c.nr_out = 2;
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(r.data[0], 6);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_GET_ID, 0, 20, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(r.data, "serial-123\0\0\0\0\0\0\0\0\0\0", 20);
	/* A short buffer gets what fits. */
	chain(&r, VIRTIO_BLK_T_GET_ID, 0, 6, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 7);
}

static void test_unsupported(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, 99, 0, 0, false);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
}

struct seg {
	uint64_t sector;
	uint32_t num, flags;
};

static void ranges(struct req *r, uint32_t type, const struct seg *s, unsigned n)
{
	chain(r, type, 0, n * sizeof(*s), false);
	memcpy(r->data, s, n * sizeof(*s));
}

static void test_discard_write_zeroes(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;
	const struct seg zero[2] = { { 2, 2, 0 }, { 20, 1, 1 } };
	const struct seg bad_flag = { 2, 1, 2 }, outside = { SECTORS - 1, 2, 0 };

	ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, zero, 2);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(sector_byte(f, 2), 0);
	assert_int_equal(sector_byte(f, 3), 0);
	assert_int_equal(sector_byte(f, 4), 5);
	assert_int_equal(sector_byte(f, 20), 0);
	ranges(&r, VIRTIO_BLK_T_DISCARD, zero, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	ranges(&r, VIRTIO_BLK_T_DISCARD, &bad_flag, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_UNSUPP);
	ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, &outside, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(sector_byte(f, SECTORS - 1), SECTORS);
	/* Not a whole number of segments. */
	chain(&r, VIRTIO_BLK_T_DISCARD, 0, 10, false);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
}

/* WRITE_ZEROES stops between chunks once the VM stops: the request fails, nothing is zeroed. */
static void test_write_zeroes_stopping(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;
	const struct seg all = { 0, SECTORS, 0 };

	vm_stop(&f->fv.vm, VM_STOP_ERROR, 0, NULL);
	ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, &all, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(sector_byte(f, 0), 1);
	assert_int_equal(sector_byte(f, SECTORS - 1), SECTORS);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_ERROR);
}

/*
 * A read of more than seg_max segments of size_max fails, however large
 * the disk: 256 descriptors may name the same guest buffer, so without
 * the bound one request is as long as the disk (the VM's stop waits).
 */
static void test_request_max(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	char path[64] = "/tmp/shale-test-blk-big.XXXXXX";
	struct disk big;
	struct virtio_blk *blk;
	uint32_t used;
	uint8_t *buf = mmap(NULL, VIRTIO_BLK_SIZE_MAX + 512, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(buf != MAP_FAILED);
	assert_int_equal(ftruncate(fd, 2 * (off_t)VIRTIO_BLK_REQUEST_MAX), 0);
	close(fd);
	assert_int_equal(disk_open(&big, path, false, "--disk"), 0);
	assert_int_equal(virtio_blk_create(&f->fv.vm, NULL, 0, &big, NULL, &blk), 0);
	for (unsigned extra = 0; extra < 2; extra++) {
		chain(&r, VIRTIO_BLK_T_IN, 0, 0, true);
		/* The header, then 254 MiB (and 512 bytes) all into one buffer, then the status. */
		r.c.nr_in = 0;
		r.c.in_len = 0;
		/* 1 + 254 + 1 buffers fill the chain: the extra 512 go into the last segment. */
		for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX; i++) {
			size_t len = VIRTIO_BLK_SIZE_MAX + (extra && i == VIRTIO_BLK_SEG_MAX - 1 ? 512 : 0);

			r.c.iov[1 + r.c.nr_in++] = (struct iovec){ buf, len };
			r.c.in_len += len;
		}
		r.c.iov[1 + r.c.nr_in++] = (struct iovec){ &r.status, 1 };
		r.c.in_len += 1;
		assert_int_equal(virtio_blk_request(blk, &r.c, &used),
				 extra ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	}
	virtio_blk_destroy(blk);
	disk_close(&big);
	unlink(path);
	munmap(buf, VIRTIO_BLK_SIZE_MAX + 512);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	const struct seg s = { 0, 1, 0 };
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_OUT, 1, 512, false);
	memset(r.data, 0x55, 512);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(sector_byte(f, 1), 2);
	ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	ranges(&r, VIRTIO_BLK_T_DISCARD, &s, 1);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(sector_byte(f, 0), 1);
	/* Reads and flushes still work. */
	chain(&r, VIRTIO_BLK_T_IN, 1, 512, true);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
	chain(&r, VIRTIO_BLK_T_FLUSH, 0, 0, false);
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), VIRTIO_BLK_S_OK);
}

/* No header, or no status byte: not a request; the device needs a reset. */
static void test_not_a_request(void **state)
{
	struct fixture *f = *state;
	static struct req r;
	uint32_t used;

	chain(&r, VIRTIO_BLK_T_IN, 0, 512, true);
	r.c.iov[0].iov_len = 15;
	r.c.out_len = 15;
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), -EIO);
	chain(&r, VIRTIO_BLK_T_OUT, 0, 512, false);
	r.c.nr_in = 0;
	r.c.in_len = 0;
	assert_int_equal(virtio_blk_request(f->blk, &r.c, &used), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_flush, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_split_header, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes_stopping, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_request_max, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_request, setup_rw, teardown),
	};

	return cmocka_run_group_tests_name("virtio_blk", tests, NULL, NULL);
}
