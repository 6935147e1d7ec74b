#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/conout.h"
#include "vmm/ctl_proto.h"
#include "vmm/evloop.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Beyond this many connections a new one gets an error and is closed. */
#define CTL_MAX_CONNS 64
/* Replies waiting for a client that does not read: no more requests read. */
#define CTL_OUT_HIGH (16 * 1024)
#define CTL_OUT_MAX (CTL_OUT_HIGH + 4096)
/* A console client's socket buffer: what it may fall behind before it is dropped. */
#define CTL_CONSOLE_SNDBUF (256 * 1024)

enum conn_state {
	CONN_REQUESTS,
	CONN_WAIT_PAUSE,   /* a pause reply waits for every vCPU to park */
	CONN_TO_CONSOLE,   /* the console reply is going out; then console bytes */
	CONN_CONSOLE,      /* raw console bytes both ways */
	CONN_CLOSING,      /* the last reply goes out, then the connection closes */
};

struct ctl_conn {
	struct ctl *ctl;
	int fd;
	enum conn_state state;
	bool registered_console; /* in the conout client list */
	bool eof;                /* the client sends no more */
	uint32_t events;         /* what the loop watches for */
	size_t in_len, out_len;
	char in[CTL_LINE_MAX + 1]; /* a line and its newline */
	char out[CTL_OUT_MAX];
	struct ctl_conn *next;
};

struct ctl {
	struct evloop *loop;
	struct conout *con;
	int listen_fd;
	char *path;
	int dir_fd;       /* path's directory, to unlink it in the sandbox */
	const char *name; /* in path: the name in dir_fd */
	int statm_fd;     /* /proc/self/statm, opened before the sandbox */
	struct ctl_target target;
	bool attached;
	bool pause_watched;
	struct ctl_conn *conns;
	unsigned nr_conns;
};

static void conn_close(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;

	for (struct ctl_conn **p = &ctl->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	ctl->nr_conns--;
	if (c->registered_console)
		conout_del_client(ctl->con, c->fd);
	evloop_del(ctl->loop, c->fd);
	close(c->fd);
	free(c);
}

/* Sends what the socket takes now. False if the connection broke (and is closed). */
static bool conn_flush(struct ctl_conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return true;
}

/* Queues one reply line; replies are small and bounded by CTL_OUT_HIGH reads. */
static void conn_reply(struct ctl_conn *c, struct json_object *reply)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (!s || len + 1 > sizeof(c->out) - c->out_len)
		die("control reply of %zu bytes does not fit", len);
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	json_object_put(reply);
}

static struct json_object *reply_ok(void)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "ok", json_object_new_boolean(1));
	return r;
}

static void conn_error(struct ctl_conn *c, const char *why)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "ok", json_object_new_boolean(0));
	json_object_object_add(r, "error", json_object_new_string(why));
	conn_reply(c, r);
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static const char *vm_state(struct ctl *ctl)
{
	return vm_paused(ctl->target.vm) ? "paused" : "running";
}

static void reply_state(struct ctl_conn *c)
{
	struct json_object *r = reply_ok();

	json_object_object_add(r, "state", json_object_new_string(vm_state(c->ctl)));
	conn_reply(c, r);
}

static void op_info(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;
	struct json_object *r = reply_ok();

	json_object_object_add(r, "state", json_object_new_string(vm_state(ctl)));
	add_u64(r, "pid", (uint64_t)getpid());
	json_object_object_add(r, "kind", json_object_new_string(ctl->target.kind));
	add_u64(r, "vcpus", ctl->target.vm->nr_vcpus);
	add_u64(r, "memory_bytes", ctl->target.vm->ram_size);
	conn_reply(c, r);
}

static uint64_t rss_bytes(const struct ctl *ctl)
{
	unsigned long long size = 0, resident = 0;
	char buf[128];
	ssize_t n = ctl->statm_fd >= 0 ? pread(ctl->statm_fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The balloon's part of stats; the guest's numbers under the names Linux gives them. */
static struct json_object *balloon_json(struct ctl *ctl)
{
	static const char *const stat_names[CTL_BALLOON_NR_STATS] = {
		"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
		"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
		"hugetlb_failures", "oom_kills", "alloc_stalls", "async_scans", "direct_scans",
		"async_reclaims", "direct_reclaims",
	};
	struct json_object *o = json_object_new_object(), *g = json_object_new_object();
	struct ctl_balloon b = { 0 };

	ctl->target.balloon_info(ctl->target.opaque, &b);
	add_u64(o, "target_bytes", b.target_bytes);
	add_u64(o, "actual_bytes", b.actual_bytes);
	add_u64(o, "inflated_bytes", b.inflated_bytes);
	add_u64(o, "deflated_bytes", b.deflated_bytes);
	add_u64(o, "reported_bytes", b.reported_bytes);
	add_u64(o, "stats_updates", b.stats_updates);
	for (unsigned i = 0; i < CTL_BALLOON_NR_STATS; i++)
		if (b.stat_valid & 1u << i)
			add_u64(g, stat_names[i], b.stat[i]);
	json_object_object_add(o, "guest", g);
	return o;
}

static void op_stats(struct ctl_conn *c)
{
	static const char *const exit_names[VM_EXIT_NR] = {
		[VM_EXIT_IO] = "io",
		[VM_EXIT_MMIO] = "mmio",
		[VM_EXIT_HLT] = "hlt",
		[VM_EXIT_HYPERCALL] = "hypercall",
		[VM_EXIT_SHUTDOWN] = "shutdown",
		[VM_EXIT_INTR] = "intr",
		[VM_EXIT_SYSTEM_EVENT] = "system_event",
		[VM_EXIT_OTHER] = "other",
	};
	struct ctl *ctl = c->ctl;
	struct vm_stats *st = ctl->target.vm->stats;
	struct json_object *r = reply_ok(), *o;
	uint64_t exits[VM_EXIT_NR];
	struct timespec cpu;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	add_u64(r, "cpu_ns", (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec);
	add_u64(r, "rss_bytes", rss_bytes(ctl));

	vm_read_exits(ctl->target.vm, exits);
	o = json_object_new_object();
	for (unsigned i = 0; i < VM_EXIT_NR; i++)
		add_u64(o, exit_names[i], exits[i]);
	json_object_object_add(r, "exits", o);

	o = json_object_new_object();
	add_u64(o, "reads", atomic_load(&st->block_reads));
	add_u64(o, "writes", atomic_load(&st->block_writes));
	add_u64(o, "flushes", atomic_load(&st->block_flushes));
	add_u64(o, "read_bytes", atomic_load(&st->block_read_bytes));
	add_u64(o, "write_bytes", atomic_load(&st->block_write_bytes));
	json_object_object_add(r, "block", o);

	o = json_object_new_object();
	add_u64(o, "rx_packets", atomic_load(&st->net_rx_packets));
	add_u64(o, "tx_packets", atomic_load(&st->net_tx_packets));
	add_u64(o, "rx_bytes", atomic_load(&st->net_rx_bytes));
	add_u64(o, "tx_bytes", atomic_load(&st->net_tx_bytes));
	json_object_object_add(r, "net", o);

	add_u64(r, "console_bytes", atomic_load(&ctl->con->bytes));
	if (ctl->target.balloon_info)
		json_object_object_add(r, "balloon", balloon_json(ctl));
	conn_reply(c, r);
}

static void op_balloon(struct ctl_conn *c, const char *line, size_t len)
{
	struct ctl *ctl = c->ctl;
	const char *reason = "the guest refused";
	uint64_t mib;
	char why[256];

	if (!ctl->target.balloon_target) {
		conn_error(c, "this VM has no balloon (shale run --balloon)");
		return;
	}
	if (ctl_parse_uint(line, len, "target_mib", ctl->target.vm->ram_size / MiB, &mib, why,
			   sizeof(why))) {
		conn_error(c, why);
		return;
	}
	if (ctl->target.balloon_target(ctl->target.opaque, mib * MiB, &reason)) {
		conn_error(c, reason);
		return;
	}
	conn_reply(c, reply_ok());
}

static void on_pause_done(void *opaque, int fd, uint32_t events);

static void watch_pause(struct ctl *ctl, bool on)
{
	if (on == ctl->pause_watched)
		return;
	if (on) {
		int ret = evloop_add(ctl->loop, ctl->target.vm->pause_fd, EPOLLIN, on_pause_done, ctl);

		if (ret)
			die("evloop_add: %s", strerror(-ret));
	} else {
		evloop_del(ctl->loop, ctl->target.vm->pause_fd);
	}
	ctl->pause_watched = on;
}

static void op_pause(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;

	if (vm_pause(ctl->target.vm)) {
		reply_state(c);
		return;
	}
	/* The reply, and this connection's next requests, wait for pause_fd. */
	c->state = CONN_WAIT_PAUSE;
	watch_pause(ctl, true);
}

/* Answers every connection that waits for the pause with ok or `error`. */
static void finish_pause_waits(struct ctl *ctl, const char *error);

static void op_resume(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;

	vm_resume(ctl->target.vm);
	finish_pause_waits(ctl, "the VM was resumed before every vCPU had stopped");
	reply_state(c);
}

static void op_shutdown(struct ctl_conn *c)
{
	struct ctl *ctl = c->ctl;
	const char *why = "this guest cannot be asked to shut down";

	if (!ctl->target.shutdown || ctl->target.shutdown(ctl->target.opaque, &why)) {
		conn_error(c, why);
		return;
	}
	conn_reply(c, reply_ok());
}

static void op_kill(struct ctl_conn *c)
{
	vm_stop(c->ctl->target.vm, VM_STOP_KILLED, 0, "killed through the control socket");
	conn_reply(c, reply_ok());
}

static void op_console(struct ctl_conn *c)
{
	int size = CTL_CONSOLE_SNDBUF;

	/* Only the loop adds clients: a free slot now is still free below. */
	if (!conout_has_room(c->ctl->con)) {
		conn_error(c, "too many console clients");
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	conn_reply(c, reply_ok());
	c->state = CONN_TO_CONSOLE;
}

static void handle_line(struct ctl_conn *c, const char *line, size_t len)
{
	struct ctl *ctl = c->ctl;
	char why[256];
	enum ctl_op op;

	switch (ctl_parse_request(line, len, &op, why, sizeof(why))) {
	case CTL_PARSE_BAD_JSON:
		conn_error(c, why);
		c->state = CONN_CLOSING;
		return;
	case CTL_PARSE_BAD_REQUEST:
		conn_error(c, why);
		return;
	case CTL_PARSE_OK:
		break;
	}
	if (!ctl->attached || vm_stopping(ctl->target.vm)) {
		conn_error(c, "the VM is not running (it is stopping or restarting)");
		return;
	}
	switch (op) {
	case CTL_OP_INFO:
		op_info(c);
		break;
	case CTL_OP_STATS:
		op_stats(c);
		break;
	case CTL_OP_PAUSE:
		op_pause(c);
		break;
	case CTL_OP_RESUME:
		op_resume(c);
		break;
	case CTL_OP_SHUTDOWN:
		op_shutdown(c);
		break;
	case CTL_OP_KILL:
		op_kill(c);
		break;
	case CTL_OP_CONSOLE:
		op_console(c);
		break;
	case CTL_OP_BALLOON:
		op_balloon(c, line, len);
		break;
	case CTL_OP_NR:
		break;
	}
}

static void console_input(struct ctl_conn *c, const char *buf, size_t len)
{
	struct ctl *ctl = c->ctl;

	if (len && ctl->attached && ctl->target.console_input)
		ctl->target.console_input(ctl->target.opaque, (const uint8_t *)buf, len);
}

/*
 * Runs the complete lines in c->in while the connection takes requests and
 * its replies fit. A full buffer without a newline is an overlong line.
 */
static void run_lines(struct ctl_conn *c)
{
	while (c->state == CONN_REQUESTS && c->out_len < CTL_OUT_HIGH) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t used;

		if (!nl) {
			if (c->in_len == sizeof(c->in)) {
				char why[64];

				snprintf(why, sizeof(why), "request line longer than %u bytes",
					 CTL_LINE_MAX);
				conn_error(c, why);
				c->state = CONN_CLOSING;
			}
			return;
		}
		used = (size_t)(nl - c->in) + 1;
		handle_line(c, c->in, used - 1);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

/* What the loop watches for, from the state; then the console switch. */
static void conn_update(struct ctl_conn *c)
{
	uint32_t want = 0;

	if (c->state == CONN_TO_CONSOLE && !c->out_len) {
		/* The reply is out: from now on the client sees every console byte. */
		if (conout_add_client(c->ctl->con, c->fd)) {
			conn_close(c);
			return;
		}
		c->registered_console = true;
		c->state = CONN_CONSOLE;
		console_input(c, c->in, c->in_len);
		c->in_len = 0;
	}
	if (c->eof && (c->state == CONN_CONSOLE || c->state == CONN_TO_CONSOLE)) {
		conn_close(c);
		return;
	}
	if (c->eof && c->state == CONN_REQUESTS && !memchr(c->in, '\n', c->in_len))
		c->state = CONN_CLOSING; /* a last line without its newline is not run */
	if (c->state == CONN_CLOSING && !c->out_len) {
		conn_close(c);
		return;
	}
	if (!c->eof && (c->state == CONN_CONSOLE ||
			(c->state == CONN_REQUESTS && c->out_len < CTL_OUT_HIGH &&
			 c->in_len < sizeof(c->in))))
		want |= EPOLLIN;
	if (c->out_len)
		want |= EPOLLOUT;
	if (want != c->events) {
		int ret = evloop_mod(c->ctl->loop, c->fd, want);

		if (ret)
			die("evloop_mod: %s", strerror(-ret));
		c->events = want;
	}
}

/* Flush, then run what waits, then flush again and update the watch. */
static void conn_progress(struct ctl_conn *c)
{
	if (!conn_flush(c))
		return;
	run_lines(c);
	if (!conn_flush(c))
		return;
	conn_update(c);
}

static void on_conn(void *opaque, int fd, uint32_t events)
{
	struct ctl_conn *c = opaque;

	if (events & EPOLLIN) {
		char buf[4096];
		ssize_t n;

		if (c->state == CONN_CONSOLE) {
			n = read(fd, buf, sizeof(buf));
			if (n > 0)
				console_input(c, buf, (size_t)n);
		} else {
			n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
			if (n > 0)
				c->in_len += (size_t)n;
		}
		/* The client is gone or done sending: what it asked for still goes out. */
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			c->eof = true;
	} else if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLOUT)) {
		conn_close(c);
		return;
	}
	conn_progress(c);
}

static void finish_pause_waits(struct ctl *ctl, const char *error)
{
	struct ctl_conn *next;

	for (struct ctl_conn *c = ctl->conns; c; c = next) {
		next = c->next;
		if (c->state != CONN_WAIT_PAUSE)
			continue;
		c->state = CONN_REQUESTS;
		if (error)
			conn_error(c, error);
		else
			reply_state(c);
		conn_progress(c);
	}
	if (ctl->attached)
		watch_pause(ctl, false);
}

static void on_pause_done(void *opaque, int fd, uint32_t events)
{
	struct ctl *ctl = opaque;

	/* pause_fd stays readable until vm_resume(): stop watching it. */
	if (vm_all_parked(ctl->target.vm))
		finish_pause_waits(ctl, NULL);
	else
		watch_pause(ctl, false);
}

static void on_accept(void *opaque, int fd, uint32_t events)
{
	struct ctl *ctl = opaque;

	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (cfd < 0)
			return; /* EAGAIN, or a client that left before we took it */
		c = ctl->nr_conns < CTL_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			static const char busy[] =
				"{\"ok\":false,\"error\":\"too many control connections\"}\n";

			/* Best effort: it is closed either way. */
			ssize_t sent = send(cfd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);

			(void)sent;
			close(cfd);
			continue;
		}
		c->ctl = ctl;
		c->fd = cfd;
		c->events = EPOLLIN;
		if (evloop_add(ctl->loop, cfd, EPOLLIN, on_conn, c)) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = ctl->conns;
		ctl->conns = c;
		ctl->nr_conns++;
	}
}

int ctl_open(struct ctl **out, const char *path, struct evloop *loop, struct conout *con)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ctl *ctl;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_err("--control %s: path longer than %zu bytes", path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path));
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		return -ENOMEM;
	}
	ctl->loop = loop;
	ctl->con = con;
	ctl->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ctl->dir_fd = path_open_parent(ctl->path, &ctl->name);
	if (ctl->dir_fd < 0) {
		ret = ctl->dir_fd;
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ctl->listen_fd = fd;
	/* A socket left by a VMM that died; anything else there is refused by bind. */
	if (unlink(path) < 0 && errno != ENOENT) {
		ret = -errno;
		goto fail_fd;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 64) < 0) {
		ret = -errno;
		goto fail_fd;
	}
	ret = evloop_add(loop, fd, EPOLLIN, on_accept, ctl);
	if (ret)
		goto fail_fd;
	*out = ctl;
	return 0;

fail_fd:
	close(fd);
fail:
	log_err("--control %s: %s", path, strerror(-ret));
	if (ctl->dir_fd >= 0)
		close(ctl->dir_fd);
	if (ctl->statm_fd >= 0)
		close(ctl->statm_fd);
	free(ctl->path);
	free(ctl);
	return ret;
}

void ctl_close(struct ctl *ctl)
{
	if (!ctl)
		return;
	while (ctl->conns) {
		struct ctl_conn *c = ctl->conns;

		if (conn_flush(c))
			conn_close(c);
	}
	evloop_del(ctl->loop, ctl->listen_fd);
	close(ctl->listen_fd);
	unlinkat(ctl->dir_fd, ctl->name, 0);
	close(ctl->dir_fd);
	if (ctl->statm_fd >= 0)
		close(ctl->statm_fd);
	free(ctl->path);
	free(ctl);
}

int ctl_dirfd(const struct ctl *ctl)
{
	return ctl->dir_fd;
}

void ctl_attach(struct ctl *ctl, const struct ctl_target *target)
{
	ctl->target = *target;
	ctl->attached = true;
}

void ctl_detach(struct ctl *ctl)
{
	if (!ctl || !ctl->attached)
		return;
	finish_pause_waits(ctl, "the VM stopped before every vCPU had paused");
	watch_pause(ctl, false);
	ctl->attached = false;
}
