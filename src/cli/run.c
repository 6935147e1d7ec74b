/*
 * `shale run`: one VM, one guest, behaving like a process. The main thread
 * validates the request, builds the VM, then waits for the VM to stop,
 * for SIGINT/SIGTERM, or for --timeout; the vCPU thread runs the guest.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
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
#include "cli/run.h"
#include "loader/elf.h"
#include "pv/pv.h"
#include "util/util.h"
#include "vmm/console.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define DEFAULT_MEMORY (64 * MiB)
#define DEFAULT_LINUX_MEMORY (512 * MiB)
#define MAX_LINUX_MEMORY (1024 * GiB)
#define MAX_IMAGE_SIZE (512 * MiB)



static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: shale run [OPTIONS] [GUEST [--] [ARG...]]\n"
		"       shale run [OPTIONS] --kernel KERNEL [--initrd FILE] [--cmdline TEXT]\n"
		"\n"
		"Runs GUEST, a static ELF built with the shale SDK, in a new VM and exits\n"
		"with the guest's exit status. Without GUEST, runs the built-in demo guest.\n"
		"ARGs are passed to the guest as its argv[1...].\n"
		"\n"
		"With --kernel, boots an unmodified Linux kernel (bzImage, or an ELF vmlinux\n"
		"through its PVH entry) on an emulated PC. The terminal is the guest's serial\n"
		"console (ttyS0): Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
		"\n"
		"Options:\n"
		"  -m, --memory SIZE       guest RAM, a multiple of 2 MiB (64M by default,\n"
		"                          4M-4G; with --kernel 512M by default, 16M-1024G);\n"
		"                          allocated on first use\n"
		"      --disk PATH[,ro]    block device backed by file PATH (,ro: read-only);\n"
		"                          para-virtual guests only, so far\n"
		"      --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
		"                          network device on the existing tap device NAME;\n"
		"                          para-virtual guests only, so far\n"
		"      --timeout DURATION  stop the VM after DURATION (e.g. 5s, 250ms, 2m)\n"
		"      --stats             print VMM statistics to stderr at exit\n"
		"  -v, --verbose           log VM set-up steps to stderr\n"
		"  -h, --help              show this help\n"
		"Linux guests:\n"
		"      --kernel FILE       the kernel to boot\n"
		"      --initrd FILE       initial ramdisk\n"
		"      --cmdline TEXT      kernel command line (default \"console=ttyS0\")\n"
		"      --cpus N            vCPUs, 1-%u (default 1)\n"
		"      --on-reboot WHAT    restart (default) or exit when the guest reboots\n"
		"\n"
		"Exit status: the guest's own status (0-255) when it exits; 0 when a Linux\n"
		"guest powers off (or reboots with --on-reboot=exit); otherwise\n"
		"  124  --timeout elapsed\n"
		"  125  shale failed (bad option, bad guest image, no KVM, host error)\n"
		"  126  the guest crashed (exception, triple fault, kernel panic, ABI violation)\n"
		"  130  stopped by SIGINT;  143  stopped by SIGTERM\n", PC_MAX_CPUS);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1)
		return -EINVAL; /* multicast */
	return 0;
}

static int parse_net(struct run_opts *o, char *arg)
{
	char *save = NULL;

	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4) && tok[4]) {
			o->tap = tok + 4;
		} else if (!strncmp(tok, "mac=", 4)) {
			if (parse_mac(tok + 4, o->mac)) {
				log_err("--net: bad MAC address '%s' (want a unicast XX:XX:XX:XX:XX:XX)",
					tok + 4);
				return -EINVAL;
			}
			o->has_mac = true;
		} else {
			log_err("--net: unknown setting '%s' (want tap=NAME[,mac=...])", tok);
			return -EINVAL;
		}
	}
	if (!o->tap) {
		log_err("--net: missing tap=NAME");
		return -EINVAL;
	}
	return 0;
}

static int parse_disk(struct run_opts *o, char *arg)
{
	char *comma = strrchr(arg, ',');

	if (comma && (!strcmp(comma, ",ro") || !strcmp(comma, ",readonly"))) {
		*comma = '\0';
		o->disk_readonly = true;
	}
	if (!*arg) {
		log_err("--disk: missing file name");
		return -EINVAL;
	}
	o->disk = arg;
	return 0;
}

/*
 * Para-virtual guests address all RAM with 32 bits; Linux guests get RAM
 * above the PCI hole too. Both take whole 2 MiB pages.
 */
static int parse_memory(struct run_opts *o, const char *arg)
{
	uint64_t max = o->kernel ? MAX_LINUX_MEMORY : 4 * GiB;
	uint64_t min = o->kernel ? 16 * MiB : 4 * MiB;

	if (!arg) {
		o->memory = o->kernel ? DEFAULT_LINUX_MEMORY : DEFAULT_MEMORY;
		return 0;
	}
	if (parse_size(arg, &o->memory) || o->memory % (2 * MiB) || o->memory < min ||
	    o->memory > max) {
		log_err("--memory %s: want a multiple of 2 MiB from %lluM to %lluG", arg,
			(unsigned long long)(min / MiB), (unsigned long long)(max / GiB));
		return -EINVAL;
	}
	return 0;
}

/* Returns 0 to run, 1 when help was shown, -EINVAL on a bad option. */
static int parse_opts(struct run_opts *o, int argc, char **argv)
{
	enum {
		OPT_DISK = 256, OPT_NET, OPT_TIMEOUT, OPT_STATS, OPT_KERNEL, OPT_INITRD,
		OPT_CMDLINE, OPT_CPUS, OPT_ON_REBOOT,
	};
	static const struct option longopts[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *memory = NULL;
	int c;

	*o = (struct run_opts){ .cpus = 1 };
	opterr = 0;
	optind = 1;
	/* '+': options end at GUEST; what follows belongs to the guest. */
	while ((c = getopt_long(argc, argv, "+m:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			memory = optarg;
			break;
		case OPT_DISK:
			if (parse_disk(o, optarg))
				return -EINVAL;
			break;
		case OPT_NET:
			if (parse_net(o, optarg))
				return -EINVAL;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &o->timeout_ns) || !o->timeout_ns) {
				log_err("--timeout %s: want a duration such as 5s or 250ms", optarg);
				return -EINVAL;
			}
			break;
		case OPT_STATS:
			o->stats = true;
			break;
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_INITRD:
			o->initrd = optarg;
			break;
		case OPT_CMDLINE:
			o->cmdline = optarg;
			break;
		case OPT_CPUS: {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (!isdigit((unsigned char)*optarg) || *end || n < 1 || n > PC_MAX_CPUS) {
				log_err("--cpus %s: want a number from 1 to %u", optarg, PC_MAX_CPUS);
				return -EINVAL;
			}
			o->cpus = (unsigned)n;
			break;
		}
		case OPT_ON_REBOOT:
			if (!strcmp(optarg, "exit")) {
				o->reboot_exit = true;
			} else if (strcmp(optarg, "restart")) {
				log_err("--on-reboot %s: want restart or exit", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			run_usage(stdout);
			return 1;
		default:
			if (optopt && optopt < 256)
				log_err("run: unknown option '-%c' (see 'shale run --help')", optopt);
			else
				log_err("run: bad option '%s' (see 'shale run --help')",
					argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (parse_memory(o, memory))
		return -EINVAL;
	if (o->kernel) {
		if (optind < argc) {
			log_err("run: with --kernel, pass guest arguments with --cmdline");
			return -EINVAL;
		}
		if (o->disk || o->tap) {
			log_err("run: --disk and --net are for para-virtual guests so far");
			return -EINVAL;
		}
		return 0;
	}
	if (o->initrd || o->cmdline || o->cpus != 1 || o->reboot_exit) {
		log_err("run: --initrd, --cmdline, --cpus and --on-reboot need --kernel");
		return -EINVAL;
	}
	if (optind < argc && strcmp(argv[optind], "--"))
		o->guest = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

/* A "Name:   123 kB" line of /proc/self/status, in KiB; -1 if absent. */
static long proc_status_kib(const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':')
			kib = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kib;
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

void print_stats(const struct vm *vm, uint64_t start_ns)
{
	size_t pages = vm->ram_size / 4096, touched = 0;
	unsigned char *vec = malloc(pages);
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
	fprintf(stderr,
		"shale-stats: guest_ram_touched_kib=%zu peak_rss_kib=%ld wall_us=%llu "
		"first_entry_mono_ns=%llu first_entry_cpu_us=%llu setup_cpu_us=%s\n",
		touched * 4, proc_status_kib("VmHWM"),
		(unsigned long long)((clock_monotonic_ns() - start_ns) / 1000),
		(unsigned long long)vm->first_entry_ns,
		(unsigned long long)(vm->first_entry_cpu_ns / 1000), setup);
}

void wait_for_stop(struct vm *vm, int sig_fd, uint64_t timeout_ns, struct console *con)
{
	struct pollfd fds[5] = {
		{ .fd = vm->stop_fd, .events = POLLIN },
		{ .fd = sig_fd, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
		{ .fd = -1, .events = POLLIN }, /* console input */
		{ .fd = -1, .events = POLLIN }, /* room for console input */
	};
	bool con_eof = !con;

	if (timeout_ns) {
		struct itimerspec its = {
			.it_value = {
				.tv_sec = (time_t)(timeout_ns / 1000000000ull),
				.tv_nsec = (long)(timeout_ns % 1000000000ull),
			},
		};

		fds[2].fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (fds[2].fd < 0 || timerfd_settime(fds[2].fd, 0, &its, NULL) < 0)
			die("timerfd: %s", strerror(errno));
	}
	while (!vm_stopping(vm)) {
		fds[3].fd = !con_eof && console_wants_read(con) ? con->fd : -1;
		fds[4].fd = con && console_pending(con) ? con->room_fd : -1;
		if (poll(fds, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				vm_stop(vm, VM_STOP_SIGNAL, (int)si.ssi_signo,
					"stopping the VM on %s", strsignal((int)si.ssi_signo));
		}
		if (fds[2].revents & POLLIN) {
			double secs = (double)timeout_ns / 1e9;

			vm_stop(vm, VM_STOP_TIMEOUT, 0, "timeout: the guest ran for %gs; VM stopped",
				secs);
		}
		if (fds[4].revents & POLLIN)
			console_retry(con);
		if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			switch (console_read(con)) {
			case CONSOLE_QUIT:
				vm_stop(vm, VM_STOP_QUIT, 0, "quit from the console (Ctrl-A x)");
				break;
			case CONSOLE_EOF:
				con_eof = true; /* the guest keeps running without input */
				break;
			case CONSOLE_OK:
				break;
			}
		}
	}
	if (fds[2].fd >= 0)
		close(fds[2].fd);
}

static int run_vm(const struct run_opts *o, const struct image *img, const struct elf_image *elf,
		  struct pv_guest *pv, int sig_fd, uint64_t start_ns)
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
	vm.unclaimed_io = VM_IO_STRICT;
	ret = vm_add_ram(&vm, o->memory, VM_NO_HOLE);
	vm_mark(&vm, "memory");
	if (!ret)
		ret = vcpu_create(&vm, 0, &vcpu);
	if (!ret)
		ret = pv_setup(pv, &vm, vcpu, &cfg);
	vm_mark(&vm, "load");
	if (!ret) {
		log_info("starting guest %s with %llu MiB", cfg.name,
			 (unsigned long long)(o->memory / MiB));
		ret = vcpu_start(vcpu);
	}
	if (!ret) {
		wait_for_stop(&vm, sig_fd, o->timeout_ns, NULL);
		vcpu_join(vcpu);
		if (o->stats)
			print_stats(&vm, start_ns);
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

static int run_pv(const struct run_opts *o, uint64_t start_ns)
{
	struct pv_guest pv = { .console_fd = STDOUT_FILENO, .block.fd = -1, .net.fd = -1 };
	struct image img = { 0 };
	struct elf_image elf;
	int sig_fd = -1, ret = 0;

	if (o->guest) {
		ret = image_map(o->guest, "a guest", MAX_IMAGE_SIZE, &img);
	} else {
		img.data = default_guest_start;
		img.size = (size_t)((uintptr_t)default_guest_end - (uintptr_t)default_guest_start);
	}
	if (!ret)
		ret = pv_check_image(o->guest ? o->guest : "built-in guest", img.data, img.size,
				     o->memory, &elf);
	if (!ret && o->disk)
		ret = pv_block_open(&pv.block, o->disk, o->disk_readonly);
	if (!ret && o->tap)
		ret = pv_net_open(&pv.net, o->tap, o->has_mac ? o->mac : NULL);
	if (!ret) {
		sig_fd = setup_signals();
		ret = run_vm(o, &img, &elf, &pv, sig_fd, start_ns);
	}
	pv_destroy(&pv);
	image_unmap(&img);
	if (sig_fd >= 0)
		close(sig_fd);
	return ret < 0 ? SHALE_EXIT_VMM_ERROR : ret;
}

int cmd_run(int argc, char **argv)
{
	uint64_t start_ns = clock_monotonic_ns();
	struct run_opts o;
	int ret;

	ret = parse_opts(&o, argc, argv);
	if (ret)
		return ret > 0 ? 0 : SHALE_EXIT_VMM_ERROR;
	if (!o.kernel)
		return run_pv(&o, start_ns);
	ret = run_linux(&o, setup_signals, start_ns);
	return ret < 0 ? SHALE_EXIT_VMM_ERROR : ret;
}
