/*
 * The control socket's request parser (src/vmm/ctl_proto.c): every op,
 * requests that are JSON but not requests (an error, the connection goes
 * on), and what is not one JSON object (an error, the connection closes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/ctl_proto.h"

static enum ctl_parse parse(const char *line, enum ctl_op *op, char *why)
{
	return ctl_parse_request(line, strlen(line), op, why, 256);
}

static void test_ops(void **state)
{
	static const char *const names[] = { "info", "stats", "pause", "resume",
					     "shutdown", "kill", "console", "balloon" };
	char line[64], why[256];
	enum ctl_op op;

	for (unsigned i = 0; i < CTL_OP_NR; i++) {
		snprintf(line, sizeof(line), "{\"op\":\"%s\"}", names[i]);
		op = CTL_OP_NR;
		assert_int_equal(parse(line, &op, why), CTL_PARSE_OK);
		assert_int_equal(op, i);
		assert_string_equal(ctl_op_name(op), names[i]);
	}
	/* Blanks, a CR (from a client that ends lines with CRLF), other fields. */
	assert_int_equal(parse(" { \"op\" : \"kill\" } \r", &op, why), CTL_PARSE_OK);
	assert_int_equal(op, CTL_OP_KILL);
	assert_int_equal(parse("{\"id\":7,\"op\":\"stats\",\"x\":[1,{}]}", &op, why), CTL_PARSE_OK);
	assert_int_equal(op, CTL_OP_STATS);
	/* An escaped name is the same name. */
	assert_int_equal(parse("{\"op\":\"\\u0069nfo\"}", &op, why), CTL_PARSE_OK);
	assert_int_equal(op, CTL_OP_INFO);
	/* Not NUL-terminated: only len bytes count. */
	assert_int_equal(ctl_parse_request("{\"op\":\"info\"}garbage", 13, &op, why, sizeof(why)),
			 CTL_PARSE_OK);
}

static void test_bad_requests(void **state)
{
	static const char *const bad[] = {
		"{}", "{\"op\":7}", "{\"op\":null}", "{\"op\":\"\"}", "{\"op\":\"INFO\"}",
		"{\"op\":\"info \"}", "{\"op\":\"in\\u0000fo\"}", "[\"op\",\"info\"]", "\"info\"",
		"{\"Op\":\"info\"}", "{\"op\":\"reboot\"}",
	};
	char why[256];
	enum ctl_op op;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i], &op, why), CTL_PARSE_BAD_REQUEST);
		assert_true(strlen(why) > 10);
	}
	parse("{\"op\":\"reboot\"}", &op, why);
	assert_non_null(strstr(why, "unknown op \"reboot\""));
}

static void test_bad_json(void **state)
{
	static const char *const bad[] = {
		"", " ", "x", "{", "{\"op\":\"info\"", "{\"op\":\"info\"}}", "{\"op\":\"info\"} {}",
		"{'op':'info'}", "{\"op\":\"info\",}", "{op:\"info\"}", "123", "nul",
		"{\"op\":\"info\"}x", "[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	char why[256], line[CTL_LINE_MAX + 2];
	enum ctl_op op;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(parse(bad[i], &op, why), CTL_PARSE_BAD_JSON);
		assert_non_null(strstr(why, "JSON"));
	}
	/* A NUL inside the line. */
	assert_int_equal(ctl_parse_request("{\"op\":\0\"info\"}", 14, &op, why, sizeof(why)),
			 CTL_PARSE_BAD_JSON);
	/* Longer than a line may be, however valid. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "{\"op\":\"info\"}", 13);
	assert_int_equal(ctl_parse_request(line, CTL_LINE_MAX, &op, why, sizeof(why)), CTL_PARSE_OK);
	assert_int_equal(ctl_parse_request(line, CTL_LINE_MAX + 1, &op, why, sizeof(why)),
			 CTL_PARSE_BAD_JSON);
	assert_non_null(strstr(why, "longer than 4096"));
}

/* An op's number: an integer from 0 to max, nothing else. */
static void test_uint_arg(void **state)
{
	char why[256];
	uint64_t v = 7;

#define UINT(line, max) ctl_parse_uint(line, strlen(line), "target_mib", max, &v, why, sizeof(why))
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":256}", 512), 0);
	assert_int_equal(v, 256);
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":0}", 512), 0);
	assert_int_equal(v, 0);
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":512}", 512), 0);
	assert_int_equal(v, 512);
	v = 7;
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":513}", 512), -1);
	assert_string_equal(why, "\"target_mib\" must be from 0 to 512");
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":-1}", 512), -1);
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":18446744073709551615}", 512),
			 -1);
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":1.5}", 512), -1);
	assert_string_equal(why, "the request has no \"target_mib\" number");
	assert_int_equal(UINT("{\"op\":\"balloon\",\"target_mib\":\"64\"}", 512), -1);
	assert_int_equal(UINT("{\"op\":\"balloon\"}", 512), -1);
	assert_int_equal(UINT("[1]", 512), -1);
	assert_int_equal(UINT("{\"target_mib\":", 512), -1);
	assert_int_equal(v, 7);
#undef UINT
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_uint_arg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
