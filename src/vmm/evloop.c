#include "vmm/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define EVLOOP_BATCH 32

int evloop_init(struct evloop *el)
{
	memset(el, 0, sizeof(*el));
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	return el->epfd < 0 ? -errno : 0;
}

void evloop_destroy(struct evloop *el)
{
	if (el->epfd >= 0)
		close(el->epfd);
	free(el->slot);
	memset(el, 0, sizeof(*el));
	el->epfd = -1;
}

static struct evloop_slot *find(const struct evloop *el, int fd)
{
	for (unsigned i = 0; i < el->nr_slots; i++)
		if (el->slot[i].fd == fd)
			return &el->slot[i];
	return NULL;
}

static uint64_t cookie(const struct evloop *el, const struct evloop_slot *s)
{
	return (uint64_t)s->gen << 32 | (uint64_t)(s - el->slot);
}

int evloop_add(struct evloop *el, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct evloop_slot *s = NULL;
	struct epoll_event ev;

	if (fd < 0 || find(el, fd))
		return -EEXIST;
	for (unsigned i = 0; i < el->nr_slots && !s; i++)
		if (el->slot[i].fd < 0)
			s = &el->slot[i];
	if (!s) {
		unsigned n = el->nr_slots ? el->nr_slots * 2 : 16;
		struct evloop_slot *grown = realloc(el->slot, n * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		for (unsigned i = el->nr_slots; i < n; i++)
			grown[i] = (struct evloop_slot){ .fd = -1 };
		el->slot = grown;
		s = &el->slot[el->nr_slots];
		el->nr_slots = n;
	}
	s->fd = fd;
	s->events = events;
	s->fn = fn;
	s->opaque = opaque;
	s->always = false;
	ev = (struct epoll_event){ .events = events, .data.u64 = cookie(el, s) };
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		if (errno != EPERM) {
			int err = -errno;

			s->fd = -1;
			return err;
		}
		/* A regular file or the like: always ready, as poll() has it. */
		s->always = true;
		el->nr_always++;
	}
	return 0;
}

int evloop_mod(struct evloop *el, int fd, uint32_t events)
{
	struct evloop_slot *s = find(el, fd);
	struct epoll_event ev;

	if (!s)
		return -ENOENT;
	s->events = events;
	if (s->always)
		return 0;
	ev = (struct epoll_event){ .events = events, .data.u64 = cookie(el, s) };
	return epoll_ctl(el->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_del(struct evloop *el, int fd)
{
	struct evloop_slot *s = find(el, fd);

	if (!s)
		return;
	if (s->always)
		el->nr_always--;
	else if (epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF)
		die("epoll_ctl DEL %d: %s", fd, strerror(errno));
	s->fd = -1;
	s->gen++;
}

bool evloop_has(const struct evloop *el, int fd)
{
	return find(el, fd) != NULL;
}

int evloop_run_once(struct evloop *el, int timeout_ms)
{
	struct epoll_event ev[EVLOOP_BATCH];
	int n, ran = 0;

	n = epoll_wait(el->epfd, ev, EVLOOP_BATCH, el->nr_always ? 0 : timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		unsigned idx = (unsigned)(ev[i].data.u64 & 0xffffffffu);
		uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
		struct evloop_slot *s;

		/* The slot may have been freed, or reused, by an earlier handler. */
		if (idx >= el->nr_slots)
			continue;
		s = &el->slot[idx];
		if (s->fd < 0 || s->gen != gen)
			continue;
		s->fn(s->opaque, s->fd, ev[i].events);
		ran++;
	}
	/* Handlers may add slots (realloc): index, never hold a pointer across. */
	for (unsigned i = 0; el->nr_always && i < el->nr_slots; i++) {
		struct evloop_slot *s = &el->slot[i];

		if (s->fd >= 0 && s->always && s->events) {
			s->fn(s->opaque, s->fd, s->events & (EPOLLIN | EPOLLOUT));
			ran++;
		}
	}
	return ran;
}
