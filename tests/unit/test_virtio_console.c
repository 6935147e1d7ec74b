/*
 * virtio-console's transmit path (devices/virtio/console.c): the readable
 * buffers of a chain reach the output whole and in order; writable ones
 * and empty ones are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/console.h"

static char got[256];
static size_t got_len;
static unsigned calls;

static void collect(void *opaque, const uint8_t *buf, size_t len)
{
	assert_ptr_equal(opaque, &calls);
	assert_true(got_len + len <= sizeof(got));
	memcpy(got + got_len, buf, len);
	got_len += len;
	calls++;
}

static void test_transmit_in_order(void **state)
{
	struct virtio_console *con;
	static char a[] = "hello, ", b[] = "", c[] = "hvc0\n", w[16];
	struct virtq_chain ch = { .nr_out = 3, .nr_in = 1 };

	assert_int_equal(virtio_console_create(NULL, NULL, 0, collect, &calls, &con), 0);
	ch.iov[0] = (struct iovec){ a, strlen(a) };
	ch.iov[1] = (struct iovec){ b, 0 };
	ch.iov[2] = (struct iovec){ c, strlen(c) };
	ch.iov[3] = (struct iovec){ w, sizeof(w) };
	virtio_console_transmit(con, &ch);
	assert_int_equal(got_len, strlen("hello, hvc0\n"));
	assert_memory_equal(got, "hello, hvc0\n", got_len);
	assert_int_equal(calls, 2);
	assert_int_equal(con->bytes, got_len);
	virtio_console_destroy(con);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transmit_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
