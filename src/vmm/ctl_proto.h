/*
 * The control socket's wire format (`shale run --control`): one JSON
 * object per line, {"op": OP}, at most CTL_LINE_MAX bytes before the
 * newline. Pure functions, no I/O: fuzzed (tests/fuzz/fuzz_ctl.c).
 */
#ifndef SHALE_VMM_CTL_PROTO_H
#define SHALE_VMM_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_LINE_MAX 4096

enum ctl_op {
	CTL_OP_INFO,
	CTL_OP_STATS,
	CTL_OP_PAUSE,
	CTL_OP_RESUME,
	CTL_OP_SHUTDOWN,
	CTL_OP_KILL,
	CTL_OP_CONSOLE,
	CTL_OP_BALLOON, /* {"op":"balloon","target_mib":N} */
	CTL_OP_NR,
};

enum ctl_parse {
	CTL_PARSE_OK,
	CTL_PARSE_BAD_REQUEST, /* JSON, but not a request we know: reply, go on */
	CTL_PARSE_BAD_JSON,    /* not one JSON value: reply, then close */
};

/*
 * Parses one request line (without its newline; need not be NUL
 * terminated). On CTL_PARSE_OK sets *op; otherwise writes why into
 * why[why_size] (a sentence for the error reply). Fields besides "op"
 * are ignored, for later versions.
 */
enum ctl_parse ctl_parse_request(const char *line, size_t len, enum ctl_op *op, char *why,
				 size_t why_size);

/*
 * An op's unsigned integer argument `key` (balloon's "target_mib") from
 * a line: 0 and *value when it is a JSON integer from 0 to `max`; -1
 * with why (a sentence for the error reply) when not.
 */
int ctl_parse_uint(const char *line, size_t len, const char *key, uint64_t max,
		   uint64_t *value, char *why, size_t why_size);

/* "info", "stats", ...: the op's name on the wire. */
const char *ctl_op_name(enum ctl_op op);

#endif
