/*
 * Where a guest's console output goes: shale's standard output, or a log
 * file (--console-log) that is kept bounded by rotation, plus a copy to
 * every console client of the control socket.
 *
 * Writers are the vCPUs and the PV I/O thread; one lock keeps their
 * writes whole and in order, into the log and to the clients alike. A
 * client gets its copy with a non-blocking send: one whose socket buffer
 * is full is dropped (shut down; the event loop then closes it), so the
 * guest never waits for a client.
 */
#ifndef SHALE_VMM_CONOUT_H
#define SHALE_VMM_CONOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

#define CONOUT_LOG_MAX (1024 * 1024) /* PATH becomes PATH.1 at this size */
#define CONOUT_MAX_CLIENTS 32

struct conout {
	pthread_mutex_t lock; /* the output: ordering, fd, log_size */
	int fd;               /* stdout or a non-blocking copy of it, or the log (owned) */
	bool fd_owned;        /* fd is the copy of stdout conout_init_fd() opened */
	char *log_path;       /* NULL: fd is stdout */
	int log_dirfd;        /* the log's directory: rotation works in the sandbox */
	const char *log_name; /* in log_path: the name in log_dirfd */
	char *log_name1;      /* log_name + ".1" */
	uint64_t log_size;
	uint64_t log_max;
	bool broken;          /* writing failed once and was logged (the log: given up) */
	atomic_uint_fast64_t bytes; /* all output so far, for stats */

	pthread_mutex_t clients_lock; /* the client list, taken briefly */
	int client[CONOUT_MAX_CLIENTS];
	unsigned nr_clients;
};

/*
 * Output to fd (standard output; not owned). A terminal or a pipe is
 * written through a non-blocking descriptor of its own, so that a reader
 * that stops reading holds the writer only until the VM stops.
 */
void conout_init_fd(struct conout *c, int fd);
/*
 * Output appended to the file `path` (created 0644), rotated at log_max
 * bytes (CONOUT_LOG_MAX). -errno with a message.
 */
int conout_init_log(struct conout *c, const char *path, uint64_t log_max);
void conout_destroy(struct conout *c);

/*
 * Writes all of buf: to stdout as vm_write_all() does (a reader that does
 * not read holds the writer until `vm` stops), or to the log; then copies
 * it to the clients. 0 or -errno (-ECANCELED: the VM stopped first).
 */
int conout_write(struct conout *c, struct vm *vm, const void *buf, size_t len);

/*
 * Adds a client socket (owned by the caller, who closes it after
 * conout_del_client()). -ENOSPC when there are CONOUT_MAX_CLIENTS.
 */
int conout_add_client(struct conout *c, int fd);
void conout_del_client(struct conout *c, int fd);
/* Whether conout_add_client() would take one more now. */
bool conout_has_room(struct conout *c);

#endif
