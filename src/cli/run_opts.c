/*
 * The command line of `shale run`: every option checked and turned into
 * struct run_opts, with one message naming the option for anything wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/pc.h"
#include "backend/vsock_unix.h"
#include "cli/run.h"
#include "devices/virtio/vsock.h"
#include "util/util.h"

#define DEFAULT_MEMORY (64 * MiB)
#define DEFAULT_LINUX_MEMORY (512 * MiB)
#define MAX_LINUX_MEMORY (1024 * GiB)

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
		"      --disk PATH[,ro][,serial=ID]\n"
		"                          block device backed by the raw image or host block\n"
		"                          device PATH (,ro: read-only; also ,readonly). A\n"
		"                          para-virtual guest takes one; a Linux guest one\n"
		"                          virtio-blk device per --disk (/dev/vda, /dev/vdb,\n"
		"                          ... in order, up to 16), serial= its ID (up to 20\n"
		"                          characters, /sys/block/vdX/serial)\n"
		"      --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
		"                          network device on the existing tap device NAME. A\n"
		"                          para-virtual guest takes one; a Linux guest one\n"
		"                          virtio-net device per --net (eth0, eth1, ... in\n"
		"                          order, up to %d; module virtio_net)\n"
		"      --net user[,hostfwd=tcp|udp:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...[,mac=...]\n"
		"                          user-mode network (libslirp in the shale-net helper,\n"
		"                          no root): guest 10.0.2.15, host and gateway 10.0.2.2,\n"
		"                          DNS 10.0.2.3; hostfwd= forwards a host port (HOSTADDR\n"
		"                          127.0.0.1 unless given) to the guest; repeatable\n"
		"      --timeout DURATION  stop the VM after DURATION (e.g. 5s, 250ms, 2m)\n"
		"      --stats             print VMM statistics to stderr at exit\n"
		"  -v, --verbose           log VM set-up steps to stderr\n"
		"  -h, --help              show this help\n"
		"Linux guests:\n"
		"      --kernel FILE       the kernel to boot\n"
		"      --initrd FILE       initial ramdisk\n"
		"      --cmdline TEXT      kernel command line (default \"console=ttyS0\")\n"
		"      --cpus N            vCPUs, 1-%u (default 1)\n"
		"      --rng               an entropy device (virtio-rng) fed by the host's\n"
		"                          getrandom()\n"
		"      --console virtio    also a virtio console (hvc0; console=hvc0 makes it\n"
		"                          the kernel's), its output with the UART's; console\n"
		"                          input goes to hvc0 instead of ttyS0. Default: serial\n"
		"      --on-reboot WHAT    restart (default) or exit when the guest reboots\n"
		"      --balloon [deflate-on-oom][,no-reporting]\n"
		"                          a memory balloon (virtio-balloon): the control\n"
		"                          socket's balloon op takes memory back from the\n"
		"                          guest, and free memory the guest reports goes back\n"
		"                          to the host too. deflate-on-oom: the guest may take\n"
		"                          balloon pages back rather than run out of memory;\n"
		"                          no-reporting: no free page reporting\n"
		"      --vsock cid=N,socket=PATH\n"
		"                          a virtio-vsock device, the guest's CID N (3 or\n"
		"                          more); host side on Unix sockets: a guest's\n"
		"                          connection to host port P reaches the socket\n"
		"                          PATH_P; a program connecting to PATH and writing\n"
		"                          \"CONNECT P\\n\" reaches guest port P (answer:\n"
		"                          \"OK HOSTPORT\\n\")\n"
		"Managed mode (used by shaled):\n"
		"      --control PATH      serve the control socket at PATH (a Unix socket,\n"
		"                          mode 0600): one JSON request per line, {\"op\":OP}\n"
		"                          with OP info, stats, pause, resume, shutdown, kill,\n"
		"                          console or balloon (with \"target_mib\"); one JSON\n"
		"                          reply line each\n"
		"      --console-log PATH  guest console output to PATH (appended) instead of\n"
		"                          stdout; at 1 MiB PATH becomes PATH.1 and a new\n"
		"                          PATH starts\n"
		"      --exit-file PATH    when the VM stops, write {\"reason\",\"status\",\n"
		"                          \"message\"} to PATH (atomically, by rename)\n"
		"Sandbox (docs/security.md):\n"
		"      --user NAME|UID     as root: run the VM as this user once set-up is\n"
		"                          done (the directories of --console-log,\n"
		"                          --exit-file and --control must be writable by it)\n"
		"      --jail auto|landlock|mount\n"
		"                          how host files are kept out of reach: Landlock\n"
		"                          (default where the kernel has it) or a mount\n"
		"                          namespace with an empty root (the default else)\n"
		"      --no-sandbox        for debugging: no seccomp filter, no jail, no\n"
		"                          resource limits, no privilege drop. By default the\n"
		"                          VMM is sandboxed before the guest's first\n"
		"                          instruction; a forbidden syscall kills it (SIGSYS)\n"
		"\n"
		"Exit status: the guest's own status (0-255) when it exits; 0 when a Linux\n"
		"guest powers off (or reboots with --on-reboot=exit); otherwise\n"
		"  124  --timeout elapsed\n"
		"  125  shale failed (bad option, bad guest image, no KVM, host error)\n"
		"  126  the guest crashed (exception, triple fault, kernel panic, ABI violation)\n"
		"  130  stopped by SIGINT;  143  stopped by SIGTERM\n"
		"  137  killed through the control socket\n", RUN_MAX_NETS, PC_MAX_CPUS);
}

static int parse_net(struct run_opts *o, char *arg)
{
	struct run_net *n;
	struct usernet_config *u;
	char *save = NULL;

	if (o->nr_nets == RUN_MAX_NETS) {
		log_err("--net: at most %d network devices", RUN_MAX_NETS);
		return -EINVAL;
	}
	n = &o->net[o->nr_nets];
	*n = (struct run_net){ 0 };
	u = &n->usernet_cfg;

	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4) && tok[4]) {
			n->tap = tok + 4;
		} else if (!strcmp(tok, "user")) {
			n->usernet = true;
		} else if (!strncmp(tok, "hostfwd=", 8)) {
			if (u->nr_fwds == USERNET_MAX_FWDS) {
				log_err("--net: at most %d hostfwd= settings", USERNET_MAX_FWDS);
				return -EINVAL;
			}
			if (usernet_parse_fwd(tok + 8, &u->fwd[u->nr_fwds], "--net hostfwd"))
				return -EINVAL;
			u->nr_fwds++;
		} else if (!strncmp(tok, "mac=", 4)) {
			if (parse_mac(tok + 4, n->mac)) {
				log_err("--net: bad MAC address '%s' (want a unicast XX:XX:XX:XX:XX:XX)",
					tok + 4);
				return -EINVAL;
			}
			n->has_mac = true;
		} else {
			log_err("--net: unknown setting '%s' (want tap=NAME or user, "
				"[hostfwd=...], [mac=...])", tok);
			return -EINVAL;
		}
	}
	if (!n->tap == !n->usernet) {
		log_err("--net: want one of tap=NAME and user");
		return -EINVAL;
	}
	if (u->nr_fwds && !n->usernet) {
		log_err("--net: hostfwd= is for --net user");
		return -EINVAL;
	}
	o->nr_nets++;
	return 0;
}

/*
 * PATH[,ro|,readonly][,serial=ID]: the settings are taken from the end, so
 * a path may hold commas as long as no part after one looks like a setting.
 */
/* cid=N,socket=PATH, in either order; the path may not hold a comma. */
static int parse_vsock(struct run_opts *o, char *arg)
{
	char *save = NULL;
	bool has_cid = false;

	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "cid=", 4)) {
			char *end;
			unsigned long long n = strtoull(tok + 4, &end, 10);

			if (!isdigit((unsigned char)tok[4]) || *end || n < VSOCK_MIN_GUEST_CID ||
			    n > VSOCK_MAX_GUEST_CID) {
				log_err("--vsock: cid=%s: want a number from %u to %u", tok + 4,
					VSOCK_MIN_GUEST_CID, VSOCK_MAX_GUEST_CID);
				return -EINVAL;
			}
			o->vsock_cid = n;
			has_cid = true;
		} else if (!strncmp(tok, "socket=", 7) && tok[7]) {
			if (strlen(tok + 7) > VSOCK_UNIX_PATH_MAX) {
				log_err("--vsock: socket=%s: longer than %u bytes", tok + 7,
					VSOCK_UNIX_PATH_MAX);
				return -EINVAL;
			}
			o->vsock_socket = tok + 7;
		} else {
			log_err("--vsock: unknown setting '%s' (want cid=N,socket=PATH)", tok);
			return -EINVAL;
		}
	}
	if (!has_cid || !o->vsock_socket) {
		log_err("--vsock: want cid=N and socket=PATH");
		return -EINVAL;
	}
	return 0;
}

static int parse_disk(struct run_opts *o, char *arg)
{
	struct run_disk *d;
	char *comma;

	if (o->nr_disks == RUN_MAX_DISKS) {
		log_err("--disk: at most %d disks", RUN_MAX_DISKS);
		return -EINVAL;
	}
	d = &o->disk[o->nr_disks];
	*d = (struct run_disk){ 0 };
	while ((comma = strrchr(arg, ','))) {
		const char *tok = comma + 1;

		if (!strcmp(tok, "ro") || !strcmp(tok, "readonly")) {
			d->readonly = true;
		} else if (!strncmp(tok, "serial=", 7)) {
			if (!tok[7] || strlen(tok + 7) > 20) {
				log_err("--disk: serial=%s: want 1 to 20 characters", tok + 7);
				return -EINVAL;
			}
			d->serial = tok + 7;
		} else {
			break;
		}
		*comma = '\0';
	}
	if (!*arg) {
		log_err("--disk: missing file name");
		return -EINVAL;
	}
	d->path = arg;
	o->nr_disks++;
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

/* SETTING[,SETTING]: deflate-on-oom, no-reporting. With o NULL: only whether it is one. */
static int parse_balloon(struct run_opts *o, const char *arg)
{
	char buf[64];
	char *save = NULL;

	if (strlen(arg) >= sizeof(buf))
		goto bad;
	strcpy(buf, arg);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "deflate-on-oom")) {
			if (o)
				o->balloon_deflate_on_oom = true;
		} else if (!strcmp(tok, "no-reporting")) {
			if (o)
				o->balloon_no_reporting = true;
		} else {
			goto bad;
		}
	}
	if (*arg && arg[strlen(arg) - 1] != ',' && *arg != ',')
		return 0;
bad:
	if (o)
		log_err("run: --balloon: want deflate-on-oom and/or no-reporting, not '%s'", arg);
	return -EINVAL;
}

int run_parse_opts(struct run_opts *o, int argc, char **argv)
{
	enum {
		OPT_DISK = 256, OPT_NET, OPT_TIMEOUT, OPT_STATS, OPT_KERNEL, OPT_INITRD,
		OPT_CMDLINE, OPT_CPUS, OPT_ON_REBOOT, OPT_CONTROL, OPT_CONSOLE_LOG, OPT_EXIT_FILE,
		OPT_USER, OPT_NO_SANDBOX, OPT_JAIL, OPT_RNG, OPT_CONSOLE, OPT_BALLOON,
		OPT_VSOCK,
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
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
		{ "exit-file", required_argument, NULL, OPT_EXIT_FILE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
		{ "jail", required_argument, NULL, OPT_JAIL },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "balloon", optional_argument, NULL, OPT_BALLOON },
		{ "vsock", required_argument, NULL, OPT_VSOCK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *memory = NULL;
	int c;

	*o = (struct run_opts){ .cpus = 1 };
	opterr = 0;
	/* 0, not 1: getopt starts afresh, whatever an earlier call left behind. */
	optind = 0;
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
		case OPT_CONTROL:
			o->control = optarg;
			break;
		case OPT_CONSOLE_LOG:
			o->console_log = optarg;
			break;
		case OPT_EXIT_FILE:
			o->exit_file = optarg;
			break;
		case OPT_USER:
			if (sandbox_parse_user(optarg, &o->uid, &o->gid))
				return -EINVAL;
			o->user_set = true;
			break;
		case OPT_NO_SANDBOX:
			o->no_sandbox = true;
			break;
		case OPT_RNG:
			o->rng = true;
			break;
		case OPT_VSOCK:
			if (o->vsock_socket) {
				log_err("--vsock: one vsock device per VM");
				return -EINVAL;
			}
			if (parse_vsock(o, optarg))
				return -EINVAL;
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "virtio")) {
				o->virtio_console = true;
			} else if (strcmp(optarg, "serial")) {
				log_err("run: --console: want serial or virtio, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case OPT_BALLOON: {
			/* `--balloon deflate-on-oom` too: a word of settings is no GUEST. */
			const char *arg = optarg;

			if (!arg && optind < argc && !parse_balloon(NULL, argv[optind]))
				arg = argv[optind++];
			o->balloon = true;
			if (arg && parse_balloon(o, arg))
				return -EINVAL;
			break;
		}
		case OPT_JAIL:
			if (!strcmp(optarg, "auto")) {
				o->jail = SANDBOX_JAIL_AUTO;
			} else if (!strcmp(optarg, "landlock")) {
				o->jail = SANDBOX_JAIL_LANDLOCK;
			} else if (!strcmp(optarg, "mount")) {
				o->jail = SANDBOX_JAIL_MOUNT;
			} else {
				log_err("run: --jail: want auto, landlock or mount, not '%s'", optarg);
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
	if (o->user_set && (o->no_sandbox || geteuid() != 0)) {
		log_err("run: --user needs root and the sandbox (not --no-sandbox)");
		return -EINVAL;
	}
	if (o->kernel) {
		if (optind < argc) {
			log_err("run: with --kernel, pass guest arguments with --cmdline");
			return -EINVAL;
		}
		return 0;
	}
	if (o->nr_disks > 1 || (o->nr_disks && o->disk[0].serial)) {
		log_err("run: a para-virtual guest has one --disk, without serial= (several "
			"disks and serials are for --kernel guests)");
		return -EINVAL;
	}
	if (o->balloon) {
		log_err("run: --balloon needs --kernel");
		return -EINVAL;
	}
	if (o->vsock_socket) {
		log_err("run: --vsock needs --kernel");
		return -EINVAL;
	}
	if (o->nr_nets > 1) {
		log_err("run: a para-virtual guest has one --net (several are for --kernel guests)");
		return -EINVAL;
	}
	if (o->initrd || o->cmdline || o->cpus != 1 || o->reboot_exit || o->rng ||
	    o->virtio_console) {
		log_err("run: --initrd, --cmdline, --cpus, --on-reboot, --rng and --console need "
			"--kernel");
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
