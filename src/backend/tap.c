#include "backend/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/util.h"

int tap_open(const char *name, const char *what)
{
	struct ifreq ifr;
	int fd, ret;

	if (strlen(name) >= IFNAMSIZ || !*name) {
		log_err("%s tap=%s: bad interface name", what, name);
		return -EINVAL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("%s: /dev/net/tun: %s", what, strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("%s tap=%s: %s", what, name, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

void tap_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		die("getrandom: %s", strerror(errno));
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}
