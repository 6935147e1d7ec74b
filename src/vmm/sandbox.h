/*
 * The VMM's sandbox (docs/security.md): applied once, by the main thread,
 * after set-up and before the first guest instruction, while the process
 * still has one thread. In order:
 *
 *   1. resource limits: no core dumps, no more descriptors than set-up
 *      opened plus a margin;
 *   2. a jail, where the host allows one (root, or an unprivileged user
 *      namespace): new mount, network and IPC namespaces whose root is an
 *      empty read-only tmpfs, so that no host file can be opened by name;
 *   3. the privilege drop to --user (groups, gid, uid);
 *   4. no new privileges;
 *   5. a seccomp allow-list for the whole process; anything else kills it.
 *      Each vCPU thread and the para-virtual I/O thread then add their own,
 *      narrower list as they start (sandbox_enter_thread()).
 *
 * Every descriptor the VMM uses later is open by then. Files it creates
 * later (the console log's rotation, the exit file) and the control
 * socket it unlinks are reached through directory descriptors opened
 * before: the only ones openat(), renameat() and unlinkat() may name.
 */
#ifndef SHALE_VMM_SANDBOX_H
#define SHALE_VMM_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#define SANDBOX_MAX_DIRS 4

enum sandbox_thread {
	SANDBOX_MAIN, /* the event loop, the control socket, (re)building VMs */
	SANDBOX_VCPU, /* KVM_RUN and the devices it emulates */
	SANDBOX_IO,   /* the para-virtual I/O queues' thread */
};

struct sandbox_config {
	bool user_set; /* --user: drop to uid/gid (root only) */
	uid_t uid;
	gid_t gid;
	/* A para-virtual guest: its vCPU starts the I/O thread. */
	bool pv;
	/* Directories the VMM creates, renames or removes files in (-1: none). */
	int dirfd[SANDBOX_MAX_DIRS];
	unsigned nr_dirs;
};

/*
 * Applies the layers above to the calling process, which must have no
 * other thread yet. 0, or -errno with a message; a jail the host does
 * not allow is not an error (logged with -v).
 */
int sandbox_apply(const struct sandbox_config *cfg);

/*
 * At the start of a vCPU or I/O thread: adds that thread's own filter.
 * A no-op without sandbox_apply() (--no-sandbox, the unit tests).
 */
void sandbox_enter_thread(enum sandbox_thread kind);

/* What sandbox_apply() managed, for `shale run -v` and the tests. */
bool sandbox_jailed(void);

/*
 * --user NAME|UID: the uid and the primary gid from /etc/passwd (a UID
 * that has no entry there keeps gid = uid). -EINVAL with a message.
 */
int sandbox_parse_user(const char *arg, uid_t *uid, gid_t *gid);

#endif
