/*
 * The split virtqueue (devices/virtio/queue.c) over fake guest RAM, with
 * this file as the driver: well-formed chains, then every way a driver
 * can break the rules, each of which must break the queue (and only it)
 * without the device touching memory outside guest RAM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/queue.h"

#define RAM 0x10000u
#define RAM2_GPA 0x100000u /* a second region, right after a hole */
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define QSIZE 8u

static _Alignas(4096) uint8_t ram[RAM], ram2[RAM];
static struct gmem gm;
static struct virtq vq;
static uint16_t avail_idx;

static int setup(void **state)
{
	memset(ram, 0, sizeof(ram));
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, RAM, ram), 0);
	assert_int_equal(gmem_add_region(&gm, RAM2_GPA, RAM, ram2), 0);
	virtq_reset(&vq, QSIZE);
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.indirect = true;
	avail_idx = 0;
	assert_true(virtq_enable(&vq, &gm));
	return 0;
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	memcpy(ram + table + 16 * i, &d, sizeof(d));
}

static void put16(uint32_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static uint16_t get16(uint32_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

/* Makes chain `head` available. */
static void offer(uint16_t head)
{
	put16(AVAIL + 4 + 2 * (avail_idx % QSIZE), head);
	avail_idx++;
	put16(AVAIL + 2, avail_idx);
}

static struct virtq_chain c;

static void test_chain(void **state)
{
	put_desc(DESC, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 3);
	put_desc(DESC, 3, 0x9000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	put_desc(DESC, 5, 0x9200, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 2);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 513);
	assert_ptr_equal(c.iov[0].iov_base, ram + 0x8000);
	assert_ptr_equal(c.iov[1].iov_base, ram + 0x9000);
	assert_ptr_equal(c.iov[2].iov_base, ram + 0x9200);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);

	virtq_push(&vq, 0, 513);
	assert_true(virtq_need_interrupt(&vq));
	assert_false(virtq_need_interrupt(&vq)); /* nothing new since */
	assert_int_equal(get16(USED + 2), 1);
	uint32_t elem[2];

	memcpy(elem, ram + USED + 4, 8);
	assert_int_equal(elem[0], 0);
	assert_int_equal(elem[1], 513);
	/* The driver asks for no interrupt. */
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	offer(5);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	virtq_push(&vq, 5, 1);
	assert_false(virtq_need_interrupt(&vq));
	assert_int_equal(get16(USED + 2), 2);
}

/*
 * The event index (§2.7.7.2, §2.7.10): the device asks for a notification
 * at the next chain when it finds the ring empty, and interrupts only
 * when the used index passes the driver's used_event.
 */
static void test_event_idx(void **state)
{
	vq.event_idx = true;
	assert_true(virtq_enable(&vq, &gm));
	put_desc(DESC, 0, 0x8000, 8, 0, 0);
	put16(USED + 4 + 8 * QSIZE, 0xffff);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);
	assert_int_equal(get16(USED + 4 + 8 * QSIZE), 0); /* avail_event */
	offer(0);
	offer(0);
	offer(0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);
	assert_int_equal(get16(USED + 4 + 8 * QSIZE), 3);
	/* used_event 1: an interrupt once the used index passes 1, not again. */
	put16(AVAIL + 4 + 2 * QSIZE, 1);
	virtq_push(&vq, 0, 0);
	assert_false(virtq_need_interrupt(&vq)); /* used 1: not past 1 yet */
	virtq_push(&vq, 0, 0);
	assert_true(virtq_need_interrupt(&vq)); /* used 2 */
	virtq_push(&vq, 0, 0);
	assert_false(virtq_need_interrupt(&vq)); /* used 3, used_event still 1 */
	/* The driver moves used_event on; the index wraps past it. */
	put16(AVAIL + 4 + 2 * QSIZE, 0xffff);
	for (unsigned i = 3; i < 65536; i++) {
		offer(0);
		assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
		virtq_push(&vq, 0, 0);
		assert_int_equal(virtq_need_interrupt(&vq), (uint16_t)(i + 1) == 0);
	}
	/* The NO_INTERRUPT flag means nothing with the event index. */
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(AVAIL + 4 + 2 * QSIZE, 0);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	virtq_push(&vq, 0, 0);
	assert_true(virtq_need_interrupt(&vq));
}

/* With the event index each ring is two bytes longer: those must be RAM too. */
static void test_event_idx_areas(void **state)
{
	virtq_reset(&vq, QSIZE);
	vq.event_idx = true;
	vq.desc_gpa = DESC;
	vq.avail_gpa = RAM - VIRTQ_AVAIL_BYTES(QSIZE);
	vq.used_gpa = USED;
	assert_false(virtq_enable(&vq, &gm));
	vq.event_idx = false;
	assert_true(virtq_enable(&vq, &gm));
	virtq_reset(&vq, QSIZE);
	vq.event_idx = true;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = RAM - VIRTQ_USED_BYTES(QSIZE);
	assert_false(virtq_enable(&vq, &gm));
}

/* Zero-length descriptors are dropped, not translated. */
static void test_zero_length(void **state)
{
	put_desc(DESC, 0, 0xdeadbeef0000ull, 0, VIRTQ_DESC_F_NEXT, 1);
	put_desc(DESC, 1, 0x8000, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(c.nr_out, 0);
	assert_int_equal(c.nr_in, 1);
}

/* 16-bit indices wrap many times over a small queue. */
static void test_wrap(void **state)
{
	put_desc(DESC, 2, 0x8000, 8, 0, 0);
	for (unsigned i = 0; i < 3 * 65536 + 7; i++) {
		offer(2);
		assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
		virtq_push(&vq, c.head, 0);
		assert_true(virtq_need_interrupt(&vq));
	}
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);
	assert_int_equal(get16(USED + 2), (uint16_t)(3 * 65536 + 7));
}

static void expect_broken(void)
{
	assert_int_equal(virtq_pop(&vq, &gm, &c), -EIO);
	assert_true(vq.broken);
	assert_non_null(vq.why);
	/* And it stays so, whatever the driver does next. */
	put_desc(DESC, 0, 0x8000, 8, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &gm, &c), -EIO);
}

static void test_avail_too_far(void **state)
{
	put16(AVAIL + 2, QSIZE + 1);
	expect_broken();
}

static void test_avail_full_is_fine(void **state)
{
	put_desc(DESC, 0, 0x8000, 8, 0, 0);
	for (unsigned i = 0; i < QSIZE; i++)
		offer(0);
	for (unsigned i = 0; i < QSIZE; i++)
		assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);
}

static void test_head_out_of_range(void **state)
{
	offer(QSIZE);
	expect_broken();
}

static void test_next_out_of_range(void **state)
{
	put_desc(DESC, 0, 0x8000, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(0);
	expect_broken();
}

static void test_loop(void **state)
{
	put_desc(DESC, 0, 0x8000, 8, VIRTQ_DESC_F_NEXT, 1);
	put_desc(DESC, 1, 0x8000, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_broken();
}

/* The longest chain a queue allows: every descriptor once. */
static void test_longest_chain(void **state)
{
	for (unsigned i = 0; i < QSIZE; i++)
		put_desc(DESC, i, 0x8000 + 16 * i, 16, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	offer(0);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(c.nr_out, QSIZE);
}

static void test_buffer_outside_ram(void **state)
{
	put_desc(DESC, 0, RAM - 4, 8, 0, 0);
	offer(0);
	expect_broken();
}

static void test_buffer_across_regions(void **state)
{
	/* Both ends are RAM, what lies between is not. */
	put_desc(DESC, 0, RAM - 8, RAM2_GPA - RAM + 16, 0, 0);
	offer(0);
	expect_broken();
}

static void test_buffer_wraps(void **state)
{
	put_desc(DESC, 0, UINT64_MAX - 3, 8, 0, 0);
	offer(0);
	expect_broken();
}

static void test_read_after_write(void **state)
{
	put_desc(DESC, 0, 0x8000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(DESC, 1, 0x8000, 8, 0, 0);
	offer(0);
	expect_broken();
}

#define TABLE 0x4000u

static void test_indirect(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(TABLE, 2, 0x9000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc(TABLE, 1, 0xa000, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(DESC, 4, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(4);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 1);
	assert_int_equal(c.head, 4);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.nr_in, 2);
	assert_int_equal(c.in_len, 4097);
	assert_ptr_equal(c.iov[2].iov_base, ram + 0xa000);
}

static void bad_indirect(uint32_t len, uint16_t flags)
{
	put_desc(DESC, 0, TABLE, len, VIRTQ_DESC_F_INDIRECT | flags, 1);
	offer(0);
	expect_broken();
}

static void test_indirect_not_negotiated(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, 0, 0);
	vq.indirect = false;
	bad_indirect(16, 0);
}

static void test_indirect_nested(void **state)
{
	put_desc(TABLE, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	bad_indirect(16, 0);
}

static void test_indirect_bad_len(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, 0, 0);
	bad_indirect(24, 0);
}

static void test_indirect_empty(void **state)
{
	bad_indirect(0, 0);
}

static void test_indirect_with_next(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, 0, 0);
	bad_indirect(16, VIRTQ_DESC_F_NEXT);
}

static void test_indirect_too_long(void **state)
{
	for (unsigned i = 0; i <= QSIZE; i++)
		put_desc(TABLE, i, 0x8000, 16, 0, 0);
	bad_indirect(16 * (QSIZE + 1), 0);
}

static void test_indirect_loop(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(TABLE, 1, 0x8000, 16, VIRTQ_DESC_F_NEXT, 0);
	bad_indirect(32, 0);
}

static void test_indirect_next_outside(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 2);
	bad_indirect(32, 0);
}

static void test_indirect_table_outside_ram(void **state)
{
	put_desc(DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken();
}

static void test_indirect_inside_chain(void **state)
{
	put_desc(TABLE, 0, 0x8000, 16, 0, 0);
	put_desc(DESC, 0, 0x8000, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(DESC, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken();
}

static void test_enable_checks(void **state)
{
	static const struct { uint16_t size; gpa_t desc, avail, used; } bad[] = {
		{ 0, DESC, AVAIL, USED }, { 6, DESC, AVAIL, USED }, { 512, DESC, AVAIL, USED },
		{ 8, DESC + 8, AVAIL, USED }, { 8, DESC, AVAIL + 1, USED },
		{ 8, DESC, AVAIL, USED + 2 }, { 8, RAM - 64, AVAIL, USED },
		{ 8, DESC, RAM - 4, USED }, { 8, DESC, AVAIL, RAM - 8 },
		{ 256, DESC, AVAIL, RAM - 1024 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		virtq_reset(&vq, QSIZE);
		vq.size = bad[i].size;
		vq.desc_gpa = bad[i].desc;
		vq.avail_gpa = bad[i].avail;
		vq.used_gpa = bad[i].used;
		assert_false(virtq_enable(&vq, &gm));
		assert_false(vq.enabled);
		assert_non_null(vq.why);
		assert_int_equal(virtq_pop(&vq, &gm, &c), -EIO);
	}
	/* A reset queue is off and takes nothing. */
	virtq_reset(&vq, QSIZE);
	assert_int_equal(virtq_pop(&vq, &gm, &c), 0);
	assert_int_equal(vq.size, QSIZE);
}

static void test_iov_helpers(void **state)
{
	uint8_t a[4] = { 1, 2, 3, 4 }, b[3] = { 5, 6, 7 }, out[7];
	struct iovec v[2] = { { a, 4 }, { b, 3 } }, s[2];

	assert_true(virtq_iov_read(v, 2, 2, out, 4));
	assert_memory_equal(out, ((uint8_t[]){ 3, 4, 5, 6 }), 4);
	assert_false(virtq_iov_read(v, 2, 5, out, 3));
	assert_int_equal(virtq_iov_slice(v, 2, 3, 3, s, 2), 2);
	assert_ptr_equal(s[0].iov_base, a + 3);
	assert_int_equal(s[0].iov_len, 1);
	assert_int_equal(s[1].iov_len, 2);
	assert_int_equal(virtq_iov_slice(v, 2, 3, 5, s, 2), -1);
	assert_int_equal(virtq_iov_slice(v, 2, 0, 7, s, 1), -1);
	assert_int_equal(virtq_iov_slice(v, 2, 7, 0, s, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_chain, setup),
		cmocka_unit_test_setup(test_event_idx, setup),
		cmocka_unit_test_setup(test_event_idx_areas, setup),
		cmocka_unit_test_setup(test_zero_length, setup),
		cmocka_unit_test_setup(test_wrap, setup),
		cmocka_unit_test_setup(test_avail_too_far, setup),
		cmocka_unit_test_setup(test_avail_full_is_fine, setup),
		cmocka_unit_test_setup(test_head_out_of_range, setup),
		cmocka_unit_test_setup(test_next_out_of_range, setup),
		cmocka_unit_test_setup(test_loop, setup),
		cmocka_unit_test_setup(test_longest_chain, setup),
		cmocka_unit_test_setup(test_buffer_outside_ram, setup),
		cmocka_unit_test_setup(test_buffer_across_regions, setup),
		cmocka_unit_test_setup(test_buffer_wraps, setup),
		cmocka_unit_test_setup(test_read_after_write, setup),
		cmocka_unit_test_setup(test_indirect, setup),
		cmocka_unit_test_setup(test_indirect_not_negotiated, setup),
		cmocka_unit_test_setup(test_indirect_nested, setup),
		cmocka_unit_test_setup(test_indirect_bad_len, setup),
		cmocka_unit_test_setup(test_indirect_empty, setup),
		cmocka_unit_test_setup(test_indirect_with_next, setup),
		cmocka_unit_test_setup(test_indirect_too_long, setup),
		cmocka_unit_test_setup(test_indirect_loop, setup),
		cmocka_unit_test_setup(test_indirect_next_outside, setup),
		cmocka_unit_test_setup(test_indirect_table_outside_ram, setup),
		cmocka_unit_test_setup(test_indirect_inside_chain, setup),
		cmocka_unit_test_setup(test_enable_checks, setup),
		cmocka_unit_test(test_iov_helpers),
	};

	return cmocka_run_group_tests_name("virtq", tests, NULL, NULL);
}
