/*
 * The text of /v1/metrics (Prometheus exposition format 0.0.4): a growing
 * buffer, and the lines a VMM's stats reply yields.
 */
#ifndef SHALE_DAEMON_METRICS_H
#define SHALE_DAEMON_METRICS_H

#include <stddef.h>

struct json_object;

/* Empty when zeroed. Out of memory: buf NULL, cap nonzero, and later prints do nothing. */
struct metrics_text {
	char *buf;
	size_t len, cap;
};

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The lines for VM `vm` (a valid VM name) from `st`, the reply of its
 * VMM to "stats". That VMM runs the guest and may be the guest's by now:
 * a key of the reply becomes part of a metric's name or label only when
 * it is 1-32 of [a-z0-9_], and only integer values are counted, so that
 * no reply can forge a line, another VM's figures or a label.
 */
void metrics_vm_stats(struct metrics_text *t, const char *vm, struct json_object *st);

#endif
