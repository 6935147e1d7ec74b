/*
 * The guest-memory translator: the one place where a guest address becomes
 * a host pointer, so every edge of a region, every wrap-around and every
 * range that crosses from one region into the next is tried here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/gmem.h"

#define SZ 4096u

static uint8_t ram_a[SZ], ram_b[SZ], ram_c[SZ];

/* One region of SZ bytes at gpa 0. */
static struct gmem one_region(void)
{
	struct gmem gm = { 0 };

	assert_int_equal(gmem_add_region(&gm, 0, SZ, ram_a), 0);
	return gm;
}

static void test_in_range(void **state)
{
	struct gmem gm = one_region();

	assert_ptr_equal(gmem_ptr(&gm, 0, 1), ram_a);
	assert_ptr_equal(gmem_ptr(&gm, 0, SZ), ram_a);
	assert_ptr_equal(gmem_ptr(&gm, 100, 8), ram_a + 100);
	assert_ptr_equal(gmem_ptr(&gm, SZ - 1, 1), ram_a + SZ - 1);
	assert_ptr_equal(gmem_ptr(&gm, SZ - 8, 8), ram_a + SZ - 8);
	assert_int_equal(gm.nr_regions, 1);
	assert_int_equal(gm.ram_size, SZ);
}

static void test_len_zero(void **state)
{
	struct gmem gm = one_region();

	assert_ptr_equal(gmem_ptr(&gm, 0, 0), ram_a);
	assert_ptr_equal(gmem_ptr(&gm, 17, 0), ram_a + 17);
	/* The end of a region is a valid empty range, one byte past is not. */
	assert_ptr_equal(gmem_ptr(&gm, SZ, 0), ram_a + SZ);
	assert_null(gmem_ptr(&gm, SZ + 1, 0));
	assert_null(gmem_ptr(&gm, UINT64_MAX, 0));
}

static void test_end_of_region(void **state)
{
	struct gmem gm = one_region();

	assert_null(gmem_ptr(&gm, SZ, 1));
	assert_null(gmem_ptr(&gm, SZ - 1, 2));
	assert_null(gmem_ptr(&gm, 0, SZ + 1));
	assert_null(gmem_ptr(&gm, SZ - 8, 9));
	assert_null(gmem_ptr(&gm, 2 * SZ, 1));
}

static void test_overflow(void **state)
{
	struct gmem gm = one_region();
	struct gmem top = { 0 };

	assert_null(gmem_ptr(&gm, UINT64_MAX - 1, 4));
	assert_null(gmem_ptr(&gm, UINT64_MAX, 1));
	assert_null(gmem_ptr(&gm, 1, UINT64_MAX));
	assert_null(gmem_ptr(&gm, 0, UINT64_MAX));
	assert_null(gmem_ptr(&gm, SZ - 1, UINT64_MAX));
	/* gpa + len wraps to a small number that would be "inside" RAM. */
	assert_null(gmem_ptr(&gm, 8, UINT64_MAX - 4));

	/* A region just below the top of the address space. */
	assert_int_equal(gmem_add_region(&top, UINT64_MAX - 2 * SZ + 1, SZ, ram_b), 0);
	assert_ptr_equal(gmem_ptr(&top, UINT64_MAX - 2 * SZ + 1, SZ), ram_b);
	assert_null(gmem_ptr(&top, UINT64_MAX - SZ, 2));
	assert_null(gmem_ptr(&top, UINT64_MAX - SZ - 1, UINT64_MAX));
	assert_null(gmem_ptr(&top, UINT64_MAX - 2 * SZ + 2, UINT64_MAX));
}

static void test_adjacent_regions(void **state)
{
	struct gmem gm = { 0 };

	assert_int_equal(gmem_add_region(&gm, 0, SZ, ram_a), 0);
	assert_int_equal(gmem_add_region(&gm, SZ, SZ, ram_b), 0);
	assert_int_equal(gm.ram_size, 2 * SZ);

	assert_ptr_equal(gmem_ptr(&gm, SZ - 4, 4), ram_a + SZ - 4);
	assert_ptr_equal(gmem_ptr(&gm, SZ, 4), ram_b);
	assert_ptr_equal(gmem_ptr(&gm, 2 * SZ - 1, 1), ram_b + SZ - 1);
	/* Contiguous in the guest, not in the host: crossing must fail. */
	assert_null(gmem_ptr(&gm, SZ - 1, 2));
	assert_null(gmem_ptr(&gm, 0, 2 * SZ));
	assert_null(gmem_ptr(&gm, SZ - 4, 8));
	assert_null(gmem_ptr(&gm, 2 * SZ, 1));
}

static void test_regions_with_hole(void **state)
{
	struct gmem gm = { 0 };

	/* Registered out of order, with a hole between them. */
	assert_int_equal(gmem_add_region(&gm, 4 * SZ, SZ, ram_b), 0);
	assert_int_equal(gmem_add_region(&gm, SZ, SZ, ram_a), 0);

	assert_null(gmem_ptr(&gm, 0, 1));
	assert_ptr_equal(gmem_ptr(&gm, SZ, 1), ram_a);
	assert_null(gmem_ptr(&gm, 2 * SZ, 1));
	assert_null(gmem_ptr(&gm, 3 * SZ, 1));
	assert_ptr_equal(gmem_ptr(&gm, 4 * SZ + 5, 1), ram_b + 5);
	assert_null(gmem_ptr(&gm, 2 * SZ - 1, 3 * SZ));
}

static void test_add_region_rejects(void **state)
{
	struct gmem gm = { 0 };

	assert_int_equal(gmem_add_region(&gm, SZ, SZ, ram_a), 0);

	/* Every way of overlapping [SZ, 2*SZ). */
	assert_int_equal(gmem_add_region(&gm, SZ, SZ, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 0, SZ + 1, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 2 * SZ - 1, SZ, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, SZ + 8, 8, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 0, 4 * SZ, ram_b), -EINVAL);

	/* Empty, wrapping or unbacked regions. */
	assert_int_equal(gmem_add_region(&gm, 8 * SZ, 0, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, UINT64_MAX - 10, 100, ram_b), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 8 * SZ, SZ, NULL), -EINVAL);

	assert_int_equal(gm.nr_regions, 1);
	assert_int_equal(gm.ram_size, SZ);

	/* Touching on either side is fine. */
	assert_int_equal(gmem_add_region(&gm, 0, SZ, ram_b), 0);
	assert_int_equal(gmem_add_region(&gm, 2 * SZ, SZ, ram_c), 0);
	assert_int_equal(gm.nr_regions, 3);
}

static void test_region_limit(void **state)
{
	static uint8_t ram[GMEM_MAX_REGIONS + 1][64];
	struct gmem gm = { 0 };

	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		assert_int_equal(gmem_add_region(&gm, i * 0x10000ull, 64, ram[i]), 0);
	assert_int_equal(gmem_add_region(&gm, 0x100000, 64, ram[GMEM_MAX_REGIONS]), -ENOSPC);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		assert_ptr_equal(gmem_ptr(&gm, i * 0x10000ull + 63, 1), ram[i] + 63);
}

static void test_read_write(void **state)
{
	struct gmem gm = { 0 };
	uint8_t buf[16], out[16];

	memset(ram_a, 0, SZ);
	memset(ram_b, 0, SZ);
	assert_int_equal(gmem_add_region(&gm, 0, SZ, ram_a), 0);
	assert_int_equal(gmem_add_region(&gm, SZ, SZ, ram_b), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0xa0 + i);

	assert_true(gmem_write(&gm, 100, buf, sizeof(buf)));
	assert_memory_equal(ram_a + 100, buf, sizeof(buf));
	memset(out, 0, sizeof(out));
	assert_true(gmem_read(&gm, out, 100, sizeof(out)));
	assert_memory_equal(out, buf, sizeof(buf));

	assert_true(gmem_write(&gm, SZ, buf, sizeof(buf)));
	assert_memory_equal(ram_b, buf, sizeof(buf));

	/* A failed copy touches neither side. */
	memset(out, 0x55, sizeof(out));
	assert_false(gmem_read(&gm, out, SZ - 8, sizeof(out)));
	assert_false(gmem_read(&gm, out, 2 * SZ - 8, sizeof(out)));
	assert_false(gmem_read(&gm, out, UINT64_MAX - 1, 4));
	for (unsigned i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0x55);
	assert_false(gmem_write(&gm, SZ - 8, buf, sizeof(buf)));
	assert_false(gmem_write(&gm, 2 * SZ, buf, 1));
	for (unsigned i = SZ - 8; i < SZ; i++)
		assert_int_equal(ram_a[i], 0);

	assert_true(gmem_write(&gm, 2 * SZ, buf, 0));
	assert_true(gmem_read(&gm, out, 0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_range),
		cmocka_unit_test(test_len_zero),
		cmocka_unit_test(test_end_of_region),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_adjacent_regions),
		cmocka_unit_test(test_regions_with_hole),
		cmocka_unit_test(test_add_region_rejects),
		cmocka_unit_test(test_region_limit),
		cmocka_unit_test(test_read_write),
	};

	return cmocka_run_group_tests_name("gmem", tests, NULL, NULL);
}
