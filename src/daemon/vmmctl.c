/*
 * The daemon's side of a VMM's control socket: newline-terminated JSON,
 * one reply line per request (docs/architecture.md). Every call has a
 * deadline, so a VMM that stopped answering costs an error, not a thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon/daemon.h"
#include "util/util.h"

#define REPLY_MAX 16384

/*
 * Connects to DIR/ctl. DIR is the VMM's own directory, so the name may be
 * anything the VMM made it: a symbolic link to another VM's socket, or a
 * socket of a process other than this VM's VMM. The socket file is opened
 * without following a link and connected to through that descriptor, and
 * the peer must be process `pid` (the one that called listen(); 0: not
 * checked).
 */
int vmmctl_connect(const char *dir, pid_t pid, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX + 8];
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct stat st;
	int pfd, fd, ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/ctl", dir) >= sizeof(path)) {
		snprintf(err, errlen, "control socket path too long: %s/ctl", dir);
		return -ENAMETOOLONG;
	}
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "the VMM does not answer on %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(pfd);
		snprintf(err, errlen, "%s is not a socket: refused", path);
		return -ENOTSOCK;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		close(pfd);
		snprintf(err, errlen, "socket: %s", strerror(-ret));
		return ret;
	}
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(pfd);
	if (ret) {
		snprintf(err, errlen, "the VMM does not answer on %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (pid > 0 && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
			cred.pid != pid)) {
		snprintf(err, errlen, "%s is not the socket of the VM's VMM (pid %d): refused", path,
			 (int)pid);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Writes all of buf before the deadline. */
static int send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		uint64_t now = clock_monotonic_ns();
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (now >= deadline)
			return -ETIMEDOUT;
		poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
	}
	return 0;
}

/* Reads one line (without its newline) before the deadline. */
static int recv_line(int fd, char *buf, size_t size, uint64_t deadline)
{
	size_t len = 0;

	for (;;) {
		uint64_t now = clock_monotonic_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			continue;
		/* Byte by byte: the console stream may follow the reply line. */
		n = recv(fd, buf + len, 1, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		if (++len == size - 1)
			return -EMSGSIZE;
	}
}

/* Sends {"op":op} on fd and parses the reply; 0 when it says ok. */
static int call_on(int fd, const char *op, const char *args, int timeout_ms,
		   json_object **reply, char *err, size_t errlen)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000;
	char req[128], buf[REPLY_MAX];
	json_object *r, *ok, *msg;
	int ret;

	if ((size_t)snprintf(req, sizeof(req), "{\"op\":\"%s\"%s%s}\n", op, args ? "," : "",
			     args ? args : "") >= sizeof(req))
		die("control request for %s too long", op);
	ret = send_all(fd, req, strlen(req), deadline);
	if (ret) {
		snprintf(err, errlen, "the VMM's control socket: %s", strerror(-ret));
		return ret;
	}
	ret = recv_line(fd, buf, sizeof(buf), deadline);
	if (ret) {
		snprintf(err, errlen, "no reply from the VMM to %s: %s", op, strerror(-ret));
		return ret;
	}
	r = json_tokener_parse(buf);
	if (!r || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		snprintf(err, errlen, "the VMM sent a bad reply to %s", op);
		return -EPROTO;
	}
	if (!json_object_object_get_ex(r, "ok", &ok) || !json_object_get_boolean(ok)) {
		snprintf(err, errlen, "%s",
			 json_object_object_get_ex(r, "error", &msg) ?
				 json_object_get_string(msg) :
				 "the VMM refused the request");
		json_object_put(r);
		return -EBUSY;
	}
	if (reply)
		*reply = r;
	else
		json_object_put(r);
	return 0;
}

int vmmctl_call(const char *dir, pid_t pid, const char *op, const char *args, int timeout_ms,
		json_object **reply, char *err, size_t errlen)
{
	int fd = vmmctl_connect(dir, pid, err, errlen), ret;

	if (fd < 0)
		return fd;
	ret = call_on(fd, op, args, timeout_ms, reply, err, errlen);
	close(fd);
	return ret;
}

int vmmctl_console(const char *dir, pid_t pid, char *err, size_t errlen)
{
	int fd = vmmctl_connect(dir, pid, err, errlen), ret;

	if (fd < 0)
		return fd;
	ret = call_on(fd, "console", NULL, 2000, NULL, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
