/*
 * boottime: how long a VMM takes from exec until its guest prints a marker
 * line, and what the VMM process costs in memory; the Linux boot
 * benchmark's timer.
 *
 *   boottime [-t SECS] [-o FILE] [-e FILE] [-m] MARKER -- CMD [ARG...]
 *
 * Runs CMD once (fork + execvp) with its stdout and stderr on pipes, and
 * reads both until CMD exits. CLOCK_MONOTONIC is read in the child just
 * before execvp (exec_mono_ns); the first time MARKER appears on stdout is
 * timed as it arrives. wait4() gives the peak RSS (ru_maxrss). CMD is killed
 * after SECS seconds (default 120). Its stdout is copied to -o FILE and its
 * stderr to -e FILE (default: to this program's stderr). Prints one line:
 *
 *   boottime: marker=1 time_to_marker_ms=X total_ms=X maxrss_kib=N status=N
 *             exec_mono_ns=N [vmm_setup_wall_us=X vmm_setup_cpu_us=N]
 *             [vmm_setup_steps=NAME:US,...] [marker_rss_kib=N marker_ram_rss_kib=N]
 *
 * status is CMD's exit status, 128 + the signal that killed it, or
 * "timeout"; time_to_marker_ms is -1 when the marker never came.
 * vmm_setup_*: when CMD's stderr has a "first_entry_mono_ns=N" (and
 * "first_entry_cpu_us=N") line, as `shale run --stats` prints, the wall time
 * from exec to the first guest entry and CMD's CPU time by then;
 * vmm_setup_steps is its "setup_cpu_us=" field as it was (the CPU time of
 * each set-up step).
 * marker_*: with -m, /proc/PID/smaps is read when the marker arrives: the
 * whole RSS, and the RSS of the largest mapping (a VMM's guest RAM), so that
 * the VMM's own memory (the difference) can be told from the guest's.
 *
 * Exits 0 when the marker was seen and CMD exited 0, 1 otherwise.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKER_MAX 256
#define LINE_MAX_LEN 1024

static volatile pid_t child;
static volatile sig_atomic_t alarms;

/* First alarm: kill CMD. Second: stop waiting for pipes it passed on. */
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
	if (child > 0)
		kill(child, SIGKILL);
	alarm(5);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: boottime [-t SECS] [-o FILE] [-e FILE] [-m] MARKER -- CMD [ARG...]\n");
	exit(2);
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "boottime: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk must not stop the measurement */
		p += w;
		n -= (size_t)w;
	}
}

/* The unsigned number after "name=" in line, if there is one. */
static int find_u64(const char *line, const char *name, unsigned long long *v)
{
	const char *p = strstr(line, name);
	char *end;

	if (!p)
		return 0;
	p += strlen(name);
	errno = 0;
	*v = strtoull(p, &end, 10);
	return !errno && end != p;
}

/*
 * The word after "name=" in line, up to a blank, into out (size bytes);
 * only letters, digits, ':' and ',' are taken, so it can be printed as a
 * field of the result line. Leaves out alone when name is absent.
 */
static void find_word(const char *line, const char *name, char *out, size_t size)
{
	const char *p = strstr(line, name);
	size_t n = 0;

	if (!p)
		return;
	p += strlen(name);
	while (n + 1 < size && (isalnum((unsigned char)p[n]) || p[n] == ':' || p[n] == ','))
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * Sums Rss over all mappings of pid and finds the Rss of the largest one
 * (by Size). Returns 0 when smaps could not be read.
 */
static int read_smaps(pid_t pid, long *total_kib, long *largest_rss_kib)
{
	char path[64], line[512];
	long size = 0, largest = -1, rss;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	*total_kib = 0;
	*largest_rss_kib = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %ld kB", &rss) == 1) {
			size = rss;
		} else if (sscanf(line, "Rss: %ld kB", &rss) == 1) {
			*total_kib += rss;
			if (size > largest) {
				largest = size;
				*largest_rss_kib = rss;
			}
		}
	}
	fclose(f);
	return largest >= 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned limit = 120;
	const char *out_path = NULL, *err_path = NULL, *marker;
	int snapshot = 0, out_fd = -1, err_fd = STDERR_FILENO, opipe[2], epipe[2], c, st;
	char buf[65536 + MARKER_MAX], ebuf[4096], line[LINE_MAX_LEN + 1];
	size_t mlen, carry = 0, llen = 0;
	uint64_t *exec_ns, marker_ns = 0, end_ns;
	unsigned long long first_ns = 0, first_cpu_us = 0, v;
	int have_first = 0, have_cpu = 0, have_snap = 0;
	char steps[256] = "";
	long snap_total = 0, snap_ram = 0;
	struct pollfd fds[2];
	struct rusage ru;
	pid_t pid;

	while ((c = getopt(argc, argv, "+t:o:e:m")) != -1) {
		switch (c) {
		case 't': {
			char *end;
			unsigned long t = strtoul(optarg, &end, 10);

			if (!*optarg || *end || t < 1 || t > 86400)
				usage();
			limit = (unsigned)t;
			break;
		}
		case 'o':
			out_path = optarg;
			break;
		case 'e':
			err_path = optarg;
			break;
		case 'm':
			snapshot = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 3 || strcmp(argv[optind + 1], "--"))
		usage();
	marker = argv[optind];
	mlen = strlen(marker);
	if (mlen == 0 || mlen > MARKER_MAX || strchr(marker, '\n'))
		usage();
	argv += optind + 2;

	if (out_path)
		out_fd = open_out(out_path);
	if (err_path)
		err_fd = open_out(err_path);
	/* Shared with the child, which stores the time just before execvp. */
	exec_ns = mmap(NULL, sizeof(*exec_ns), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (exec_ns == MAP_FAILED || pipe2(opipe, O_CLOEXEC) || pipe2(epipe, O_CLOEXEC)) {
		perror("boottime");
		return 2;
	}
	/* No SA_RESTART: the alarm must interrupt poll and wait4. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	fflush(stdout); /* nothing buffered may reach the child twice */

	pid = fork();
	if (pid < 0) {
		perror("boottime: fork");
		return 2;
	}
	if (pid == 0) {
		dup2(opipe[1], STDOUT_FILENO);
		dup2(epipe[1], STDERR_FILENO);
		*exec_ns = now_ns();
		execvp(argv[0], argv);
		fprintf(stderr, "boottime: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child = pid;
	alarm(limit);
	close(opipe[1]);
	close(epipe[1]);
	fds[0] = (struct pollfd){ .fd = opipe[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = epipe[0], .events = POLLIN };

	while ((fds[0].fd >= 0 || fds[1].fd >= 0) && alarms < 2) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("boottime: poll");
			break;
		}
		/* stdout: look for the marker, also across two reads. */
		if (fds[0].fd >= 0 && fds[0].revents) {
			ssize_t n = read(fds[0].fd, buf + carry, sizeof(buf) - carry);

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				close(fds[0].fd);
				fds[0].fd = -1;
			} else {
				size_t have = carry + (size_t)n;

				if (!marker_ns && memmem(buf, have, marker, mlen)) {
					marker_ns = now_ns();
					if (snapshot)
						have_snap = read_smaps(pid, &snap_total, &snap_ram);
				}
				if (out_fd >= 0)
					write_all(out_fd, buf + carry, (size_t)n);
				carry = have < mlen - 1 ? have : mlen - 1;
				memmove(buf, buf + have - carry, carry);
			}
		}
		/* stderr: passed on, and scanned line by line for the VMM's stats. */
		if (fds[1].fd >= 0 && fds[1].revents) {
			ssize_t n = read(fds[1].fd, ebuf, sizeof(ebuf));

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				close(fds[1].fd);
				fds[1].fd = -1;
				continue;
			}
			write_all(err_fd, ebuf, (size_t)n);
			for (ssize_t i = 0; i < n; i++) {
				char ch = ebuf[i];

				if (ch != '\n' && llen < LINE_MAX_LEN) {
					line[llen++] = ch;
					continue;
				}
				if (ch != '\n')
					continue; /* overlong line: the rest is dropped */
				line[llen] = '\0';
				llen = 0;
				if (find_u64(line, "first_entry_mono_ns=", &v) && v) {
					first_ns = v;
					have_first = 1;
				}
				if (find_u64(line, "first_entry_cpu_us=", &v)) {
					first_cpu_us = v;
					have_cpu = 1;
				}
				find_word(line, "setup_cpu_us=", steps, sizeof(steps));
			}
		}
	}

	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("boottime: wait4");
			return 2;
		}
	}
	end_ns = now_ns();
	alarm(0);

	printf("boottime: marker=%d time_to_marker_ms=%.3f total_ms=%.3f maxrss_kib=%ld",
	       marker_ns != 0, marker_ns ? (double)(marker_ns - *exec_ns) / 1e6 : -1.0,
	       (double)(end_ns - *exec_ns) / 1e6, ru.ru_maxrss);
	if (alarms)
		printf(" status=timeout");
	else if (WIFEXITED(st))
		printf(" status=%d", WEXITSTATUS(st));
	else
		printf(" status=%d", 128 + WTERMSIG(st));
	printf(" exec_mono_ns=%llu", (unsigned long long)*exec_ns);
	if (have_first && first_ns >= *exec_ns) {
		printf(" vmm_setup_wall_us=%.1f", (double)(first_ns - *exec_ns) / 1e3);
		if (have_cpu)
			printf(" vmm_setup_cpu_us=%llu", first_cpu_us);
		if (steps[0])
			printf(" vmm_setup_steps=%s", steps);
	}
	if (have_snap)
		printf(" marker_rss_kib=%ld marker_ram_rss_kib=%ld", snap_total, snap_ram);
	printf("\n");
	if (alarms)
		fprintf(stderr, "boottime: %s did not finish in %u s; killed it\n", argv[0], limit);
	return marker_ns && !alarms && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1;
}
