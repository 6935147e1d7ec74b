#include "vmm/ctl_proto.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "util/json.h"

/* Requests are flat objects: a deeper nest is refused before it costs anything. */
#define CTL_JSON_DEPTH 8

static const char *const op_names[CTL_OP_NR] = {
	[CTL_OP_INFO] = "info",
	[CTL_OP_STATS] = "stats",
	[CTL_OP_PAUSE] = "pause",
	[CTL_OP_RESUME] = "resume",
	[CTL_OP_SHUTDOWN] = "shutdown",
	[CTL_OP_KILL] = "kill",
	[CTL_OP_CONSOLE] = "console",
	[CTL_OP_BALLOON] = "balloon",
};

const char *ctl_op_name(enum ctl_op op)
{
	return (unsigned)op < CTL_OP_NR ? op_names[op] : "?";
}

static enum ctl_parse lookup_op(struct json_object *req, enum ctl_op *op, char *why,
				size_t why_size)
{
	struct json_object *v;
	const char *name;
	size_t len;

	if (!json_object_is_type(req, json_type_object)) {
		snprintf(why, why_size, "a request is a JSON object such as {\"op\":\"info\"}");
		return CTL_PARSE_BAD_REQUEST;
	}
	if (!json_object_object_get_ex(req, "op", &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(why, why_size, "the request has no \"op\" string");
		return CTL_PARSE_BAD_REQUEST;
	}
	name = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	for (unsigned i = 0; i < CTL_OP_NR; i++) {
		if (strlen(op_names[i]) == len && !memcmp(op_names[i], name, len)) {
			*op = (enum ctl_op)i;
			return CTL_PARSE_OK;
		}
	}
	/* %.64s and a NUL in the name: the sentence stays short and ends there. */
	snprintf(why, why_size,
		 "unknown op \"%.64s\" (want info, stats, pause, resume, shutdown, kill, console "
		 "or balloon)",
		 name);
	return CTL_PARSE_BAD_REQUEST;
}

/* The line as one JSON value into *out (the caller puts it), or why not. */
static enum ctl_parse parse_line(const char *line, size_t len, struct json_object **out,
				 char *why, size_t why_size)
{
	char detail[128];

	*out = NULL;
	if (len > CTL_LINE_MAX) {
		snprintf(why, why_size, "request line longer than %u bytes", CTL_LINE_MAX);
		return CTL_PARSE_BAD_JSON;
	}
	*out = json_parse_whole(line, len, CTL_JSON_DEPTH, JSON_TOKENER_STRICT, detail,
				sizeof(detail));
	if (!*out) {
		snprintf(why, why_size, "invalid JSON: %s", detail);
		return CTL_PARSE_BAD_JSON;
	}
	return CTL_PARSE_OK;
}

enum ctl_parse ctl_parse_request(const char *line, size_t len, enum ctl_op *op, char *why,
				 size_t why_size)
{
	struct json_object *req;
	enum ctl_parse ret = parse_line(line, len, &req, why, why_size);

	if (ret == CTL_PARSE_OK)
		ret = lookup_op(req, op, why, why_size);
	json_object_put(req);
	return ret;
}

int ctl_parse_uint(const char *line, size_t len, const char *key, uint64_t max,
		   uint64_t *value, char *why, size_t why_size)
{
	struct json_object *req, *v;
	int ret = -1;

	if (parse_line(line, len, &req, why, why_size) != CTL_PARSE_OK)
		return -1;
	if (!json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_int)) {
		snprintf(why, why_size, "the request has no \"%s\" number", key);
	} else if (json_object_get_int64(v) < 0 || json_object_get_uint64(v) > max) {
		snprintf(why, why_size, "\"%s\" must be from 0 to %llu", key,
			 (unsigned long long)max);
	} else {
		*value = json_object_get_uint64(v);
		ret = 0;
	}
	json_object_put(req);
	return ret;
}
