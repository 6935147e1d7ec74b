/*
 * shaled: the management daemon. It owns the host's VMs, runs each in a
 * VMM process of its own and answers the HTTP API on a Unix socket.
 * Stopping shaled (SIGTERM, SIGINT, or kill -9) leaves the VMs running; the
 * next shaled adopts them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>

#include "daemon/daemon.h"
#include "util/util.h"

#ifndef SHALE_VERSION
#define SHALE_VERSION "0.1.0"
#endif

#define DEFAULT_SOCKET "/run/shale.sock"
#define DEFAULT_STATE_DIR "/var/lib/shale"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shaled [OPTIONS]\n"
		"\n"
		"The shale management daemon: it keeps the host's VM definitions, runs each\n"
		"VM in a VMM process of its own (`shale run`), accounts for them and answers\n"
		"an HTTP/JSON API on a Unix socket (docs/api.md). The `shale` commands\n"
		"create, start, list, stop, ... talk to it. VMs keep running when shaled\n"
		"stops; a new shaled adopts them.\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH        API socket (default $SHALE_SOCKET or %s)\n"
		"      --group NAME         group that may use the socket (mode 0660)\n"
		"  -d, --state-dir DIR      VM definitions and logs (default %s)\n"
		"      --vmm PATH           the shale binary that runs each VM (default: the\n"
		"                           shale next to shaled)\n"
		"      --vmm-user NAME      run each VMM as this user once it is set up\n"
		"                           (shale run --user; default: root without\n"
		"                           capabilities, see docs/security.md)\n"
		"      --tcp ADDR:PORT      also listen on a loopback TCP address\n"
		"      --cpu-overcommit R   vCPUs allowed per host CPU (default 0: no limit;\n"
		"                           an idle para-virtual VM costs no CPU)\n"
		"      --memory-overcommit R  guest RAM allowed per byte of host RAM\n"
		"                           (default 1.5; guest RAM is allocated on use)\n"
		"  -v, --verbose            log each VM state change\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n"
		"\n"
		"Started by systemd with socket activation (LISTEN_FDS=1), shaled serves the\n"
		"socket it is given.\n",
		DEFAULT_SOCKET, DEFAULT_STATE_DIR);
}

/* The shale binary in the directory of this one. */
static char *default_vmm(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash, *out = NULL;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (asprintf(&out, "%s/shale", self) < 0)
		return NULL;
	return out;
}

static int parse_ratio(const char *opt, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0) || v > 1000000) {
		log_err("%s %s: want a ratio such as 1.5", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * Binds the API socket. A socket file nobody listens on is stale and
 * replaced; one somebody answers on means another daemon runs.
 */
static int listen_unix(const char *path, const char *group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("--socket %s: path too long (at most %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		log_err("another shaled already answers on %s", path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_err("socket %s: %s", path, strerror(errno));
		return -errno;
	}
	if (group) {
		struct group *g = getgrnam(group);

		if (!g || chown(path, (uid_t)-1, g->gr_gid) < 0) {
			log_err("--group %s: %s", group, g ? strerror(errno) : "no such group");
			close(fd);
			return -EINVAL;
		}
	}
	if (chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
		log_err("socket %s: %s", path, strerror(errno));
		close(fd);
		return -errno;
	}
	return fd;
}

/* A loopback-only TCP listener for ADDR:PORT. */
static int listen_tcp(const char *spec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		goto bad;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		goto bad;
	if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		log_err("--tcp %s: only loopback addresses (127.x.x.x): the TCP API has no "
			"authentication",
			spec);
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		log_err("--tcp %s: %s", spec, strerror(errno));
		close(fd);
		return -errno;
	}
	return fd;
bad:
	log_err("--tcp %s: want 127.0.0.1:PORT", spec);
	return -EINVAL;
}

/* systemd socket activation: the one socket passed as fd 3. */
static int activated_socket(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");

	if (!fds || !pid || atol(pid) != (long)getpid())
		return -1;
	if (strcmp(fds, "1")) {
		log_err("socket activation: want exactly one socket, got LISTEN_FDS=%s", fds);
		return -2;
	}
	return 3;
}

/* What the VMM binary says this host's KVM is (`shale host --kind`). */
static void read_host_kind(const char *vmm, char *buf, size_t size)
{
	ssize_t n = 0;
	int p[2];
	pid_t pid;

	snprintf(buf, size, "unknown");
	if (pipe2(p, O_CLOEXEC))
		return;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execl(vmm, vmm, "host", "--kind", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0) {
		n = read(p[0], buf, size - 1);
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
	if (n <= 0 || !buf[0])
		snprintf(buf, size, "unknown");
}

/* Every VM holds a pidfd and, while starting, a few more descriptors. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "vmm", required_argument, NULL, 'm' },
		{ "tcp", required_argument, NULL, 't' },
		{ "vmm-user", required_argument, NULL, 'u' },
		{ "cpu-overcommit", required_argument, NULL, 'c' },
		{ "memory-overcommit", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct shaled d = {
		.socket_path = getenv("SHALE_SOCKET") ? getenv("SHALE_SOCKET") : DEFAULT_SOCKET,
		.state_dir = DEFAULT_STATE_DIR,
		.cpu_overcommit = 0,
		.memory_overcommit = 1.5,
	};
	const char *group = NULL, *tcp = NULL;
	char *vmm = NULL, *state_dir = NULL;
	int fd, tcp_fd = -1, c, sig, ret = 0;
	sigset_t sigs;
	bool activated;

	log_prefix = "shaled";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:d:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			d.socket_path = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'd':
			d.state_dir = optarg;
			break;
		case 'm':
			free(vmm);
			vmm = realpath(optarg, NULL);
			if (!vmm || access(vmm, X_OK)) {
				log_err("--vmm %s: %s", optarg, strerror(errno ? errno : EACCES));
				ret = 2;
				goto out;
			}
			break;
		case 't':
			tcp = optarg;
			break;
		case 'u': {
			struct passwd *pw = getpwnam(optarg);

			if (!pw) {
				log_err("--vmm-user %s: no such user", optarg);
				ret = 2;
				goto out;
			}
			if (geteuid() != 0) {
				log_err("--vmm-user needs shaled to run as root");
				ret = 2;
				goto out;
			}
			d.vmm_user = optarg;
			d.vmm_uid = pw->pw_uid;
			d.vmm_gid = pw->pw_gid;
			break;
		}
		case 'c':
			if (parse_ratio("--cpu-overcommit", optarg, &d.cpu_overcommit)) {
				ret = 2;
				goto out;
			}
			break;
		case 'M':
			if (parse_ratio("--memory-overcommit", optarg, &d.memory_overcommit)) {
				ret = 2;
				goto out;
			}
			break;
		case 'v':
			log_verbose = true;
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		case 'V':
			printf("shaled %s (guest ABI %u)\n", SHALE_VERSION, SHALE_ABI_VERSION);
			ret = 0;
			goto out;
		default:
			log_err("bad option '%s' (see 'shaled --help')", argv[optind - 1]);
			ret = 2;
			goto out;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (see 'shaled --help')", argv[optind]);
		ret = 2;
		goto out;
	}
	if (!vmm)
		vmm = default_vmm();
	if (!vmm || access(vmm, X_OK)) {
		log_err("no VMM binary at %s: give one with --vmm", vmm ? vmm : "(unknown)");
		ret = 1;
		goto out;
	}
	d.vmm = vmm;
	d.version = SHALE_VERSION;
	read_host_kind(vmm, d.host_kind, sizeof(d.host_kind));
	if (mkdir(d.state_dir, 0700) < 0 && errno != EEXIST) {
		log_err("--state-dir %s: %s", d.state_dir, strerror(errno));
		ret = 1;
		goto out;
	}
	state_dir = realpath(d.state_dir, NULL);
	if (!state_dir) {
		log_err("--state-dir %s: %s", d.state_dir, strerror(errno));
		ret = 1;
		goto out;
	}
	d.state_dir = state_dir;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	raise_fd_limit();

	fd = activated_socket();
	if (fd == -2) {
		ret = 1;
		goto out;
	}
	activated = fd >= 0;
	if (!activated)
		fd = listen_unix(d.socket_path, group);
	if (fd < 0) {
		ret = 1;
		goto out;
	}
	if (tcp) {
		tcp_fd = listen_tcp(tcp);
		if (tcp_fd < 0) {
			ret = 1;
			goto out;
		}
	}
	if (vms_init(&d)) {
		ret = 1;
		goto out;
	}
	if (api_start(&d, fd, true)) {
		ret = 1;
		goto out;
	}
	if (tcp_fd >= 0 && api_start(&d, tcp_fd, false)) {
		ret = 1;
		goto out;
	}
	log_info("serving %s, state in %s, %zu VM(s) known", d.socket_path, d.state_dir,
		 d.nr_vms);
	fprintf(stderr, "shaled: ready on %s\n", activated ? "the activated socket" : d.socket_path);
	fflush(stderr);

	do
		sig = 0;
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP);
	fprintf(stderr, "shaled: %s: stopping; the VMs keep running\n", strsignal(sig));
	pthread_mutex_lock(&d.lock);
	d.quit = true;
	pthread_cond_broadcast(&d.event_cond);
	pthread_mutex_unlock(&d.lock);
	api_stop();
	vms_fini(&d);
	if (!activated)
		unlink(d.socket_path);
out:
	free(vmm);
	free(state_dir);
	return ret;
}
