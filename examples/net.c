/*
 * A tiny IPv4 host: answers ARP requests and ICMP echo requests for the
 * address given as argv[1], and echoes UDP datagrams sent to port 7
 * (RFC 862). SECONDS, if given, is how long to run before exiting. With
 * -q the frames go through the network I/O queue (shale/queue.h): receive
 * buffers wait in the VMM for frames, and replies are sent without a VM
 * exit while the VMM's I/O thread polls; without it, one hypercall per
 * frame and per poll.
 *
 *   net [-q] 10.0.0.2 [SECONDS]
 *
 * Frames are answered in place: the request buffer becomes the reply.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>
#include <shale/queue.h>

#define ETH_HLEN 14
#define ETH_ZLEN 60 /* shortest frame, without the FCS */
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_LEN 28
#define IPPROTO_ICMP 1
#define IPPROTO_UDP 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define UDP_HLEN 8
#define ECHO_PORT 7

static uint8_t my_mac[6];
static uint8_t my_ip[4];

/* -q: the queue, and the buffer whose frame is being answered. */
#define RX_BUFS 32
#define TX_FLAG 0x10000u
static struct shale_queue netq;
static bool use_queue, replied;
static unsigned cur_buf;

/* Network byte order, from byte pointers: frame fields are unaligned. */
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[6];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/* RFC 1071 ones' complement sum, folded but not inverted. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; n -= 2, p += 2)
		sum += get16(p);
	if (n)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static bool parse_ip(const char *s, uint8_t ip[4])
{
	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v > 255 || *end != (i < 3 ? '.' : '\0'))
			return false;
		ip[i] = (uint8_t)v;
		s = end + 1;
	}
	return true;
}

static void xmit(const uint8_t *frame, size_t len)
{
	int64_t r;

	if (use_queue) {
		/* The receive buffer goes back to the VMM once this send completes. */
		r = shale_queue_prep(&netq, SHALE_OP_WRITE, frame, (uint32_t)len, 0,
				     TX_FLAG | cur_buf);
		replied = r == SHALE_OK;
	} else {
		r = shale_net_write(frame, len);
	}

	if (r < 0)
		printf("net: send: %s\n", shale_strerror(r));
}

/* Turn the Ethernet header around: the sender becomes the destination. */
static void eth_reply(uint8_t *f)
{
	memcpy(f, f + 6, 6);
	memcpy(f + 6, my_mac, 6);
}

static void arp(uint8_t *f, size_t len)
{
	uint8_t *a = f + ETH_HLEN;

	/* Ethernet/IPv4 requests for our address only (RFC 826). */
	if (len < ETH_HLEN + ARP_LEN || get16(a) != 1 ||
	    get16(a + 2) != ETHERTYPE_IP || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != 1 || memcmp(a + 24, my_ip, 4))
		return;
	put16(a + 6, 2);
	memcpy(a + 18, a + 8, 10);  /* target = requester's MAC and IP */
	memcpy(a + 8, my_mac, 6);   /* sender = us */
	memcpy(a + 14, my_ip, 4);
	eth_reply(f);
	memset(f + ETH_HLEN + ARP_LEN, 0, ETH_ZLEN - ETH_HLEN - ARP_LEN);
	xmit(f, ETH_ZLEN);
}

/* Turns an echo request into a reply; false for anything else. */
static bool icmp(uint8_t *l4, size_t n)
{
	if (n < 8 || l4[0] != ICMP_ECHO_REQUEST || l4[1] != 0 ||
	    sum16(0, l4, n) != 0xffff)
		return false;
	l4[0] = ICMP_ECHO_REPLY;
	put16(l4 + 2, 0);
	put16(l4 + 2, ~sum16(0, l4, n));
	return true;
}

/* Turns a datagram to the echo port around; false for anything else. */
static bool udp(const uint8_t *ip, uint8_t *l4, size_t n)
{
	uint16_t ulen, sum;

	if (n < UDP_HLEN || get16(l4 + 2) != ECHO_PORT)
		return false;
	ulen = get16(l4 + 4);
	if (ulen < UDP_HLEN || ulen > n)
		return false;
	swap(l4, l4 + 2, 2);
	/*
	 * The checksum covers a pseudo-header of both addresses, protocol
	 * and length (RFC 768); the sum does not depend on which address is
	 * which. A computed 0 is sent as 0xffff, as 0 means "no checksum".
	 */
	put16(l4 + 6, 0);
	sum = ~sum16(sum16(IPPROTO_UDP + ulen, ip + 12, 8), l4, ulen);
	put16(l4 + 6, sum ? sum : 0xffff);
	return true;
}

static void ipv4(uint8_t *f, size_t len)
{
	uint8_t *ip = f + ETH_HLEN;
	size_t hlen, tlen;

	if (len < ETH_HLEN + 20 || ip[0] >> 4 != 4)
		return;
	hlen = (ip[0] & 0xf) * 4u;
	tlen = get16(ip + 2);
	/* Whole, unfragmented packets for us with a valid header only. */
	if (hlen < 20 || tlen < hlen || tlen > len - ETH_HLEN ||
	    (get16(ip + 6) & 0x3fff) || memcmp(ip + 16, my_ip, 4) ||
	    sum16(0, ip, hlen) != 0xffff)
		return;

	switch (ip[9]) {
	case IPPROTO_ICMP:
		if (!icmp(ip + hlen, tlen - hlen))
			return;
		break;
	case IPPROTO_UDP:
		if (!udp(ip, ip + hlen, tlen - hlen))
			return;
		tlen = hlen + get16(ip + hlen + 4); /* drop any padding */
		break;
	default:
		return;
	}

	swap(ip + 12, ip + 16, 4);
	put16(ip + 2, tlen);
	ip[8] = 64; /* TTL */
	put16(ip + 10, 0);
	put16(ip + 10, ~sum16(0, ip, hlen));
	eth_reply(f);
	xmit(f, ETH_HLEN + tlen);
}

static void handle(uint8_t *frame, size_t len)
{
	if (len < ETH_HLEN)
		return;
	if (get16(frame + 12) == ETHERTYPE_ARP)
		arp(frame, len);
	else if (get16(frame + 12) == ETHERTYPE_IP)
		ipv4(frame, len);
}

static int serve_v1(uint8_t *frame, size_t cap, uint64_t deadline)
{
	int64_t r;

	for (;;) {
		r = shale_poll(deadline, SHALE_POLL_NET);
		if (r < 0) {
			printf("net: poll: %s\n", shale_strerror(r));
			return 1;
		}
		while ((r = shale_net_read(frame, cap)) >= 0)
			handle(frame, (size_t)r);
		if (r != SHALE_EAGAIN) {
			printf("net: receive: %s\n", shale_strerror(r));
			return 1;
		}
		if (shale_clock_monotonic_ns() >= deadline)
			return 0;
	}
}

/*
 * RX_BUFS receive buffers wait in the queue. A received frame is answered
 * from its own buffer, which is posted again when the reply has gone, or
 * at once when there is no reply.
 */
static int serve_queue(uint8_t *bufs, size_t cap, uint64_t deadline)
{
	struct shale_cqe cqe;
	int64_t r;

	r = shale_queue_open(&netq, SHALE_QUEUE_NET, 2 * RX_BUFS);
	if (r) {
		printf("net: no network queue: %s\n", shale_strerror(r));
		return 1;
	}
	for (unsigned i = 0; i < RX_BUFS; i++)
		shale_queue_prep(&netq, SHALE_OP_READ, bufs + i * cap, (uint32_t)cap, 0, i);
	for (;;) {
		r = shale_queue_submit_wait(&netq, &cqe, deadline);
		if (r == SHALE_EAGAIN)
			return 0;
		if (r) {
			printf("net: queue: %s\n", shale_strerror(r));
			return 1;
		}
		cur_buf = (unsigned)(cqe.user_data & (TX_FLAG - 1));
		replied = false;
		if (cqe.user_data & TX_FLAG) {
			if (cqe.ret < 0)
				printf("net: send: %s\n", shale_strerror(cqe.ret));
		} else if (cqe.ret >= 0) {
			handle(bufs + cur_buf * cap, (size_t)cqe.ret);
		} else {
			printf("net: receive: %s\n", shale_strerror(cqe.ret));
		}
		if (!replied)
			shale_queue_prep(&netq, SHALE_OP_READ, bufs + cur_buf * cap,
					 (uint32_t)cap, 0, cur_buf);
	}
}

int main(int argc, char **argv)
{
	struct shale_hc_net_info info;
	uint64_t deadline = UINT64_MAX;
	int64_t r;
	uint8_t *frame;
	size_t cap;

	if (argc > 1 && !strcmp(argv[1], "-q")) {
		use_queue = true;
		argc--;
		argv++;
	}
	if (argc < 2 || argc > 3 || !parse_ip(argv[1], my_ip)) {
		printf("usage: net [-q] A.B.C.D [SECONDS]\n");
		return 1;
	}
	r = shale_net_info(&info);
	if (r < 0) {
		printf("net: %s\n", shale_strerror(r));
		return r == SHALE_ENODEV ? 2 : 1;
	}
	memcpy(my_mac, info.mac, 6);
	cap = ETH_HLEN + 4 + (info.mtu > 1500 ? info.mtu : 1500);
	frame = malloc(use_queue ? RX_BUFS * cap : cap);
	if (!frame) {
		printf("net: no memory for the frame buffers\n");
		return 1;
	}
	if (argc == 3)
		deadline = shale_clock_monotonic_ns() +
			   strtoull(argv[2], NULL, 10) * 1000000000ull;

	printf("net: listening on %u.%u.%u.%u%s\n", my_ip[0], my_ip[1], my_ip[2], my_ip[3],
	       use_queue ? " (I/O queue)" : "");
	return use_queue ? serve_queue(frame, cap, deadline) : serve_v1(frame, cap, deadline);
}
