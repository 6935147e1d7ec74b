/*
 * The HTTP/1.1 client of http.h. Response grammar from RFC 9112 §4
 * (status line), §5 (field lines), §6.3 (message body length) and §7.1
 * (chunked transfer coding); RFC 9110 §5.6.2 (tokens).
 */
#include "cli/http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MIN_(a, b) ((a) < (b) ? (a) : (b))

static int bad(struct http_response *r, const char *why)
{
	r->error = why;
	return -EBADMSG;
}

static int too_big(struct http_response *r, const char *why)
{
	r->error = why;
	return -E2BIG;
}

/* RFC 9110 §5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* Field values and reason phrases: VCHAR, obs-text, SP, HTAB. */
static bool is_text(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static bool all_text(const char *s)
{
	for (; *s; s++)
		if (!is_text((unsigned char)*s))
			return false;
	return true;
}

/* 1*DIGIT into a uint64_t; false on anything else or overflow. */
static bool parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/*
 * Where the head ends (after CRLF CRLF), 0 when it has not yet, or an
 * error for what can never become a valid head, found as early as
 * possible so that a server speaking something else is not waited for.
 */
static int find_head_end(const char *buf, size_t len, struct http_response *r, size_t *end)
{
	static const char proto[] = "HTTP/1.";
	size_t scan = MIN_(len, (size_t)HTTP_MAX_HEAD);

	*end = 0;
	if (memcmp(buf, proto, MIN_(len, sizeof(proto) - 1)))
		return bad(r, "not an HTTP/1.x response");
	for (size_t i = 0; i < scan; i++) {
		char c = buf[i];

		if (i && buf[i - 1] == '\r' && c != '\n')
			return bad(r, "CR without LF in the response head");
		if (c == '\0')
			return bad(r, "NUL byte in the response head");
		if (c != '\n')
			continue;
		if (!i || buf[i - 1] != '\r')
			return bad(r, "a line of the response head ends in LF without CR");
		if (i >= 3 && buf[i - 2] == '\n') {
			*end = i + 1;
			return 0;
		}
	}
	if (len >= HTTP_MAX_HEAD)
		return too_big(r, "response head longer than 16 KiB");
	return 0;
}

static int parse_status_line(char *line, struct http_response *r)
{
	/* HTTP/1.D SP DDD [SP reason] */
	if (line[7] < '0' || line[7] > '9' || line[8] != ' ')
		return bad(r, "malformed status line");
	if (line[7] > '1')
		return bad(r, "unsupported HTTP version");
	r->version_minor = line[7] - '0';
	for (int i = 9; i < 12; i++)
		if (line[i] < '0' || line[i] > '9')
			return bad(r, "malformed status code");
	if (line[12] != ' ' && line[12] != '\0')
		return bad(r, "malformed status code");
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (r->status < 100 || r->status > 599)
		return bad(r, "status code out of range");
	r->reason = line[12] ? line + 13 : line + 12;
	if (!all_text(r->reason))
		return bad(r, "control character in the reason phrase");
	return 0;
}

static int parse_field_line(char *line, struct http_response *r)
{
	size_t n = 0;
	char *value, *end;

	if (line[0] == ' ' || line[0] == '\t')
		return bad(r, "folded header line");
	while (is_tchar((unsigned char)line[n]))
		n++;
	if (!n)
		return bad(r, "malformed header name");
	/* No white space between name and colon (§5.1). */
	if (line[n] != ':')
		return bad(r, "header line without a colon after its name");
	line[n] = '\0';
	value = line + n + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (!all_text(value))
		return bad(r, "control character in a header value");
	if (r->nr_headers == HTTP_MAX_HEADERS)
		return too_big(r, "more than 64 headers");
	r->headers[r->nr_headers++] = (struct http_header){ .name = line, .value = value };
	return 0;
}

/* RFC 9112 §6.3. */
static int decide_framing(struct http_response *r)
{
	bool have_length = false, chunked = false;

	for (size_t i = 0; i < r->nr_headers; i++) {
		const struct http_header *h = &r->headers[i];
		uint64_t v;

		if (!strcasecmp(h->name, "Transfer-Encoding")) {
			if (chunked)
				return bad(r, "more than one Transfer-Encoding header");
			if (strcasecmp(h->value, "chunked"))
				return bad(r, "a transfer coding other than chunked");
			chunked = true;
		} else if (!strcasecmp(h->name, "Content-Length")) {
			if (!parse_length(h->value, &v))
				return bad(r, "malformed Content-Length");
			if (have_length && v != r->content_length)
				return bad(r, "conflicting Content-Length headers");
			r->content_length = v;
			have_length = true;
		}
	}
	if (chunked && have_length)
		return bad(r, "both Transfer-Encoding and Content-Length");
	if (r->status < 200 || r->status == 204 || r->status == 304)
		r->framing = HTTP_BODY_NONE;
	else if (chunked)
		r->framing = HTTP_BODY_CHUNKED;
	else if (have_length)
		r->framing = HTTP_BODY_LENGTH;
	else
		r->framing = HTTP_BODY_EOF;
	return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_response *r)
{
	size_t end;
	char *line, *next;
	int ret;

	r->version_minor = 0;
	r->status = 0;
	r->reason = NULL;
	r->nr_headers = 0;
	r->head_len = 0;
	r->framing = HTTP_BODY_NONE;
	r->content_length = 0;
	r->error = NULL;

	ret = find_head_end(buf, len, r, &end);
	if (ret)
		return ret;
	if (!end)
		return -EAGAIN;

	/* Lines are split in a copy, which the header pointers refer to. */
	memcpy(r->head, buf, end);
	r->head[end] = '\0';
	line = r->head;
	next = strstr(line, "\r\n");
	*next = '\0';
	ret = parse_status_line(line, r);
	if (ret)
		return ret;
	for (line = next + 2; *line != '\r'; line = next + 2) {
		next = strstr(line, "\r\n");
		*next = '\0';
		ret = parse_field_line(line, r);
		if (ret)
			return ret;
	}
	ret = decide_framing(r);
	if (ret)
		return ret;
	r->head_len = end;
	return 0;
}

static int set_body(struct http_response *r, const char *data, size_t n)
{
	r->body = malloc(n + 1);
	if (!r->body)
		return -ENOMEM;
	memcpy(r->body, data, n);
	r->body[n] = '\0';
	r->body_len = n;
	return 0;
}

static int parse_chunked_body(const char *in, size_t n, bool eof, size_t max_body,
			      struct http_response *r)
{
	struct http_chunked c;
	size_t out_n;
	ssize_t used;
	char *out = malloc(n + 1);

	if (!out)
		return -ENOMEM;
	http_chunked_init(&c);
	used = http_chunked_feed(&c, in, n, out, &out_n);
	if (used < 0) {
		free(out);
		return bad(r, c.error);
	}
	if (out_n > max_body) {
		free(out);
		return too_big(r, "response body larger than the client accepts");
	}
	if (!c.done) {
		free(out);
		return eof ? bad(r, "the connection ended inside a chunked body") : -EAGAIN;
	}
	if ((size_t)used < n) {
		free(out);
		return bad(r, "bytes after the end of the chunked body");
	}
	out[out_n] = '\0';
	r->body = out;
	r->body_len = out_n;
	return 0;
}

int http_parse_response(const char *buf, size_t len, bool eof, size_t max_body,
			struct http_response *r)
{
	const char *rest;
	size_t n;
	int ret;

	r->body = NULL;
	r->body_len = 0;
	ret = http_parse_head(buf, len, r);
	if (ret == -EAGAIN && eof)
		return bad(r, len ? "the connection ended inside the response head"
				  : "the connection ended without a response");
	if (ret)
		return ret;
	rest = buf + r->head_len;
	n = len - r->head_len;

	switch (r->framing) {
	case HTTP_BODY_NONE:
		if (n)
			return bad(r, "bytes after a response that has no body");
		return set_body(r, rest, 0);
	case HTTP_BODY_LENGTH:
		if (r->content_length > max_body)
			return too_big(r, "response body larger than the client accepts");
		if (n < r->content_length)
			return eof ? bad(r, "the connection ended before the Content-Length "
					    "of the body")
				   : -EAGAIN;
		if (n > r->content_length)
			return bad(r, "bytes after the Content-Length of the body");
		return set_body(r, rest, n);
	case HTTP_BODY_EOF:
		if (n > max_body)
			return too_big(r, "response body larger than the client accepts");
		if (!eof)
			return -EAGAIN;
		return set_body(r, rest, n);
	case HTTP_BODY_CHUNKED:
		return parse_chunked_body(rest, n, eof, max_body, r);
	}
	return bad(r, "unknown framing");
}

void http_response_free(struct http_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

const char *http_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nr_headers; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

/* The chunked coding, RFC 9112 §7.1. */

enum {
	CH_SIZE,	/* hex digits */
	CH_SIZE_WS,	/* white space after them */
	CH_EXT,		/* ;chunk-ext up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,	/* at the start of a trailer line, or of the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_ERROR,
};

void http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static ssize_t chunk_fail(struct http_chunked *c, const char *why)
{
	c->state = CH_ERROR;
	c->error = why;
	return -EBADMSG;
}

static bool is_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

ssize_t http_chunked_feed(struct http_chunked *c, const char *in, size_t n, char *out,
			  size_t *out_n)
{
	size_t i = 0, o = 0;

	*out_n = 0;
	if (c->state == CH_ERROR)
		return -EBADMSG;
	while (i < n && c->state != CH_DONE) {
		char ch = in[i];
		int v;

		if (c->state <= CH_EXT && ++c->line > HTTP_MAX_CHUNK_LINE)
			return chunk_fail(c, "chunk size line too long");
		if ((c->state == CH_TRAILER || c->state == CH_TRAILER_LINE) &&
		    (++c->line > HTTP_MAX_CHUNK_LINE || ++c->trailer > HTTP_MAX_HEAD))
			return chunk_fail(c, "chunked trailer too long");

		switch (c->state) {
		case CH_SIZE:
			v = hex_value(ch);
			if (v >= 0) {
				if (c->left > UINT64_MAX >> 4)
					return chunk_fail(c, "chunk size too large");
				c->left = c->left << 4 | (uint64_t)v;
				c->digits++;
				break;
			}
			if (!c->digits)
				return chunk_fail(c, "chunk size is not a hex number");
			/* fall through */
		case CH_SIZE_WS:
			if (ch == ' ' || ch == '\t')
				c->state = CH_SIZE_WS;
			else if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else
				return chunk_fail(c, "malformed chunk size line");
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (is_ctl((unsigned char)ch))
				return chunk_fail(c, "control character in a chunk extension");
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return chunk_fail(c, "chunk size line not ended by CRLF");
			c->line = 0;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t take = (size_t)MIN_(c->left, (uint64_t)(n - i));

			memcpy(out + o, in + i, take);
			o += take;
			i += take;
			c->left -= take;
			if (!c->left)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return chunk_fail(c, "chunk data not followed by CRLF");
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return chunk_fail(c, "chunk data not followed by CRLF");
			c->state = CH_SIZE;
			c->digits = 0;
			c->line = 0;
			break;
		case CH_TRAILER:
			if (ch == '\r') {
				c->state = CH_END_LF;
				break;
			}
			c->state = CH_TRAILER_LINE;
			/* fall through */
		case CH_TRAILER_LINE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (is_ctl((unsigned char)ch))
				return chunk_fail(c, "control character in a chunked trailer");
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return chunk_fail(c, "trailer line not ended by CRLF");
			c->line = 0;
			c->state = CH_TRAILER;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return chunk_fail(c, "chunked body not ended by CRLF");
			c->state = CH_DONE;
			c->done = true;
			break;
		}
		i++;
	}
	*out_n = o;
	return (ssize_t)i;
}

/* I/O. */

int http_connect(const char *socket_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int http_send(int fd, const struct http_request *rq)
{
	char head[2048];
	int n, ret;

	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: shale\r\n",
		     rq->method, rq->target);
	if (n > 0 && (size_t)n < sizeof(head)) {
		if (rq->upgrade)
			n += snprintf(head + n, sizeof(head) - (size_t)n,
				      "Connection: Upgrade\r\nUpgrade: %s\r\n", rq->upgrade_to);
		else
			n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
	}
	if (n > 0 && (size_t)n < sizeof(head) && strcmp(rq->method, "GET"))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n",
			      rq->body_len);
	if (n > 0 && (size_t)n < sizeof(head) && rq->body_len && rq->content_type)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n",
			      rq->content_type);
	if (n > 0 && (size_t)n < sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	if (n <= 0 || (size_t)n >= sizeof(head))
		return -E2BIG;
	ret = send_all(fd, head, (size_t)n);
	if (!ret && rq->body_len)
		ret = send_all(fd, rq->body, rq->body_len);
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes read (0 at the end of the stream) or -errno; deadline < 0: none. */
static ssize_t read_until(int fd, char *buf, size_t cap, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline < 0 ? -1 : deadline - now_ms();
		ssize_t n;
		int ret;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		ret = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (!ret)
			continue; /* the deadline is checked above */
		n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

int http_read_head(int fd, int timeout_ms, char *buf, size_t cap, size_t *len,
		   struct http_response *r)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	*len = 0;
	for (;;) {
		int ret = http_parse_head(buf, *len, r);
		ssize_t n;

		if (ret != -EAGAIN)
			return ret;
		n = read_until(fd, buf + *len, cap - *len, deadline);
		if (n < 0)
			return (int)n;
		if (!n) {
			r->error = *len ? "the connection ended inside the response head"
					: "the connection ended without a response";
			return -ECONNRESET;
		}
		*len += (size_t)n;
	}
}

int http_read_response(int fd, int timeout_ms, const char *have, size_t have_len,
		       struct http_response *r)
{
	/* Room for the head, a whole body, and its chunked coding. */
	const size_t max_raw = HTTP_MAX_HEAD + HTTP_MAX_BODY + HTTP_MAX_BODY / 8;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t cap = 64 * 1024, len = have_len;
	bool eof = false;
	char *buf;
	int ret;

	r->body = NULL;
	r->error = NULL;
	if (have_len > cap)
		cap = have_len;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (have_len)
		memcpy(buf, have, have_len);
	for (;;) {
		ssize_t n;

		ret = http_parse_response(buf, len, eof, HTTP_MAX_BODY, r);
		if (ret != -EAGAIN)
			break;
		if (len == cap) {
			char *bigger;

			if (cap >= max_raw) {
				ret = too_big(r, "response larger than the client accepts");
				break;
			}
			cap = MIN_(cap * 2, max_raw);
			bigger = realloc(buf, cap);
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			buf = bigger;
		}
		n = read_until(fd, buf + len, cap - len, deadline);
		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (!n)
			eof = true;
		len += (size_t)n;
	}
	free(buf);
	return ret;
}

int http_roundtrip(const char *socket_path, const struct http_request *rq, int timeout_ms,
		   struct http_response *r)
{
	int fd, ret;

	r->body = NULL;
	r->error = NULL;
	fd = http_connect(socket_path);
	if (fd < 0)
		return fd;
	ret = http_send(fd, rq);
	/* A server may answer, and close, before it reads the whole request. */
	if (!ret || ret == -EPIPE || ret == -ECONNRESET)
		ret = http_read_response(fd, timeout_ms, NULL, 0, r);
	close(fd);
	return ret;
}
