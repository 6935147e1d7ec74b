/*
 * A stand-in for libFuzzer, so the harnesses run as regression tests with
 * any compiler: every file named on the command line (or found in a
 * directory named there) goes through LLVMFuzzerTestOneInput(), then
 * -mutations=N mutants of each, made by a fixed-seed generator so that a
 * run is the same on every machine.
 *
 *   fuzz_elf-standalone [-mutations=N] [-seed=N] [-max_len=N]
 *                       [-artifact_prefix=PATH] [-close_fd_mask=2] PATH...
 *
 * A crash, sanitizer report or broken invariant saves the input as
 * PREFIXcrash-HASH; running the binary on that file alone reproduces it.
 * -close_fd_mask=2 keeps the code under test quiet: its stderr goes to a
 * scratch file that is printed only for the input that failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

/* From the sanitizer runtimes, when linked in (common_interface_defs.h). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/*
 * Read by the UBSan runtime at start-up. GCC's UBSan has a runtime of its
 * own that the death callback does not reach; making it abort() sends it
 * through our SIGABRT handler instead.
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:abort_on_error=1";
}

struct input {
	char *path;
	uint8_t *data;
	size_t size;
};

static struct input *inputs;
static size_t nr_inputs;

static const char *artifact_prefix = "./";
static const char *prog;
static int report_fd = STDERR_FILENO; /* the real stderr */
static int capture_fd = -1;           /* the code's stderr with -close_fd_mask=2 */

/* What is running now, for the crash report. */
static const uint8_t *cur_data;
static size_t cur_size;
static const char *cur_path;
static unsigned long cur_mutation; /* 0: the file itself */

/* Crash reporting, from a signal handler or a sanitizer's death callback. */

static void put_str(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(report_fd, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void put_ulong(unsigned long v)
{
	char buf[24];
	size_t i = sizeof(buf);

	buf[--i] = '\0';
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i);
	put_str(buf + i);
}

static void report_crash(void)
{
	static bool reported;
	static const char hex[] = "0123456789abcdef";
	char path[4096];
	uint64_t h = 0xcbf29ce484222325ull;
	size_t n;
	int fd;

	if (reported || !cur_data)
		return;
	reported = true;

	/* What the code under test and the sanitizers printed for this input. */
	if (capture_fd >= 0) {
		char buf[4096];
		ssize_t r;

		lseek(capture_fd, 0, SEEK_SET);
		while ((r = read(capture_fd, buf, sizeof(buf))) > 0)
			if (write(report_fd, buf, (size_t)r) < 0)
				break;
	}

	for (size_t i = 0; i < cur_size; i++)
		h = (h ^ cur_data[i]) * 0x100000001b3ull;
	n = strlen(artifact_prefix);
	if (n > sizeof(path) - 32)
		n = sizeof(path) - 32;
	memcpy(path, artifact_prefix, n);
	memcpy(path + n, "crash-", 6);
	n += 6;
	for (int i = 60; i >= 0; i -= 4)
		path[n++] = hex[(h >> i) & 0xf];
	path[n] = '\0';

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		size_t done = 0;

		while (done < cur_size) {
			ssize_t w = write(fd, cur_data + done, cur_size - done);

			if (w <= 0)
				break;
			done += (size_t)w;
		}
		close(fd);
	}
	put_str(prog);
	put_str(": failed on ");
	put_str(cur_path);
	if (cur_mutation) {
		put_str(", mutation ");
		put_ulong(cur_mutation);
	}
	put_str(" (");
	put_ulong(cur_size);
	put_str(" bytes), saved as ");
	put_str(fd >= 0 ? path : "(could not save)");
	put_str("\n");
}

static void crash_signal(int sig)
{
	report_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_crash_handlers(void)
{
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(report_crash);
	/* The sanitizers handle faults themselves; abort() is ours in any case. */
	signal(SIGABRT, crash_signal);
	if (!__sanitizer_set_death_callback) {
		signal(SIGSEGV, crash_signal);
		signal(SIGBUS, crash_signal);
		signal(SIGFPE, crash_signal);
		signal(SIGILL, crash_signal);
	}
}

/*
 * The code under test, and the sanitizers, write to a scratch file that
 * is emptied before each input; report_crash() copies it to the real
 * stderr, so only the failing input's output is seen.
 */
static void quiet_stderr(void)
{
	/*
	 * Well above the low numbers, which the sanitizers' symbolizer
	 * closes and reuses while it prints a report.
	 */
	int saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100);
	int fd = memfd_create("stderr", MFD_CLOEXEC);

	if (saved < 0 || fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("quiet stderr");
		exit(2);
	}
	close(fd);
	report_fd = saved;
	capture_fd = STDERR_FILENO;
}

static void run_one(const uint8_t *data, size_t size)
{
	if (capture_fd >= 0 && ftruncate(capture_fd, 0) == 0)
		lseek(capture_fd, 0, SEEK_SET);
	cur_data = data;
	cur_size = size;
	LLVMFuzzerTestOneInput(data, size);
}

/* Loading the corpus. */

static void add_input(const char *path)
{
	struct input *in;
	struct stat st;
	FILE *f;

	inputs = realloc(inputs, (nr_inputs + 1) * sizeof(*inputs));
	if (!inputs) {
		perror("realloc");
		exit(2);
	}
	in = &inputs[nr_inputs++];
	in->path = strdup(path);
	f = fopen(path, "rb");
	if (!in->path || !f || fstat(fileno(f), &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(2);
	}
	in->size = (size_t)st.st_size;
	/* Exactly the file's size, so a read past its end is caught. */
	in->data = malloc(in->size ? in->size : 1);
	if (!in->data || fread(in->data, 1, in->size, f) != in->size) {
		fprintf(stderr, "%s: %s: cannot read\n", prog, path);
		exit(2);
	}
	fclose(f);
}

static void add_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n;

	if (stat(path, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		add_input(path);
		return;
	}
	/* Sorted, so the mutants are the same whatever the directory order. */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		char full[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
			if (!stat(full, &st) && S_ISREG(st.st_mode))
				add_input(full);
		}
		free(names[i]);
	}
	free(names);
}

/* Mutations. */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Values that sit on the edges parsers get wrong. */
static uint64_t interesting(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 7, 8, 15, 16, 32, 56, 64, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200,
		0xfff, 0x1000, 0x1001, 0x7fff, 0x8000, 0xffff, 0x10000, 0x100000, 0x1000000,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
		0x8000000000000000ull, 0xfffffffffffff000ull, 0xffffffffffffff00ull,
		0xfffffffffffffffeull, 0xffffffffffffffffull,
	};
	uint64_t x = v[rnd_below(sizeof(v) / sizeof(v[0]))];

	switch (rnd_below(4)) {
	case 0:
		return x - 1;
	case 1:
		return x + 1;
	default:
		return x;
	}
}

/* Applies one mutation to buf[0..*size), which has room for cap bytes. */
static void mutate_once(uint8_t *buf, size_t *size, size_t cap)
{
	size_t n = *size;
	size_t at = rnd_below(n);

	switch (rnd_below(11)) {
	case 0: /* flip a bit */
		if (n)
			buf[at] ^= (uint8_t)(1u << rnd_below(8));
		break;
	case 1: /* a random byte */
		if (n)
			buf[at] = (uint8_t)rnd();
		break;
	case 2: /* an interesting byte */
		if (n)
			buf[at] = (uint8_t)interesting();
		break;
	case 3: { /* an interesting 2-, 4- or 8-byte little-endian word */
		size_t w = (size_t)1 << (1 + rnd_below(3));
		uint64_t v = interesting();

		if (n >= w) {
			at = rnd_below(n - w + 1);
			/* Aligned more often than not: most fields are. */
			if (rnd_below(4))
				at &= ~(w - 1);
			memcpy(buf + at, &v, w);
		}
		break;
	}
	case 4: { /* add a small delta to a word */
		size_t w = (size_t)1 << rnd_below(4);
		uint64_t v = 0;

		if (n >= w) {
			at = rnd_below(n - w + 1) & ~(w - 1);
			memcpy(&v, buf + at, w);
			v += (uint64_t)(int64_t)((int)rnd_below(65) - 32);
			memcpy(buf + at, &v, w);
		}
		break;
	}
	case 5: { /* insert random bytes */
		size_t k = 1 + rnd_below(16);

		if (n + k <= cap) {
			at = rnd_below(n + 1);
			memmove(buf + at + k, buf + at, n - at);
			for (size_t i = 0; i < k; i++)
				buf[at + i] = (uint8_t)rnd();
			*size = n + k;
		}
		break;
	}
	case 6: { /* erase a range */
		size_t k = 1 + rnd_below(n < 64 ? n : 64);

		if (n && k <= n - at) {
			memmove(buf + at, buf + at + k, n - at - k);
			*size = n - k;
		}
		break;
	}
	case 7: /* truncate */
		*size = rnd_below(n + 1);
		break;
	case 8: { /* copy a chunk within the input */
		size_t from = rnd_below(n), k;

		if (n) {
			k = 1 + rnd_below(n - (from > at ? from : at));
			memmove(buf + at, buf + from, k);
		}
		break;
	}
	case 9: { /* splice in part of another corpus file */
		const struct input *o = &inputs[rnd_below(nr_inputs)];
		size_t from = rnd_below(o->size), k;

		if (o->size && n) {
			k = 1 + rnd_below(o->size - from);
			if (k > n - at)
				k = n - at;
			memcpy(buf + at, o->data + from, k);
		}
		break;
	}
	default: /* set a run of bytes to one value */
		if (n) {
			size_t k = 1 + rnd_below(n - at < 32 ? n - at : 32);

			memset(buf + at, rnd_below(2) ? 0 : 0xff, k);
		}
		break;
	}
}

static unsigned long parse_ulong(const char *arg, const char *val)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 0);
	if (errno || end == val || *end) {
		fprintf(stderr, "%s: bad value in %s\n", prog, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long mutations = 1000, seed = 1, max_len = 1 << 20, done = 0;
	bool quiet = false;
	struct timespec t0, t1;
	uint8_t *scratch;

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "-mutations=", 11))
			mutations = parse_ulong(a, a + 11);
		else if (!strncmp(a, "-seed=", 6))
			seed = parse_ulong(a, a + 6);
		else if (!strncmp(a, "-max_len=", 9))
			max_len = parse_ulong(a, a + 9);
		else if (!strncmp(a, "-artifact_prefix=", 17))
			artifact_prefix = a + 17;
		else if (!strncmp(a, "-close_fd_mask=", 15))
			quiet = parse_ulong(a, a + 15) & 2;
		else if (a[0] == '-')
			fprintf(stderr, "%s: ignoring %s\n", prog, a);
		else
			add_path(a);
	}
	if (!nr_inputs) {
		fprintf(stderr, "usage: %s [-mutations=N] [-seed=N] [-max_len=N] "
			"[-artifact_prefix=PATH] [-close_fd_mask=2] FILE-OR-DIR...\n", prog);
		return 2;
	}
	if (quiet)
		quiet_stderr();
	install_crash_handlers();
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (size_t i = 0; i < nr_inputs; i++) {
		const struct input *in = &inputs[i];
		size_t cap = in->size + 64 > max_len ? in->size + 64 : max_len;

		cur_path = in->path;
		cur_mutation = 0;
		run_one(in->data, in->size);

		scratch = malloc(cap);
		if (!scratch) {
			perror("malloc");
			return 2;
		}
		rng_state = seed * 0x2545f4914f6cdd1dull + i;
		for (unsigned long m = 1; m <= mutations; m++) {
			size_t size = in->size;
			unsigned k = 1 + (unsigned)rnd_below(4);
			uint8_t *exact;

			memcpy(scratch, in->data, in->size);
			while (k--)
				mutate_once(scratch, &size, cap);
			/* Again exactly sized, for the sanitizers' sake. */
			exact = malloc(size ? size : 1);
			if (!exact) {
				perror("malloc");
				return 2;
			}
			memcpy(exact, scratch, size);
			cur_mutation = m;
			run_one(exact, size);
			cur_data = NULL;
			free(exact);
			done++;
		}
		free(scratch);
	}

	clock_gettime(CLOCK_MONOTONIC, &t1);
	dprintf(report_fd, "%s: %zu inputs, %lu mutations, no failures (%.2f s)\n", prog,
		nr_inputs, done,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (size_t i = 0; i < nr_inputs; i++) {
		free(inputs[i].path);
		free(inputs[i].data);
	}
	free(inputs);
	return 0;
}
