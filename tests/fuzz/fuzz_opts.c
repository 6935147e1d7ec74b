/*
 * `shale run`'s command line (cli/run_opts.c) and the parsers of sizes,
 * durations and MAC addresses under it (util/util.c), over any argument
 * vector: the input, split at NUL bytes, is argv[1...] after "run" (at
 * most 64 of them). The parser must never crash, must refuse with exactly
 * one message or accept with none, and what it accepts must be a run the
 * rest of shale can take: RAM a multiple of 2 MiB within the limits of
 * the guest's kind, 1 to 64 vCPUs for Linux alone, a tap for a MAC, a
 * unicast MAC, the guest's arguments the tail of argv. Each argument also
 * goes through parse_size(), parse_duration() and parse_mac() alone,
 * whose results are checked against a plain reading of the string.
 *
 * log_err() is wrapped (-Wl,--wrap=log_err, fuzz.mk) to count messages;
 * `--help` goes to /dev/null.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/pc.h"
#include "cli/run.h"
#include "fuzz.h"
#include "util/util.h"

#define MAX_ARGS 64

static unsigned messages;

void __wrap_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void __wrap_log_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	FUZZ_CHECK(line[0] != '\0');
	messages++;
}

/* "123", then k/m/g/t with an optional i and b: what parse_size() takes. */
static void check_size(const char *s)
{
	uint64_t v = 0;
	unsigned __int128 want = 0;
	const char *p = s;
	unsigned shift = 0;
	int r = parse_size(s, &v);

	while (isdigit((unsigned char)*p)) {
		want = want * 10 + (unsigned)(*p - '0');
		if (want > UINT64_MAX)
			want = (unsigned __int128)UINT64_MAX + 1; /* stays too big */
		p++;
	}
	if (p == s) {
		FUZZ_CHECK(r == -EINVAL);
		return;
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	}
	if (shift && (*p == 'i' || *p == 'I'))
		p++;
	if (shift && (*p == 'b' || *p == 'B'))
		p++;
	/* strtoull() reports digits past 64 bits before the junk after them. */
	if (*p) {
		FUZZ_CHECK(r == -EINVAL || (r == -ERANGE && want > UINT64_MAX));
		return;
	}
	want <<= shift;
	if (want > UINT64_MAX) {
		FUZZ_CHECK(r == -ERANGE);
		return;
	}
	FUZZ_CHECK(r == 0 && v == (uint64_t)want);
}

static void check_duration(const char *s)
{
	uint64_t ns = 0;

	if (parse_duration(s, &ns))
		return;
	FUZZ_CHECK(isdigit((unsigned char)s[0]) || s[0] == '.');
	FUZZ_CHECK(ns < 18000000000000000000ull);
}

static void check_mac(const char *s)
{
	uint8_t mac[6], again[6];
	char text[18];

	if (parse_mac(s, mac))
		return;
	FUZZ_CHECK(!(mac[0] & 1));
	/* Six groups of one or two hex digits, nothing else. */
	for (unsigned g = 0; g < 6; g++) {
		unsigned n = 0;

		while (n < 3 && isxdigit((unsigned char)*s)) {
			s++;
			n++;
		}
		FUZZ_CHECK(n >= 1 && n <= 2);
		FUZZ_CHECK(*s == (g < 5 ? ':' : '\0'));
		s += g < 5;
	}
	snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	FUZZ_CHECK(parse_mac(text, again) == 0 && !memcmp(mac, again, 6));
}

static void check_accepted(const struct run_opts *o, int argc, char **argv)
{
	uint64_t min = o->kernel ? 16 * MiB : 4 * MiB, max = o->kernel ? 1024 * GiB : 4 * GiB;

	FUZZ_CHECK(o->memory % (2 * MiB) == 0 && o->memory >= min && o->memory <= max);
	FUZZ_CHECK(o->cpus >= 1 && o->cpus <= PC_MAX_CPUS);
	FUZZ_CHECK(o->nr_nets <= RUN_MAX_NETS);
	for (unsigned i = 0; i < o->nr_nets; i++) {
		const struct run_net *n = &o->net[i];

		FUZZ_CHECK(!n->tap != !n->usernet);
		FUZZ_CHECK(!n->usernet_cfg.nr_fwds || n->usernet);
		FUZZ_CHECK(!n->has_mac || !(n->mac[0] & 1));
		FUZZ_CHECK(!n->tap || n->tap[0]);
	}
	FUZZ_CHECK(o->nr_disks <= RUN_MAX_DISKS);
	for (unsigned i = 0; i < o->nr_disks; i++)
		FUZZ_CHECK(o->disk[i].path && o->disk[i].path[0] &&
			   (!o->disk[i].serial || strlen(o->disk[i].serial) <= 20));
	FUZZ_CHECK(!o->user_set || (!o->no_sandbox && geteuid() == 0));
	if (o->kernel) {
		FUZZ_CHECK(!o->guest);
		return;
	}
	FUZZ_CHECK(o->nr_disks <= 1 && (!o->nr_disks || !o->disk[0].serial));
	FUZZ_CHECK(o->nr_nets <= 1);
	FUZZ_CHECK(o->cpus == 1 && !o->initrd && !o->cmdline && !o->reboot_exit);
	FUZZ_CHECK(o->argc >= 0 && o->argv + o->argc == argv + argc);
	if (o->guest) {
		int i = 1;

		while (i < argc && argv[i] != o->guest)
			i++;
		FUZZ_CHECK(i < argc && o->argv >= argv + i + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct run_opts o;
	int argc = 1, r;

	if (!quiet) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			abort();
		close(fd);
		quiet = true;
	}
	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "run";
	for (char *p = buf; p < buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	for (int i = 1; i < argc; i++) {
		check_size(argv[i]);
		check_duration(argv[i]);
		check_mac(argv[i]);
	}

	messages = 0;
	log_verbose = false;
	r = run_parse_opts(&o, argc, argv);
	log_verbose = false;
	switch (r) {
	case 0:
		FUZZ_CHECK(messages == 0);
		check_accepted(&o, argc, argv);
		break;
	case 1:
		FUZZ_CHECK(messages == 0); /* --help */
		break;
	case -EINVAL:
		FUZZ_CHECK(messages == 1);
		break;
	default:
		FUZZ_CHECK(!"run_parse_opts() returned something else");
	}
	free(buf);
	return 0;
}
