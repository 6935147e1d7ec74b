/*
 * The HTTP/1.1 API of shaled (docs/api.md, docs/api.yaml) on
 * libmicrohttpd: a thread per connection, request bodies bounded, every
 * answer JSON (text for logs and metrics) with a 4xx and a message for a
 * bad request.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "daemon/api_req.h"
#include "daemon/daemon.h"
#include "util/util.h"

#define EVENT_KEEPALIVE_MS 15000

static struct shaled *daemon_state;
static struct MHD_Daemon *httpd[2];
static gid_t socket_gid;

struct request {
	char *body;
	size_t len;
	bool too_big;
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
				 const char *text, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sends `o` and drops the reference. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	enum MHD_Result ret;
	size_t len = strlen(s);
	char *text = malloc(len + 2);

	if (!text) {
		json_object_put(o);
		return MHD_NO;
	}
	memcpy(text, s, len);
	text[len] = '\n';
	ret = send_text(c, status, "application/json", text, len + 1);
	free(text);
	json_object_put(o);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	if (status >= 400 && status < 500) {
		pthread_mutex_lock(&daemon_state->lock);
		daemon_state->bad_requests++;
		pthread_mutex_unlock(&daemon_state->lock);
	}
	return send_json(c, status, o);
}

static unsigned status_of(int err)
{
	switch (err) {
	case -ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case -EEXIST:
	case -EBUSY:
		return MHD_HTTP_CONFLICT;
	case -EINVAL:
	case -EOPNOTSUPP:
		return MHD_HTTP_BAD_REQUEST;
	case -ENOSPC:
		return MHD_HTTP_INSUFFICIENT_STORAGE;
	case -EIO:
		return MHD_HTTP_BAD_GATEWAY;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static enum MHD_Result send_vm(struct MHD_Connection *c, unsigned status, const char *name)
{
	json_object *o = vms_info(daemon_state, name);

	if (!o) /* deleted meanwhile */
		return send_error(c, MHD_HTTP_NOT_FOUND, "the VM is gone");
	return send_json(c, status, o);
}

/* ---- events ---- */

struct event_stream {
	uint64_t seq;
};

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct event_stream *s = cls;
	struct event e;
	int n;

	if (max < 512)
		return 0;
	if (!events_wait(daemon_state, s->seq, EVENT_KEEPALIVE_MS, &e)) {
		if (daemon_state->quit)
			return MHD_CONTENT_READER_END_OF_STREAM;
		buf[0] = '\n'; /* keep-alive: shows a reader that went away */
		return 1;
	}
	s->seq = e.seq;
	{
		struct tm tm;
		int64_t sec = e.time_ns / 1000000000;

		sec_to_utc(sec, &tm);
		n = snprintf(buf, max,
			     "{\"seq\":%llu,\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
			     "\"vm\":\"%s\",\"state\":\"%s\"%s%s%s}\n",
			     (unsigned long long)e.seq, tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (int)(e.time_ns / 1000000 % 1000), e.vm, vm_state_name(e.state),
			     e.reason[0] ? ",\"reason\":\"" : "", e.reason,
			     e.reason[0] ? "\"" : "");
	}
	return n > 0 && (size_t)n < max ? n : 0;
}

static enum MHD_Result serve_events(struct MHD_Connection *c, const struct api_req *req)
{
	struct event_stream *s = malloc(sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!s)
		return MHD_NO;
	pthread_mutex_lock(&daemon_state->lock);
	s->seq = daemon_state->event_seq;
	pthread_mutex_unlock(&daemon_state->lock);
	if (req->has_since && req->since < s->seq)
		s->seq = req->since;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, events_read, s, free);
	if (!r) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- console ---- */

struct console_link {
	int vmm_fd;
	MHD_socket sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra;
	size_t extra_len;
};

static bool pass(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

/* Copies bytes both ways until either side closes. */
static void *console_proxy(void *arg)
{
	struct console_link *l = arg;

	if (!l->extra_len ||
	    send(l->vmm_fd, l->extra, l->extra_len, MSG_NOSIGNAL) == (ssize_t)l->extra_len) {
		bool client_eof = false;

		for (;;) {
			/*
			 * A client whose input ended (a half close) still reads
			 * the console: then only a hang-up of its socket ends it.
			 */
			struct pollfd p[2] = {
				{ .fd = l->sock, .events = client_eof ? 0 : POLLIN },
				{ .fd = l->vmm_fd, .events = POLLIN },
			};

			if (poll(p, 2, -1) < 0)
				continue;
			if (p[0].revents & (POLLHUP | POLLERR))
				break;
			if (p[0].revents & POLLIN && !pass(l->sock, l->vmm_fd))
				client_eof = true;
			if (p[1].revents && !pass(l->vmm_fd, l->sock))
				break;
		}
	}
	close(l->vmm_fd);
	MHD_upgrade_action(l->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(l->extra);
	free(l);
	return NULL;
}

static void console_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
			     const char *extra_in, size_t extra_in_size, MHD_socket sock,
			     struct MHD_UpgradeResponseHandle *urh)
{
	struct console_link *l = cls;
	pthread_t t;

	l->sock = sock;
	l->urh = urh;
	if (extra_in_size) {
		l->extra = malloc(extra_in_size);
		if (l->extra) {
			memcpy(l->extra, extra_in, extra_in_size);
			l->extra_len = extra_in_size;
		}
	}
	if (pthread_create(&t, NULL, console_proxy, l)) {
		close(l->vmm_fd);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		free(l->extra);
		free(l);
		return;
	}
	pthread_detach(t);
}

static enum MHD_Result serve_console(struct MHD_Connection *c, const char *name)
{
	const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	struct console_link *l;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char err[512] = "";
	int fd;

	if (!up || strcasecmp(up, "shale-console"))
		return send_error(c, MHD_HTTP_BAD_REQUEST,
				  "the console needs 'Connection: Upgrade' and "
				  "'Upgrade: shale-console'");
	fd = vms_console(daemon_state, name, err, sizeof(err));
	if (fd < 0)
		return send_error(c, status_of(fd), err);
	l = calloc(1, sizeof(*l));
	r = l ? MHD_create_response_for_upgrade(console_upgraded, l) : NULL;
	if (!r) {
		close(fd);
		free(l);
		return MHD_NO;
	}
	l->vmm_fd = fd;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "shale-console");
	ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- routing ---- */

static enum MHD_Result bad_method(struct MHD_Connection *c, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char msg[128];

	snprintf(msg, sizeof(msg), "{\"error\":\"method not allowed here (allowed: %s)\"}\n",
		 allow);
	r = MHD_create_response_from_buffer(strlen(msg), msg, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	MHD_destroy_response(r);
	return ret;
}

/* Carries out what api_req_parse() found the request to ask. */
static enum MHD_Result serve(struct MHD_Connection *c, const struct api_req *req,
			     struct request *r)
{
	struct shaled *d = daemon_state;
	char err[512] = "", name[VMDEF_NAME_MAX + 1];
	struct vm_def def;
	json_object *o;
	char *text;
	size_t len = 0;
	enum MHD_Result res;
	int ret;

	switch (req->op) {
	case API_ERROR:
		return send_error(c, req->status, req->error);
	case API_BAD_METHOD:
		return bad_method(c, req->allow);
	case API_LIST:
		return send_json(c, MHD_HTTP_OK, vms_list(d));
	case API_CREATE:
		if (vmdef_parse(r->body ? r->body : "", r->len, &def, err, sizeof(err)))
			return send_error(c, MHD_HTTP_BAD_REQUEST, err);
		snprintf(name, sizeof(name), "%s", def.name);
		ret = vms_create(d, &def, err, sizeof(err));
		vmdef_free(&def);
		if (ret)
			return send_error(c, status_of(ret), err);
		return send_vm(c, MHD_HTTP_CREATED, name);
	case API_HOST:
		return send_json(c, MHD_HTTP_OK, vms_host(d));
	case API_METRICS:
		text = vms_metrics(d);
		if (!text)
			return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		res = send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", text, strlen(text));
		free(text);
		return res;
	case API_EVENTS:
		return serve_events(c, req);
	case API_INFO:
		o = vms_info(d, req->name);
		if (!o) {
			snprintf(err, sizeof(err), "no VM named %s", req->name);
			return send_error(c, MHD_HTTP_NOT_FOUND, err);
		}
		return send_json(c, MHD_HTTP_OK, o);
	case API_DELETE:
		ret = vms_delete(d, req->name, req->force, err, sizeof(err));
		if (ret)
			return send_error(c, status_of(ret), err);
		return send_text(c, MHD_HTTP_NO_CONTENT, "application/json", "", 0);
	case API_STATS:
		o = vms_stats(d, req->name, err, sizeof(err));
		return o ? send_json(c, MHD_HTTP_OK, o) : send_error(c, MHD_HTTP_NOT_FOUND, err);
	case API_LOGS:
		text = vms_logs(d, req->name, req->log_bytes, &len, err, sizeof(err));
		if (!text)
			return send_error(c, err[0] ? MHD_HTTP_NOT_FOUND :
						      MHD_HTTP_INTERNAL_SERVER_ERROR,
					  err[0] ? err : "out of memory");
		res = send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", text, len);
		free(text);
		return res;
	case API_CONSOLE:
		return serve_console(c, req->name);
	case API_START:
		ret = vms_start(d, req->name, err, sizeof(err));
		break;
	case API_PAUSE:
	case API_RESUME:
		ret = vms_pause(d, req->name, req->op == API_PAUSE, err, sizeof(err));
		break;
	case API_SHUTDOWN:
		ret = vms_shutdown(d, req->name, req->timeout_ms * 1000000, err, sizeof(err));
		break;
	case API_KILL:
		ret = vms_kill(d, req->name, err, sizeof(err));
		break;
	case API_REBOOT:
		ret = vms_reboot(d, req->name, err, sizeof(err));
		break;
	case API_BALLOON:
		ret = vms_balloon(d, req->name, req->target_mib, err, sizeof(err));
		break;
	default:
		die("API request kind %d", (int)req->op);
	}
	if (ret)
		return send_error(c, status_of(ret), err);
	return send_vm(c, req->op == API_SHUTDOWN ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, req->name);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
			     struct request *r)
{
	struct api_query q = {
		.bytes = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "bytes"),
		.force = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "force"),
		.since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since"),
	};
	struct api_req req;

	api_req_parse(method, url, &q, r->body, r->len, &req);
	return serve(c, &req, r);
}

/* Only root, the daemon's own user and the socket's group may talk to it. */
static bool peer_allowed(struct MHD_Connection *c, bool peer_check)
{
	const union MHD_ConnectionInfo *ci;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!peer_check)
		return true;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid() || cred.gid == socket_gid;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct request *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->too_big || r->len + n > VMDEF_MAX_BODY) {
			r->too_big = true;
			return MHD_YES;
		}
		char *b = realloc(r->body, r->len + n + 1);

		if (!b)
			return MHD_NO;
		memcpy(b + r->len, upload_data, n);
		r->body = b;
		r->len += n;
		r->body[r->len] = '\0';
		return MHD_YES;
	}
	pthread_mutex_lock(&daemon_state->lock);
	daemon_state->requests++;
	pthread_mutex_unlock(&daemon_state->lock);
	if (!peer_allowed(c, cls != NULL))
		return send_error(c, MHD_HTTP_FORBIDDEN, "permission denied");
	if (r->too_big)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
	return route(c, url, method, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("http: %s", buf);
}

int api_start(struct shaled *d, int listen_fd, bool check_peer)
{
	struct stat st;

	size_t slot = httpd[0] ? 1 : 0;

	daemon_state = d;
	if (check_peer) {
		if (d->socket_path && stat(d->socket_path, &st) == 0)
			socket_gid = st.st_gid;
		else
			socket_gid = getegid();
	}
	if (httpd[slot])
		return -EBUSY;
	/* The handler's closure is non-NULL where peers are checked. */
	httpd[slot] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					 MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG,
				 0, NULL, NULL, handle, check_peer ? (void *)d : NULL,
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				 MHD_OPTION_LISTEN_SOCKET, listen_fd,
				 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_END);
	if (!httpd[slot]) {
		log_err("cannot start the HTTP server");
		return -EIO;
	}
	return 0;
}

void api_stop(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(httpd); i++) {
		if (httpd[i])
			MHD_stop_daemon(httpd[i]);
		httpd[i] = NULL;
	}
}
