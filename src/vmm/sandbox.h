/*
 * The VMM's sandbox (docs/security.md): applied once, by the main thread,
 * after set-up and before the first guest instruction, while the process
 * still has one thread. In order:
 *
 *   1. resource limits: no core dumps, no more descriptors than set-up
 *      opened plus a margin;
 *   2. a jail, where the host allows one: no network (one empty network
 *      namespace shared by the VMMs of root, a new one otherwise), and
 *      no host file but in the VMM's own directories can be opened, by
 *      Landlock where the kernel has it, else by a mount namespace whose
 *      root is an empty read-only tmpfs with those directories bound in;
 *   (no new privileges comes first: Landlock wants it)
 *   3. the privilege drop to --user (groups, gid, uid);
 *   4. no capabilities;
 *   5. a seccomp allow-list for the whole process, installed by
 *      sandbox_seal() once the first vCPU threads are started; anything
 *      else kills the process. Each vCPU thread and the para-virtual I/O
 *      thread install their own, narrower list as they start
 *      (sandbox_enter_thread()), and no vCPU runs guest code before the
 *      process list is in.
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

/* How the jail keeps host files out of reach (--jail). */
enum sandbox_jail {
	SANDBOX_JAIL_AUTO,     /* Landlock where the kernel has it, else a mount namespace */
	SANDBOX_JAIL_LANDLOCK, /* Landlock, or an error */
	SANDBOX_JAIL_MOUNT,    /* a mount namespace with an empty root, or an error */
};

struct sandbox_config {
	enum sandbox_jail jail;
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
 * other thread yet. 0, or -errno with a message; with SANDBOX_JAIL_AUTO
 * a jail the host does not allow is not an error (logged with -v).
 */
int sandbox_apply(const struct sandbox_config *cfg);

/*
 * By the main thread right after it started the VM's vCPUs (and whether
 * or not that worked): installs the filter of the process, which threads
 * started later inherit. Dies if it cannot. A no-op without
 * sandbox_apply() and after the first call.
 */
void sandbox_seal(void);

/*
 * At the start of a vCPU or I/O thread: adds that thread's own filter,
 * then waits for sandbox_seal(). A no-op without sandbox_apply()
 * (--no-sandbox, the unit tests).
 */
void sandbox_enter_thread(enum sandbox_thread kind);

/* The kernel's Landlock ABI version, 0 without Landlock (`shale host`). */
int sandbox_landlock_abi(void);

/* What sandbox_apply() managed, for `shale run -v` and the tests. */
bool sandbox_jailed(void);

/*
 * --user NAME|UID: the uid and the primary gid from /etc/passwd (a UID
 * that has no entry there keeps gid = uid). -EINVAL with a message.
 */
int sandbox_parse_user(const char *arg, uid_t *uid, gid_t *gid);

#endif
