/*
 * A stand-in for shaled in the CLI tests: listens on a Unix socket and
 * answers every connection with the bytes of one file, read afresh each
 * time so that a test can change the answer between commands. The last
 * request (head and body) is saved to a second file, for the test to check
 * what the client sent. With "echo", the connection then stays open and
 * every byte the client sends comes back, as a console's guest might
 * answer.
 *
 *   fake_shaled SOCKET RESPONSE-FILE REQUEST-FILE [echo]
 *
 * It serves until it is killed; the socket exists once it listens.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REQUEST (1 << 20)

static const char *sock_path;

static void on_term(int sig)
{
	(void)sig;
	unlink(sock_path);
	_exit(0);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The request's head and its Content-Length body, as far as they come. */
static size_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		char *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!want) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");

			want = (size_t)(end + 4 - buf);
			if (cl && cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
		if (len >= want)
			break;
	}
	return len;
}

static void serve(int conn, const char *response, const char *request_log, bool echo)
{
	static char req[MAX_REQUEST + 1];
	char buf[65536];
	size_t len = read_request(conn, req, MAX_REQUEST);
	int fd = open(request_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd >= 0) {
		write_all(fd, req, len);
		close(fd);
	}
	fd = open(response, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(response);
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(conn, buf, (size_t)n))
			break;
	close(fd);
	while (echo && (n = read(conn, buf, sizeof(buf))) > 0)
		if (write_all(conn, buf, (size_t)n))
			break;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd;

	if (argc != 4 && (argc != 5 || strcmp(argv[4], "echo"))) {
		fprintf(stderr, "usage: %s SOCKET RESPONSE-FILE REQUEST-FILE [echo]\n", argv[0]);
		return 2;
	}
	sock_path = argv[1];
	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "%s: socket path too long\n", argv[0]);
		return 2;
	}
	strcpy(addr.sun_path, sock_path);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	unlink(sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 8)) {
		perror(sock_path);
		return 1;
	}
	for (;;) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		serve(conn, argv[2], argv[3], argc == 5);
		close(conn);
	}
}
