/*
 * Host network back end: a descriptor that carries one Ethernet frame per
 * read and per write, without any header. A tap device (--net tap=NAME)
 * is one; so is the VMM's end of the user-mode network's socket pair
 * (--net user, usernet/usernet.h), a SOCK_SEQPACKET socket. Shared by the
 * para-virtual network device and virtio-net.
 */
#ifndef SHALE_BACKEND_TAP_H
#define SHALE_BACKEND_TAP_H

#include <stdint.h>

/*
 * Attaches to the existing tap device `name` (IFF_TAP | IFF_NO_PI),
 * non-blocking and close-on-exec. `what` names the option in messages
 * ("--net"). The descriptor, or -errno with one line logged.
 */
int tap_open(const char *name, const char *what);

/* A random locally administered unicast MAC address. */
void tap_random_mac(uint8_t mac[6]);

#endif
