/* The Unix sockets of virtio-vsock's host side (backend/vsock_unix.h). */
#include "backend/vsock_unix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/util.h"

int vsock_unix_open(struct vsock_unix *u, const char *path, const char *what)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	*u = (struct vsock_unix){ .listen_fd = -1, .dir_fd = -1, .path = path };
	if (strlen(path) > VSOCK_UNIX_PATH_MAX) {
		log_err("%s: socket=%s: longer than %u bytes", what, path, VSOCK_UNIX_PATH_MAX);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path));
	u->dir_fd = path_open_parent(path, &u->name);
	if (u->dir_fd < 0) {
		ret = u->dir_fd;
		goto fail;
	}
	u->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->listen_fd < 0) {
		ret = -errno;
		goto fail;
	}
	/* A socket left by a VMM that died; anything else there is refused by bind. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0) {
		ret = -errno;
		goto fail;
	}
	if (bind(u->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0600) < 0 || listen(u->listen_fd, 64) < 0) {
		ret = -errno;
		goto fail;
	}
	return 0;
fail:
	log_err("%s: socket=%s: %s", what, path, strerror(-ret));
	if (u->listen_fd >= 0)
		close(u->listen_fd);
	if (u->dir_fd >= 0)
		close(u->dir_fd);
	u->listen_fd = u->dir_fd = -1;
	return ret;
}

int vsock_unix_enter(struct vsock_unix *u)
{
	if (fchdir(u->dir_fd) < 0) {
		log_err("--vsock: socket=%s: its directory: %s", u->path, strerror(errno));
		return -errno;
	}
	u->relative = true;
	return 0;
}

int vsock_unix_accept(const struct vsock_unix *u)
{
	int fd = accept4(u->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vsock_unix_connect(const struct vsock_unix *u, uint32_t port)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", u->relative ? u->name : u->path,
		     port);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A Unix socket connects at once or not at all (EAGAIN: its backlog is full). */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

void vsock_unix_close(struct vsock_unix *u)
{
	if (u->listen_fd >= 0) {
		close(u->listen_fd);
		/* Through the directory: the sandbox lets nothing be named otherwise. */
		if (u->dir_fd >= 0)
			unlinkat(u->dir_fd, u->name, 0);
	}
	if (u->dir_fd >= 0)
		close(u->dir_fd);
	u->listen_fd = u->dir_fd = -1;
}
