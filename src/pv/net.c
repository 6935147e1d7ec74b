/*
 * The para-virtual network device: one Ethernet frame per hypercall,
 * to and from a host tap device (--net tap=NAME) or the user-mode
 * network's helper (--net user, src/usernet/usernet.h), whose socket
 * carries one frame per message as a tap does.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>

#include "backend/tap.h"
#include "pv/pv.h"
#include "util/util.h"
#include "vmm/vm.h"

#define ETH_HLEN 14
#define NET_MTU 1500

void pv_net_attach(struct pv_net *net, int fd, const uint8_t *mac)
{
	if (mac)
		memcpy(net->mac, mac, 6);
	else
		tap_random_mac(net->mac);
	net->fd = fd;
	net->mtu = NET_MTU;
}

int pv_net_open(struct pv_net *net, const char *name, const uint8_t *mac)
{
	int fd = tap_open(name, "--net");

	if (fd < 0)
		return fd;
	pv_net_attach(net, fd, mac);
	return 0;
}

void pv_net_close(struct pv_net *net)
{
	if (net->fd >= 0)
		close(net->fd);
	net->fd = -1;
}

void pv_net_account(struct pv_guest *pv, bool rx, int64_t n)
{
	struct vm_stats *st = pv->vm->stats;

	if (n < 0)
		return;
	vm_stat_add(rx ? &st->net_rx_packets : &st->net_tx_packets, 1);
	vm_stat_add(rx ? &st->net_rx_bytes : &st->net_tx_bytes, (uint64_t)n);
}

void pv_net_info(struct pv_guest *pv, struct shale_hc_net_info *arg)
{
	memset(arg, 0, sizeof(*arg));
	if (pv->net.fd < 0) {
		arg->ret = SHALE_ENODEV;
		return;
	}
	memcpy(arg->mac, pv->net.mac, 6);
	arg->mtu = pv->net.mtu;
	arg->ret = SHALE_OK;
}

static uint8_t *net_buffer(struct pv_guest *pv, struct shale_hc_buffer *arg, uint64_t len,
			   bool write)
{
	uint8_t *p;

	if (pv->net.fd < 0) {
		arg->ret = SHALE_ENODEV;
		return NULL;
	}
	p = pv_guest_ptr(pv, arg->data, len, write);
	if (!p)
		arg->ret = SHALE_EFAULT;
	return p;
}

void pv_net_read(struct pv_guest *pv, struct shale_hc_buffer *arg)
{
	/* A read never needs more than one frame's worth of buffer. */
	uint64_t len = MIN(arg->len, (uint64_t)pv->net.mtu + ETH_HLEN);
	uint8_t *p = net_buffer(pv, arg, len, true);
	ssize_t n;

	if (!p)
		return;
	do
		n = read(pv->net.fd, p, len);
	while (n < 0 && errno == EINTR);
	pv_net_account(pv, true, n);
	if (n >= 0)
		arg->ret = n;
	else
		arg->ret = errno == EAGAIN ? SHALE_EAGAIN : SHALE_EIO;
}

void pv_net_write(struct pv_guest *pv, struct shale_hc_buffer *arg)
{
	uint8_t *p;
	ssize_t n;

	if (pv->net.fd >= 0 && (arg->len < ETH_HLEN || arg->len > pv->net.mtu + ETH_HLEN)) {
		arg->ret = SHALE_EINVAL;
		return;
	}
	p = net_buffer(pv, arg, arg->len, false);
	if (!p)
		return;
	do
		n = write(pv->net.fd, p, arg->len);
	while (n < 0 && errno == EINTR);
	pv_net_account(pv, false, n);
	if (n >= 0)
		arg->ret = n;
	else
		arg->ret = errno == EAGAIN ? SHALE_EAGAIN : SHALE_EIO;
}
