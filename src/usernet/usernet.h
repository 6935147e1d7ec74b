/*
 * User-mode networking (--net user): a guest's Ethernet frames go to
 * shale-net, a helper process that runs libslirp (a TCP/IP stack in user
 * space: DHCP, DNS, NAT to the host's sockets, port forwards). No root,
 * no tap device. The VMM and the helper exchange one frame per message
 * over a SOCK_SEQPACKET socket pair; the VMM's devices use its end as they
 * would a tap's descriptor. The helper alone has network access: the VMM
 * keeps its empty network namespace and its seccomp list, and a guest
 * that takes over libslirp holds a process with no guest memory, no
 * /dev/kvm and no other VM.
 *
 * The guest's network is 10.0.2.0/24: the host (gateway) is 10.0.2.2, the
 * DNS server 10.0.2.3, DHCP hands out 10.0.2.15 first (as QEMU's).
 */
#ifndef SHALE_USERNET_USERNET_H
#define SHALE_USERNET_USERNET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define USERNET_MAX_FWDS 16
#define USERNET_GUEST_ADDR "10.0.2.15"

/* hostfwd=PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
struct usernet_fwd {
	bool udp;
	struct in_addr host_addr; /* default 127.0.0.1: the host only */
	uint16_t host_port;
	struct in_addr guest_addr; /* default USERNET_GUEST_ADDR */
	uint16_t guest_port;
};

struct usernet_config {
	struct usernet_fwd fwd[USERNET_MAX_FWDS];
	unsigned nr_fwds;
};

/*
 * Parses one forward, as QEMU writes them: "tcp:127.0.0.1:8080-:80",
 * "udp::5353-10.0.2.15:53". Ports 1-65535. 0, or -EINVAL with a message
 * naming `what` (the option being parsed).
 */
int usernet_parse_fwd(const char *s, struct usernet_fwd *fwd, const char *what);

/* The same without a message: 0 or -EINVAL. */
int usernet_check_fwd(const char *s, struct usernet_fwd *fwd);

/* The forward in the form usernet_parse_fwd() reads. */
void usernet_format_fwd(const struct usernet_fwd *fwd, char *buf, size_t size);

/*
 * Starts shale-net (found next to this executable, or at $SHALE_NET) for
 * cfg and waits until it is ready (its forwards bound). `uid`/`gid` >= 0:
 * the user the helper drops to. Returns the VMM's end of the socket pair
 * (non-blocking, close-on-exec) and the helper's pid in *pid, or -errno
 * with a message (the helper's own on stderr).
 */
int usernet_start(const struct usernet_config *cfg, int uid, int gid, pid_t *pid);

/* The first message the helper sends: it is ready (no frame is this short). */
#define USERNET_READY 0x52

#endif
