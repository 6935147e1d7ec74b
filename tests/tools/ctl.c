/*
 * A client of `shale run --control` for the integration tests.
 *
 *   ctl SOCKET LINE...      sends each LINE, prints each reply line; after
 *                           the last, "closed" if the VMM closed the
 *                           connection (within 1 s)
 *   ctl -l N SOCKET         sends one line of N bytes ('x'), as above
 *   ctl -c MS SOCKET [IN]   {"op":"console"}: prints the reply, sends IN,
 *                           then copies console bytes to stdout for MS ms
 *                           (until the VMM closes the connection)
 *   ctl -s MS SOCKET        console client that never reads, for MS ms:
 *                           prints "dropped" if the VMM closed it
 *   ctl -w MS SOCKET        waits up to MS ms for the socket to accept
 *
 * Exit status: 0, 1 on a connection or protocol failure, 2 on usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(addr.sun_path))
		return -1;
	memcpy(addr.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one line (up to 64 KiB) within ms; prints it. 0, or -1 on EOF/timeout. */
static int print_reply(int fd, int ms)
{
	static char buf[65536];
	size_t len = 0;
	long long end = now_ms() + ms;

	while (len < sizeof(buf)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		/* One byte at a time: what follows the line stays in the socket. */
		n = read(fd, buf + len, 1);
		if (n <= 0)
			return -1;
		if (buf[len++] == '\n') {
			fwrite(buf, 1, len, stdout);
			fflush(stdout);
			return 0;
		}
	}
	return -1;
}

/* "closed" if the peer closes within ms. */
static void report_close(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) > 0 && read(fd, &c, 1) <= 0)
		printf("closed\n");
}

static int requests(int fd, int nlines, char **lines)
{
	for (int i = 0; i < nlines; i++) {
		size_t len = strlen(lines[i]);
		char *buf = malloc(len + 1);

		if (!buf)
			return 1;
		memcpy(buf, lines[i], len);
		buf[len] = '\n';
		/* A VMM that refuses the line may close before it is all sent: read on. */
		send_all(fd, buf, len + 1);
		free(buf);
		if (print_reply(fd, 10000)) {
			printf("EOF\n");
			return 1;
		}
	}
	report_close(fd, 1000);
	return 0;
}

static int console(int fd, int ms, const char *in)
{
	static const char req[] = "{\"op\":\"console\"}\n";
	long long end = now_ms() + ms;
	char buf[65536];

	if (send_all(fd, req, sizeof(req) - 1) || print_reply(fd, 10000))
		return 1;
	if (in && send_all(fd, in, strlen(in)))
		return 1;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
}

static int stalled_console(int fd, int ms)
{
	static const char req[] = "{\"op\":\"console\"}\n";
	int small = 4096;

	/* A small receive buffer: the VMM's send buffer fills the sooner. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (send_all(fd, req, sizeof(req) - 1) || print_reply(fd, 10000))
		return 1;
	usleep((useconds_t)ms * 1000);
	/* Dropped: the VMM shut the socket down, so a send fails or EOF follows the data. */
	if (send(fd, "", 0, MSG_NOSIGNAL) < 0 || shutdown(fd, SHUT_WR) < 0) {
		printf("dropped\n");
		return 0;
	}
	for (;;) {
		char buf[65536];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0) {
			printf("dropped\n");
			return 0;
		}
		if (n < 0) {
			printf("%s\n", errno == EAGAIN ? "connected" : "dropped");
			return 0;
		}
	}
}

int main(int argc, char **argv)
{
	int c, mode = 0, ms = 0, fd;
	long line_len = 0;

	while ((c = getopt(argc, argv, "l:c:s:w:")) != -1) {
		switch (c) {
		case 'l':
			mode = 'l';
			line_len = atol(optarg);
			break;
		case 'c':
		case 's':
		case 'w':
			mode = c;
			ms = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: ctl [-l N | -c MS | -s MS | -w MS] SOCKET [LINE...]\n");
		return 2;
	}
	if (mode == 'w') {
		long long end = now_ms() + ms;

		while ((fd = connect_to(argv[optind])) < 0) {
			if (now_ms() > end)
				return 1;
			usleep(10000);
		}
		close(fd);
		return 0;
	}
	fd = connect_to(argv[optind]);
	if (fd < 0) {
		fprintf(stderr, "ctl: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (mode == 'c')
		return console(fd, ms, optind + 1 < argc ? argv[optind + 1] : NULL);
	if (mode == 's')
		return stalled_console(fd, ms);
	if (mode == 'l') {
		char *line = malloc((size_t)line_len + 1);

		if (!line)
			return 1;
		memset(line, 'x', (size_t)line_len);
		line[line_len] = '\0';
		return requests(fd, 1, &line);
	}
	return requests(fd, argc - optind - 1, argv + optind + 1);
}
