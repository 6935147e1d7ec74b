/* Shared by the two kinds of `shale run`: para-virtual and Linux guests. */
#ifndef SHALE_CLI_RUN_H
#define SHALE_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/image.h"
#include "vmm/conout.h"
#include "vmm/evloop.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

#include "usernet/usernet.h"

struct console;
struct ctl;
struct vsock_unix;

#define RUN_MAX_DISKS 16
#define RUN_MAX_NETS 4

struct run_opts {
	uint64_t memory;
	uint64_t timeout_ns;
	const char *guest;
	/* --disk, in order: one for a para-virtual guest, virtio-blk for Linux. */
	struct run_disk {
		const char *path;
		bool readonly;
		const char *serial;
	} disk[RUN_MAX_DISKS];
	unsigned nr_disks;
	/* --net, in order: one for a para-virtual guest, virtio-net for Linux. */
	struct run_net {
		const char *tap;
		bool usernet; /* --net user */
		struct usernet_config usernet_cfg;
		uint8_t mac[6];
		bool has_mac;
	} net[RUN_MAX_NETS];
	unsigned nr_nets;
	bool stats;
	/* Full virtualization: */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	bool reboot_exit;
	bool rng;
	bool virtio_console; /* --console virtio */
	/* --balloon [deflate-on-oom][,no-reporting] */
	bool balloon, balloon_deflate_on_oom, balloon_no_reporting;
	/* --vsock cid=N,socket=PATH (vsock_socket NULL: none) */
	uint64_t vsock_cid;
	const char *vsock_socket;
	/* Managed mode (shaled): */
	const char *control;
	const char *console_log;
	const char *exit_file;
	/* The sandbox (vmm/sandbox.h): */
	bool no_sandbox;
	enum sandbox_jail jail;
	bool user_set;
	uid_t uid;
	gid_t gid;
	int argc;
	char **argv;
};

/*
 * What lives for the whole run, across the VMs of a rebooting guest: the
 * event loop and what it watches, the console output, the control socket,
 * the counters, and the record of the last stop.
 */
struct run_env {
	bool open;
	struct evloop loop;
	int sig_fd;
	int timer_fd; /* -1 without --timeout */
	uint64_t timeout_ns;
	struct conout out;
	struct ctl *ctl; /* NULL without --control */
	uint64_t balloon_target; /* the last balloon target set, for the next boot's balloon */
	struct vm_stats stats;
	int status_fd; /* /proc/self/status for --stats, or -1 */

	/* The sandbox, applied once, before the first vCPU starts. */
	bool sandbox_on;
	bool sandboxed;
	struct sandbox_config sandbox;

	/* --exit-file: its directory, opened before the sandbox. */
	int exit_dirfd;
	const char *exit_name;
	/* --vsock's host side, whose directory the jail keeps (NULL: none). */
	struct vsock_unix *vsock;

	/* While a VM runs: */
	struct vm *vm;
	struct console *con; /* terminal input (Linux guests); NULL: none */
	bool con_eof;
	int room_fd; /* watched for the console, or -1 */

	/* The last stop, for --exit-file. */
	enum vm_stop_reason reason;
	char message[512];
};

/*
 * Parses `shale run`'s arguments (argv[0] is "run") into *o, whose
 * strings point into argv. 0 to run, 1 when --help was shown, -EINVAL
 * after one message on stderr for a bad option or combination.
 */
int run_parse_opts(struct run_opts *o, int argc, char **argv);

/*
 * Sets up env once the input is checked, before any VM: signals, the
 * timer (--timeout counts from start_ns), console output, the control
 * socket. 0 or -errno with a message.
 */
int run_env_open(struct run_env *env, const struct run_opts *o, uint64_t start_ns);
void run_env_close(struct run_env *env);

/*
 * Serves the event loop until the VM stops; turns signals, the timeout
 * and the console's quit sequence into stops, and feeds console input to
 * the guest (env->con). Then records the stop in env.
 */
void wait_for_stop(struct vm *vm, struct run_env *env);
void print_stats(const struct vm *vm, const struct run_env *env, uint64_t start_ns);

/*
 * Sandboxes the process (vmm/sandbox.h) unless --no-sandbox, once per run:
 * called right before the first vCPU starts, when every descriptor the
 * run needs is open and no other thread exists. Marks "sandbox" in vm.
 * 0 or -errno with a message.
 */
int run_sandbox(struct run_env *env, struct vm *vm);

/*
 * --net user: starts its helper (usernet_start(), as the VMM's --user).
 * The VMM's end of its socket, or -errno with a message.
 */
int run_start_usernet(const struct run_opts *o, const struct run_net *n);

/*
 * `shale run --kernel ...`: returns the exit status or -errno. It opens
 * env once its input is checked, before it builds the VM.
 */
int run_linux(const struct run_opts *o, struct run_env *env, uint64_t start_ns);

#endif
