/*
 * The API's routing and the small bodies and arguments it reads itself;
 * VM definitions are vmdef.c's. Everything here comes from a client of
 * the socket, so every length is checked before a copy.
 */
#include "daemon/api_req.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/json.h"

static void __attribute__((format(printf, 3, 4)))
refuse(struct api_req *req, unsigned status, const char *fmt, ...)
{
	va_list ap;

	req->op = API_ERROR;
	req->status = status;
	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
}

static void bad_method(struct api_req *req, const char *allow)
{
	req->op = API_BAD_METHOD;
	req->allow = allow;
}

/* A decimal number up to max, digits only. */
static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/*
 * The body of an action: empty, or one JSON object whose only allowed
 * field is `field` (an integer from 0 to max, stored in *value).
 */
static bool action_body(const char *body, size_t len, const char *field, uint64_t max,
			uint64_t *value, struct api_req *req)
{
	json_object *o;
	bool ok = true;
	char why[128];

	if (!len)
		return true;
	o = json_parse_whole(body, len, 8, 0, why, sizeof(why));
	if (!o || !json_object_is_type(o, json_type_object)) {
		refuse(req, 400, "bad JSON body: %s", o ? "not an object" : why);
		ok = false;
	} else {
		json_object_object_foreach(o, key, v) {
			if (field && !strcmp(key, field) && json_object_is_type(v, json_type_int) &&
			    json_object_get_int64(v) >= 0 &&
			    (uint64_t)json_object_get_int64(v) <= max) {
				*value = (uint64_t)json_object_get_int64(v);
				continue;
			}
			if (field && !strcmp(key, field))
				refuse(req, 400, "%s: want an integer from 0 to %llu", key,
				       (unsigned long long)max);
			else
				refuse(req, 400, "unknown field '%.64s'", key);
			ok = false;
			break;
		}
	}
	json_object_put(o);
	return ok;
}

static const struct {
	const char *name;
	enum api_op op;
} actions[] = {
	{ "start", API_START },   { "pause", API_PAUSE }, { "resume", API_RESUME },
	{ "shutdown", API_SHUTDOWN }, { "kill", API_KILL },   { "reboot", API_REBOOT },
};

static void vm_action(const char *method, const char *action, const struct api_query *q,
		      const char *body, size_t len, struct api_req *req)
{
	if (!strcmp(action, "stats") || !strcmp(action, "logs") || !strcmp(action, "console")) {
		uint64_t v;

		if (strcmp(method, "GET"))
			return bad_method(req, "GET");
		req->op = !strcmp(action, "stats") ? API_STATS :
			  !strcmp(action, "logs")  ? API_LOGS :
						     API_CONSOLE;
		if (req->op != API_LOGS)
			return;
		req->log_bytes = API_LOGS_DEFAULT;
		if (q->bytes) {
			if (!parse_number(q->bytes, API_LOGS_MAX, &v))
				return refuse(req, 400, "bytes: want a number up to %u",
					      API_LOGS_MAX);
			req->log_bytes = (size_t)v;
		}
		return;
	}
	if (strcmp(method, "POST"))
		return bad_method(req, "POST");
	if (!strcmp(action, "balloon")) {
		req->target_mib = UINT64_MAX;
		if (!action_body(body, len, "target_mib", API_BALLOON_MAX_MIB, &req->target_mib,
				 req))
			return;
		if (req->target_mib == UINT64_MAX)
			return refuse(req, 400, "target_mib: missing (the balloon's size, MiB)");
		req->op = API_BALLOON;
		return;
	}
	req->timeout_ms = API_SHUTDOWN_DEFAULT_MS;
	if (!action_body(body, len, !strcmp(action, "shutdown") ? "timeout_ms" : NULL,
			 API_SHUTDOWN_MAX_MS, &req->timeout_ms, req))
		return;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (!strcmp(action, actions[i].name)) {
			req->op = actions[i].op;
			return;
		}
	}
	refuse(req, 404, "no such action");
}

void api_req_parse(const char *method, const char *url, const struct api_query *q,
		   const char *body, size_t len, struct api_req *req)
{
	static const struct api_query none;
	const char *rest, *slash, *action;
	size_t n;

	memset(req, 0, sizeof(*req));
	if (!q)
		q = &none;
	if (!body)
		len = 0;
	if (len && memchr(body, '\0', len))
		return refuse(req, 400, "request body contains a NUL byte");
	if (!strcmp(url, "/v1/vms")) {
		if (!strcmp(method, "GET"))
			req->op = API_LIST;
		else if (!strcmp(method, "POST"))
			req->op = API_CREATE;
		else
			bad_method(req, "GET, POST");
		return;
	}
	if (!strcmp(url, "/v1/host") || !strcmp(url, "/v1/metrics") || !strcmp(url, "/v1/events")) {
		if (strcmp(method, "GET"))
			return bad_method(req, "GET");
		req->op = url[4] == 'h' ? API_HOST : url[4] == 'm' ? API_METRICS : API_EVENTS;
		if (req->op == API_EVENTS && q->since) {
			if (!parse_number(q->since, UINT64_MAX, &req->since))
				return refuse(req, 400, "since: want an event number");
			req->has_since = true;
		}
		return;
	}
	if (strncmp(url, "/v1/vms/", 8))
		return refuse(req, 404, "no such resource (see docs/api.md)");
	rest = url + 8;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n > VMDEF_NAME_MAX)
		return refuse(req, 404, "no VM with so long a name");
	memcpy(req->name, rest, n);
	req->name[n] = '\0';
	if (!vmdef_name_ok(req->name))
		return refuse(req, 400,
			      "a VM name is 1-64 of A-Z a-z 0-9 . _ -, starting with a "
			      "letter or digit");
	if (!slash) {
		if (!strcmp(method, "GET")) {
			req->op = API_INFO;
		} else if (!strcmp(method, "DELETE")) {
			req->op = API_DELETE;
			req->force = q->force && (!strcmp(q->force, "1") || !strcmp(q->force, "true"));
		} else {
			bad_method(req, "GET, DELETE");
		}
		return;
	}
	action = slash + 1;
	if (strlen(action) > 15 || strchr(action, '/'))
		return refuse(req, 404, "no such action");
	vm_action(method, action, q, body, len, req);
}
