/*
 * What shaled reads from a VMM's directory (daemon/vmmfile.c): the exit
 * record, parsed strictly, and files opened without following links, not
 * blocking on FIFOs and refusing what is not a plain file of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/vmmfile.h"

static struct vmm_exit ex;
static char err[256];

static int parse(const char *text)
{
	err[0] = '\0';
	return vmmfile_exit_parse(text, strlen(text), &ex, err, sizeof(err));
}

static void refused(const char *text, const char *want)
{
	if (!parse(text) || !strstr(err, want))
		fail_msg("'%s': '%s', want '%s'", text, err, want);
	assert_int_equal(ex.status, -1);
	assert_string_equal(ex.reason, "");
}

static void test_exit_good(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"reason\":\"exit\",\"status\":3,\"message\":\"the guest exited with "
			       "status 3\"}\n"),
			 0);
	assert_string_equal(ex.reason, "exit");
	assert_int_equal(ex.status, 3);
	assert_string_equal(ex.message, "the guest exited with status 3");
	assert_int_equal(parse(" {\"message\":\"\",\"status\":255,\"reason\":\"killed\"} \r\n"), 0);
	assert_string_equal(ex.reason, "killed");
	assert_int_equal(ex.status, 255);
	static const char *const reasons[] = { "exit",	 "poweroff", "reset", "crash", "timeout",
					       "signal", "quit",	     "error", "killed" };
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "{\"reason\":\"%s\",\"status\":0,\"message\":\"m\"}",
			 reasons[i]);
		assert_int_equal(parse(text), 0);
		assert_string_equal(ex.reason, reasons[i]);
	}
}

static void test_exit_message(void **state)
{
	char text[VMMFILE_EXIT_MAX];
	size_t n;

	(void)state;
	/* A guest's panic line may hold escapes: they come out as '?'. */
	assert_int_equal(
		parse("{\"reason\":\"crash\",\"status\":126,\"message\":\"a\\u001b[2Jb\\nc\\u007fd\\u0000e\"}"),
		0);
	assert_string_equal(ex.message, "a?[2Jb?c?d?e");
	/* A long one is cut at the record's size. */
	n = (size_t)snprintf(text, sizeof(text), "{\"reason\":\"exit\",\"status\":0,\"message\":\"");
	memset(text + n, 'x', 1000);
	snprintf(text + n + 1000, sizeof(text) - n - 1000, "\"}");
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(ex.message), sizeof(ex.message) - 1);
}

static void test_exit_refused(void **state)
{
	char big[VMMFILE_EXIT_MAX + 64];

	(void)state;
	refused("", "bad JSON");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":\"m\"", "unexpected end");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":\"m\"}{}", "data after the object");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":\"m\"} x", "data after the object");
	refused("[1]", "not a JSON object");
	refused("\"exit\"", "not a JSON object");
	refused("{\"reason\":\"exit\",\"status\":0}", "message: want a string");
	refused("{\"status\":0,\"message\":\"m\"}", "reason: want a string");
	refused("{\"reason\":\"exit\",\"message\":\"m\"}", "status: want an integer");
	refused("{\"reason\":\"exit\",\"status\":\"0\",\"message\":\"m\"}", "status: want an integer");
	refused("{\"reason\":\"exit\",\"status\":0.5,\"message\":\"m\"}", "status: want an integer");
	refused("{\"reason\":\"exit\",\"status\":-1,\"message\":\"m\"}", "status: want 0-255");
	refused("{\"reason\":\"exit\",\"status\":256,\"message\":\"m\"}", "status: want 0-255");
	refused("{\"reason\":\"exit\",\"status\":99999999999999999999,\"message\":\"m\"}",
		"status");
	refused("{\"reason\":\"running\",\"status\":0,\"message\":\"m\"}", "reason: not one");
	refused("{\"reason\":\"vmm-died\",\"status\":0,\"message\":\"m\"}", "reason: not one");
	refused("{\"reason\":\"exit\\u0000x\",\"status\":0,\"message\":\"m\"}", "reason: not one");
	refused("{\"reason\":1,\"status\":0,\"message\":\"m\"}", "reason: want a string");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":[\"m\"]}", "nesting too deep");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":\"m\",\"pid\":1}",
		"unknown field 'pid'");
	refused("{\"reason\":\"exit\",\"status\":0,\"message\":{\"a\":{\"b\":1}}}", "nesting too deep");
	/* A NUL byte in the file, and a file over the cap. */
	assert_int_not_equal(vmmfile_exit_parse("{}\0{}", 5, &ex, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "NUL"));
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"reason\":\"exit\",\"status\":0,\"message\":\"m\"}", 42);
	assert_int_equal(vmmfile_exit_parse(big, sizeof(big), &ex, err, sizeof(err)), -EFBIG);
	assert_int_equal(vmmfile_exit_parse(big, VMMFILE_EXIT_MAX, &ex, err, sizeof(err)), 0);
}

static void test_open(void **state)
{
	char dir[] = "/tmp/test_vmmfile.XXXXXX", path[64];
	size_t len = 0;
	int dfd, fd, ret;
	char *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	fd = openat(dfd, "plain", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(symlinkat("plain", dfd, "link"), 0);
	assert_int_equal(linkat(dfd, "plain", dfd, "hard", 0), 0);
	assert_int_equal(mkfifoat(dfd, "fifo", 0600), 0);
	assert_int_equal(mkdirat(dfd, "sub", 0700), 0);

	/* Two links to "plain" now: neither name is a file of its own. */
	assert_int_equal(vmmfile_open(dfd, "plain"), -EPERM);
	assert_int_equal(vmmfile_open(dfd, "hard"), -EPERM);
	assert_false(vmmfile_plain_or_absent(dfd, "plain"));
	assert_int_equal(unlinkat(dfd, "hard", 0), 0);
	fd = vmmfile_open(dfd, "plain");
	assert_true(fd >= 0);
	close(fd);
	assert_true(vmmfile_plain_or_absent(dfd, "plain"));
	assert_true(vmmfile_plain_or_absent(dfd, "absent"));

	assert_int_equal(vmmfile_open(dfd, "link"), -ELOOP);
	assert_false(vmmfile_plain_or_absent(dfd, "link"));
	assert_int_equal(vmmfile_open(dfd, "fifo"), -EPERM); /* and does not block */
	assert_false(vmmfile_plain_or_absent(dfd, "fifo"));
	assert_int_equal(vmmfile_open(dfd, "sub"), -EPERM);
	assert_int_equal(vmmfile_open(dfd, "absent"), -ENOENT);

	text = vmmfile_read_tail(dfd, "plain", 4, &len, &ret);
	assert_non_null(text);
	assert_int_equal(len, 4);
	assert_string_equal(text, "6789");
	free(text);
	text = vmmfile_read_tail(dfd, "plain", 100, &len, &ret);
	assert_non_null(text);
	assert_string_equal(text, "0123456789");
	free(text);
	assert_null(vmmfile_read_tail(dfd, "link", 100, &len, &ret));
	assert_int_equal(ret, -ELOOP);

	static const char *const names[] = { "plain", "link", "fifo" };
	for (size_t i = 0; i < 3; i++)
		unlinkat(dfd, names[i], 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	close(dfd);
	snprintf(path, sizeof(path), "%s", dir);
	assert_int_equal(rmdir(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_good),
		cmocka_unit_test(test_exit_message),
		cmocka_unit_test(test_exit_refused),
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
