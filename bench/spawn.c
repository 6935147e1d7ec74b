/*
 * spawn: wall time of a whole process, from fork to its exit, over many
 * runs; the lifecycle benchmark's timer (busybox has no hyperfine).
 *
 *   spawn [-n RUNS] [-w WARMUP] [-t SECS] [-k] -- CMD [ARG...]
 *
 * Runs CMD WARMUP times untimed (default 3), then RUNS times (default 100),
 * each time fork + execvp + wait4, timed with CLOCK_MONOTONIC around the
 * three. The child's stdout and stderr go to /dev/null unless -k (keep).
 * Every run must exit 0 within SECS seconds (default 600; a run that takes
 * longer is killed and reported). Prints one line a script can parse:
 *
 *   spawn: runs N median_us X p90_us X min_us X max_us X maxrss_kib N
 *
 * p90 is the nearest-rank 90th percentile; maxrss_kib is the median of the
 * children's peak resident set sizes (wait4's ru_maxrss).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(child, SIGKILL);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: spawn [-n RUNS] [-w WARMUP] [-t SECS] [-k] -- CMD [ARG...]\n");
	exit(2);
}

static unsigned parse_count(const char *s, unsigned min)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < min || v > 1000000)
		usage();
	return (unsigned)v;
}

/*
 * One run of argv, killed after limit seconds; returns its wall time in us
 * and its peak RSS in KiB.
 */
static double run_once(char **argv, int devnull, unsigned limit, long *maxrss)
{
	struct rusage ru;
	double t0, t1;
	pid_t pid;
	int st;

	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("spawn: fork");
		exit(1);
	}
	if (pid == 0) {
		if (devnull >= 0) {
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	child = pid;
	alarm(limit);
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("spawn: wait4");
			exit(1);
		}
	}
	alarm(0);
	child = 0;
	t1 = now_us();
	if (timed_out) {
		fprintf(stderr, "spawn: %s did not finish in %u s; killed it\n", argv[0], limit);
		exit(1);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		if (WIFEXITED(st))
			fprintf(stderr, "spawn: %s exited with status %d\n", argv[0],
				WEXITSTATUS(st));
		else
			fprintf(stderr, "spawn: %s killed by signal %d\n", argv[0],
				WTERMSIG(st));
		exit(1);
	}
	*maxrss = ru.ru_maxrss;
	return t1 - t0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned runs = 100, warmup = 3, limit = 600;
	int keep = 0, devnull = -1, c;
	double *us;
	long *rss, dummy;

	while ((c = getopt(argc, argv, "+n:w:t:k")) != -1) {
		switch (c) {
		case 'n':
			runs = parse_count(optarg, 1);
			break;
		case 'w':
			warmup = parse_count(optarg, 0);
			break;
		case 't':
			limit = parse_count(optarg, 1);
			break;
		case 'k':
			keep = 1;
			break;
		default:
			usage();
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc)
		usage();
	argv += optind;

	if (!keep) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull < 0) {
			perror("spawn: /dev/null");
			return 1;
		}
	}
	us = calloc(runs, sizeof(*us));
	rss = calloc(runs, sizeof(*rss));
	if (!us || !rss) {
		perror("spawn");
		return 1;
	}
	/* No SA_RESTART: the alarm must interrupt wait4. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	fflush(stdout); /* nothing buffered may reach a child twice */
	for (unsigned i = 0; i < warmup; i++)
		run_once(argv, devnull, limit, &dummy);
	for (unsigned i = 0; i < runs; i++)
		us[i] = run_once(argv, devnull, limit, &rss[i]);

	qsort(us, runs, sizeof(*us), cmp_double);
	qsort(rss, runs, sizeof(*rss), cmp_long);
	printf("spawn: runs %u median_us %.1f p90_us %.1f min_us %.1f max_us %.1f maxrss_kib %ld\n",
	       runs,
	       runs % 2 ? us[runs / 2] : (us[runs / 2 - 1] + us[runs / 2]) / 2,
	       us[(runs * 9 + 9) / 10 - 1], us[0], us[runs - 1], rss[runs / 2]);
	free(us);
	free(rss);
	return 0;
}
