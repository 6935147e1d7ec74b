#include "daemon/metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/util.h"

void metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!t->buf && t->cap)
		return; /* out of memory before */
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt,
			      ap);
		va_end(ap);
		if (n < 0)
			return;
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = MAX(t->cap * 2, t->len + (size_t)n + 4096);
		char *b = realloc(t->buf, cap);

		if (!b) {
			free(t->buf);
			t->buf = NULL;
			t->cap = 1;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

static bool name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");

	return n >= 1 && n <= 32 && !s[n];
}

static bool counter(json_object *v, unsigned long long *out)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*out = (unsigned long long)json_object_get_uint64(v);
	return true;
}

void metrics_vm_stats(struct metrics_text *t, const char *vm, json_object *st)
{
	static const char *const devs[] = { "block", "net" };
	unsigned long long n;
	json_object *v;

	if (json_object_object_get_ex(st, "exits", &v) && json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, reason, val)
			if (name_ok(reason) && counter(val, &n))
				metrics_printf(t, "shale_vm_exits_total{vm=\"%s\",reason=\"%s\"} %llu\n",
					       vm, reason, n);
	}
	for (size_t i = 0; i < ARRAY_SIZE(devs); i++) {
		if (!json_object_object_get_ex(st, devs[i], &v) ||
		    !json_object_is_type(v, json_type_object))
			continue;
		json_object_object_foreach(v, key, val)
			if (name_ok(key) && counter(val, &n))
				metrics_printf(t, "shale_vm_%s_%s_total{vm=\"%s\"} %llu\n", devs[i],
					       key, vm, n);
	}
	if (json_object_object_get_ex(st, "console_bytes", &v) && counter(v, &n))
		metrics_printf(t, "shale_vm_console_bytes_total{vm=\"%s\"} %llu\n", vm, n);
}
