/*
 * --net user's port forwards: what usernet_parse_fwd() accepts, its
 * defaults, what it refuses, and that usernet_format_fwd() writes what it
 * reads back (the VMM hands forwards to shale-net as text).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "usernet/usernet.h"

static void fwd_ok(const char *s, bool udp, const char *host, unsigned hport, const char *guest,
		   unsigned gport)
{
	struct usernet_fwd f, again;
	char text[64], addr[INET_ADDRSTRLEN];

	if (usernet_parse_fwd(s, &f, "test"))
		fail_msg("'%s' refused", s);
	assert_int_equal(f.udp, udp);
	assert_string_equal(inet_ntop(AF_INET, &f.host_addr, addr, sizeof(addr)), host);
	assert_int_equal(f.host_port, hport);
	assert_string_equal(inet_ntop(AF_INET, &f.guest_addr, addr, sizeof(addr)), guest);
	assert_int_equal(f.guest_port, gport);
	usernet_format_fwd(&f, text, sizeof(text));
	assert_int_equal(usernet_parse_fwd(text, &again, "test"), 0);
	assert_memory_equal(&f, &again, sizeof(f));
}

static void test_forwards(void **state)
{
	fwd_ok("tcp:127.0.0.1:8080-:80", false, "127.0.0.1", 8080, "10.0.2.15", 80);
	fwd_ok("udp::5353-10.0.2.20:53", true, "127.0.0.1", 5353, "10.0.2.20", 53);
	fwd_ok("tcp:0.0.0.0:1-:65535", false, "0.0.0.0", 1, "10.0.2.15", 65535);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"", "tcp", "tcp:", "sctp::1-:2", "tcp::8080", "tcp::8080-", "tcp::8080-:",
		"tcp::0-:80", "tcp::80-:0", "tcp::65536-:80", "tcp::-1-:80", "tcp::8x-:80",
		"tcp:1.2.3:80-:80", "tcp:localhost:80-:80", "tcp::80-:80x", "tcp::123456-:80",
		"tcp:1.2.3.4.5:80-:80", "tcp::80-10.0.2.15", "TCP::80-:80",
	};
	struct usernet_fwd f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0x5a, sizeof(f));
		if (usernet_parse_fwd(bad[i], &f, "test") != -22)
			fail_msg("'%s' accepted", bad[i]);
		/* A refused forward leaves the output alone. */
		assert_int_equal(((unsigned char *)&f)[0], 0x5a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwards),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
