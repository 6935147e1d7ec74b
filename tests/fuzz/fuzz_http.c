/*
 * The HTTP/1.1 response parser of the API clients (src/cli/http.c) over
 * any bytes a daemon, or something pretending to be one, could send. The
 * input is the response itself. Checked after each parse:
 *
 *   - a complete response has a status of 100-599, a head inside the
 *     input, header strings inside the head's copy, and a NUL-terminated
 *     body no longer than the input after the head and within max_body;
 *   - a refusal leaves no body and gives a reason;
 *   - complete before the end of the connection means complete, with the
 *     same body, after it (eof can only turn "need more" into an answer);
 *   - http_parse_head() agrees with http_parse_response() on the head;
 *   - the chunked decoder gives the same bytes and the same verdict fed
 *     at once or in pieces of sizes taken from the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/http.h"
#include "fuzz.h"

/* Small, so the fuzzer reaches the bound. */
#define FUZZ_MAX_BODY 4096

static struct http_response r1, r2, rh;

static bool inside(const char *p, const struct http_response *r)
{
	return p >= r->head && p <= r->head + r->head_len;
}

static void check(const uint8_t *data, size_t size, int ret, const struct http_response *r)
{
	if (ret) {
		FUZZ_CHECK(ret == -EAGAIN || ret == -EBADMSG || ret == -E2BIG);
		FUZZ_CHECK(!r->body);
		FUZZ_CHECK(ret == -EAGAIN || r->error);
		return;
	}
	FUZZ_CHECK(r->status >= 100 && r->status <= 599);
	FUZZ_CHECK(r->head_len >= 4 && r->head_len <= size && r->head_len <= HTTP_MAX_HEAD);
	FUZZ_CHECK(!memcmp(data, "HTTP/1.", 7));
	FUZZ_CHECK(r->nr_headers <= HTTP_MAX_HEADERS);
	FUZZ_CHECK(inside(r->reason, r));
	for (size_t i = 0; i < r->nr_headers; i++) {
		FUZZ_CHECK(inside(r->headers[i].name, r) && inside(r->headers[i].value, r));
		FUZZ_CHECK(r->headers[i].name[0]);
	}
	FUZZ_CHECK(r->body);
	FUZZ_CHECK(r->body_len <= size - r->head_len && r->body_len <= FUZZ_MAX_BODY);
	FUZZ_CHECK(r->body[r->body_len] == '\0');
	if (r->framing == HTTP_BODY_LENGTH)
		FUZZ_CHECK(r->body_len == r->content_length);
	if (r->framing == HTTP_BODY_LENGTH || r->framing == HTTP_BODY_EOF)
		FUZZ_CHECK(!memcmp(r->body, data + r->head_len, r->body_len));
}

/* The chunked decoder over in[0..n): all at once, then in pieces. */
static void chunked_pieces(const char *in, size_t n, const uint8_t *sizes, size_t nr_sizes)
{
	struct http_chunked a, b;
	char *out_a = malloc(n + 1), *out_b = malloc(n + 1), *piece = malloc(n + 1);
	size_t len_a = 0, len_b = 0, off = 0, k = 0, out_n;
	ssize_t used_a;
	bool failed_b = false;

	FUZZ_CHECK(out_a && out_b && piece);
	http_chunked_init(&a);
	used_a = http_chunked_feed(&a, in, n, out_a, &len_a);
	FUZZ_CHECK(used_a == -EBADMSG || (used_a >= 0 && (size_t)used_a <= n));
	FUZZ_CHECK(used_a < 0 || (size_t)used_a == n || a.done);
	FUZZ_CHECK(used_a >= 0 || a.error);
	FUZZ_CHECK(used_a < 0 || len_a <= (size_t)used_a);

	http_chunked_init(&b);
	while (off < n && !b.done) {
		size_t step = nr_sizes ? 1 + sizes[k++ % nr_sizes] % 16 : 1;
		ssize_t used;

		if (step > n - off)
			step = n - off;
		used = http_chunked_feed(&b, in + off, step, piece, &out_n);
		if (used < 0) {
			failed_b = true;
			break;
		}
		FUZZ_CHECK((size_t)used <= step && out_n <= (size_t)used);
		memcpy(out_b + len_b, piece, out_n);
		len_b += out_n;
		off += (size_t)used;
		if ((size_t)used < step)
			FUZZ_CHECK(b.done);
	}
	FUZZ_CHECK(failed_b == (used_a < 0));
	if (!failed_b) {
		FUZZ_CHECK(a.done == b.done);
		FUZZ_CHECK(off == (size_t)used_a);
		FUZZ_CHECK(len_a == len_b && !memcmp(out_a, out_b, len_a));
	}
	free(out_a);
	free(out_b);
	free(piece);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int more, all, head;

	more = http_parse_response(s, size, false, FUZZ_MAX_BODY, &r1);
	check(data, size, more, &r1);
	all = http_parse_response(s, size, true, FUZZ_MAX_BODY, &r2);
	check(data, size, all, &r2);
	FUZZ_CHECK(all != -EAGAIN);
	if (!more) {
		FUZZ_CHECK(!all && r1.body_len == r2.body_len);
		FUZZ_CHECK(!memcmp(r1.body, r2.body, r1.body_len));
	}
	if (more == -EBADMSG || more == -E2BIG)
		FUZZ_CHECK(all == more);

	head = http_parse_head(s, size, &rh);
	FUZZ_CHECK(head == 0 || head == -EAGAIN || head == -EBADMSG || head == -E2BIG);
	if (!all || !more)
		FUZZ_CHECK(!head && rh.head_len == r2.head_len && rh.status == r2.status);
	if (!head)
		chunked_pieces(s + rh.head_len, size - rh.head_len, data, size < 8 ? size : 8);
	else
		chunked_pieces(s, size, data, size < 8 ? size : 8);

	http_response_free(&r1);
	http_response_free(&r2);
	return 0;
}
