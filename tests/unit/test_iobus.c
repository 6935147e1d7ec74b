/*
 * The I/O bus: registration keeps ranges sorted and disjoint, and an
 * access reaches a handler only when one range covers every byte of it
 * and accepts its width.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/iobus.h"

/* What the last handler call saw. */
struct probe {
	unsigned calls;
	void *opaque;
	struct vcpu *vcpu;
	uint64_t offset;
	unsigned size;
	bool is_write;
	uint8_t data[8];
	int ret; /* returned by the handler */
};

static struct probe probe;

static int handler(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		   unsigned size, bool is_write)
{
	probe.calls++;
	probe.opaque = opaque;
	probe.vcpu = vcpu;
	probe.offset = offset;
	probe.size = size;
	probe.is_write = is_write;
	if (is_write) {
		memcpy(probe.data, data, size);
	} else {
		for (unsigned i = 0; i < size; i++)
			data[i] = (uint8_t)(offset + i);
	}
	return probe.ret;
}

/* Writes back which range it belongs to, for tests with many ranges. */
static int tag_handler(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		       unsigned size, bool is_write)
{
	uintptr_t tag = (uintptr_t)opaque;

	memcpy(data, &tag, size < sizeof(tag) ? size : sizeof(tag));
	return 0;
}

static int setup(void **state)
{
	struct iobus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return -1;
	iobus_init(bus);
	memset(&probe, 0, sizeof(probe));
	*state = bus;
	return 0;
}

static int teardown(void **state)
{
	iobus_destroy(*state);
	free(*state);
	return 0;
}

static int access1(struct iobus *bus, uint64_t addr, unsigned size)
{
	uint8_t data[8] = { 0 };

	return iobus_access(bus, NULL, addr, data, size, false);
}

static void test_register_lookup(void **state)
{
	struct iobus *bus = *state;
	struct vcpu *fake_vcpu = (struct vcpu *)&probe;
	uint8_t data[8] = { 0 };
	int cookie;

	assert_int_equal(iobus_register(bus, 0x3f8, 8, IOBUS_W1, handler, &cookie, "uart"), 0);
	assert_int_equal(bus->nr, 1);

	assert_int_equal(iobus_access(bus, fake_vcpu, 0x3f8, data, 1, false), 0);
	assert_int_equal(probe.calls, 1);
	assert_ptr_equal(probe.opaque, &cookie);
	assert_ptr_equal(probe.vcpu, fake_vcpu);
	assert_int_equal(probe.offset, 0);
	assert_int_equal(probe.size, 1);
	assert_false(probe.is_write);
	assert_int_equal(data[0], 0);

	/* Offsets are relative to the base. */
	assert_int_equal(iobus_access(bus, NULL, 0x3fd, data, 1, false), 0);
	assert_int_equal(probe.offset, 5);
	assert_int_equal(data[0], 5);

	data[0] = 0x41;
	assert_int_equal(iobus_access(bus, NULL, 0x3ff, data, 1, true), 0);
	assert_int_equal(probe.calls, 3);
	assert_int_equal(probe.offset, 7);
	assert_true(probe.is_write);
	assert_int_equal(probe.data[0], 0x41);

	/* Around the range: nobody home. */
	assert_int_equal(access1(bus, 0x3f7, 1), -ENOENT);
	assert_int_equal(access1(bus, 0x400, 1), -ENOENT);
	assert_int_equal(access1(bus, 0, 1), -ENOENT);
	assert_int_equal(probe.calls, 3);
}

static void test_handler_result(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x100, 4, IOBUS_WANY, handler, NULL, "dev"), 0);
	probe.ret = -EIO;
	assert_int_equal(access1(bus, 0x100, 4), -EIO);
	probe.ret = 0;
	assert_int_equal(access1(bus, 0x100, 4), 0);
}

static void test_wide_access(void **state)
{
	struct iobus *bus = *state;
	uint8_t data[8];

	assert_int_equal(iobus_register(bus, 0x1000, 0x100, IOBUS_WANY, handler, NULL, "mmio"), 0);
	for (unsigned i = 0; i < 8; i++)
		data[i] = (uint8_t)(0x10 * i);
	assert_int_equal(iobus_access(bus, NULL, 0x1010, data, 8, true), 0);
	assert_int_equal(probe.offset, 0x10);
	assert_int_equal(probe.size, 8);
	assert_memory_equal(probe.data, data, 8);

	assert_int_equal(iobus_access(bus, NULL, 0x1020, data, 4, false), 0);
	assert_int_equal(data[0], 0x20);
	assert_int_equal(data[3], 0x23);
	assert_int_equal(data[4], 0x40); /* untouched past size */
}

static void test_overlap(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x100, 0x10, IOBUS_W1, handler, NULL, "a"), 0);
	assert_int_equal(iobus_register(bus, 0x100, 0x10, IOBUS_W1, handler, NULL, "same"), -EEXIST);
	assert_int_equal(iobus_register(bus, 0xf8, 9, IOBUS_W1, handler, NULL, "below"), -EEXIST);
	assert_int_equal(iobus_register(bus, 0x10f, 1, IOBUS_W1, handler, NULL, "last"), -EEXIST);
	assert_int_equal(iobus_register(bus, 0x104, 2, IOBUS_W1, handler, NULL, "inside"), -EEXIST);
	assert_int_equal(iobus_register(bus, 0x0, 0x1000, IOBUS_W1, handler, NULL, "around"), -EEXIST);
	assert_int_equal(bus->nr, 1);

	/* Touching on both sides is not overlapping. */
	assert_int_equal(iobus_register(bus, 0xf0, 0x10, IOBUS_W1, handler, NULL, "before"), 0);
	assert_int_equal(iobus_register(bus, 0x110, 0x10, IOBUS_W1, handler, NULL, "after"), 0);
	assert_int_equal(bus->nr, 3);
	/* Now fill a gap exactly, between two others. */
	assert_int_equal(iobus_register(bus, 0x80, 0x70, IOBUS_W1, handler, NULL, "gap"), 0);
	assert_int_equal(iobus_register(bus, 0x7f, 2, IOBUS_W1, handler, NULL, "x"), -EEXIST);
}

static void test_register_rejects(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x100, 0, IOBUS_W1, handler, NULL, "empty"), -EINVAL);
	assert_int_equal(iobus_register(bus, 0x100, 1, IOBUS_W1, NULL, NULL, "nofn"), -EINVAL);
	assert_int_equal(iobus_register(bus, 0x100, 1, 0, handler, NULL, "nowidth"), -EINVAL);
	assert_int_equal(iobus_register(bus, 0x100, 1, 0x10, handler, NULL, "w16"), -EINVAL);
	assert_int_equal(iobus_register(bus, 0x100, 1, IOBUS_W1 | 0x100, handler, NULL, "junk"),
			 -EINVAL);
	assert_int_equal(iobus_register(bus, UINT64_MAX, 2, IOBUS_W1, handler, NULL, "wrap"),
			 -EINVAL);
	assert_int_equal(bus->nr, 0);
}

static void test_straddle(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x100, 4, IOBUS_WANY, handler, NULL, "a"), 0);
	assert_int_equal(iobus_register(bus, 0x104, 4, IOBUS_WANY, handler, NULL, "b"), 0);

	assert_int_equal(access1(bus, 0x100, 4), 0);
	assert_int_equal(access1(bus, 0x104, 4), 0);
	assert_int_equal(probe.calls, 2);
	/* Each of these covers bytes of two ranges, or of a range and nothing. */
	assert_int_equal(access1(bus, 0x102, 4), -ENOENT);
	assert_int_equal(access1(bus, 0x103, 2), -ENOENT);
	assert_int_equal(access1(bus, 0x100, 8), -ENOENT);
	assert_int_equal(access1(bus, 0x106, 4), -ENOENT);
	assert_int_equal(access1(bus, 0x107, 2), -ENOENT);
	assert_int_equal(access1(bus, 0xff, 2), -ENOENT);
	assert_int_equal(access1(bus, 0xfc, 8), -ENOENT);
	assert_int_equal(probe.calls, 2);
}

static void test_width_mask(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x500, 0x40, IOBUS_W4, handler, NULL, "hc"), 0);
	assert_int_equal(iobus_register(bus, 0x600, 0x40, IOBUS_W1 | IOBUS_W2, handler, NULL, "b"), 0);

	assert_int_equal(access1(bus, 0x500, 4), 0);
	assert_int_equal(access1(bus, 0x500, 1), -EINVAL);
	assert_int_equal(access1(bus, 0x500, 2), -EINVAL);
	assert_int_equal(access1(bus, 0x500, 8), -EINVAL);
	assert_int_equal(probe.calls, 1);

	assert_int_equal(access1(bus, 0x600, 1), 0);
	assert_int_equal(access1(bus, 0x600, 2), 0);
	assert_int_equal(access1(bus, 0x600, 4), -EINVAL);
	assert_int_equal(probe.calls, 3);

	/* Sizes that are no width at all, in or out of a range. */
	assert_int_equal(access1(bus, 0x600, 3), -EINVAL);
	assert_int_equal(access1(bus, 0x600, 0), -EINVAL);
	assert_int_equal(access1(bus, 0x600, 16), -EINVAL);
	assert_int_equal(access1(bus, 0x9000, 3), -EINVAL);
	assert_int_equal(probe.calls, 3);
}

static void test_unregister(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, 0x10, 0x10, IOBUS_W1, handler, NULL, "a"), 0);
	assert_int_equal(iobus_register(bus, 0x20, 0x10, IOBUS_W1, handler, NULL, "b"), 0);
	assert_int_equal(iobus_register(bus, 0x30, 0x10, IOBUS_W1, handler, NULL, "c"), 0);

	/* Only a range's exact base unregisters it. */
	assert_int_equal(iobus_unregister(bus, 0x21), -ENOENT);
	assert_int_equal(iobus_unregister(bus, 0x40), -ENOENT);
	assert_int_equal(iobus_unregister(bus, 0), -ENOENT);
	assert_int_equal(bus->nr, 3);

	assert_int_equal(iobus_unregister(bus, 0x20), 0);
	assert_int_equal(bus->nr, 2);
	assert_int_equal(access1(bus, 0x20, 1), -ENOENT);
	assert_int_equal(access1(bus, 0x1f, 1), 0);
	assert_int_equal(access1(bus, 0x30, 1), 0);
	assert_int_equal(iobus_unregister(bus, 0x20), -ENOENT);

	/* The hole can be filled again, by something of another shape. */
	assert_int_equal(iobus_register(bus, 0x24, 4, IOBUS_W1, handler, NULL, "d"), 0);
	assert_int_equal(access1(bus, 0x24, 1), 0);
	assert_int_equal(access1(bus, 0x20, 1), -ENOENT);

	assert_int_equal(iobus_unregister(bus, 0x10), 0);
	assert_int_equal(iobus_unregister(bus, 0x30), 0);
	assert_int_equal(iobus_unregister(bus, 0x24), 0);
	assert_int_equal(bus->nr, 0);
	assert_int_equal(access1(bus, 0x24, 1), -ENOENT);
}

/* A small deterministic generator; the test must not depend on libc's. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define MANY 500

static void test_many_ranges(void **state)
{
	struct iobus *bus = *state;
	unsigned order[MANY];
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	/* Range k is [k * 0x100, k * 0x100 + 0x40), registered shuffled. */
	for (unsigned i = 0; i < MANY; i++)
		order[i] = i;
	for (unsigned i = MANY - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng_next(&rng) % (i + 1));
		unsigned t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < MANY; i++) {
		uintptr_t k = order[i];

		assert_int_equal(iobus_register(bus, k * 0x100, 0x40, IOBUS_WANY, tag_handler,
						(void *)k, "many"), 0);
	}
	assert_int_equal(bus->nr, MANY);

	for (unsigned i = 1; i < bus->nr; i++)
		assert_true(bus->ranges[i - 1].base + bus->ranges[i - 1].len <= bus->ranges[i].base);

	for (uint64_t k = 0; k < MANY; k++) {
		uint64_t tag = UINT64_MAX;

		assert_int_equal(iobus_access(bus, NULL, k * 0x100 + 0x38, (uint8_t *)&tag, 8, false), 0);
		assert_int_equal(tag, k);
		assert_int_equal(access1(bus, k * 0x100 + 0x40, 1), -ENOENT);
		assert_int_equal(access1(bus, k * 0x100 + 0x3f, 2), -ENOENT);
		assert_int_equal(iobus_register(bus, k * 0x100 + 0x3f, 1, IOBUS_W1, tag_handler,
						NULL, "dup"), -EEXIST);
	}

	/* Remove every other one, in another random order. */
	for (unsigned i = 0; i < MANY; i++) {
		if (order[i] % 2)
			assert_int_equal(iobus_unregister(bus, order[i] * 0x100ull), 0);
	}
	assert_int_equal(bus->nr, MANY / 2);
	for (uint64_t k = 0; k < MANY; k++) {
		uint64_t tag = UINT64_MAX;
		int ret = iobus_access(bus, NULL, k * 0x100, (uint8_t *)&tag, 8, false);

		if (k % 2) {
			assert_int_equal(ret, -ENOENT);
		} else {
			assert_int_equal(ret, 0);
			assert_int_equal(tag, k);
		}
	}
}

static void test_top_of_address_space(void **state)
{
	struct iobus *bus = *state;

	assert_int_equal(iobus_register(bus, UINT64_MAX - 7, 8, IOBUS_WANY, handler, NULL, "top"), 0);
	assert_int_equal(iobus_register(bus, UINT64_MAX, 1, IOBUS_W1, handler, NULL, "x"), -EEXIST);

	assert_int_equal(access1(bus, UINT64_MAX - 7, 8), 0);
	assert_int_equal(probe.offset, 0);
	assert_int_equal(access1(bus, UINT64_MAX, 1), 0);
	assert_int_equal(probe.offset, 7);
	assert_int_equal(access1(bus, UINT64_MAX - 1, 2), 0);
	assert_int_equal(probe.calls, 3);
	/* Accesses that wrap around past the top reach nothing. */
	assert_int_equal(access1(bus, UINT64_MAX, 2), -ENOENT);
	assert_int_equal(access1(bus, UINT64_MAX - 3, 8), -ENOENT);
	assert_int_equal(access1(bus, UINT64_MAX, 8), -ENOENT);
	assert_int_equal(probe.calls, 3);

	/* A range at 0 does not catch wrapped accesses either. */
	assert_int_equal(iobus_register(bus, 0, 8, IOBUS_WANY, handler, NULL, "zero"), 0);
	assert_int_equal(access1(bus, UINT64_MAX, 2), -ENOENT);
	assert_int_equal(access1(bus, UINT64_MAX - 3, 8), -ENOENT);
	assert_int_equal(probe.calls, 3);

	/* A range covering all but the last byte, and the last byte alone. */
	assert_int_equal(iobus_unregister(bus, 0), 0);
	assert_int_equal(iobus_unregister(bus, UINT64_MAX - 7), 0);
	assert_int_equal(iobus_register(bus, 0, UINT64_MAX, IOBUS_WANY, handler, NULL, "all"), 0);
	assert_int_equal(iobus_register(bus, UINT64_MAX, 1, IOBUS_W1, handler, NULL, "last"), 0);
	assert_int_equal(access1(bus, UINT64_MAX - 8, 8), 0);
	assert_int_equal(probe.offset, UINT64_MAX - 8);
	assert_int_equal(access1(bus, UINT64_MAX - 7, 8), -ENOENT);
	assert_int_equal(access1(bus, UINT64_MAX, 1), 0);
	assert_int_equal(probe.offset, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_straddle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_width_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_of_address_space, setup, teardown),
	};

	return cmocka_run_group_tests_name("iobus", tests, NULL, NULL);
}
