#include "usernet/usernet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

/* How long the helper may take to bind its forwards. */
#define READY_TIMEOUT_MS 5000

static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (!len || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* "ADDR:PORT" with ADDR possibly empty (then `dflt`). */
static int parse_endpoint(const char *s, size_t len, const char *dflt, struct in_addr *addr,
			  uint16_t *port)
{
	const char *colon = memchr(s, ':', len);
	char text[INET_ADDRSTRLEN];
	size_t alen;

	if (!colon)
		return -EINVAL;
	alen = (size_t)(colon - s);
	if (alen >= sizeof(text))
		return -EINVAL;
	if (alen) {
		memcpy(text, s, alen);
		text[alen] = '\0';
	} else {
		snprintf(text, sizeof(text), "%s", dflt);
	}
	if (inet_pton(AF_INET, text, addr) != 1)
		return -EINVAL;
	return parse_port(colon + 1, len - alen - 1, port);
}

int usernet_check_fwd(const char *s, struct usernet_fwd *fwd)
{
	struct usernet_fwd f = { 0 };
	const char *rest, *dash;

	if (!strncmp(s, "tcp:", 4)) {
		rest = s + 4;
	} else if (!strncmp(s, "udp:", 4)) {
		f.udp = true;
		rest = s + 4;
	} else {
		return -EINVAL;
	}
	dash = strchr(rest, '-');
	if (!dash ||
	    parse_endpoint(rest, (size_t)(dash - rest), "127.0.0.1", &f.host_addr, &f.host_port) ||
	    parse_endpoint(dash + 1, strlen(dash + 1), USERNET_GUEST_ADDR, &f.guest_addr,
			   &f.guest_port))
		return -EINVAL;
	*fwd = f;
	return 0;
}

int usernet_parse_fwd(const char *s, struct usernet_fwd *fwd, const char *what)
{
	int ret = usernet_check_fwd(s, fwd);

	if (ret)
		log_err("%s: bad forward '%s' (want tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)",
			what, s);
	return ret;
}

void usernet_format_fwd(const struct usernet_fwd *fwd, char *buf, size_t size)
{
	char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &fwd->host_addr, host, sizeof(host));
	inet_ntop(AF_INET, &fwd->guest_addr, guest, sizeof(guest));
	snprintf(buf, size, "%s:%s:%u-%s:%u", fwd->udp ? "udp" : "tcp", host, fwd->host_port, guest,
		 fwd->guest_port);
}

/* $SHALE_NET, else shale-net in the directory of this executable. */
static int helper_path(char *path, size_t size)
{
	const char *env = getenv("SHALE_NET");
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (strlen(env) >= size)
			return -ENAMETOOLONG;
		snprintf(path, size, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", path, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -ENOENT;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) + sizeof("/shale-net") > size)
		return -ENAMETOOLONG;
	strcpy(slash, "/shale-net");
	return 0;
}

/* In the child: the helper's argv, its socket as fd 3, nothing else open. */
static void exec_helper(const char *path, const struct usernet_config *cfg, int sock, int uid,
			int gid)
{
	char fwd[USERNET_MAX_FWDS][64], user[32];
	char *argv[4 + 2 * USERNET_MAX_FWDS + 1];
	int argc = 0;

	/* The helper goes when the VMM does, however it ends. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(sock, 3) < 0)
		_exit(127);
	closefrom(4);
	argv[argc++] = (char *)"shale-net";
	if (uid >= 0) {
		snprintf(user, sizeof(user), "--user=%d:%d", uid, gid);
		argv[argc++] = user;
	}
	for (unsigned i = 0; i < cfg->nr_fwds; i++) {
		usernet_format_fwd(&cfg->fwd[i], fwd[i], sizeof(fwd[i]));
		argv[argc++] = (char *)"--hostfwd";
		argv[argc++] = fwd[i];
	}
	argv[argc++] = (char *)"3";
	argv[argc] = NULL;
	execv(path, argv);
	fprintf(stderr, "shale: --net user: cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

int usernet_start(const struct usernet_config *cfg, int uid, int gid, pid_t *pid)
{
	char path[PATH_MAX];
	struct pollfd pfd;
	int sv[2], ret;
	uint8_t msg;
	pid_t child;

	ret = helper_path(path, sizeof(path));
	if (ret) {
		log_err("--net user: cannot find shale-net: %s", strerror(-ret));
		return ret;
	}
	if (access(path, X_OK)) {
		ret = -errno;
		log_err("--net user: %s: %s (set SHALE_NET to the helper's path)", path,
			strerror(errno));
		return ret;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		log_err("--net user: socketpair: %s", strerror(errno));
		return ret;
	}
	child = fork();
	if (child < 0) {
		ret = -errno;
		log_err("--net user: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	if (child == 0)
		exec_helper(path, cfg, sv[1], uid, gid);
	close(sv[1]);
	pfd = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	do
		ret = poll(&pfd, 1, READY_TIMEOUT_MS);
	while (ret < 0 && errno == EINTR);
	if (ret == 1 && recv(sv[0], &msg, 1, MSG_DONTWAIT) == 1 && msg == USERNET_READY &&
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0) {
		*pid = child;
		return sv[0];
	}
	log_err("--net user: shale-net did not start%s", ret == 0 ? " (timed out)" : "");
	close(sv[0]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return -EIO;
}
