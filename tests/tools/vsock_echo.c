/*
 * Both ends of the virtio-vsock tests (tests/linux): static, so that it
 * runs in the guest's initramfs and in the lab.
 *
 *   vsock_echo cid                        the guest's CID (/dev/vsock)
 *   vsock_echo vsock-listen PORT [TAG]    guest: one connection on PORT echoed;
 *                                         "TAG LISTENING PORT" once it listens,
 *                                         "TAG SERVED" after (a pipe to sed
 *                                         would hold the first line back)
 *   vsock_echo vsock-connect CID PORT MSG guest: MSG to CID:PORT, its echo read
 *   vsock_echo vsock-many CID PORT N      guest: N connections to CID:PORT held
 *                                         at once ("MANY ok=X refused=Y"), closed,
 *                                         then one more echo ("AGAIN ECHO-OK ...")
 *   vsock_echo unix-serve PATH            host: echoes every connection at PATH
 *   vsock_echo unix-connect PATH PORT MSG host: "CONNECT PORT" through the
 *                                         VMM's socket PATH, then MSG, its echo read
 *
 * MSG is the text itself, or @N: N bytes of a known pattern. The clients
 * write and read at once (no deadlock on full buffers), then print
 * "ECHO-OK n=N" when the echo is what they sent, "ECHO-BAD ..." if not;
 * unix-connect first prints the VMM's "OK <port>" line.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static _Noreturn void fail(const char *what)
{
	printf("ECHO-BAD %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *message(const char *arg, size_t *len)
{
	char *m;

	if (arg[0] != '@') {
		*len = strlen(arg);
		return strdup(arg);
	}
	*len = strtoul(arg + 1, NULL, 10);
	m = malloc(*len + 1);
	if (!m)
		fail("malloc");
	for (size_t i = 0; i < *len; i++)
		m[i] = (char)('A' + (i * 7 + i / 251) % 61);
	return m;
}

/* Sends msg and reads until EOF at once; 0 if what came back is msg. */
static int exchange(int fd, const char *msg, size_t len)
{
	char *back = malloc(len + 1);
	size_t sent = 0, got = 0;
	bool shut = false;

	if (!back)
		fail("malloc");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < len ? POLLOUT : 0) };

		if (sent == len && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (poll(&p, 1, 60000) <= 0)
			fail("poll (no progress for 60 s)");
		if ((p.revents & POLLOUT) && sent < len) {
			ssize_t n = send(fd, msg + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0 && errno != EAGAIN)
				fail("send");
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno != EAGAIN)
				fail("recv");
			if (n == 0)
				break;
			if (n > 0) {
				if (got + (size_t)n > len) {
					printf("ECHO-BAD more back than sent (%zu)\n", got + (size_t)n);
					return 1;
				}
				memcpy(back + got, buf, (size_t)n);
				got += (size_t)n;
			}
		}
	}
	if (got != len || memcmp(back, msg, len)) {
		printf("ECHO-BAD sent %zu, got %zu back%s\n", len, got,
		       got == len ? ", different" : "");
		return 1;
	}
	printf("ECHO-OK n=%zu\n", len);
	return 0;
}

static void echo(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w <= 0)
				return;
			off += w;
		}
}

static void unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		errno = ENAMETOOLONG;
		fail(path);
	}
	strcpy(a->sun_path, path);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "cid")) {
		unsigned cid = 0;
		int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
			fail("/dev/vsock");
		printf("%u\n", cid);
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "vsock-listen")) {
		const char *tag = argc == 4 ? argv[3] : "";
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned)atoi(argv[2]) };
		int l = socket(AF_VSOCK, SOCK_STREAM, 0), fd;

		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
			fail("vsock listen");
		printf("%s%sLISTENING %s\n", tag, *tag ? " " : "", argv[2]);
		fd = accept(l, NULL, NULL);
		if (fd < 0)
			fail("accept");
		echo(fd);
		close(fd);
		printf("%s%sSERVED\n", tag, *tag ? " " : "");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "vsock-connect")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = (unsigned)atoi(argv[2]),
					 .svm_port = (unsigned)atoi(argv[3]) };
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		size_t len;
		char *msg = message(argv[4], &len);

		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			fail("vsock connect");
		return exchange(fd, msg, len);
	}
	if (argc == 5 && !strcmp(argv[1], "vsock-many")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = (unsigned)atoi(argv[2]),
					 .svm_port = (unsigned)atoi(argv[3]) };
		int n = atoi(argv[4]), ok = 0, refused = 0, fd;
		int *fds = calloc((size_t)n, sizeof(int));

		if (!fds)
			fail("calloc");
		for (int i = 0; i < n; i++) {
			fds[i] = socket(AF_VSOCK, SOCK_STREAM, 0);
			if (fds[i] < 0)
				fail("socket");
			if (connect(fds[i], (struct sockaddr *)&a, sizeof(a))) {
				refused++;
				close(fds[i]);
				fds[i] = -1;
			} else {
				ok++;
			}
		}
		printf("MANY ok=%d refused=%d\n", ok, refused);
		for (int i = 0; i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		usleep(500000); /* the device's RSTs for them */
		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			fail("AGAIN vsock connect");
		printf("AGAIN ");
		return exchange(fd, "again", 5);
	}
	if (argc == 3 && !strcmp(argv[1], "unix-serve")) {
		struct sockaddr_un a;
		int l = socket(AF_UNIX, SOCK_STREAM, 0);

		unix_addr(&a, argv[2]);
		unlink(argv[2]);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 16))
			fail("unix listen");
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int fd = accept(l, NULL, NULL);

			if (fd < 0)
				continue;
			if (fork() == 0) {
				close(l);
				echo(fd);
				_exit(0);
			}
			close(fd);
		}
	}
	if (argc == 5 && !strcmp(argv[1], "unix-connect")) {
		struct sockaddr_un a;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char line[64];
		size_t len, n = 0;
		char *msg = message(argv[4], &len);

		unix_addr(&a, argv[2]);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			fail("unix connect");
		snprintf(line, sizeof(line), "CONNECT %s\n", argv[3]);
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
			fail("write");
		/* The answer line, a byte at a time: what follows it is the echo. */
		while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
			n++;
		line[n] = '\0';
		printf("%s\n", line);
		if (strncmp(line, "OK ", 3))
			return 1;
		return exchange(fd, msg, len);
	}
	fprintf(stderr, "usage: see tests/tools/vsock_echo.c\n");
	return 2;
}
