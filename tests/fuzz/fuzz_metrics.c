/*
 * What shaled's /v1/metrics makes of a VMM's reply to "stats"
 * (daemon/metrics.c). The VMM runs the guest, and a guest that took it
 * over writes the reply: the input is that line, parsed as shaled's
 * vmmctl.c parses it. Whatever it holds, every line that comes out must
 * be a well-formed sample of the VM it is asked about, one of
 *
 *   shale_vm_exits_total{vm="NAME",reason="R"} N
 *   shale_vm_block_K_total{vm="NAME"} N, shale_vm_net_K_total{vm="NAME"} N
 *   shale_vm_console_bytes_total{vm="NAME"} N
 *
 * with R and K of 1-32 [a-z0-9_] and N a decimal counter: no reply may
 * add a line, a label, a comment or another VM's figures to the page.
 */
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/metrics.h"
#include "fuzz.h"

#define VM "vm-1.a_b"

/* Skips 1-32 of [a-z0-9_] at *p. */
static bool word(const char **p)
{
	size_t n = strspn(*p, "abcdefghijklmnopqrstuvwxyz0123456789_");

	if (n < 1 || n > 32)
		return false;
	*p += n;
	return true;
}

static bool skip(const char **p, const char *s)
{
	size_t n = strlen(s);

	if (strncmp(*p, s, n))
		return false;
	*p += n;
	return true;
}

/* One line, without its newline. */
static bool sample_ok(const char *p)
{
	size_t n;

	if (skip(&p, "shale_vm_exits_total{vm=\"" VM "\",reason=\"")) {
		if (!word(&p) || !skip(&p, "\"} "))
			return false;
	} else if (skip(&p, "shale_vm_console_bytes_total{vm=\"" VM "\"} ")) {
	} else if (skip(&p, "shale_vm_block_") || skip(&p, "shale_vm_net_")) {
		const char *end = strstr(p, "_total{vm=\"" VM "\"} ");

		if (!end)
			return false;
		for (const char *q = end; q > p; q--)
			if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_", q[-1]))
				return false;
		if (end == p || end - p > 32)
			return false;
		p = end + strlen("_total{vm=\"" VM "\"} ");
	} else {
		return false;
	}
	n = strspn(p, "0123456789");
	return n >= 1 && n <= 20 && !p[n];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct metrics_text t = { 0 };
	json_object *o;

	if (!tok)
		abort();
	/* vmmctl.c reads replies of up to 16 KiB. */
	if (size > 16384)
		size = 16384;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!o)
		return 0;
	metrics_vm_stats(&t, VM, o);
	json_object_put(o);
	for (char *line = t.buf, *nl; line && line < t.buf + t.len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(t.buf + t.len - line));
		FUZZ_CHECK(nl != NULL);
		*nl = '\0';
		FUZZ_CHECK(sample_ok(line));
	}
	free(t.buf);
	return 0;
}
