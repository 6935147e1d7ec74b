/*
 * A small, strict HTTP/1.1 client for shaled's API over a Unix socket
 * (RFC 9112): one request per connection, request bodies with
 * Content-Length, responses framed by Content-Length, chunked transfer
 * coding or the end of the connection. Anything else is refused with a
 * sentence saying what was wrong.
 *
 * The parsers are pure: bytes in, a struct out, no I/O, so that the unit
 * tests and the fuzz harness can feed them anything. The I/O functions
 * below them use them.
 */
#ifndef SHALE_CLI_HTTP_H
#define SHALE_CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bounds on what a response may make the client hold. */
#define HTTP_MAX_HEAD (16 * 1024)	/* status line and headers, CRLF CRLF included */
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_CHUNK_LINE 1024	/* chunk size, extensions, and each trailer line */
#define HTTP_MAX_BODY (16u * 1024 * 1024)

struct http_header {
	const char *name;	/* as sent; compare with strcasecmp */
	const char *value;	/* optional white space around it removed */
};

enum http_framing {
	HTTP_BODY_NONE,		/* 1xx, 204, 304: the head is all */
	HTTP_BODY_LENGTH,	/* Content-Length */
	HTTP_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP_BODY_EOF,		/* neither: the body ends with the connection */
};

/* An incremental decoder of the chunked transfer coding (RFC 9112 §7.1). */
struct http_chunked {
	int state;
	uint64_t left;		/* data bytes left in this chunk */
	size_t line;		/* bytes of the current size or trailer line */
	size_t trailer;		/* bytes of trailer section so far */
	unsigned digits;
	bool done;		/* the last chunk and the trailers were read */
	const char *error;	/* set when http_chunked_feed() fails */
};

struct http_response {
	int version_minor;	/* HTTP/1.x */
	int status;		/* 100-599 */
	const char *reason;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nr_headers;
	size_t head_len;	/* bytes of the input the head took */
	enum http_framing framing;
	uint64_t content_length;
	/* Filled by http_parse_response(): owned, NUL-terminated, may be NULL when empty. */
	char *body;
	size_t body_len;
	/* Why parsing failed: a static sentence, NULL otherwise. */
	const char *error;
	char head[HTTP_MAX_HEAD + 1];	/* the head's text, split into the strings above */
};

/*
 * The status line and headers at the start of buf[0..len).
 *   0        complete: r->head_len bytes were the head, what follows is the body
 *   -EAGAIN  incomplete: more bytes are needed
 *   -EBADMSG malformed, -E2BIG beyond the bounds above: r->error says why
 * The framing rules (RFC 9112 §6.3) are checked here: conflicting or
 * unparsable Content-Length, a transfer coding other than chunked, both
 * Transfer-Encoding and Content-Length are errors.
 */
int http_parse_head(const char *buf, size_t len, struct http_response *r);

/*
 * A whole response in buf[0..len): the head, then the body, decoded, into
 * r->body. eof says the connection has ended, so that len is all there is.
 *   0        complete (release r->body with http_response_free())
 *   -EAGAIN  incomplete and !eof
 *   -EBADMSG malformed, truncated (eof before the end), or bytes after the end
 *   -E2BIG   head or body beyond the bounds (max_body for the decoded body)
 *   -ENOMEM
 */
int http_parse_response(const char *buf, size_t len, bool eof, size_t max_body,
			struct http_response *r);

void http_response_free(struct http_response *r);

/* The value of the first header called name (any case), or NULL. */
const char *http_header(const struct http_response *r, const char *name);

void http_chunked_init(struct http_chunked *c);
/*
 * Decodes in[0..n) into out, which has room for n bytes (decoded data is
 * never longer than its coding), and stores the data's length in *out_n.
 * Returns the bytes of input taken: n, or fewer once the coding ends
 * (c->done). -EBADMSG on a malformed coding, with c->error.
 */
ssize_t http_chunked_feed(struct http_chunked *c, const char *in, size_t n, char *out,
			  size_t *out_n);

/* The I/O side. Functions returning int return 0 or -errno. */

struct http_request {
	const char *method;
	const char *target;		/* "/v1/vms", already percent-safe */
	const char *content_type;	/* with a body */
	const char *body;
	size_t body_len;
	bool upgrade;			/* Connection: Upgrade, Upgrade: upgrade_to */
	const char *upgrade_to;
};

/* A connected stream socket, or -errno (-ENAMETOOLONG: path too long for sun_path). */
int http_connect(const char *socket_path);

/* Writes the request; the connection closes after it unless rq->upgrade. */
int http_send(int fd, const struct http_request *rq);

/*
 * Reads until buf holds a complete head (with http_parse_head() into r).
 * buf has room for cap bytes, cap > HTTP_MAX_HEAD; *len is what it holds,
 * which may include body bytes past r->head_len. timeout_ms < 0: none.
 * -ETIMEDOUT, -ECONNRESET (closed before the head), -EBADMSG, -E2BIG.
 */
int http_read_head(int fd, int timeout_ms, char *buf, size_t cap, size_t *len,
		   struct http_response *r);

/*
 * Reads the rest of a response whose first have_len bytes were read
 * already, and parses it into r (http_parse_response()). -ETIMEDOUT when
 * it is not complete within timeout_ms (< 0: no limit).
 */
int http_read_response(int fd, int timeout_ms, const char *have, size_t have_len,
		       struct http_response *r);

/*
 * One request, one response: connects, sends, reads the whole response
 * within timeout_ms and parses it into r, whatever its status.
 */
int http_roundtrip(const char *socket_path, const struct http_request *rq, int timeout_ms,
		   struct http_response *r);

#endif
