/*
 * Per-VM resource limits: a cgroup per VMM process (cgroup v2 cpu.max,
 * cpu.weight, memory.max; or the v1 cpu and memory controllers where the
 * host mounts those) and CPU pinning with sched_setaffinity().
 */
#ifndef SHALE_DAEMON_CGROUP_H
#define SHALE_DAEMON_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

struct shaled;
struct managed_vm;

/* Which kind of cgroup the host offers for limits: "v2", "v1" or NULL. */
const char *cgroup_kind(void);
/*
 * Puts the (not yet started) VMM vm->pid under the VM's limits. A VM with
 * no limits needs nothing; limits the host cannot enforce are an error.
 */
int cgroup_apply(struct shaled *d, struct managed_vm *vm, char *err, size_t errlen);
/* Removes the VM's cgroup once its VMM has ended. */
void cgroup_remove(struct shaled *d, struct managed_vm *vm);

#endif
