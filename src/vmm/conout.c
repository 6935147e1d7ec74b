#include "vmm/conout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/vm.h"

static void init_common(struct conout *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->clients_lock, NULL);
	c->fd = -1;
	c->log_dirfd = -1;
}

/*
 * A terminal or a pipe whose reader stops reading blocks a write even
 * after poll() said it had room: a tty takes up to its free room and
 * then sleeps for the rest, and a pipe shared with another writer may
 * fill up in between. Blocked there, a vCPU never sees the VM stop, and
 * the kick signal cannot interrupt it (it is blocked outside KVM_RUN). So
 * the output goes through a descriptor of its own opened with O_NONBLOCK:
 * a new open file description, so the shell's stays as it was.
 */
static int open_nonblocking(int fd)
{
	char path[32];
	struct stat st;
	int nfd;

	if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || isatty(fd)))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	return nfd;
}

void conout_init_fd(struct conout *c, int fd)
{
	init_common(c);
	c->fd = open_nonblocking(fd);
	c->fd_owned = c->fd >= 0;
	if (!c->fd_owned)
		c->fd = fd; /* a file or socket; or no /proc: as it is */
}

static int open_log(struct conout *c)
{
	struct stat st;
	/* Not through a link: the first open is made before the privilege drop. */
	int fd = openat(c->log_dirfd, c->log_name,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	c->fd = fd;
	c->log_size = (uint64_t)st.st_size;
	return 0;
}

/*
 * PATH -> PATH.1, then a new PATH. Every byte is in one of the two: a
 * reader that takes PATH.1 and then PATH sees all of the last 1-2 MiB.
 */
static int rotate(struct conout *c)
{
	int old = c->fd, ret;

	if (renameat(c->log_dirfd, c->log_name, c->log_dirfd, c->log_name1) < 0)
		return -errno;
	ret = open_log(c);
	if (ret)
		return ret;
	close(old);
	return 0;
}

int conout_init_log(struct conout *c, const char *path, uint64_t log_max)
{
	int ret;

	init_common(c);
	c->log_max = log_max ? log_max : CONOUT_LOG_MAX;
	c->log_path = strdup(path);
	if (!c->log_path) {
		conout_destroy(c);
		return -ENOMEM;
	}
	ret = path_open_parent(c->log_path, &c->log_name);
	if (ret >= 0) {
		c->log_dirfd = ret;
		ret = asprintf(&c->log_name1, "%s.1", c->log_name) < 0 ? -ENOMEM : 0;
		if (ret)
			c->log_name1 = NULL;
	}
	if (!ret)
		ret = open_log(c);
	if (!ret && c->log_size >= c->log_max)
		ret = rotate(c);
	if (ret) {
		log_err("--console-log %s: %s", path, strerror(-ret));
		conout_destroy(c);
	}
	return ret;
}

void conout_destroy(struct conout *c)
{
	if ((c->log_path || c->fd_owned) && c->fd >= 0)
		close(c->fd);
	c->fd_owned = false;
	c->fd = -1;
	if (c->log_dirfd >= 0)
		close(c->log_dirfd);
	c->log_dirfd = -1;
	free(c->log_path);
	free(c->log_name1);
	c->log_path = c->log_name1 = NULL;
	c->log_name = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->clients_lock);
}

static int write_log(struct conout *c, const uint8_t *p, size_t len)
{
	while (len) {
		/* Split at the limit: PATH.1 holds exactly log_max bytes. */
		size_t chunk = MIN(len, (size_t)(c->log_max - c->log_size));
		ssize_t n = write(c->fd, p, chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		c->log_size += (uint64_t)n;
		if (c->log_size >= c->log_max) {
			int ret = rotate(c);

			if (ret)
				return ret;
		}
	}
	return 0;
}

static void copy_to_clients(struct conout *c, const uint8_t *p, size_t len)
{
	pthread_mutex_lock(&c->clients_lock);
	for (unsigned i = 0; i < c->nr_clients;) {
		ssize_t n;

		do
			n = send(c->client[i], p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)len) {
			i++;
			continue;
		}
		/*
		 * Full (or gone): drop it rather than wait or lose bytes in the
		 * middle of its stream. The event loop sees the hang-up and
		 * closes the socket.
		 */
		shutdown(c->client[i], SHUT_RDWR);
		c->client[i] = c->client[--c->nr_clients];
	}
	pthread_mutex_unlock(&c->clients_lock);
}

int conout_write(struct conout *c, struct vm *vm, const void *buf, size_t len)
{
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (c->log_path) {
		if (!c->broken) {
			ret = write_log(c, buf, len);
			if (ret) {
				c->broken = true;
				log_err("--console-log %s: output lost: %s", c->log_path,
					strerror(-ret));
			}
		}
	} else {
		ret = vm_write_all(vm, c->fd, buf, len);
		/* Once: a console that went away is not worth a line per write. */
		if (ret && ret != -ECANCELED && !c->broken) {
			c->broken = true;
			log_err("console output lost: %s", strerror(-ret));
		}
	}
	atomic_fetch_add_explicit(&c->bytes, len, memory_order_relaxed);
	copy_to_clients(c, buf, len);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int conout_add_client(struct conout *c, int fd)
{
	int ret = 0;

	pthread_mutex_lock(&c->clients_lock);
	if (c->nr_clients == CONOUT_MAX_CLIENTS)
		ret = -ENOSPC;
	else
		c->client[c->nr_clients++] = fd;
	pthread_mutex_unlock(&c->clients_lock);
	return ret;
}

bool conout_has_room(struct conout *c)
{
	bool room;

	pthread_mutex_lock(&c->clients_lock);
	room = c->nr_clients < CONOUT_MAX_CLIENTS;
	pthread_mutex_unlock(&c->clients_lock);
	return room;
}

void conout_del_client(struct conout *c, int fd)
{
	pthread_mutex_lock(&c->clients_lock);
	for (unsigned i = 0; i < c->nr_clients; i++) {
		if (c->client[i] == fd) {
			c->client[i] = c->client[--c->nr_clients];
			break;
		}
	}
	pthread_mutex_unlock(&c->clients_lock);
}
