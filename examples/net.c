/*
 * A tiny IPv4 host: answers ARP requests and ICMP echo requests for the
 * address given as argv[1], and echoes UDP datagrams sent to port 7
 * (RFC 862). argv[2], if given, is how many seconds to run before exiting.
 *
 *   net 10.0.0.2 [SECONDS]
 *
 * Frames are answered in place: the request buffer becomes the reply.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

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
	int64_t r = shale_net_write(frame, len);

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

int main(int argc, char **argv)
{
	struct shale_hc_net_info info;
	uint64_t deadline = UINT64_MAX;
	int64_t r;
	uint8_t *frame;
	size_t cap;

	if (argc < 2 || argc > 3 || !parse_ip(argv[1], my_ip)) {
		printf("usage: net A.B.C.D [SECONDS]\n");
		return 1;
	}
	r = shale_net_info(&info);
	if (r < 0) {
		printf("net: %s\n", shale_strerror(r));
		return r == SHALE_ENODEV ? 2 : 1;
	}
	memcpy(my_mac, info.mac, 6);
	cap = ETH_HLEN + 4 + (info.mtu > 1500 ? info.mtu : 1500);
	frame = malloc(cap);
	if (!frame) {
		printf("net: no memory for a %zu-byte frame\n", cap);
		return 1;
	}
	if (argc == 3)
		deadline = shale_clock_monotonic_ns() +
			   strtoull(argv[2], NULL, 10) * 1000000000ull;

	printf("net: listening on %u.%u.%u.%u\n", my_ip[0], my_ip[1], my_ip[2],
	       my_ip[3]);
	for (;;) {
		r = shale_poll(deadline, SHALE_POLL_NET);
		if (r < 0) {
			printf("net: poll: %s\n", shale_strerror(r));
			return 1;
		}
		while ((r = shale_net_read(frame, cap)) >= 0) {
			if (r < ETH_HLEN)
				continue;
			if (get16(frame + 12) == ETHERTYPE_ARP)
				arp(frame, r);
			else if (get16(frame + 12) == ETHERTYPE_IP)
				ipv4(frame, r);
		}
		if (r != SHALE_EAGAIN) {
			printf("net: receive: %s\n", shale_strerror(r));
			return 1;
		}
		if (shale_clock_monotonic_ns() >= deadline)
			return 0;
	}
}
