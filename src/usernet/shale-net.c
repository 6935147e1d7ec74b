/*
 * shale-net: the user-mode network of one VM (src/usernet/usernet.h).
 * Runs libslirp on the frames of the socket it is given and on the host
 * sockets libslirp opens, until the VMM closes its end.
 *
 *   shale-net [--user=UID:GID] [--hostfwd FWD]... FD
 *
 * Started by `shale run --net user`, not by hand. Its only privileges are
 * those of the user it runs as: no capabilities, no new privileges, and a
 * seccomp list of what a TCP/IP stack needs.
 */
#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <linux/capability.h>
#include <slirp/libslirp.h>

#include "usernet/usernet.h"
#include "util/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZERS 1
#else
#define SANITIZERS 0
#endif

#define MAX_FRAME 65536
#define MAX_POLLFDS 1024
#define MAX_TIMERS 8

struct timer {
	bool used, armed;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;
};

struct net {
	Slirp *slirp;
	int fd;
	struct pollfd pfd[MAX_POLLFDS];
	unsigned nr_pfd;
	struct timer timer[MAX_TIMERS];
	unsigned long guest_errors;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Frames to the guest; dropped when the VMM cannot take them now (TCP resends). */
static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct net *n = opaque;
	ssize_t r = send(n->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
		return (ssize_t)len;
	return r;
}

static void guest_error(const char *msg, void *opaque)
{
	struct net *n = opaque;

	/* The guest's doing: said a few times, then counted only. */
	if (n->guest_errors++ < 8)
		fprintf(stderr, "shale-net: guest error: %s\n", msg);
}

static int64_t clock_get_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net *n = opaque;

	for (unsigned i = 0; i < MAX_TIMERS; i++) {
		if (!n->timer[i].used) {
			n->timer[i] = (struct timer){ .used = true, .id = id, .cb_opaque = cb_opaque };
			return &n->timer[i];
		}
	}
	fprintf(stderr, "shale-net: out of timers\n");
	exit(1);
}

static void timer_free(void *timer, void *opaque)
{
	((struct timer *)timer)->used = false;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct timer *t = timer;

	t->armed = true;
	t->expire_ms = expire_ms;
}

static void no_poll_fd(int fd, void *opaque)
{
}

static void notify(void *opaque)
{
}

static const SlirpCb callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_get_ns,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = no_poll_fd,
	.unregister_poll_fd = no_poll_fd,
	.notify = notify,
	.timer_new_opaque = timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
	struct net *n = opaque;
	short ev = 0;

	if (n->nr_pfd >= MAX_POLLFDS)
		return -1; /* libslirp skips the socket this round */
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	n->pfd[n->nr_pfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)n->nr_pfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct net *n = opaque;
	short rev;
	int events = 0;

	if (idx < 0 || (unsigned)idx >= n->nr_pfd)
		return 0;
	rev = n->pfd[idx].revents;
	if (rev & POLLIN)
		events |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		events |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		events |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		events |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		events |= SLIRP_POLL_HUP;
	return events;
}

/* Frames from the guest; false once the VMM has closed its end. */
static bool from_guest(struct net *n)
{
	static uint8_t frame[MAX_FRAME];

	for (;;) {
		ssize_t len = recv(n->fd, frame, sizeof(frame), MSG_DONTWAIT);

		if (len > 0) {
			slirp_input(n->slirp, frame, (int)len);
			continue;
		}
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		return false;
	}
}

static void run_timers(struct net *n, uint32_t *timeout)
{
	int64_t now = now_ms();

	for (unsigned i = 0; i < MAX_TIMERS; i++) {
		struct timer *t = &n->timer[i];

		if (!t->used || !t->armed)
			continue;
		if (t->expire_ms <= now) {
			t->armed = false;
			slirp_handle_timer(n->slirp, t->id, t->cb_opaque);
		} else if ((uint64_t)(t->expire_ms - now) < *timeout) {
			*timeout = (uint32_t)(t->expire_ms - now);
		}
	}
}

static int loop(struct net *n)
{
	for (;;) {
		uint32_t timeout = 1000;
		int ret;

		n->nr_pfd = 0;
		add_poll(n->fd, SLIRP_POLL_IN, n);
		slirp_pollfds_fill(n->slirp, &timeout, add_poll, n);
		run_timers(n, &timeout);
		ret = poll(n->pfd, n->nr_pfd, (int)timeout);
		if (ret < 0 && errno != EINTR) {
			fprintf(stderr, "shale-net: poll: %s\n", strerror(errno));
			return 1;
		}
		if (ret > 0 && (n->pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && !from_guest(n))
			return 0; /* the VMM is gone */
		slirp_pollfds_poll(n->slirp, ret < 0, get_revents, n);
	}
}

/* What libslirp and this loop call; anything else fails with EPERM. */
static int apply_seccomp(void)
{
	static const int allowed[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
		SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(socket),
		SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
		SCMP_SYS(accept4), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
		SCMP_SYS(recvmsg), SCMP_SYS(shutdown), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
		SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl), SCMP_SYS(ioctl),
		/* DNS: libslirp reads the host's /etc/resolv.conf (and stats it). */
		SCMP_SYS(openat), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(lseek),
		SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
		SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
		SCMP_SYS(brk), SCMP_SYS(futex), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(getpid), SCMP_SYS(exit), SCMP_SYS(exit_group),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int ret = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(allowed); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* Never a program or a process of its own. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 0);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execveat), 0);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(ptrace), 0);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

static int drop_privileges(const char *user)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[2] = { { 0 } };
	struct rlimit core = { 0, 0 };
	unsigned uid, gid;

	if (user) {
		if (sscanf(user, "%u:%u", &uid, &gid) != 2 || setgroups(0, NULL) ||
		    setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
			fprintf(stderr, "shale-net: --user=%s: %s\n", user, strerror(errno));
			return -1;
		}
	}
	if (setrlimit(RLIMIT_CORE, &core) || syscall(SYS_capset, &hdr, none) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || chdir("/")) {
		fprintf(stderr, "shale-net: dropping privileges: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: shale-net [--user=UID:GID] [--hostfwd FWD]... FD\n"
			"The user-mode network of one VM, started by 'shale run --net user'.\n");
}

int main(int argc, char **argv)
{
	static struct net n;
	struct usernet_config cfg = { 0 };
	const char *user = NULL;
	SlirpConfig sc = { .version = 4 };
	const uint8_t ready = USERNET_READY;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage();
			return 0;
		} else if (!strncmp(argv[i], "--user=", 7)) {
			user = argv[i] + 7;
		} else if (!strcmp(argv[i], "--hostfwd") && i + 1 < argc &&
			   cfg.nr_fwds < USERNET_MAX_FWDS) {
			if (usernet_parse_fwd(argv[++i], &cfg.fwd[cfg.nr_fwds++], "shale-net"))
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	if (i + 1 != argc) {
		usage();
		return 2;
	}
	n.fd = atoi(argv[i]);
	signal(SIGPIPE, SIG_IGN);
	if (drop_privileges(user))
		return 1;

	sc.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &sc.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &sc.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &sc.vhost);
	inet_pton(AF_INET, USERNET_GUEST_ADDR, &sc.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &sc.vnameserver);
	sc.vhostname = "shale";
	n.slirp = slirp_new(&sc, &callbacks, &n);
	if (!n.slirp) {
		fprintf(stderr, "shale-net: libslirp did not start\n");
		return 1;
	}
	for (unsigned f = 0; f < cfg.nr_fwds; f++) {
		const struct usernet_fwd *fw = &cfg.fwd[f];
		char text[64];

		if (slirp_add_hostfwd(n.slirp, fw->udp, fw->host_addr, fw->host_port,
				      fw->guest_addr, fw->guest_port)) {
			usernet_format_fwd(fw, text, sizeof(text));
			fprintf(stderr, "shale-net: hostfwd=%s: cannot listen on the host port: %s\n",
				text, strerror(errno));
			return 1;
		}
	}
	/* Sanitizer builds: LeakSanitizer traces a helper at exit (as in the VMM). */
	if (!SANITIZERS && apply_seccomp()) {
		fprintf(stderr, "shale-net: seccomp: cannot install the filter\n");
		return 1;
	}
	if (send(n.fd, &ready, 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "shale-net: the VMM is gone: %s\n", strerror(errno));
		return 1;
	}
	return loop(&n);
}
