/*
 * The control socket of `shale run --control PATH`, by which shaled
 * manages one VMM: a Unix stream socket served by the main event loop
 * (ctl_proto.h has the wire format, docs/architecture.md the ops).
 *
 * Every connection is non-blocking with bounded buffers: a client that
 * sends an overlong line or invalid JSON gets an error and is closed; one
 * that does not read its replies is no longer read from; a console client
 * that does not read is dropped (conout.h). Nothing here ever blocks a
 * vCPU or the loop.
 *
 * The server outlives the VMs of one run (a Linux guest's reboots): the
 * CLI attaches each VM while it runs and detaches it before it goes.
 */
#ifndef SHALE_VMM_CONTROL_H
#define SHALE_VMM_CONTROL_H

#include <stddef.h>
#include <stdint.h>

struct conout;
struct evloop;
struct vm;

/* What a memory balloon knows, for stats (devices/virtio/balloon.h has the meaning). */
#define CTL_BALLOON_NR_STATS 16 /* the guest's statistics, by virtio tag (§5.5.6.3) */
struct ctl_balloon {
	uint64_t target_bytes, actual_bytes;
	uint64_t inflated_bytes, deflated_bytes, reported_bytes;
	uint64_t stats_updates;
	uint64_t stat[CTL_BALLOON_NR_STATS];
	uint32_t stat_valid; /* bit n: stat[n] was sent */
};

/* What the server manages: the VM plus what only its machine knows. */
struct ctl_target {
	struct vm *vm;
	const char *kind; /* "pv" or "linux" */
	/* Asks the guest to shut down: 0, or -errno with a reason in *why. */
	int (*shutdown)(void *opaque, const char **why);
	/* Console input from a client; NULL: input is read and dropped. */
	void (*console_input)(void *opaque, const uint8_t *buf, size_t len);
	/*
	 * NULL without a balloon. balloon_target sets how much guest RAM the
	 * balloon should take (0, or -errno with a reason in *why);
	 * balloon_info says what it holds (and asks for fresh statistics).
	 */
	int (*balloon_target)(void *opaque, uint64_t bytes, const char **why);
	void (*balloon_info)(void *opaque, struct ctl_balloon *out);
	void *opaque;
};

struct ctl;

/*
 * Listens on `path` (a stale file there is removed first; mode 0600) and
 * serves connections from `loop`. Console clients get their copy from
 * `out`. -errno with a message.
 */
int ctl_open(struct ctl **out, const char *path, struct evloop *loop, struct conout *con);
/* Last replies out as far as the sockets take them, then closes and unlinks. */
void ctl_close(struct ctl *ctl);

/* The directory of the socket's path, where ctl_close() unlinks it. */
int ctl_dirfd(const struct ctl *ctl);

void ctl_attach(struct ctl *ctl, const struct ctl_target *target);
/*
 * Before the VM goes: a pause still waited for is answered with an error.
 * Requests that come until the next ctl_attach() get an error too.
 */
void ctl_detach(struct ctl *ctl);

#endif
