/*
 * ptyrun [-w PATTERN]... [-s TEXT]... -- CMD...: runs CMD on a new
 * pseudo-terminal, as a user at a terminal would: for each -w it waits
 * until CMD's output holds PATTERN, for each -s it types TEXT (C escapes
 * \n, \r, \xHH). Options act in order. CMD's output is copied to stdout.
 * Exits with CMD's status; 98 if a pattern did not come within 120 s; 99
 * if the terminal's settings after CMD exited differ from before (a
 * program that leaves the terminal in raw mode). The console tests use it
 * to check the escape sequence and that raw mode is undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char seen[1 << 20];
static size_t seen_len;

static size_t unescape(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		if (in[0] == '\\' && in[1] == 'n') {
			out[n++] = '\n';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'r') {
			out[n++] = '\r';
			in += 2;
		} else if (in[0] == '\\' && in[1] == 'x' && in[2] && in[3]) {
			char hex[3] = { in[2], in[3], 0 };

			out[n++] = (char)strtol(hex, NULL, 16);
			in += 4;
		} else {
			out[n++] = *in++;
		}
	}
	return n;
}

/* Copies what the child printed; false at end of output. */
static int pump(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 1;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	fwrite(buf, 1, (size_t)n, stdout);
	fflush(stdout);
	if (seen_len + (size_t)n < sizeof(seen) - 1) {
		memcpy(seen + seen_len, buf, (size_t)n);
		seen_len += (size_t)n;
		seen[seen_len] = '\0';
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct termios before, after;
	int master, slave, status, first = 1;
	pid_t pid;

	while (first < argc && strcmp(argv[first], "--"))
		first++;
	if (first + 1 >= argc) {
		fprintf(stderr, "usage: ptyrun [-w PATTERN] [-s TEXT]... -- CMD...\n");
		return 2;
	}
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0 || tcgetattr(slave, &before) < 0) {
		perror("openpty");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(master);
		execvp(argv[first + 1], argv + first + 1);
		_exit(127);
	}
	for (int i = 1; i < first; i += 2) {
		if (i + 1 >= first)
			return 2;
		if (!strcmp(argv[i], "-w")) {
			time_t end = time(NULL) + 120;

			while (!strstr(seen, argv[i + 1])) {
				if (time(NULL) > end || !pump(master, 1000)) {
					fprintf(stderr, "ptyrun: no '%s' in the output\n", argv[i + 1]);
					kill(pid, SIGKILL);
					return 98;
				}
			}
		} else if (!strcmp(argv[i], "-s")) {
			char text[4096];
			size_t n = unescape(argv[i + 1], text);

			if (write(master, text, n) != (ssize_t)n)
				perror("write");
		} else {
			return 2;
		}
	}
	/* The slave stays open here (its settings are checked below), so the
	 * master never reports the end: watch the child instead. */
	for (time_t end = time(NULL) + 300;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		pump(master, 100);
	}
	while (pump(master, 0) && seen_len < sizeof(seen) - 1) {
		struct pollfd p = { .fd = master, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	if (tcgetattr(slave, &after) < 0 || after.c_lflag != before.c_lflag ||
	    after.c_iflag != before.c_iflag || after.c_oflag != before.c_oflag) {
		fprintf(stderr, "ptyrun: the terminal was not restored\n");
		return 99;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
