#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cgroup.h"
#include "daemon/daemon.h"

#define V1_CPU "/sys/fs/cgroup/cpu"
#define V1_MEMORY "/sys/fs/cgroup/memory"
#define CFS_PERIOD_US 100000

/* The cgroup v2 root with the cpu and memory controllers, or NULL. */
static const char *v2_root(void)
{
	static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char path[128], buf[512];
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "%s/cgroup.controllers", roots[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "cpu") && strstr(buf, "memory"))
			return roots[i];
	}
	return NULL;
}

static bool v1_available(void)
{
	return access(V1_CPU "/cpu.cfs_quota_us", F_OK) == 0 &&
	       access(V1_MEMORY "/memory.limit_in_bytes", F_OK) == 0;
}

const char *cgroup_kind(void)
{
	if (v2_root())
		return "v2";
	return v1_available() ? "v1" : NULL;
}

static int put(const char *dir, const char *file, const char *value)
{
	char path[512];
	int fd, ret = 0;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static bool has_limits(const struct vmdef_limits *l)
{
	return l->cpu_max_percent || l->cpu_weight || l->memory_max_mib;
}

static int apply_v2(const char *root, const struct managed_vm *vm, char *err, size_t errlen)
{
	const struct vmdef_limits *l = &vm->def.limits;
	char parent[256], dir[512], value[64], pid[32];
	int ret;

	snprintf(parent, sizeof(parent), "%s/shale", root);
	snprintf(dir, sizeof(dir), "%s/%s", parent, vm->def.name);
	ret = make_dir(parent);
	if (!ret) {
		put(root, "cgroup.subtree_control", "+cpu +memory");
		ret = put(parent, "cgroup.subtree_control", "+cpu +memory");
	}
	if (!ret)
		ret = make_dir(dir);
	if (!ret && l->cpu_max_percent) {
		snprintf(value, sizeof(value), "%u %u",
			 l->cpu_max_percent * (CFS_PERIOD_US / 100), CFS_PERIOD_US);
		ret = put(dir, "cpu.max", value);
	}
	if (!ret && l->cpu_weight) {
		snprintf(value, sizeof(value), "%u", l->cpu_weight);
		ret = put(dir, "cpu.weight", value);
	}
	if (!ret && l->memory_max_mib) {
		snprintf(value, sizeof(value), "%llu",
			 (unsigned long long)l->memory_max_mib << 20);
		ret = put(dir, "memory.max", value);
	}
	snprintf(pid, sizeof(pid), "%d", (int)vm->pid);
	if (!ret)
		ret = put(dir, "cgroup.procs", pid);
	if (ret)
		snprintf(err, errlen, "cgroup %s: %s", dir, strerror(-ret));
	return ret;
}

/* cgroup v1: cpu.cfs_quota_us and cpu.shares, memory.limit_in_bytes. */
static int apply_v1(const struct managed_vm *vm, char *err, size_t errlen)
{
	const struct vmdef_limits *l = &vm->def.limits;
	char dir[512], value[64], pid[32];
	int ret = 0;

	snprintf(pid, sizeof(pid), "%d", (int)vm->pid);
	if (l->cpu_max_percent || l->cpu_weight) {
		ret = make_dir(V1_CPU "/shale");
		snprintf(dir, sizeof(dir), V1_CPU "/shale/%s", vm->def.name);
		if (!ret)
			ret = make_dir(dir);
		if (!ret && l->cpu_max_percent) {
			snprintf(value, sizeof(value), "%u", CFS_PERIOD_US);
			ret = put(dir, "cpu.cfs_period_us", value);
			snprintf(value, sizeof(value), "%u",
				 l->cpu_max_percent * (CFS_PERIOD_US / 100));
			if (!ret)
				ret = put(dir, "cpu.cfs_quota_us", value);
		}
		if (!ret && l->cpu_weight) {
			/* v2 weight 100 is v1 shares 1024. */
			snprintf(value, sizeof(value), "%u", l->cpu_weight * 1024 / 100 + 2);
			ret = put(dir, "cpu.shares", value);
		}
		if (!ret)
			ret = put(dir, "cgroup.procs", pid);
	}
	if (!ret && l->memory_max_mib) {
		ret = make_dir(V1_MEMORY "/shale");
		snprintf(dir, sizeof(dir), V1_MEMORY "/shale/%s", vm->def.name);
		if (!ret)
			ret = make_dir(dir);
		snprintf(value, sizeof(value), "%llu",
			 (unsigned long long)l->memory_max_mib << 20);
		if (!ret)
			ret = put(dir, "memory.limit_in_bytes", value);
		if (!ret)
			ret = put(dir, "cgroup.procs", pid);
	}
	if (ret)
		snprintf(err, errlen, "cgroup %s: %s", dir, strerror(-ret));
	return ret;
}

int cgroup_apply(struct shaled *d, struct managed_vm *vm, char *err, size_t errlen)
{
	const struct vmdef_limits *l = &vm->def.limits;
	const char *root;
	int ret = 0;

	(void)d;
	if (l->cpus) {
		cpu_set_t set;

		vmdef_cpulist(l->cpus, &set); /* checked when the VM was defined */
		if (sched_setaffinity(vm->pid, sizeof(set), &set) < 0) {
			ret = -errno;
			snprintf(err, errlen, "limits.cpus %s: %s", l->cpus, strerror(errno));
			return ret;
		}
	}
	if (!has_limits(l))
		return 0;
	root = v2_root();
	if (root)
		return apply_v2(root, vm, err, errlen);
	if (v1_available())
		return apply_v1(vm, err, errlen);
	snprintf(err, errlen,
		 "limits: this host has no cgroup cpu and memory controllers to enforce them");
	return -EOPNOTSUPP;
}

void cgroup_remove(struct shaled *d, struct managed_vm *vm)
{
	const char *root = v2_root();
	char dir[512];

	(void)d;
	if (!has_limits(&vm->def.limits))
		return;
	if (root) {
		snprintf(dir, sizeof(dir), "%s/shale/%s", root, vm->def.name);
		rmdir(dir);
		return;
	}
	snprintf(dir, sizeof(dir), V1_CPU "/shale/%s", vm->def.name);
	rmdir(dir);
	snprintf(dir, sizeof(dir), V1_MEMORY "/shale/%s", vm->def.name);
	rmdir(dir);
}
