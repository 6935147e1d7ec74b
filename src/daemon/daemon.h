/*
 * shaled, the management daemon: the table of the host's VMs, each run by
 * its own VMM process (`shale run --control ...`), and the HTTP API.
 *
 * Threads: libmicrohttpd serves each API connection on a thread of its
 * own; the monitor thread watches every VMM through a pidfd and runs the
 * shutdown deadlines. One mutex, shaled.lock, guards the table and every
 * managed_vm in it; nothing blocks on a VMM while holding it.
 */
#ifndef SHALE_DAEMON_DAEMON_H
#define SHALE_DAEMON_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/vmdef.h"

struct json_object;

enum vm_state {
	VMS_CREATED,
	VMS_RUNNING,
	VMS_PAUSED,
	VMS_STOPPED, /* the guest exited, powered off, was shut down or killed */
	VMS_CRASHED, /* the guest crashed, its VMM failed or died */
};

/* The VMM's directory: the VM's, or that and "/run". */
#define VM_RUN_MAX (PATH_MAX + 8)

/* Why a VM last stopped: the VMM's exit record, or what the daemon saw. */
struct stop_record {
	bool valid;
	char reason[16]; /* exit, poweroff, shutdown, killed, crash, timeout, error, vmm-died */
	int status;      /* what `shale run` exited with, -1 if it did not exit */
	char message[512];
};

struct managed_vm {
	struct vm_def def;
	char dir[PATH_MAX]; /* STATE/vms/NAME: root's, the daemon's alone */
	/*
	 * The VMM's directory, all it may write in: STATE/vms/NAME/run, or
	 * for a VMM started by a shaled before that layout (adopted) the
	 * VM's directory itself, until it ends (`legacy`).
	 */
	char run[VM_RUN_MAX];
	bool legacy;
	enum vm_state state;
	struct stop_record last_stop;
	int64_t created_at, started_at, stopped_at; /* wall clock, seconds */

	/* While running or paused: */
	pid_t pid;
	int pidfd;
	uint64_t pid_start; /* its /proc start time, to know it again after a restart */
	uint64_t serial;    /* names this run in the monitor's epoll set */
	bool own_child;     /* started by this daemon, so it can be reaped */
	bool shutdown_requested;
	uint64_t shutdown_deadline_ns; /* monotonic; 0: none */
	const char *kill_reason;       /* set when the daemon killed it */
	bool removed;                  /* deleted while an API call waited on it */
};

struct event {
	uint64_t seq;
	int64_t time_ns;
	char vm[VMDEF_NAME_MAX + 1];
	enum vm_state state;
	char reason[16];
};

#define EVENT_RING 1024

struct shaled {
	pthread_mutex_t lock;
	struct managed_vm **vm;
	size_t nr_vms, cap_vms;
	const char *state_dir;
	const char *vmm; /* the shale binary */
	const char *socket_path;
	const char *vmm_user; /* NULL: VMMs stay root, without capabilities */
	uid_t vmm_uid;
	gid_t vmm_gid;
	int epoll_fd;
	int wake_fd; /* eventfd: the monitor re-reads its deadlines */
	pthread_t monitor;
	uint64_t next_serial;
	bool quit;

	/* The host: what `shale host --kind` says, its capacity, the policy. */
	const char *version;
	char host_kind[16];
	unsigned host_cpus;
	uint64_t host_memory;
	double cpu_overcommit;    /* vCPUs per host CPU */
	double memory_overcommit; /* guest RAM per byte of host RAM */

	/* State changes, for GET /v1/events. */
	pthread_cond_t event_cond;
	struct event events[EVENT_RING];
	uint64_t event_seq; /* of the newest event; 0: none yet */

	/* Counters for /v1/metrics. */
	uint64_t requests, bad_requests;
};

const char *vm_state_name(enum vm_state s);

/*
 * The operations behind the API. Each takes the lock itself and returns 0
 * or -errno with a message in err: -ENOENT no such VM, -EEXIST, -EBUSY
 * the VM's state does not allow it, -EINVAL bad request, -ENOSPC over the
 * overcommit policy, anything else a host failure.
 */
int vms_init(struct shaled *d);
int vms_load(struct shaled *d); /* definitions from the state dir; adopts live VMMs */
/* Stops the monitor and forgets every VM; their VMMs keep running. */
void vms_fini(struct shaled *d);
int vms_create(struct shaled *d, struct vm_def *def, char *err, size_t errlen);
int vms_start(struct shaled *d, const char *name, char *err, size_t errlen);
int vms_pause(struct shaled *d, const char *name, bool pause, char *err, size_t errlen);
int vms_shutdown(struct shaled *d, const char *name, uint64_t timeout_ns, char *err,
		 size_t errlen);
int vms_kill(struct shaled *d, const char *name, char *err, size_t errlen);
int vms_reboot(struct shaled *d, const char *name, char *err, size_t errlen);
/* Sets a running or paused VM's balloon target (its VMM's balloon op). */
int vms_balloon(struct shaled *d, const char *name, uint64_t target_mib, char *err,
		size_t errlen);
int vms_delete(struct shaled *d, const char *name, bool force, char *err, size_t errlen);
/* NULL when there is no such VM. */
struct json_object *vms_info(struct shaled *d, const char *name);
struct json_object *vms_list(struct shaled *d);
struct json_object *vms_stats(struct shaled *d, const char *name, char *err, size_t errlen);
struct json_object *vms_host(struct shaled *d);
/* Prometheus text format; malloc'd. */
char *vms_metrics(struct shaled *d);
/* The VM's console log, the last `max` bytes; malloc'd, size in *len. */
char *vms_logs(struct shaled *d, const char *name, size_t max, size_t *len, char *err,
	       size_t errlen);
/* Connects to the VM's console: an fd carrying raw console bytes, or -errno. */
int vms_console(struct shaled *d, const char *name, char *err, size_t errlen);

/*
 * Waits until there is an event after `seq` or `timeout_ms` passes; copies
 * it and returns true. A reader that fell more than EVENT_RING behind
 * continues at the oldest event kept.
 */
bool events_wait(struct shaled *d, uint64_t seq, int timeout_ms, struct event *out);

/*
 * The VMM's control socket (src/vmm/control.c) at DIR/ctl, DIR the VMM's
 * directory; `pid` the VMM, which must be the socket's peer (0: any).
 * vmmctl_connect() gives the connected descriptor, or -errno.
 */
int vmmctl_connect(const char *dir, pid_t pid, char *err, size_t errlen);
/*
 * One request, one reply: {"op":OP} with `args` (NULL, or JSON members
 * such as "\"target_mib\":64") after the op.
 */
int vmmctl_call(const char *dir, pid_t pid, const char *op, const char *args, int timeout_ms,
		struct json_object **reply, char *err, size_t errlen);
/* Opens a console connection: the fd after the VMM's ok, or -errno. */
int vmmctl_console(const char *dir, pid_t pid, char *err, size_t errlen);

/* The HTTP API on a listening socket (api.c). */
int api_start(struct shaled *d, int listen_fd, bool check_peer);
void api_stop(void);

#endif
