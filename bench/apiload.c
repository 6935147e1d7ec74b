/*
 * Load for shaled's API, for bench/daemon.sh: VM lifecycles per second and
 * many idle VMs held at once. It speaks HTTP/1.1 over the Unix socket
 * itself (one request per connection, as curl would) so that the
 * measurement is the daemon's, not a client's start-up.
 *
 *   apiload SOCKET cycle GUEST N WORKERS   create, start, wait for the stop,
 *                                          delete N VMs; prints the rate
 *   apiload SOCKET up GUEST N              create and start idle0..idleN-1
 *   apiload SOCKET latency PATH N          N GETs of PATH; median and p99 in us
 *   apiload SOCKET down N                  shut down and delete idle0..N-1
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request; the status code, or -1. The body (NUL-terminated) in `body`. */
static int request(const char *method, const char *path, const char *json, char *body,
		   size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char head[512], buf[65536];
	size_t len = 0, jlen = json ? strlen(json) : 0;
	int fd, n, code = -1;
	char *p;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: shale\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		     method, path, jlen);
	if (write(fd, head, (size_t)n) != n || (jlen && write(fd, json, jlen) != (ssize_t)jlen))
		goto out;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &code) != 1)
		code = -1;
	if (body && size) {
		p = strstr(buf, "\r\n\r\n");
		snprintf(body, size, "%s", p ? p + 4 : "");
	}
out:
	close(fd);
	return code;
}

static int expect(int got, int want, const char *what, const char *body)
{
	if (got == want)
		return 0;
	fprintf(stderr, "apiload: %s: HTTP %d, want %d: %s\n", what, got, want, body);
	return -1;
}

struct worker {
	const char *guest;
	int first, count, failed;
};

static void *cycle_worker(void *arg)
{
	struct worker *w = arg;
	char json[1024], path[128], body[4096];

	for (int i = w->first; i < w->first + w->count; i++) {
		snprintf(json, sizeof(json), "{\"name\":\"cycle%d\",\"guest\":\"%s\",\"memory_mib\":4}",
			 i, w->guest);
		snprintf(path, sizeof(path), "/v1/vms/cycle%d/start", i);
		if (expect(request("POST", "/v1/vms", json, body, sizeof(body)), 201, "create",
			   body) ||
		    expect(request("POST", path, NULL, body, sizeof(body)), 200, "start", body)) {
			w->failed++;
			continue;
		}
		snprintf(path, sizeof(path), "/v1/vms/cycle%d", i);
		for (int tries = 0; tries < 100000; tries++) {
			if (request("GET", path, NULL, body, sizeof(body)) == 200 &&
			    strstr(body, "\"state\":\"stopped\""))
				break;
			usleep(1000);
		}
		if (expect(request("DELETE", path, NULL, body, sizeof(body)), 204, "delete", body))
			w->failed++;
	}
	return NULL;
}

static int cycle(const char *guest, int n, int workers)
{
	struct worker w[16];
	pthread_t t[16];
	double t0, secs;
	int failed = 0;

	if (workers < 1 || workers > 16)
		workers = 1;
	t0 = now();
	for (int i = 0; i < workers; i++) {
		w[i] = (struct worker){ .guest = guest, .first = i * (n / workers),
					.count = n / workers + (i == workers - 1 ? n % workers : 0) };
		pthread_create(&t[i], NULL, cycle_worker, &w[i]);
	}
	for (int i = 0; i < workers; i++) {
		pthread_join(t[i], NULL);
		failed += w[i].failed;
	}
	secs = now() - t0;
	printf("cycle vms %d workers %d seconds %.3f rate %.1f failed %d\n", n, workers, secs,
	       n / secs, failed);
	return failed ? 1 : 0;
}

static int up(const char *guest, int n)
{
	char json[1024], path[128], body[4096];
	double t0 = now();

	for (int i = 0; i < n; i++) {
		snprintf(json, sizeof(json), "{\"name\":\"idle%d\",\"guest\":\"%s\",\"memory_mib\":4}",
			 i, guest);
		snprintf(path, sizeof(path), "/v1/vms/idle%d/start", i);
		if (expect(request("POST", "/v1/vms", json, body, sizeof(body)), 201, "create",
			   body) ||
		    expect(request("POST", path, NULL, body, sizeof(body)), 200, "start", body)) {
			printf("up vms %d seconds %.3f\n", i, now() - t0);
			return 1;
		}
	}
	printf("up vms %d seconds %.3f\n", n, now() - t0);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int latency(const char *path, int n)
{
	double *lat = calloc((size_t)n, sizeof(double));
	static char body[1 << 20];

	if (!lat)
		return 1;
	for (int i = 0; i < n; i++) {
		double t0 = now();

		if (request("GET", path, NULL, body, sizeof(body)) != 200) {
			fprintf(stderr, "apiload: GET %s failed\n", path);
			return 1;
		}
		lat[i] = (now() - t0) * 1e6;
	}
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("latency %s n %d median_us %.0f p99_us %.0f\n", path, n, lat[n / 2],
	       lat[(n * 99) / 100]);
	free(lat);
	return 0;
}

static int down(int n)
{
	char path[128], body[4096];
	int failed = 0;

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/v1/vms/idle%d/shutdown", i);
		request("POST", path, NULL, body, sizeof(body));
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/v1/vms/idle%d", i);
		for (int tries = 0; tries < 2000; tries++) {
			if (request("GET", path, NULL, body, sizeof(body)) != 200 ||
			    !strstr(body, "\"state\":\"running\""))
				break;
			usleep(5000);
		}
		snprintf(path, sizeof(path), "/v1/vms/idle%d?force=1", i);
		if (request("DELETE", path, NULL, body, sizeof(body)) != 204)
			failed++;
	}
	printf("down vms %d failed %d\n", n, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: apiload SOCKET cycle|up|latency|down ...\n");
		return 2;
	}
	sock_path = argv[1];
	if (!strcmp(argv[2], "cycle") && argc == 6)
		return cycle(argv[3], atoi(argv[4]), atoi(argv[5]));
	if (!strcmp(argv[2], "up") && argc == 5)
		return up(argv[3], atoi(argv[4]));
	if (!strcmp(argv[2], "latency") && argc == 5)
		return latency(argv[3], atoi(argv[4]));
	if (!strcmp(argv[2], "down") && argc == 4)
		return down(atoi(argv[3]));
	fprintf(stderr, "apiload: bad arguments (see the comment at the top of bench/apiload.c)\n");
	return 2;
}
