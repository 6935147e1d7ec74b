/*
 * `shale run`: one VM, one guest, behaving like a process. The main thread
 * validates the request, builds the VM, then waits for the VM to stop,
 * for SIGINT/SIGTERM, or for --timeout; the vCPU thread runs the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "arch/x86/pc.h"
#include "backend/vsock_unix.h"
#include "cli/run.h"
#include "loader/elf.h"
#include "pv/pv.h"
#include "util/util.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MAX_IMAGE_SIZE (512 * MiB)

/*
 * A "Name:   123 kB" line of /proc/self/status (fd, opened before the
 * sandbox), in KiB; -1 if absent.
 */
static long proc_status_kib(int fd, const char *name)
{
	char buf[4096];
	size_t len = strlen(name);
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *line = buf; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, name, len) && line[len] == ':')
			return strtol(line + len + 1, NULL, 10);
	}
	return -1;
}

/*
 * "start:N,kvm:N,...,enter:N": the CPU microseconds of each set-up step,
 * the first since exec, the last ("enter") up to the first KVM_RUN.
 */
static void format_setup(const struct vm *vm, char *buf, size_t size)
{
	uint64_t prev = 0;
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i <= vm->nr_marks && len < size; i++) {
		const char *name = i < vm->nr_marks ? vm->mark[i].name : "enter";
		uint64_t at = i < vm->nr_marks ? vm->mark[i].cpu_ns : vm->first_entry_cpu_ns;
		int n;

		if (!at)
			break; /* the guest never ran */
		n = snprintf(buf + len, size - len, "%s%s:%llu", i ? "," : "", name,
			     (unsigned long long)((at > prev ? at - prev : 0) / 1000));
		if (n < 0)
			break;
		len += (size_t)n;
		prev = at;
	}
}

void print_stats(const struct vm *vm, const struct run_env *env, uint64_t start_ns)
{
	size_t pages = vm->ram_size / 4096, touched = 0;
	unsigned char *vec = malloc(pages);
	uint64_t exits[VM_EXIT_NR], nr_exits = 0;
	char setup[256];

	if (vec && !mincore(vm->ram, vm->ram_size, vec))
		for (size_t i = 0; i < pages; i++)
			touched += vec[i] & 1;
	free(vec);
	/*
	 * VmHWM, not getrusage(): ru_maxrss carries over across exec, so it
	 * would report the peak of whatever process started shale.
	 */
	format_setup(vm, setup, sizeof(setup));
	vm_read_exits(vm, exits);
	for (size_t i = 0; i < VM_EXIT_NR; i++)
		nr_exits += exits[i];
	fprintf(stderr,
		"shale-stats: guest_ram_touched_kib=%zu peak_rss_kib=%ld wall_us=%llu "
		"first_entry_mono_ns=%llu first_entry_cpu_us=%llu setup_cpu_us=%s exits=%llu\n",
		touched * 4, proc_status_kib(env->status_fd, "VmHWM"),
		(unsigned long long)((clock_monotonic_ns() - start_ns) / 1000),
		(unsigned long long)vm->first_entry_ns,
		(unsigned long long)(vm->first_entry_cpu_ns / 1000), setup,
		(unsigned long long)nr_exits);
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct run_env *env = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		vm_stop(env->vm, VM_STOP_SIGNAL, (int)si.ssi_signo, "stopping the VM on %s",
			strsignal((int)si.ssi_signo));
}

static void on_timeout(void *opaque, int fd, uint32_t events)
{
	struct run_env *env = opaque;

	/* Not read: the timer stays expired, for a VM that reboots after it. */
	vm_stop(env->vm, VM_STOP_TIMEOUT, 0, "timeout: the guest ran for %gs; VM stopped",
		(double)env->timeout_ns / 1e9);
}

static void on_stop_fd(void *opaque, int fd, uint32_t events)
{
	/* Only wakes the loop, which then sees vm_stopping(). */
}

static void on_console(void *opaque, int fd, uint32_t events)
{
	struct run_env *env = opaque;

	switch (console_read(env->con)) {
	case CONSOLE_QUIT:
		vm_stop(env->vm, VM_STOP_QUIT, 0, "quit from the console (Ctrl-A x)");
		break;
	case CONSOLE_EOF:
		env->con_eof = true; /* the guest keeps running without input */
		break;
	case CONSOLE_OK:
		break;
	}
}

static void on_console_room(void *opaque, int fd, uint32_t events)
{
	struct run_env *env = opaque;

	console_retry(env->con);
}

static void watch(struct run_env *env, int fd, bool on, evloop_fn fn)
{
	int ret;

	if (fd < 0 || on == evloop_has(&env->loop, fd))
		return;
	if (!on) {
		evloop_del(&env->loop, fd);
		return;
	}
	ret = evloop_add(&env->loop, fd, EPOLLIN, fn, env);
	if (ret)
		die("evloop_add: %s", strerror(-ret));
}

/*
 * Console input is read only while the guest can take it (a pipe or file
 * waits for the guest), and room_fd is watched only while input waits.
 */
static void sync_console(struct run_env *env)
{
	struct console *con = env->con;

	if (!con)
		return;
	watch(env, con->fd, !env->con_eof && console_wants_read(con), on_console);
	env->room_fd = con->room_fd;
	watch(env, con->room_fd, console_pending(con), on_console_room);
}

void wait_for_stop(struct vm *vm, struct run_env *env)
{
	int ret;

	env->vm = vm;
	env->room_fd = -1;
	ret = evloop_add(&env->loop, vm->stop_fd, EPOLLIN, on_stop_fd, env);
	if (ret)
		die("evloop_add: %s", strerror(-ret));
	while (!vm_stopping(vm)) {
		sync_console(env);
		ret = evloop_run_once(&env->loop, -1);
		if (ret < 0)
			die("epoll_wait: %s", strerror(-ret));
	}
	evloop_del(&env->loop, vm->stop_fd);
	/* The room eventfd belongs to this VM's UART; stdin stays for the next. */
	if (env->room_fd >= 0)
		evloop_del(&env->loop, env->room_fd);
	env->room_fd = -1;
	env->reason = vm->reason;
	snprintf(env->message, sizeof(env->message), "%s", vm->stop_message);
}

static int pv_shutdown(void *opaque, const char **why)
{
	pv_request_shutdown(opaque);
	return 0;
}

static int run_vm(const struct run_opts *o, const struct image *img, const struct elf_image *elf,
		  struct pv_guest *pv, struct run_env *env, uint64_t start_ns)
{
	struct pv_config cfg = {
		.name = o->guest ? o->guest : "shale-demo",
		.image = img->data,
		.image_size = img->size,
		.elf = elf,
		.argc = o->argc,
		.argv = o->argv,
	};
	struct vcpu *vcpu;
	struct vm vm;
	int ret;

	ret = vm_create(&vm);
	if (ret)
		goto out;
	vm.stats = &env->stats;
	vm.unclaimed_io = VM_IO_STRICT;
	ret = vm_add_ram(&vm, o->memory, VM_NO_HOLE);
	vm_mark(&vm, "memory");
	if (!ret)
		ret = vcpu_create(&vm, 0, &vcpu);
	if (!ret)
		ret = pv_setup(pv, &vm, vcpu, &cfg);
	vm_mark(&vm, "load");
	if (!ret)
		ret = run_sandbox(env, &vm);
	if (!ret) {
		log_info("starting guest %s with %llu MiB", cfg.name,
			 (unsigned long long)(o->memory / MiB));
		ret = vcpu_start(vcpu);
		sandbox_seal();
	}
	if (!ret) {
		const struct ctl_target target = {
			.vm = &vm, .kind = "pv", .shutdown = pv_shutdown, .opaque = pv,
		};

		if (env->ctl)
			ctl_attach(env->ctl, &target);
		wait_for_stop(&vm, env);
		ctl_detach(env->ctl);
		vcpu_join(vcpu);
		if (o->stats)
			print_stats(&vm, env, start_ns);
		ret = vm_exit_status(&vm);
	}
	pv_stop(pv); /* the I/O thread, before guest RAM goes */
	vm_destroy(&vm);
out:
	return ret;
}

/*
 * Signals become events of the main loop; vCPU threads inherit the mask. A
 * shell starts background jobs with SIGINT ignored, and an ignored signal
 * never reaches a signalfd: take both back first.
 */
static int setup_signals(void)
{
	sigset_t sigs;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		die("signalfd: %s", strerror(errno));
	vcpu_signals_init();
	return fd;
}

int run_start_usernet(const struct run_opts *o, const struct run_net *n)
{
	pid_t pid;
	int fd = usernet_start(&n->usernet_cfg, o->user_set ? (int)o->uid : -1,
			       o->user_set ? (int)o->gid : -1, &pid);

	if (fd >= 0)
		log_info("--net user: shale-net is pid %d", (int)pid);
	return fd;
}

static int run_pv(const struct run_opts *o, struct run_env *env, uint64_t start_ns)
{
	struct pv_guest pv = { .console_fd = STDOUT_FILENO, .block.disk.fd = -1, .net.fd = -1 };
	struct image img = { 0 };
	struct elf_image elf;
	int ret = 0;

	if (o->guest) {
		ret = image_map(o->guest, "a guest", MAX_IMAGE_SIZE, &img);
	} else {
		img.data = default_guest_start;
		img.size = (size_t)((uintptr_t)default_guest_end - (uintptr_t)default_guest_start);
	}
	if (!ret)
		ret = pv_check_image(o->guest ? o->guest : "built-in guest", img.data, img.size,
				     o->memory, &elf);
	if (!ret && o->nr_disks)
		ret = pv_block_open(&pv.block, o->disk[0].path, o->disk[0].readonly);
	if (!ret && o->nr_nets && o->net[0].tap)
		ret = pv_net_open(&pv.net, o->net[0].tap, o->net[0].has_mac ? o->net[0].mac : NULL);
	if (!ret && o->nr_nets && o->net[0].usernet) {
		/* The helper's socket is the device's tap. */
		int fd = run_start_usernet(o, &o->net[0]);

		if (fd < 0)
			ret = fd;
		else
			pv_net_attach(&pv.net, fd, o->net[0].has_mac ? o->net[0].mac : NULL);
	}
	if (!ret)
		ret = run_env_open(env, o, start_ns);
	if (!ret) {
		env->sandbox.pv = true;
		pv.console = &env->out;
		ret = run_vm(o, &img, &elf, &pv, env, start_ns);
	}
	pv_destroy(&pv);
	image_unmap(&img);
	return ret;
}

int run_env_open(struct run_env *env, const struct run_opts *o, uint64_t start_ns)
{
	int ret;

	env->sig_fd = env->timer_fd = env->room_fd = env->status_fd = -1;
	env->reason = VM_STOP_ERROR;
	env->sandbox_on = !o->no_sandbox;
	env->sandbox.user_set = o->user_set;
	env->sandbox.jail = o->jail;
	env->sandbox.uid = o->uid;
	env->sandbox.gid = o->gid;
	if (o->stats)
		env->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ret = evloop_init(&env->loop);
	if (ret) {
		log_err("epoll: %s", strerror(-ret));
		return ret;
	}
	env->open = true;
	if (o->console_log)
		ret = conout_init_log(&env->out, o->console_log, CONOUT_LOG_MAX);
	else
		conout_init_fd(&env->out, STDOUT_FILENO);
	if (ret) {
		evloop_destroy(&env->loop);
		env->open = false;
		return ret;
	}
	env->sig_fd = setup_signals();
	ret = evloop_add(&env->loop, env->sig_fd, EPOLLIN, on_signal, env);
	if (!ret && o->timeout_ns) {
		/* Absolute: --timeout bounds the whole run, reboots included. */
		uint64_t at = start_ns + o->timeout_ns;
		struct itimerspec its = {
			.it_value = {
				.tv_sec = (time_t)(at / 1000000000ull),
				.tv_nsec = (long)(at % 1000000000ull),
			},
		};

		env->timeout_ns = o->timeout_ns;
		env->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (env->timer_fd < 0 ||
		    timerfd_settime(env->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			die("timerfd: %s", strerror(errno));
		ret = evloop_add(&env->loop, env->timer_fd, EPOLLIN, on_timeout, env);
	}
	if (ret)
		die("evloop_add: %s", strerror(-ret));
	if (o->control)
		ret = ctl_open(&env->ctl, o->control, &env->loop, &env->out);
	return ret;
}

int run_sandbox(struct run_env *env, struct vm *vm)
{
	struct sandbox_config *cfg = &env->sandbox;
	int ret;

	if (!env->sandbox_on || env->sandboxed)
		return 0;
	cfg->nr_dirs = 0;
	if (env->out.log_dirfd >= 0)
		cfg->dirfd[cfg->nr_dirs++] = env->out.log_dirfd;
	if (env->exit_dirfd >= 0)
		cfg->dirfd[cfg->nr_dirs++] = env->exit_dirfd;
	if (env->ctl)
		cfg->dirfd[cfg->nr_dirs++] = ctl_dirfd(env->ctl);
	/* --vsock: the host sockets PATH_P are connected to there. */
	if (env->vsock)
		cfg->dirfd[cfg->nr_dirs++] = env->vsock->dir_fd;
	ret = sandbox_apply(cfg);
	if (ret)
		return ret;
	env->sandboxed = true;
	vm_mark(vm, "sandbox");
	return 0;
}

void run_env_close(struct run_env *env)
{
	if (!env->open)
		return;
	ctl_close(env->ctl);
	env->ctl = NULL;
	if (env->timer_fd >= 0)
		close(env->timer_fd);
	if (env->sig_fd >= 0)
		close(env->sig_fd);
	if (env->status_fd >= 0)
		close(env->status_fd);
	conout_destroy(&env->out);
	evloop_destroy(&env->loop);
	env->open = false;
}

/*
 * --exit-file: {"reason":R,"status":S,"message":M}, written to a temporary
 * file and renamed, so that a reader sees all of it or nothing.
 */
static void write_exit_file(const char *path, const struct run_env *env, int status)
{
	struct json_object *o = json_object_new_object();
	const char *msg = env->message;
	char *tmp = NULL, *line = NULL;
	int fd = -1, len;

	/* A host error logs its line before the stop, or stops nothing at all. */
	if ((env->reason == VM_STOP_ERROR || !env->open) && *log_last_error())
		msg = log_last_error();
	json_object_object_add(o, "reason",
			       json_object_new_string(vm_stop_reason_name(env->reason)));
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "message", json_object_new_string(msg));
	len = asprintf(&line, "%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	if (len < 0)
		line = NULL;
	if (!line || asprintf(&tmp, "%s.tmp", env->exit_name) < 0) {
		tmp = NULL;
		errno = ENOMEM;
		goto fail;
	}
	/* Through the directory opened before the sandbox: see vmm/sandbox.h. */
	/* A new file: whatever was there (a link, too) is not written through. */
	unlinkat(env->exit_dirfd, tmp, 0);
	fd = openat(env->exit_dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
	if (fd < 0 || write(fd, line, (size_t)len) != len || fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(env->exit_dirfd, tmp, env->exit_dirfd, env->exit_name))
		goto fail;
	free(tmp);
	free(line);
	json_object_put(o);
	return;
fail:
	log_err("--exit-file %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlinkat(env->exit_dirfd, tmp, 0);
	free(tmp);
	free(line);
	json_object_put(o);
}

int cmd_run(int argc, char **argv)
{
	uint64_t start_ns = clock_monotonic_ns();
	struct run_env env = { .reason = VM_STOP_ERROR, .exit_dirfd = -1 };
	struct run_opts o;
	int ret;

	ret = run_parse_opts(&o, argc, argv);
	if (ret > 0)
		return 0;
	if (o.exit_file) {
		env.exit_dirfd = path_open_parent(o.exit_file, &env.exit_name);
		if (env.exit_dirfd < 0) {
			log_err("--exit-file %s: %s", o.exit_file, strerror(-env.exit_dirfd));
			return SHALE_EXIT_VMM_ERROR;
		}
	}
	if (!ret)
		ret = o.kernel ? run_linux(&o, &env, start_ns) : run_pv(&o, &env, start_ns);
	if (ret < 0) {
		/* Set-up failed, or a reboot did: no stop of a VM to report. */
		env.reason = VM_STOP_ERROR;
		env.message[0] = '\0';
		ret = SHALE_EXIT_VMM_ERROR;
	}
	if (o.exit_file)
		write_exit_file(o.exit_file, &env, ret);
	if (env.exit_dirfd >= 0)
		close(env.exit_dirfd);
	run_env_close(&env);
	return ret;
}
