/*
 * A VM definition: what `POST /v1/vms` creates and the state directory
 * keeps. vmdef_parse() is the one validator for both, a pure function of
 * its input (fuzzed); vmdef_argv() turns a definition into the command line
 * of the VM's own VMM process.
 */
#ifndef SHALE_DAEMON_VMDEF_H
#define SHALE_DAEMON_VMDEF_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usernet/usernet.h"

struct json_object;

#define VMDEF_NAME_MAX 64
#define VMDEF_PATH_MAX 4096
#define VMDEF_TEXT_MAX 4096 /* cmdline, one argument */
#define VMDEF_MAX_ARGS 64
#define VMDEF_MAX_DISKS 16  /* what `shale run --kernel` takes; a PV guest one */
#define VMDEF_MAX_NETS 4   /* what `shale run --kernel` takes; a PV guest one */
#define VMDEF_MAX_BODY (64 * 1024)

#define VMDEF_SERIAL_MAX 20 /* virtio-blk's GET_ID */

struct vmdef_disk {
	char *path;
	bool readonly;
	char *serial; /* NULL: none; a Linux guest's only */
};

struct vmdef_net {
	char *tap;  /* a tap device, or NULL for user-mode networking ("user": true) */
	char *mac;  /* NULL: the VMM picks one */
	/* "user": host port forwards, as usernet_format_fwd() writes them */
	char *fwd[USERNET_MAX_FWDS];
	unsigned nr_fwds;
};

/* 0 means "not set" for every field. */
struct vmdef_limits {
	unsigned cpu_max_percent; /* of one CPU; 1-100 * host CPUs */
	unsigned cpu_weight;      /* 1-10000, cgroup v2 cpu.weight */
	uint64_t memory_max_mib;  /* the VMM process's memory limit */
	char *cpus;               /* CPU list for pinning, "0-1,3" */
};

/* A Linux guest's para-virtual devices besides its disks and networks. */
struct vmdef_devices {
	bool rng;            /* "rng": true: virtio-rng */
	bool virtio_console; /* "console": "virtio" (hvc0), not "serial" (ttyS0) */
	bool balloon;        /* "balloon": {...}: virtio-balloon, with: */
	bool deflate_on_oom;
	bool no_reporting;   /* "free_page_reporting": false */
};

struct vm_def {
	char name[VMDEF_NAME_MAX + 1];
	char *guest;  /* para-virtual guest ELF, or */
	char *kernel; /* a Linux kernel, with: */
	char *initrd;
	char *cmdline;
	char *args[VMDEF_MAX_ARGS];
	unsigned nr_args;
	unsigned cpus;
	uint64_t memory_mib;
	struct vmdef_disk disk[VMDEF_MAX_DISKS];
	unsigned nr_disks;
	struct vmdef_net net[VMDEF_MAX_NETS];
	unsigned nr_nets;
	struct vmdef_limits limits;
	struct vmdef_devices dev;
};

/*
 * A CPU list for pinning, "0-3,5": CPU numbers below VMDEF_CPUS_MAX in
 * ascending ranges. Fills `set` (may be NULL: only checks). 0 or -EINVAL.
 */
#define VMDEF_CPUS_MAX 1024
int vmdef_cpulist(const char *s, cpu_set_t *set);

/* True for [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
bool vmdef_name_ok(const char *name);

/*
 * Parses and checks a JSON definition. Unknown fields, wrong types and
 * values out of range are refused with a message in `err` naming the
 * field. Does not look at the file system (see vmdef_check_files()).
 * 0 or -EINVAL; on success free with vmdef_free().
 */
int vmdef_parse(const char *text, size_t len, struct vm_def *def, char *err, size_t errlen);
/* The files a definition names exist and are regular files. */
int vmdef_check_files(const struct vm_def *def, char *err, size_t errlen);
void vmdef_free(struct vm_def *def);

/* The definition as a new JSON object, in the form vmdef_parse() takes. */
struct json_object *vmdef_to_json(const struct vm_def *def);

/*
 * The argv of the VM's VMM: `vmm run --control DIR/ctl ... GUEST -- ARGS`;
 * with `user` (may be NULL) the VMM runs as that user once set up.
 * A NULL-terminated array of malloc'd strings (free with vmdef_argv_free),
 * or NULL when out of memory.
 */
char **vmdef_argv(const struct vm_def *def, const char *vmm, const char *dir,
		  const char *user);
void vmdef_argv_free(char **argv);

#endif
