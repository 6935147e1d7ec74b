/*
 * shaled's API routing (daemon/api_req.c) over any request a client of
 * the socket may send. The input is
 *
 *   METHOD NUL URL[?QUERY] NUL BODY
 *
 * (missing parts are empty); QUERY is split at '&' into NAME=VALUE pairs,
 * the first of each name counting, as libmicrohttpd hands them over after
 * decoding. Nothing may crash or read past the body's length (the body is
 * copied to a buffer of exactly that size, without a NUL after it), and
 * what comes out must be an answer the HTTP glue can give as it stands:
 *
 *   - an error has a 4xx status (500 only when out of memory) and a message;
 *   - a refused method names the methods allowed, and the method is none
 *     of them;
 *   - everything else is one of the documented requests: the method is
 *     the one it takes, the URL is exactly its path, the VM's name is a
 *     valid one and the URL names it, and the numbers read from the query
 *     and the body are within their limits.
 */
#include <string.h>

#include "daemon/api_req.h"
#include "daemon/vmdef.h"
#include "fuzz.h"

static const char *arg(const char *query, const char *name, char *buf, size_t size)
{
	size_t n = strlen(name);

	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > n && !strncmp(p, name, n) && p[n] == '=') {
			snprintf(buf, size, "%.*s", (int)(len - n - 1), p + n + 1);
			return buf;
		}
		if (len == n && !strncmp(p, name, n)) {
			buf[0] = '\0'; /* "?force": present, empty */
			return buf;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static bool is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void check(const char *method, const char *url, const struct api_query *q, size_t len,
		  const struct api_req *r)
{
	static const char *const action_name[] = {
		[API_STATS] = "stats", [API_LOGS] = "logs",   [API_CONSOLE] = "console",
		[API_START] = "start", [API_PAUSE] = "pause", [API_RESUME] = "resume",
		[API_SHUTDOWN] = "shutdown", [API_KILL] = "kill", [API_REBOOT] = "reboot",
	};
	char path[128];

	switch (r->op) {
	case API_ERROR:
		FUZZ_CHECK((r->status >= 400 && r->status < 500) || r->status == 500);
		FUZZ_CHECK(r->error[0] && memchr(r->error, '\0', sizeof(r->error)));
		return;
	case API_BAD_METHOD:
		FUZZ_CHECK(r->allow && r->allow[0]);
		for (const char *a = r->allow; a;) {
			const char *comma = strstr(a, ", ");
			size_t n = comma ? (size_t)(comma - a) : strlen(a);

			FUZZ_CHECK(n && !(strlen(method) == n && !strncmp(method, a, n)));
			a = comma ? comma + 2 : NULL;
		}
		return;
	case API_LIST:
		FUZZ_CHECK(!strcmp(method, "GET") && !strcmp(url, "/v1/vms"));
		return;
	case API_CREATE:
		FUZZ_CHECK(!strcmp(method, "POST") && !strcmp(url, "/v1/vms"));
		return;
	case API_HOST:
		FUZZ_CHECK(!strcmp(method, "GET") && !strcmp(url, "/v1/host"));
		return;
	case API_METRICS:
		FUZZ_CHECK(!strcmp(method, "GET") && !strcmp(url, "/v1/metrics"));
		return;
	case API_EVENTS:
		FUZZ_CHECK(!strcmp(method, "GET") && !strcmp(url, "/v1/events"));
		FUZZ_CHECK(r->has_since == (q->since != NULL));
		FUZZ_CHECK(!q->since || is_digits(q->since));
		return;
	default:
		break;
	}
	/* A VM's resource or action. */
	FUZZ_CHECK(r->op >= API_INFO && r->op <= API_REBOOT);
	FUZZ_CHECK(vmdef_name_ok(r->name));
	if (r->op == API_INFO || r->op == API_DELETE) {
		snprintf(path, sizeof(path), "/v1/vms/%s", r->name);
		FUZZ_CHECK(!strcmp(url, path));
		FUZZ_CHECK(!strcmp(method, r->op == API_INFO ? "GET" : "DELETE"));
		FUZZ_CHECK(!r->force || (q->force && (!strcmp(q->force, "1") ||
						      !strcmp(q->force, "true"))));
		return;
	}
	snprintf(path, sizeof(path), "/v1/vms/%s/%s", r->name, action_name[r->op]);
	FUZZ_CHECK(!strcmp(url, path));
	if (r->op <= API_CONSOLE) {
		FUZZ_CHECK(!strcmp(method, "GET"));
		if (r->op == API_LOGS) {
			FUZZ_CHECK(r->log_bytes <= API_LOGS_MAX);
			FUZZ_CHECK(q->bytes ? is_digits(q->bytes) :
					      r->log_bytes == API_LOGS_DEFAULT);
		}
		return;
	}
	FUZZ_CHECK(!strcmp(method, "POST"));
	FUZZ_CHECK(r->timeout_ms <= API_SHUTDOWN_MAX_MS);
	if (!len || r->op != API_SHUTDOWN)
		FUZZ_CHECK(r->timeout_ms == API_SHUTDOWN_DEFAULT_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nul;
	char method[64], url[4096], query[4096], bytes[4096], force[4096], since[4096];
	struct api_query q;
	struct api_req req;
	char *body;
	size_t len, n;

	nul = memchr(p, '\0', size);
	n = nul ? (size_t)(nul - p) : size;
	if (n >= sizeof(method))
		return 0;
	memcpy(method, p, n);
	method[n] = '\0';
	p = nul ? nul + 1 : end;

	nul = memchr(p, '\0', (size_t)(end - p));
	n = nul ? (size_t)(nul - p) : (size_t)(end - p);
	if (n >= sizeof(url))
		return 0;
	memcpy(url, p, n);
	url[n] = '\0';
	p = nul ? nul + 1 : end;
	query[0] = '\0';
	{
		char *qm = strchr(url, '?');

		if (qm) {
			snprintf(query, sizeof(query), "%s", qm + 1);
			*qm = '\0';
		}
	}
	q = (struct api_query){
		.bytes = arg(query, "bytes", bytes, sizeof(bytes)),
		.force = arg(query, "force", force, sizeof(force)),
		.since = arg(query, "since", since, sizeof(since)),
	};

	len = (size_t)(end - p);
	body = malloc(len ? len : 1);
	if (!body)
		abort();
	memcpy(body, p, len);
	api_req_parse(method, url, &q, len ? body : NULL, len, &req);
	check(method, url, &q, len, &req);
	free(body);
	return 0;
}
