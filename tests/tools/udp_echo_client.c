/*
 * udp_echo_client ADDR PORT MESSAGE: sends MESSAGE as one UDP datagram,
 * prints the first reply and exits 0, or exits 1 after 3 seconds of
 * silence. The network tests use it against examples/net.c.
 *
 * udp_echo_client -n COUNT ADDR PORT MESSAGE: COUNT request/reply round
 * trips, one after the other, then one line for the benchmarks:
 *
 *   echoes COUNT ns TOTAL median_ns MEDIAN
 *
 * A reply that does not come within 3 seconds, or differs, is an error.
 *
 * udp_echo_client -w WINDOW -n COUNT ADDR PORT SIZE: bulk throughput, with
 * WINDOW datagrams of SIZE bytes in flight until COUNT replies came back;
 * a datagram whose reply does not come within 100 ms counts as lost and
 * is sent anew. Prints
 *
 *   bytes BYTES ns TOTAL lost LOST
 *
 * 3 seconds without any reply is an error: the echo server is gone.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define BULK_TIMEOUT_US 100000
#define SILENCE_NS 3000000000ull

static int bulk(int fd, long window, long count, size_t size)
{
	struct timeval tv = { .tv_usec = BULK_TIMEOUT_US };
	char *msg = malloc(size), buf[65536];
	long sent = 0, got = 0, lost = 0;
	uint64_t t0 = now_ns(), last_reply = t0;

	if (!msg || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("udp_echo_client");
		return 1;
	}
	memset(msg, 'u', size);
	while (got < count) {
		while (sent - got - lost < window && sent - lost < count) {
			if (send(fd, msg, size, 0) < 0) {
				perror("send");
				return 1;
			}
			sent++;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (now_ns() - last_reply >= SILENCE_NS) {
				fprintf(stderr, "udp_echo_client: no reply in %llu s (%ld of %ld came)\n",
					SILENCE_NS / 1000000000ull, got, count);
				free(msg);
				return 1;
			}
			/* Every datagram still out is taken as lost, and sent again. */
			lost += sent - got - lost;
			continue;
		}
		last_reply = now_ns();
		if ((size_t)n == size)
			got++;
	}
	printf("bytes %llu ns %llu lost %ld\n", (unsigned long long)got * size,
	       (unsigned long long)(now_ns() - t0), lost);
	free(msg);
	return 0;
}

int main(int argc, char **argv)
{
	struct timeval tv = { .tv_sec = 3 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char buf[2048];
	long count = 0;
	uint64_t *lat = NULL, t0;
	size_t len;
	ssize_t n;
	int fd;

	if (argc == 8 && !strcmp(argv[1], "-w") && !strcmp(argv[3], "-n")) {
		long window = atol(argv[2]), total = atol(argv[4]);
		size_t size = (size_t)atol(argv[7]);

		if (window < 1 || window > 1024 || total < 1 || size < 1 || size > 1472 ||
		    inet_pton(AF_INET, argv[5], &sa.sin_addr) != 1) {
			fprintf(stderr, "udp_echo_client: -w 1..1024 -n COUNT ADDR PORT 1..1472\n");
			return 2;
		}
		sa.sin_port = htons((uint16_t)atoi(argv[6]));
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("socket");
			return 1;
		}
		return bulk(fd, window, total, size);
	}
	if (argc == 6 && !strcmp(argv[1], "-n")) {
		count = atol(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || count < 0 ||
	    count > 10000000) {
		fprintf(stderr, "usage: udp_echo_client [-n COUNT] IPV4-ADDR PORT MESSAGE\n"
				"       udp_echo_client -w WINDOW -n COUNT IPV4-ADDR PORT SIZE\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	len = strlen(argv[3]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("socket");
		return 1;
	}
	if (count && !(lat = calloc((size_t)count, sizeof(*lat)))) {
		perror("calloc");
		return 1;
	}
	t0 = now_ns();
	for (long i = 0; i < (count ? count : 1); i++) {
		uint64_t t = now_ns();

		if (send(fd, argv[3], len, 0) < 0) {
			perror("send");
			return 1;
		}
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			perror("recv");
			return 1;
		}
		buf[n] = '\0';
		if (!count) {
			printf("%s\n", buf);
			break;
		}
		if ((size_t)n != len || memcmp(buf, argv[3], len)) {
			fprintf(stderr, "udp_echo_client: reply %ld differs\n", i);
			return 1;
		}
		lat[i] = now_ns() - t;
	}
	if (count) {
		uint64_t total = now_ns() - t0;

		qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
		printf("echoes %ld ns %llu median_ns %llu\n", count, (unsigned long long)total,
		       (unsigned long long)lat[count / 2]);
	}
	free(lat);
	close(fd);
	return 0;
}
