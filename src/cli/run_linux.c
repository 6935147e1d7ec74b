/*
 * `shale run --kernel`: an unmodified Linux guest on the emulated PC. The
 * kernel, initrd and command line are checked before any VM exists; the
 * serial console is wired to the terminal; a reboot builds a fresh VM when
 * --on-reboot=restart says so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/pc.h"
#include "backend/disk.h"
#include "backend/tap.h"
#include "backend/vsock_unix.h"
#include "cli/run.h"
#include "devices/virtio/balloon.h"
#include "util/util.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MAX_KERNEL_SIZE (256 * MiB)
#define MAX_INITRD_SIZE (2 * GiB)
#define DEFAULT_CMDLINE "console=ttyS0"

struct boot_files {
	struct image kernel, initrd;
};

/* linux_boot.fill: reads kernel and initrd from their files into guest RAM. */
static int read_boot_file(void *dst, const uint8_t *src, size_t len, void *opaque)
{
	const struct boot_files *f = opaque;

	if (image_contains(&f->kernel, src, len))
		return image_read(&f->kernel, dst, src, len);
	return image_read(&f->initrd, dst, src, len);
}

/* What the control socket's shutdown and console need of one boot. */
struct linux_ctl {
	struct pc_machine *pc;
	struct console *con;
	uint64_t *balloon_target; /* the run's: a reboot keeps the target */
};

static int linux_shutdown(void *opaque, const char **why)
{
	struct linux_ctl *lc = opaque;

	/* What the guest does about it is its business (acpid, systemd-logind). */
	pc_power_button(lc->pc);
	return 0;
}

static void linux_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct linux_ctl *lc = opaque;

	console_feed(lc->con, buf, len);
}

static int linux_balloon_target(void *opaque, uint64_t bytes, const char **why)
{
	struct linux_ctl *lc = opaque;

	if (virtio_balloon_set_target(lc->pc->balloon, bytes)) {
		*why = "the balloon cannot be larger than guest RAM";
		return -EINVAL;
	}
	*lc->balloon_target = bytes;
	return 0;
}

static void linux_balloon_info(void *opaque, struct ctl_balloon *out)
{
	struct linux_ctl *lc = opaque;
	struct virtio_balloon_info b;

	_Static_assert(CTL_BALLOON_NR_STATS == VIRTIO_BALLOON_NR_STATS, "the same tags");
	virtio_balloon_info(lc->pc->balloon, &b);
	*out = (struct ctl_balloon){
		.target_bytes = b.target_pages * VIRTIO_BALLOON_PAGE,
		.actual_bytes = b.actual_pages * VIRTIO_BALLOON_PAGE,
		.inflated_bytes = b.inflated_pages * VIRTIO_BALLOON_PAGE,
		.deflated_bytes = b.deflated_pages * VIRTIO_BALLOON_PAGE,
		.reported_bytes = b.reported_bytes,
		.stats_updates = b.stats_updates,
		.stat_valid = b.stat_valid,
	};
	memcpy(out->stat, b.stat, sizeof(out->stat));
}

/* --stats: the balloon's line, after the VMM's. */
static void print_balloon_stats(struct virtio_balloon *bal)
{
	struct virtio_balloon_info b;

	virtio_balloon_info(bal, &b);
	fprintf(stderr,
		"shale-stats-balloon: target_kib=%llu actual_kib=%llu inflated_kib=%llu "
		"deflated_kib=%llu reported_kib=%llu\n",
		(unsigned long long)(b.target_pages * 4), (unsigned long long)(b.actual_pages * 4),
		(unsigned long long)(b.inflated_pages * 4),
		(unsigned long long)(b.deflated_pages * 4),
		(unsigned long long)(b.reported_bytes / 1024));
}

/*
 * One boot. The console lives across boots, with the input the guest has
 * not taken yet; so do env's loop, timer and control socket.
 */
static int boot_once(const struct run_opts *o, const struct pc_config *cfg,
		     struct run_env *env, uint64_t start_ns, enum vm_stop_reason *reason)
{
	struct pc_machine pc = { 0 };
	struct linux_ctl lc = { &pc, env->con, &env->balloon_target };
	struct vm vm;
	int ret;

	ret = vm_create(&vm);
	vm.stats = &env->stats;
	if (!ret)
		ret = pc_build(&vm, cfg, &pc);
	/* The guest after a reboot finds the target the host set before it. */
	if (!ret && pc.balloon && env->balloon_target)
		ret = virtio_balloon_set_target(pc.balloon, env->balloon_target);
	if (!ret) {
		const struct ctl_target target = {
			.vm = &vm, .kind = "linux", .shutdown = linux_shutdown,
			.console_input = linux_console_input, .opaque = &lc,
			.balloon_target = pc.balloon ? linux_balloon_target : NULL,
			.balloon_info = pc.balloon ? linux_balloon_info : NULL,
		};

		console_attach(env->con, &pc, pc_console_room_fd(&pc));
		ret = run_sandbox(env, &vm);
		/* Once: PATH_P is named from PATH's directory from now on. */
		if (!ret && env->vsock && !env->vsock->relative)
			ret = vsock_unix_enter(env->vsock);
		if (!ret)
			ret = pc_start_devices(&pc);
		for (unsigned i = 0; !ret && i < vm.nr_vcpus; i++)
			ret = vcpu_start(vm.vcpu[i]);
		sandbox_seal();
		if (!ret) {
			if (env->ctl)
				ctl_attach(env->ctl, &target);
			wait_for_stop(&vm, env);
			ctl_detach(env->ctl);
		} else {
			vm_stop(&vm, VM_STOP_ERROR, 0, NULL);
		}
		for (unsigned i = 0; i < vm.nr_vcpus; i++)
			vcpu_join(vm.vcpu[i]);
		/* One line for the run: the last boot's (a restart is not the end). */
		if (!ret && o->stats && (vm.reason != VM_STOP_RESET || o->reboot_exit)) {
			print_stats(&vm, env, start_ns);
			if (pc.balloon)
				print_balloon_stats(pc.balloon);
		}
		if (!ret)
			ret = vm_exit_status(&vm);
		*reason = vm.reason;
	}
	pc_destroy(&pc);
	vm_destroy(&vm);
	return ret;
}

int run_linux(const struct run_opts *o, struct run_env *env, uint64_t start_ns)
{
	struct boot_files files = { 0 };
	struct disk disks[RUN_MAX_DISKS];
	unsigned nr_disks = 0, nr_nets = 0;
	enum vm_stop_reason reason;
	struct console con;
	struct pc_config cfg;
	struct host_info host;
	struct vsock_unix vsock = { .listen_fd = -1, .dir_fd = -1 };
	int ret;

	/*
	 * PVM opens and runs VMs like any KVM but cannot run a kernel: say so
	 * at once rather than after a minute of emulated ring 0. No KVM at
	 * all, or no access to it, is refused when the VM is created.
	 */
	host_detect(&host, 0);
	if (host.kind == HOST_PVM) {
		char name[64] = "PVM";

		if (host.module)
			snprintf(name, sizeof(name), "PVM (%s)", host.module);
		log_err("this host's KVM is %s, which cannot run unmodified kernels: %s", name,
			HOST_LINUX_ELSEWHERE);
		return -ENOTSUP;
	}
	ret = image_map(o->kernel, "a kernel", MAX_KERNEL_SIZE, &files.kernel);
	if (!ret && o->initrd)
		ret = image_map(o->initrd, "an initrd", MAX_INITRD_SIZE, &files.initrd);
	if (ret)
		goto out;
	cfg = (struct pc_config){
		.boot = {
			.kernel = files.kernel.data,
			.kernel_size = files.kernel.size,
			.initrd = files.initrd.data,
			.initrd_size = files.initrd.size,
			.fill = read_boot_file,
			.fill_opaque = &files,
			.cmdline = o->cmdline ? o->cmdline : DEFAULT_CMDLINE,
			.mem_size = o->memory,
		},
		.nr_cpus = o->cpus,
		.console_out = STDOUT_FILENO,
	};
	ret = pc_check(&cfg, o->kernel);
	if (ret)
		goto out;
	/* Opened once: after a reboot the sandbox lets nothing be opened by name. */
	_Static_assert(RUN_MAX_DISKS <= PC_MAX_DISKS, "a slot for every disk");
	for (; nr_disks < o->nr_disks; nr_disks++) {
		ret = disk_open(&disks[nr_disks], o->disk[nr_disks].path,
				o->disk[nr_disks].readonly, "--disk");
		if (ret)
			goto out;
		cfg.disk[nr_disks] = (struct pc_disk){ &disks[nr_disks], o->disk[nr_disks].serial };
	}
	cfg.nr_disks = nr_disks;
	/* The networks too: a tap opened, a user-mode network's helper started. */
	_Static_assert(RUN_MAX_NETS <= PC_MAX_NETS, "a slot for every network");
	for (; nr_nets < o->nr_nets; nr_nets++) {
		const struct run_net *n = &o->net[nr_nets];
		int fd = n->tap ? tap_open(n->tap, "--net") : run_start_usernet(o, n);

		if (fd < 0) {
			ret = fd;
			goto out;
		}
		cfg.net[nr_nets].fd = fd;
		if (n->has_mac)
			memcpy(cfg.net[nr_nets].mac, n->mac, 6);
		else
			tap_random_mac(cfg.net[nr_nets].mac);
	}
	cfg.nr_nets = nr_nets;
	cfg.rng = o->rng;
	cfg.virtio_console = o->virtio_console;
	cfg.balloon = o->balloon;
	cfg.balloon_deflate_on_oom = o->balloon_deflate_on_oom;
	cfg.balloon_reporting = !o->balloon_no_reporting;
	if (o->vsock_socket) {
		ret = vsock_unix_open(&vsock, o->vsock_socket, "--vsock");
		if (ret)
			goto out;
		cfg.vsock = &vsock;
		cfg.vsock_cid = o->vsock_cid;
		env->vsock = &vsock;
	}

	ret = run_env_open(env, o, start_ns);
	if (ret)
		goto out;
	cfg.console = &env->out;
	console_open(&con, STDIN_FILENO, pc_console_input, NULL, -1);
	env->con = &con;
	for (;;) {
		/* A kernel replaced in place since it was checked: not parsed again. */
		if (image_shrank(&files.kernel) || image_shrank(&files.initrd)) {
			log_err("%s: the kernel or initrd file shrank since shale started; not booting it",
				o->kernel);
			ret = -EIO;
			break;
		}
		ret = boot_once(o, &cfg, env, start_ns, &reason);
		if (ret < 0 || reason != VM_STOP_RESET)
			break;
		if (o->reboot_exit) {
			log_err("guest rebooted; exiting (--on-reboot=exit)");
			break;
		}
		log_info("guest rebooted: starting it again");
	}
	console_close(&con);
	env->con = NULL;
out:
	env->vsock = NULL;
	vsock_unix_close(&vsock);
	while (nr_disks)
		disk_close(&disks[--nr_disks]);
	while (nr_nets)
		close(cfg.net[--nr_nets].fd);
	image_unmap(&files.kernel);
	image_unmap(&files.initrd);
	return ret;
}
