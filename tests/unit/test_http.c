/*
 * The HTTP/1.1 response parser of the API clients (src/cli/http.c): what
 * it accepts, how it frames bodies, and what it refuses, including every
 * prefix of a good response (incomplete, or truncated once the connection
 * has ended).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/http.h"

static struct http_response *resp;

static int setup(void **state)
{
	resp = calloc(1, sizeof(*resp));
	return resp ? 0 : -1;
}

static int teardown(void **state)
{
	http_response_free(resp);
	free(resp);
	return 0;
}

static int parse(const char *s, bool eof)
{
	http_response_free(resp);
	return http_parse_response(s, strlen(s), eof, HTTP_MAX_BODY, resp);
}

/* An incomplete response with a body bound of max. */
static int parse_max(const char *s, size_t max)
{
	http_response_free(resp);
	return http_parse_response(s, strlen(s), false, max, resp);
}

static void good(const char *s, int status, const char *body)
{
	int ret = parse(s, true);

	if (ret)
		fail_msg("parse(\"%s\") = %d (%s), want 0", s, ret,
			 resp->error ? resp->error : "no reason");
	assert_int_equal(resp->status, status);
	assert_non_null(resp->body);
	assert_int_equal(resp->body_len, strlen(body));
	assert_memory_equal(resp->body, body, strlen(body) + 1);
}

/* Refused with want, and a reason that contains why. */
static void refused(const char *s, bool eof, int want, const char *why)
{
	int ret = parse(s, eof);

	if (ret != want)
		fail_msg("parse(\"%s\") = %d, want %d", s, ret, want);
	assert_null(resp->body);
	assert_non_null(resp->error);
	if (!strstr(resp->error, why))
		fail_msg("parse(\"%s\"): reason \"%s\", want \"%s\"", s, resp->error, why);
}

static void content_length(void **state)
{
	good("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
	     "{\"vms\": [ ]}\n", 200, "{\"vms\": [ ]}\n");
	assert_int_equal(resp->framing, HTTP_BODY_LENGTH);
	assert_int_equal(resp->content_length, 13);
	assert_int_equal(resp->version_minor, 1);
	assert_string_equal(resp->reason, "OK");
	assert_string_equal(http_header(resp, "content-type"), "application/json");
	assert_null(http_header(resp, "X-Nope"));

	good("HTTP/1.1 404 Not Found\r\nContent-Length: 25\r\n\r\n{\"error\":\"no VM named x\"}",
	     404, "{\"error\":\"no VM named x\"}");
	good("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "");
	/* The same length twice is one length. */
	good("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi", 200, "hi");
	/* Not complete until the body is. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", false), -EAGAIN);
}

static void header_values(void **state)
{
	good("HTTP/1.0 201 Created\r\nX-A:   padded \t \r\nX-Empty:\r\nContent-Length: 1\r\n\r\nx",
	     201, "x");
	assert_int_equal(resp->version_minor, 0);
	assert_string_equal(http_header(resp, "x-a"), "padded");
	assert_string_equal(http_header(resp, "X-Empty"), "");
	assert_int_equal(resp->nr_headers, 3);
	/* No reason phrase, with or without its space. */
	good("HTTP/1.1 204 \r\n\r\n", 204, "");
	assert_string_equal(resp->reason, "");
	good("HTTP/1.1 204\r\n\r\n", 204, "");
	/* obs-text is allowed in values and reasons. */
	good("HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nX: \xff\r\nContent-Length: 0\r\n\r\n", 200, "");
}

static void no_body(void **state)
{
	good("HTTP/1.1 204 No Content\r\n\r\n", 204, "");
	assert_int_equal(resp->framing, HTTP_BODY_NONE);
	good("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, "");
	refused("HTTP/1.1 204 No Content\r\n\r\nstray", true, -EBADMSG, "no body");
}

static void until_eof(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nconsole text";

	assert_int_equal(parse(s, false), -EAGAIN);
	good(s, 200, "console text");
	assert_int_equal(resp->framing, HTTP_BODY_EOF);
}

static void chunked(void **state)
{
	good("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "5\r\nhello\r\n1;ext=1;other\r\n \r\nA  ;x\r\n0123456789\r\n0\r\n\r\n",
	     200, "hello 0123456789");
	assert_int_equal(resp->framing, HTTP_BODY_CHUNKED);
	/* Trailers are read and dropped; "CHUNKED" in any case. */
	good("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
	     "2\r\nok\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n", 200, "ok");
	good("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "");
	/* Leading zeros do not count against the size's 16 digits. */
	good("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "0000000000000000000000003\r\nabc\r\n0\r\n\r\n", 200, "abc");
}

static void chunked_bad(void **state)
{
	static const struct {
		const char *coding, *why;
	} cases[] = {
		{ "x\r\n", "not a hex number" },
		{ "\r\n", "not a hex number" },
		{ "5 x\r\nhello\r\n0\r\n\r\n", "malformed chunk size" },
		{ "-5\r\n", "not a hex number" },
		{ "5\nhello\r\n0\r\n\r\n", "malformed chunk size" },
		{ "5\r\rhello\r\n0\r\n\r\n", "not ended by CRLF" },
		{ "5\r\nhelloX\r\n0\r\n\r\n", "not followed by CRLF" },
		{ "5\r\nhello\rX0\r\n\r\n", "not followed by CRLF" },
		{ "5;a\x01\r\nhello\r\n", "control character" },
		{ "10000000000000000\r\n", "too large" },
		{ "0\r\nX: \x01\r\n\r\n", "control character" },
		{ "0\r\nX: 1\rY\r\n", "trailer line not ended" },
		{ "0\r\n\rX", "not ended by CRLF" },
		{ "2\r\nok\r\n0\r\n\r\nextra", "after the end" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s",
			 cases[i].coding);
		refused(buf, true, -EBADMSG, cases[i].why);
	}
}

/* A size line of extensions past HTTP_MAX_CHUNK_LINE. */
static void chunked_long_line(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;";
	size_t n = sizeof(head) - 1 + HTTP_MAX_CHUNK_LINE + 8;
	char *s = malloc(n + 1);

	assert_non_null(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'e', n - (sizeof(head) - 1));
	s[n] = '\0';
	refused(s, false, -EBADMSG, "too long");
	free(s);
}

/* Fed in pieces of every size, the decoder gives the same bytes. */
static void chunked_incremental(void **state)
{
	static const char coding[] = "3\r\nabc\r\n4;x\r\ndefg\r\n1\r\nh\r\n0\r\nT: 1\r\n\r\n";
	const size_t n = sizeof(coding) - 1;

	for (size_t step = 1; step <= n; step++) {
		struct http_chunked c;
		char out[sizeof(coding)], all[sizeof(coding)];
		size_t got = 0, off = 0, out_n;

		http_chunked_init(&c);
		while (off < n && !c.done) {
			size_t len = off + step > n ? n - off : step;
			ssize_t used = http_chunked_feed(&c, coding + off, len, out, &out_n);

			assert_true(used >= 0);
			memcpy(all + got, out, out_n);
			got += out_n;
			off += (size_t)used;
		}
		assert_true(c.done);
		assert_int_equal(off, n);
		assert_int_equal(got, 8);
		assert_memory_equal(all, "abcdefgh", 8);
	}
}

static void status_line_bad(void **state)
{
	static const struct {
		const char *s, *why;
	} cases[] = {
		{ "HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x" },
		{ "http/1.1 200 OK\r\n\r\n", "not an HTTP/1.x" },
		{ "SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x" },
		{ "HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version" },
		{ "HTTP/1.1  200 OK\r\n\r\n", "malformed status code" },
		{ "HTTP/1.1 20 OK\r\n\r\n", "malformed status code" },
		{ "HTTP/1.1 2000 OK\r\n\r\n", "malformed status code" },
		{ "HTTP/1.1 abc OK\r\n\r\n", "malformed status code" },
		{ "HTTP/1.1 099 Low\r\n\r\n", "out of range" },
		{ "HTTP/1.1 600 High\r\n\r\n", "out of range" },
		{ "HTTP/1.1200 OK\r\n\r\n", "malformed status line" },
		{ "HTTP/1.1 200 O\x7fK\r\n\r\n", "control character" },
		{ "HTTP/1.1 200 OK\n\n", "LF without CR" },
		{ "HTTP/1.1 200 OK\rX\r\n\r\n", "CR without LF" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i].s, true, -EBADMSG, cases[i].why);
	/* Known to be bad before the head is complete: no waiting for more. */
	refused("SSH-2.0", false, -EBADMSG, "not an HTTP/1.x");
	refused("HTTP/1.1 200 OK\n", false, -EBADMSG, "LF without CR");
}

static void nul_in_head(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";

	http_response_free(resp);
	assert_int_equal(http_parse_response(s, sizeof(s) - 1, true, HTTP_MAX_BODY, resp),
			 -EBADMSG);
	assert_string_equal(resp->error, "NUL byte in the response head");
}

static void headers_bad(void **state)
{
	static const struct {
		const char *headers, *why;
	} cases[] = {
		{ "NoColon\r\n", "without a colon" },
		{ "Name : v\r\n", "without a colon" },
		{ ": v\r\n", "malformed header name" },
		{ "Na(me): v\r\n", "without a colon" },
		{ "X: 1\r\n folded\r\n", "folded" },
		{ "X: a\x01" "b\r\n", "control character" },
		{ "X: a\x7f\r\n", "control character" },
		{ "Content-Length: -1\r\n", "malformed Content-Length" },
		{ "Content-Length: 1x\r\n", "malformed Content-Length" },
		{ "Content-Length:\r\n", "malformed Content-Length" },
		{ "Content-Length: 1, 1\r\n", "malformed Content-Length" },
		{ "Content-Length: 99999999999999999999\r\n", "malformed Content-Length" },
		{ "Content-Length: 1\r\nContent-Length: 2\r\n", "conflicting" },
		{ "Transfer-Encoding: gzip\r\n", "other than chunked" },
		{ "Transfer-Encoding: gzip, chunked\r\n", "other than chunked" },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "more than one" },
		{ "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "both" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n%s\r\n", cases[i].headers);
		refused(buf, true, -EBADMSG, cases[i].why);
	}
}

/* Every proper prefix of a good response: incomplete, then truncated. */
static void truncated(void **state)
{
	static const char *const good_ones[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n",
	};

	for (size_t k = 0; k < sizeof(good_ones) / sizeof(good_ones[0]); k++) {
		const char *s = good_ones[k];
		size_t n = strlen(s);

		for (size_t len = 0; len < n; len++) {
			http_response_free(resp);
			assert_int_equal(http_parse_response(s, len, false, HTTP_MAX_BODY, resp),
					 -EAGAIN);
			http_response_free(resp);
			assert_int_equal(http_parse_response(s, len, true, HTTP_MAX_BODY, resp),
					 -EBADMSG);
			assert_non_null(resp->error);
		}
		http_response_free(resp);
		assert_int_equal(http_parse_response(s, n, false, HTTP_MAX_BODY, resp), 0);
	}
	refused("", true, -EBADMSG, "without a response");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", true, -EBADMSG,
		"before the Content-Length");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true, -EBADMSG,
		"inside a chunked body");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", false, -EBADMSG,
		"bytes after");
}

static void oversized(void **state)
{
	size_t n = HTTP_MAX_HEAD + 100;
	char *s = malloc(n + 1);
	int nr;

	assert_non_null(s);
	/* A head that does not end within its bound. */
	memcpy(s, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(s + 20, 'a', n - 20);
	s[n] = '\0';
	refused(s, false, -E2BIG, "longer than 16 KiB");
	refused(s, true, -E2BIG, "longer than 16 KiB");

	/* Too many headers, in a head within its size. */
	nr = snprintf(s, n, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		nr += snprintf(s + nr, n - (size_t)nr, "X-%d: %d\r\n", i, i);
	snprintf(s + nr, n - (size_t)nr, "\r\n");
	refused(s, true, -E2BIG, "more than 64 headers");
	free(s);

	/* Bodies larger than the caller takes, whatever their framing. */
	assert_int_equal(parse_max("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", 5), -E2BIG);
	refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", false, -E2BIG,
		"larger than");
	assert_int_equal(parse_max("HTTP/1.1 200 OK\r\n\r\n123456", 5), -E2BIG);
	assert_int_equal(parse_max("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n3\r\ndef\r\n", 5), -E2BIG);
	assert_int_equal(parse_max("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345", 5), 0);
}

/* The head alone, as the console and event clients read it. */
static void head_only(void **state)
{
	static const char s[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				"Upgrade: shale-console\r\n\r\nconsole bytes";

	assert_int_equal(http_parse_head(s, sizeof(s) - 1, resp), 0);
	assert_int_equal(resp->status, 101);
	assert_int_equal(resp->framing, HTTP_BODY_NONE);
	assert_string_equal(http_header(resp, "upgrade"), "shale-console");
	assert_string_equal(s + resp->head_len, "console bytes");
	assert_int_equal(http_parse_head(s, 40, resp), -EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(content_length),
		cmocka_unit_test(header_values),
		cmocka_unit_test(no_body),
		cmocka_unit_test(until_eof),
		cmocka_unit_test(chunked),
		cmocka_unit_test(chunked_bad),
		cmocka_unit_test(chunked_long_line),
		cmocka_unit_test(chunked_incremental),
		cmocka_unit_test(status_line_bad),
		cmocka_unit_test(nul_in_head),
		cmocka_unit_test(headers_bad),
		cmocka_unit_test(truncated),
		cmocka_unit_test(oversized),
		cmocka_unit_test(head_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
