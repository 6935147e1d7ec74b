/*
 * The console (src/vmm/console.c): its escape handling (Ctrl-A x quits,
 * Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A followed by anything else sends
 * both, an escape split across two reads still works), and input the guest
 * does not take at once: from a pipe it waits, and the pipe is not read
 * further, until the guest makes room; from a terminal it is read on (for
 * the escape) and what exceeds the console's buffer is dropped.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/console.h"

/* A guest that takes at most `room` bytes until given more. */
struct sink {
	uint8_t got[4 * CONSOLE_PENDING_MAX];
	size_t len, room;
};

static size_t sink_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct sink *k = opaque;
	size_t n = len < k->room ? len : k->room;

	assert_true(k->len + n <= sizeof(k->got));
	memcpy(k->got + k->len, buf, n);
	k->len += n;
	k->room -= n;
	return n;
}

static void make_room(int room_fd, struct sink *k, size_t n)
{
	uint64_t one = 1;

	k->room += n;
	assert_int_equal(write(room_fd, &one, sizeof(one)), sizeof(one));
}

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

static void test_pipe_waits_for_the_guest(void **state)
{
	static struct sink k;
	struct console con;
	uint8_t data[1000];
	int p[2], room_fd = eventfd(0, EFD_NONBLOCK);

	(void)state;
	assert_true(room_fd >= 0);
	assert_int_equal(pipe(p), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	assert_int_equal(write(p[1], data, sizeof(data)), sizeof(data));
	close(p[1]);
	memset(&k, 0, sizeof(k));
	k.room = 100;
	console_open(&con, p[0], sink_input, &k, room_fd);
	assert_false(con.tty);

	/* One read; the guest takes 100 bytes, the rest waits, the pipe rests. */
	assert_true(console_wants_read(&con));
	assert_int_equal(console_read(&con), CONSOLE_OK);
	assert_true(k.len == 100 && console_pending(&con));
	assert_false(console_wants_read(&con));

	/* Room for everything that waits, in two steps. */
	make_room(room_fd, &k, 50);
	console_retry(&con);
	assert_int_equal(k.len, 150);
	make_room(room_fd, &k, 10000);
	console_retry(&con);
	assert_false(console_pending(&con));
	assert_true(console_wants_read(&con));

	/* The rest of the pipe, then its end: every byte, in order. */
	while (console_read(&con) == CONSOLE_OK)
		;
	assert_int_equal(k.len, sizeof(data));
	assert_memory_equal(k.got, data, sizeof(data));
	console_close(&con);
	close(p[0]);
	close(room_fd);
}

/* A rebooted guest's device gets what the old one had not taken. */
static void test_attach_keeps_input(void **state)
{
	static struct sink old, new;
	struct console con;
	int p[2], room_fd = eventfd(0, EFD_NONBLOCK);

	(void)state;
	assert_true(room_fd >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789abcdef", 16), 16);
	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	old.room = 4;
	console_open(&con, p[0], sink_input, &old, room_fd);
	assert_int_equal(console_read(&con), CONSOLE_OK);
	assert_int_equal(old.len, 4);

	new.room = 5;
	console_attach(&con, &new, room_fd);
	assert_int_equal(new.len, 5);
	assert_memory_equal(new.got, "45678", 5);
	make_room(room_fd, &new, 100);
	console_retry(&con);
	assert_int_equal(new.len, 12);
	assert_memory_equal(new.got, "456789abcdef", 12);
	assert_int_equal(old.len, 4);
	assert_false(console_pending(&con));
	console_close(&con);
	close(p[0]);
	close(p[1]);
	close(room_fd);
}

static void test_terminal_reads_on(void **state)
{
	static struct sink k;
	struct console con;
	uint8_t chunk[256];
	int master, slave, room_fd = eventfd(0, EFD_NONBLOCK);
	size_t sent = 0;

	(void)state;
	assert_true(room_fd >= 0);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master)) {
		skip(); /* no pseudo-terminals here */
		return;
	}
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	memset(&k, 0, sizeof(k));
	console_open(&con, slave, sink_input, &k, room_fd);
	assert_true(con.tty && con.raw);

	/* The guest takes nothing: input piles up to the limit, then drops. */
	memset(chunk, 'k', sizeof(chunk));
	while (sent < CONSOLE_PENDING_MAX + 2 * sizeof(chunk)) {
		assert_int_equal(write(master, chunk, sizeof(chunk)), sizeof(chunk));
		sent += sizeof(chunk);
		assert_true(console_wants_read(&con));
		/* A terminal may hand the chunk over in pieces. */
		for (int i = 0; i < 8; i++)
			assert_int_equal(console_read(&con), CONSOLE_OK);
	}
	assert_int_equal(con.pending_len, CONSOLE_PENDING_MAX);
	assert_int_equal(k.len, 0);

	/* The escape still works while input waits. */
	assert_int_equal(write(master, "\001x", 2), 2);
	assert_int_equal(console_read(&con), CONSOLE_QUIT);
	make_room(room_fd, &k, 2 * CONSOLE_PENDING_MAX);
	console_retry(&con);
	assert_int_equal(k.len, CONSOLE_PENDING_MAX);
	console_close(&con);
	close(slave);
	close(master);
	close(room_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_literal_escape),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_pipe_waits_for_the_guest),
		cmocka_unit_test(test_attach_keeps_input),
		cmocka_unit_test(test_terminal_reads_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
