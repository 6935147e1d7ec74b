/*
 * The console's escape handling (src/vmm/console.c): Ctrl-A x quits,
 * Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A followed by anything else sends
 * both, and an escape split across two reads still works.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/console.h"

static enum console_event filter(struct console *con, const char *in, char *out, size_t *n)
{
	return console_filter(con, (const uint8_t *)in, strlen(in), (uint8_t *)out, n);
}

static void test_plain(void **state)
{
	struct console con = { 0 };
	char out[64];
	size_t n;

	assert_int_equal(filter(&con, "ls -l\r", out, &n), CONSOLE_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "ls -l\r", 6);
}

static void test_quit(void **state)
{
	struct console con = { 0 };
	char out[64];
	size_t n;

	/* What came before the escape still reaches the guest. */
	assert_int_equal(filter(&con, "ab\001x", out, &n), CONSOLE_QUIT);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(filter(&con, "\001X", out, &n), CONSOLE_QUIT);
}

static void test_literal_escape(void **state)
{
	struct console con = { 0 };
	char out[64];
	size_t n;

	assert_int_equal(filter(&con, "\001\001", out, &n), CONSOLE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\001');
	/* Not an escape: both bytes go on. */
	assert_int_equal(filter(&con, "\001q", out, &n), CONSOLE_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\001q", 2);
}

static void test_split(void **state)
{
	struct console con = { 0 };
	char out[64];
	size_t n;

	assert_int_equal(filter(&con, "a\001", out, &n), CONSOLE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(filter(&con, "x", out, &n), CONSOLE_QUIT);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_literal_escape),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
