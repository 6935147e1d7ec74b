/*
 * The VMM's event loop: one epoll set, served by the main thread, for
 * signals, the timeout, the console, the control socket and whatever else
 * must wait for a file descriptor without holding up a vCPU.
 *
 * Handlers run on the loop's thread, one at a time. A handler may add and
 * remove any fd, its own included: an event of an fd removed during the
 * same round is not delivered. A file epoll cannot watch (a regular file,
 * /dev/null) is accepted and treated as always ready, as poll() does.
 */
#ifndef SHALE_VMM_EVLOOP_H
#define SHALE_VMM_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef void (*evloop_fn)(void *opaque, int fd, uint32_t events);

struct evloop_slot {
	int fd; /* -1: free */
	uint32_t gen; /* bumped on removal: stale events are dropped */
	uint32_t events;
	bool always; /* epoll refused it: ready every round */
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	struct evloop_slot *slot;
	unsigned nr_slots;
	unsigned nr_always;
};

int evloop_init(struct evloop *el);
void evloop_destroy(struct evloop *el);

/* Watches fd for `events` (EPOLLIN, EPOLLOUT; level-triggered). 0 or -errno. */
int evloop_add(struct evloop *el, int fd, uint32_t events, evloop_fn fn, void *opaque);
/* Changes what fd is watched for. 0 or -errno (-ENOENT: not watched). */
int evloop_mod(struct evloop *el, int fd, uint32_t events);
/* Stops watching fd (before it is closed). Unknown fds are ignored. */
void evloop_del(struct evloop *el, int fd);
bool evloop_has(const struct evloop *el, int fd);

/*
 * Waits up to timeout_ms (-1: no limit) and runs the handlers of the fds
 * that are ready. Returns the number of handlers run, or -errno; EINTR is
 * not an error (0).
 */
int evloop_run_once(struct evloop *el, int timeout_ms);

#endif
