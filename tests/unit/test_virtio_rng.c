/*
 * virtio-rng requests (devices/virtio/rng.c): the writable buffers are
 * filled in order, readable ones left alone, and a request never gets more
 * than VIRTIO_RNG_MAX_BYTES however large its buffers. The chains are
 * made by hand, as virtq_pop() would hand them over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/rng.h"

#define SENTINEL 0xa5

static struct virtio_rng *rng;

static int setup(void **state)
{
	return virtio_rng_create(NULL, NULL, 0, &rng);
}

static int teardown(void **state)
{
	virtio_rng_destroy(rng);
	return 0;
}

/* How many bytes of p differ from SENTINEL: random bytes hit it 1 in 256. */
static size_t changed(const uint8_t *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += p[i] != SENTINEL;
	return n;
}

static void test_fills_writable(void **state)
{
	static uint8_t out[64], a[100], b[5000];
	struct virtq_chain c = { .nr_out = 1, .nr_in = 2 };

	memset(out, SENTINEL, sizeof(out));
	memset(a, SENTINEL, sizeof(a));
	memset(b, SENTINEL, sizeof(b));
	c.iov[0] = (struct iovec){ out, sizeof(out) };
	c.iov[1] = (struct iovec){ a, sizeof(a) };
	c.iov[2] = (struct iovec){ b, sizeof(b) };
	c.out_len = sizeof(out);
	c.in_len = sizeof(a) + sizeof(b);
	assert_int_equal(virtio_rng_request(rng, &c), sizeof(a) + sizeof(b));
	assert_int_equal(changed(out, sizeof(out)), 0);
	assert_true(changed(a, sizeof(a)) > sizeof(a) / 2);
	assert_true(changed(b, sizeof(b)) > sizeof(b) * 9 / 10);
}

static void test_capped(void **state)
{
	const size_t each = VIRTIO_RNG_MAX_BYTES - 1000;
	uint8_t *a = malloc(each), *b = malloc(each), *d = malloc(each);
	struct virtq_chain c = { .nr_in = 3, .in_len = 3 * (uint64_t)each };

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	memset(a, SENTINEL, each);
	memset(b, SENTINEL, each);
	memset(d, SENTINEL, each);
	c.iov[0] = (struct iovec){ a, each };
	c.iov[1] = (struct iovec){ b, each };
	c.iov[2] = (struct iovec){ d, each };
	assert_int_equal(virtio_rng_request(rng, &c), VIRTIO_RNG_MAX_BYTES);
	/* All of the first buffer, 1000 bytes of the second, none of the third. */
	assert_true(changed(a, each) > each * 9 / 10);
	assert_true(changed(b, 1000) > 900);
	assert_int_equal(changed(b + 1000, each - 1000), 0);
	assert_int_equal(changed(d, each), 0);
	free(a);
	free(b);
	free(d);
}

static void test_nothing_writable(void **state)
{
	static uint8_t out[16];
	struct virtq_chain c = { .nr_out = 1, .out_len = sizeof(out) };

	c.iov[0] = (struct iovec){ out, sizeof(out) };
	assert_int_equal(virtio_rng_request(rng, &c), 0);
}

static void test_counts_bytes(void **state)
{
	static uint8_t a[10];
	struct virtq_chain c = { .nr_in = 1, .in_len = sizeof(a) };
	uint64_t before = rng->bytes;

	c.iov[0] = (struct iovec){ a, sizeof(a) };
	assert_int_equal(virtio_rng_request(rng, &c), 10);
	assert_int_equal(rng->bytes - before, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills_writable),
		cmocka_unit_test(test_capped),
		cmocka_unit_test(test_nothing_writable),
		cmocka_unit_test(test_counts_bytes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
