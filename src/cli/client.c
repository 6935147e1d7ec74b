/*
 * The client commands of `shale`: create, start, stop, kill, pause,
 * resume, reboot, rm, list, info, stats, logs, console and events. Each
 * is one request to shaled's HTTP API (docs/api.md) over its Unix socket;
 * the answer is printed as a table, or with --json as the API's JSON.
 *
 * Exit status: 0 done, 1 the daemon refused (its message is printed) or
 * could not be reached, 2 a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "usernet/usernet.h"
#include "util/json.h"
#include "util/util.h"
#include "vmm/console.h"

#define DEFAULT_SOCKET "/run/shale.sock"
/* Every request but console and events; pause waits for vCPUs to park. */
#define API_TIMEOUT_MS (60 * 1000)
#define MAX_NAME 64
#define MAX_EVENT_LINE (64 * 1024)
#define CONSOLE_DETACH 0x1d /* Ctrl-] */

enum { EXIT_API = 1, EXIT_USAGE = 2 };

#define MAX_OPERANDS 8

struct client {
	const char *socket;
	bool json;
	/* The operands, in order; with more than MAX_OPERANDS only the first are kept. */
	char *ops[MAX_OPERANDS];
	int nr_ops;
	/* What follows "--", which ends the options (guest arguments). */
	char **tail;
	int nr_tail;
};

struct cmd {
	const char *name;
	const char *args;	/* after "shale NAME" in the usage line */
	const char *about;
	const char *options;	/* help lines for the command's own options, or NULL */
	const char *shortopts;	/* the command's own short options, for getopt */
};

/* Options and help shared by every client command. */

enum { OPT_SOCKET = 1000, OPT_JSON };

static void cmd_usage(const struct cmd *cmd, FILE *f)
{
	fprintf(f, "Usage: shale %s %s\n\n%s\n\nOptions:\n%s", cmd->name, cmd->args, cmd->about,
		cmd->options ? cmd->options : "");
	fprintf(f,
		"      --socket PATH       shaled's socket (default: $SHALE_SOCKET, else\n"
		"                          " DEFAULT_SOCKET ")\n"
		"      --json              print the API's JSON instead of a table\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 done, 1 refused by the daemon or no daemon, 2 bad usage.\n");
}

/* Handles one of a command's own options: 0, or the status to exit with. */
typedef int (*opt_fn)(void *ctx, int opt, char *arg);

/*
 * Parses the shared options and the command's own (extra, handled by fn),
 * anywhere among the operands, up to "--". Returns -1 to go on, with the
 * operands in cl->ops and what follows "--" in cl->tail, or the status to
 * exit with: 0 after --help, 2 on a bad option.
 *
 * getopt runs in order ('+'), stopping at each operand, because with
 * GNU permutation the operands before and after "--" can no longer be
 * told apart.
 */
static int parse_args(const struct cmd *cmd, int argc, char **argv, const struct option *extra,
		      opt_fn fn, void *ctx, struct client *cl)
{
	struct option longopts[32] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
	};
	const char *last_arg = NULL;
	char optstring[16];
	size_t n = 3;
	int c, ret;

	for (; extra && extra[n - 3].name; n++) {
		if (n == ARRAY_SIZE(longopts) - 1)
			die("too many options for %s", cmd->name);
		longopts[n] = extra[n - 3];
	}
	cl->socket = getenv("SHALE_SOCKET");
	if (!cl->socket || !*cl->socket)
		cl->socket = DEFAULT_SOCKET;
	cl->json = false;
	cl->nr_ops = 0;
	cl->tail = argv + argc;
	cl->nr_tail = 0;
	snprintf(optstring, sizeof(optstring), "+:h%s", cmd->shortopts ? cmd->shortopts : "");
	opterr = 0;
	optind = 0; /* a full reset, the '+' included */
	for (;;) {
		c = getopt_long(argc, argv, optstring, longopts, NULL);
		if (c == -1 && optind >= argc)
			break;
		/* Stopped past a "--" that was not the value of the last option. */
		if (c == -1 && optind > 1 && !strcmp(argv[optind - 1], "--") &&
		    argv[optind - 1] != last_arg) {
			cl->tail = argv + optind;
			cl->nr_tail = argc - optind;
			break;
		}
		if (c == -1) {
			if (cl->nr_ops < MAX_OPERANDS)
				cl->ops[cl->nr_ops] = argv[optind];
			cl->nr_ops++;
			optind++;
			last_arg = NULL;
			continue;
		}
		last_arg = optarg;
		switch (c) {
		case OPT_SOCKET:
			if (!*optarg) {
				log_err("%s: --socket wants a path", cmd->name);
				return EXIT_USAGE;
			}
			cl->socket = optarg;
			break;
		case OPT_JSON:
			cl->json = true;
			break;
		case 'h':
			cmd_usage(cmd, stdout);
			return 0;
		case ':':
			log_err("%s: option '%s' needs a value (see 'shale %s --help')", cmd->name,
				argv[optind - 1], cmd->name);
			return EXIT_USAGE;
		case '?':
			if (optopt && optopt < 256)
				log_err("%s: unknown option '-%c' (see 'shale %s --help')", cmd->name,
					optopt, cmd->name);
			else
				log_err("%s: bad option '%s' (see 'shale %s --help')", cmd->name,
					argv[optind - 1], cmd->name);
			return EXIT_USAGE;
		default:
			ret = fn ? fn(ctx, c, optarg) : EXIT_USAGE;
			if (ret)
				return ret;
		}
	}
	return -1;
}

/* Names as the API takes them: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || !strchr("._-", c)))
			return false;
	}
	return true;
}

static bool check_name(const struct cmd *cmd, const char *name)
{
	if (valid_name(name))
		return true;
	log_err("%s: bad VM name '%s': want 1-64 letters, digits, '.', '_' or '-', "
		"starting with a letter or digit", cmd->name, name);
	return false;
}

/*
 * The one NAME operand of most commands (after "--" too), or NULL after
 * saying what is wrong.
 */
static const char *one_name(const struct cmd *cmd, const struct client *cl)
{
	int n = cl->nr_ops + cl->nr_tail;
	const char *name = cl->nr_ops ? cl->ops[0] : cl->nr_tail ? cl->tail[0] : NULL;

	if (!n) {
		log_err("%s: missing NAME (see 'shale %s --help')", cmd->name, cmd->name);
		return NULL;
	}
	if (n > 1) {
		const char *extra = cl->nr_ops > 1 ? cl->ops[1]
				  : cl->nr_ops ? cl->tail[0] : cl->tail[1];

		log_err("%s: unexpected argument '%s' (see 'shale %s --help')", cmd->name, extra,
			cmd->name);
		return NULL;
	}
	return check_name(cmd, name) ? name : NULL;
}

static bool no_operands(const struct cmd *cmd, const struct client *cl)
{
	if (cl->nr_ops || cl->nr_tail) {
		log_err("%s: unexpected argument '%s' (see 'shale %s --help')", cmd->name,
			cl->nr_ops ? cl->ops[0] : cl->tail[0], cmd->name);
		return false;
	}
	return true;
}

/* Talking to the daemon. */

static void connect_error(const struct client *cl, int err, const struct http_response *r)
{
	switch (err) {
	case -ENOENT:
	case -ECONNREFUSED:
		log_err("no daemon at %s: start it with 'shaled --socket %s'", cl->socket,
			cl->socket);
		break;
	case -ENAMETOOLONG:
		log_err("--socket %s: too long for a Unix socket path", cl->socket);
		break;
	case -ETIMEDOUT:
		log_err("the daemon at %s did not answer within %d s", cl->socket,
			API_TIMEOUT_MS / 1000);
		break;
	case -EBADMSG:
	case -E2BIG:
	case -ECONNRESET:
		if (r && r->error) {
			log_err("bad answer from the daemon at %s: %s", cl->socket, r->error);
			break;
		}
		/* fall through */
	default:
		log_err("cannot talk to the daemon at %s: %s", cl->socket, strerror(-err));
	}
}

/* A JSON document that is all of s[0..n), or NULL. */
static struct json_object *parse_json(const char *s, size_t n)
{
	char why[128];

	return json_parse_whole(s, n, JSON_TOKENER_DEFAULT_DEPTH, 0, why, sizeof(why));
}

/* Prints the daemon's refusal: its {"error": ...}, or the status line. */
static void api_error(const struct http_response *r)
{
	struct json_object *doc = parse_json(r->body ? r->body : "", r->body_len);
	struct json_object *msg;

	if (doc && json_object_object_get_ex(doc, "error", &msg) &&
	    json_object_is_type(msg, json_type_string))
		log_err("%s", json_object_get_string(msg));
	else
		log_err("the daemon answered %d %s", r->status, r->reason ? r->reason : "");
	json_object_put(doc);
}

/*
 * One request. Returns 0 with r filled on a 2xx answer (release it with
 * http_response_free()); otherwise prints why and returns EXIT_API.
 */
static int api_call(const struct client *cl, const char *method, const char *target,
		    struct json_object *body, struct http_response *r)
{
	struct http_request rq = { .method = method, .target = target };
	int ret;

	if (body) {
		size_t n;

		rq.body = json_object_to_json_string_length(
			body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		rq.body_len = n;
		rq.content_type = "application/json";
	}
	ret = http_roundtrip(cl->socket, &rq, API_TIMEOUT_MS, r);
	if (ret) {
		connect_error(cl, ret, r);
		return EXIT_API;
	}
	if (r->status < 200 || r->status > 299) {
		api_error(r);
		http_response_free(r);
		return EXIT_API;
	}
	return 0;
}

/* The answer's JSON, or NULL after saying it is not JSON. */
static struct json_object *answer_json(const struct client *cl, const struct http_response *r)
{
	struct json_object *doc = parse_json(r->body, r->body_len);

	if (!doc || !json_object_is_type(doc, json_type_object)) {
		log_err("bad answer from the daemon at %s: not a JSON object", cl->socket);
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

static void print_raw(const struct http_response *r)
{
	fwrite(r->body, 1, r->body_len, stdout);
	if (r->body_len && r->body[r->body_len - 1] != '\n')
		putchar('\n');
}

/* Reading the API's objects. */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool get_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = get(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* MiB as 512M or 2G. */
static void fmt_mib(char *buf, size_t n, int64_t mib)
{
	if (mib && mib % 1024 == 0)
		snprintf(buf, n, "%lldG", (long long)(mib / 1024));
	else
		snprintf(buf, n, "%lldM", (long long)mib);
}

static void fmt_bytes(char *buf, size_t n, int64_t b)
{
	if (b >= (int64_t)GiB)
		snprintf(buf, n, "%.1f GiB", (double)b / (double)GiB);
	else if (b >= (int64_t)MiB)
		snprintf(buf, n, "%.1f MiB", (double)b / (double)MiB);
	else if (b >= (int64_t)KiB)
		snprintf(buf, n, "%.1f KiB", (double)b / (double)KiB);
	else
		snprintf(buf, n, "%lld B", (long long)b);
}

/* "exit 3", "killed", "crash: ..." for last_stop. */
static void fmt_stop(char *buf, size_t n, struct json_object *stop, bool message)
{
	const char *reason = get_str(stop, "reason"), *msg = get_str(stop, "message");
	int64_t status;

	if (!reason) {
		snprintf(buf, n, "-");
		return;
	}
	if (!strcmp(reason, "exit") && get_int(stop, "status", &status))
		snprintf(buf, n, "exit %lld", (long long)status);
	else
		snprintf(buf, n, "%s", reason);
	if (message && msg && *msg) {
		size_t len = strlen(buf);

		snprintf(buf + len, n - len, ": %s", msg);
	}
}

/* `shale create` */

struct create_opts {
	char *guest, *kernel, *initrd;
	const char *cmdline;
	int64_t cpus;
	int64_t memory_mib;
	struct json_object *disks, *nets, *limits;
	/* A Linux guest's rng, console and balloon: what goes into the config. */
	struct json_object *devices;
};

static const struct cmd create_cmd = {
	"create",
	"NAME --guest ELF [OPTIONS] [-- ARG...]\n"
	"       shale create NAME --kernel FILE [--initrd FILE] [--cmdline TEXT] [OPTIONS]",
	"Creates a VM called NAME, in state created: 'shale start NAME' runs it. NAME\n"
	"is 1-64 letters, digits, '.', '_' or '-'. Relative paths are made absolute\n"
	"here; the files must exist.",
	"      --guest ELF         a para-virtual guest; ARGs after -- are its argv[1...]\n"
	"      --kernel FILE       a Linux kernel (bzImage, or vmlinux with a PVH entry)\n"
	"      --initrd FILE       its initial ramdisk\n"
	"      --cmdline TEXT      its command line\n"
	"      --cpus N            vCPUs (default: the daemon's)\n"
	"  -m, --memory SIZE       guest RAM, e.g. 64M or 1G (default: the daemon's)\n"
	"      --disk PATH[,ro][,serial=ID]\n"
	"                          a block device backed by PATH (,ro: read-only;\n"
	"                          serial=: a Linux guest's disk ID); repeat for more\n"
	"      --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
	"                          a network device on tap device NAME; repeat for more\n"
	"      --net user[,hostfwd=tcp|udp:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...[,mac=...]\n"
	"                          user-mode networking (see shale run --help)\n"
	"      --rng               a virtio-rng device (Linux guests)\n"
	"      --console serial|virtio\n"
	"                          a Linux guest's console: ttyS0 (default) or hvc0\n"
	"      --balloon[=deflate-on-oom][,no-reporting]\n"
	"                          a memory balloon (Linux guests): 'shale balloon NAME\n"
	"                          SIZE' sets its target\n"
	"Limits (cgroup):\n"
	"      --cpu-max PERCENT   CPU time, in percent of one CPU (150: one and a half)\n"
	"      --cpu-weight N      CPU share against other VMs, 1-10000 (default 100)\n"
	"      --memory-max SIZE   memory of the whole VM process, e.g. 96M\n"
	"      --pin CPULIST       host CPUs to run on, e.g. 0-1 or 2,4\n",
	"m:",
};

enum {
	OPT_GUEST = 256, OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_DISK, OPT_NET,
	OPT_CPU_MAX, OPT_CPU_WEIGHT, OPT_MEMORY_MAX, OPT_PIN, OPT_TIMEOUT, OPT_FORCE, OPT_BYTES,
	OPT_RNG, OPT_CONSOLE, OPT_BALLOON,
};

/* An absolute path for a file that exists; NULL after saying why not. */
static char *absolute(const char *opt, const char *path)
{
	char *abs = realpath(path, NULL);

	if (!abs)
		log_err("create: %s %s: %s", opt, path, strerror(errno));
	return abs;
}

/* A decimal integer in [min, max], with nothing after it but suffix (if any). */
static bool parse_int(const char *s, int64_t min, int64_t max, const char *suffix, int64_t *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || (*end && (!suffix || strcmp(end, suffix))) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A size in whole MiB: "64M", "1G", "1048576". */
static bool parse_mib(const char *s, int64_t *out)
{
	uint64_t bytes;

	if (parse_size(s, &bytes) || !bytes || bytes % MiB || bytes / MiB > INT32_MAX)
		return false;
	*out = (int64_t)(bytes / MiB);
	return true;
}

static bool valid_mac(const char *s)
{
	uint8_t mac[6];

	return strlen(s) == 17 && !parse_mac(s, mac);
}

/* "0-3,6": what cpuset.cpus takes. */
static bool valid_cpulist(const char *s)
{
	for (;;) {
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (*s == '-') {
			s++;
			if (*s < '0' || *s > '9')
				return false;
			while (*s >= '0' && *s <= '9')
				s++;
		}
		if (!*s)
			return true;
		if (*s++ != ',')
			return false;
	}
}

/* PATH[,ro][,serial=ID], the settings taken from the end as shale run does. */
static int create_disk(struct create_opts *o, char *arg)
{
	const char *serial = NULL;
	bool ro = false;
	struct json_object *d;
	char *path, *comma;

	while ((comma = strrchr(arg, ','))) {
		if (!strcmp(comma, ",ro") || !strcmp(comma, ",readonly"))
			ro = true;
		else if (!strncmp(comma, ",serial=", 8))
			serial = comma + 8;
		else
			break;
		*comma = '\0';
	}
	if (!*arg) {
		log_err("create: --disk: missing file name (want PATH[,ro][,serial=ID])");
		return EXIT_USAGE;
	}
	path = absolute("--disk", arg);
	if (!path)
		return EXIT_API;
	d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "readonly", json_object_new_boolean(ro));
	if (serial)
		json_object_object_add(d, "serial", json_object_new_string(serial));
	json_object_array_add(o->disks, d);
	free(path);
	return 0;
}

static int create_net(struct create_opts *o, char *arg)
{
	const char *tap = NULL, *mac = NULL;
	struct json_object *n, *fwds = json_object_new_array();
	struct usernet_fwd fwd;
	char *save = NULL;
	bool user = false;

	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4) && tok[4]) {
			tap = tok + 4;
		} else if (!strcmp(tok, "user")) {
			user = true;
		} else if (!strncmp(tok, "hostfwd=", 8)) {
			/* The daemon checks again; a typo is said here, at once. */
			if (usernet_parse_fwd(tok + 8, &fwd, "create: --net hostfwd"))
				goto usage;
			json_object_array_add(fwds, json_object_new_string(tok + 8));
		} else if (!strncmp(tok, "mac=", 4)) {
			if (!valid_mac(tok + 4)) {
				log_err("create: --net: bad MAC address '%s' (want a unicast "
					"XX:XX:XX:XX:XX:XX)", tok + 4);
				goto usage;
			}
			mac = tok + 4;
		} else {
			log_err("create: --net: unknown setting '%s' (want tap=NAME or user, "
				"[hostfwd=...], [mac=...])", tok);
			goto usage;
		}
	}
	if (!tap == !user) {
		log_err("create: --net: want one of tap=NAME and user");
		goto usage;
	}
	n = json_object_new_object();
	if (tap) {
		json_object_object_add(n, "tap", json_object_new_string(tap));
		json_object_put(fwds);
	} else {
		json_object_object_add(n, "user", json_object_new_boolean(true));
		json_object_object_add(n, "hostfwd", fwds);
	}
	if (mac)
		json_object_object_add(n, "mac", json_object_new_string(mac));
	json_object_array_add(o->nets, n);
	return 0;
usage:
	json_object_put(fwds);
	return EXIT_USAGE;
}

static int set_path(char **slot, const char *opt, const char *arg)
{
	if (*slot) {
		log_err("create: %s given twice", opt);
		return EXIT_USAGE;
	}
	*slot = absolute(opt, arg);
	return *slot ? 0 : EXIT_API;
}

/* --balloon[=deflate-on-oom][,no-reporting]: the config's "balloon" object. */
static int create_balloon(struct create_opts *o, const char *arg)
{
	struct json_object *b = json_object_new_object();
	char buf[64], *save = NULL;

	if (arg && (strlen(arg) >= sizeof(buf) || !*arg))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", arg ? arg : "");
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "deflate-on-oom"))
			json_object_object_add(b, "deflate_on_oom", json_object_new_boolean(true));
		else if (!strcmp(tok, "no-reporting"))
			json_object_object_add(b, "free_page_reporting",
					       json_object_new_boolean(false));
		else
			goto bad;
	}
	json_object_object_add(o->devices, "balloon", b);
	return 0;
bad:
	json_object_put(b);
	log_err("create: --balloon=%s: want deflate-on-oom and/or no-reporting", arg);
	return EXIT_USAGE;
}

static int create_opt(void *ctx, int opt, char *arg)
{
	struct create_opts *o = ctx;
	int64_t v;

	switch (opt) {
	case OPT_GUEST:
		return set_path(&o->guest, "--guest", arg);
	case OPT_KERNEL:
		return set_path(&o->kernel, "--kernel", arg);
	case OPT_INITRD:
		return set_path(&o->initrd, "--initrd", arg);
	case OPT_CMDLINE:
		o->cmdline = arg;
		return 0;
	case OPT_CPUS:
		if (!parse_int(arg, 1, 1024, NULL, &o->cpus)) {
			log_err("create: --cpus %s: want a number of vCPUs, 1 or more", arg);
			return EXIT_USAGE;
		}
		return 0;
	case 'm':
		if (!parse_mib(arg, &o->memory_mib)) {
			log_err("create: --memory %s: want a whole number of MiB, e.g. 64M or 1G",
				arg);
			return EXIT_USAGE;
		}
		return 0;
	case OPT_DISK:
		return create_disk(o, arg);
	case OPT_NET:
		return create_net(o, arg);
	case OPT_RNG:
		json_object_object_add(o->devices, "rng", json_object_new_boolean(true));
		return 0;
	case OPT_CONSOLE:
		if (strcmp(arg, "serial") && strcmp(arg, "virtio")) {
			log_err("create: --console %s: want serial or virtio", arg);
			return EXIT_USAGE;
		}
		json_object_object_add(o->devices, "console", json_object_new_string(arg));
		return 0;
	case OPT_BALLOON:
		return create_balloon(o, arg);
	case OPT_CPU_MAX:
		if (!parse_int(arg, 1, 100 * 1024, NULL, &v) &&
		    !parse_int(arg, 1, 100 * 1024, "%", &v)) {
			log_err("create: --cpu-max %s: want a percentage of one CPU, e.g. 50 or 200",
				arg);
			return EXIT_USAGE;
		}
		json_object_object_add(o->limits, "cpu_max_percent", json_object_new_int64(v));
		return 0;
	case OPT_CPU_WEIGHT:
		if (!parse_int(arg, 1, 10000, NULL, &v)) {
			log_err("create: --cpu-weight %s: want a number from 1 to 10000", arg);
			return EXIT_USAGE;
		}
		json_object_object_add(o->limits, "cpu_weight", json_object_new_int64(v));
		return 0;
	case OPT_MEMORY_MAX:
		if (!parse_mib(arg, &v)) {
			log_err("create: --memory-max %s: want a whole number of MiB, e.g. 96M",
				arg);
			return EXIT_USAGE;
		}
		json_object_object_add(o->limits, "memory_max_mib", json_object_new_int64(v));
		return 0;
	case OPT_PIN:
		if (!valid_cpulist(arg)) {
			log_err("create: --pin %s: want a CPU list such as 0-1 or 2,4", arg);
			return EXIT_USAGE;
		}
		json_object_object_add(o->limits, "cpus", json_object_new_string(arg));
		return 0;
	}
	return EXIT_USAGE;
}

/* The POST /v1/vms body, in the order of the API's description. */
static struct json_object *create_config(struct create_opts *o, const char *name, int nargs,
					 char **args)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "name", json_object_new_string(name));
	if (o->guest)
		json_object_object_add(c, "guest", json_object_new_string(o->guest));
	if (o->kernel)
		json_object_object_add(c, "kernel", json_object_new_string(o->kernel));
	if (o->initrd)
		json_object_object_add(c, "initrd", json_object_new_string(o->initrd));
	if (o->cmdline)
		json_object_object_add(c, "cmdline", json_object_new_string(o->cmdline));
	if (nargs) {
		struct json_object *a = json_object_new_array();

		for (int i = 0; i < nargs; i++)
			json_object_array_add(a, json_object_new_string(args[i]));
		json_object_object_add(c, "args", a);
	}
	if (o->cpus)
		json_object_object_add(c, "cpus", json_object_new_int64(o->cpus));
	if (o->memory_mib)
		json_object_object_add(c, "memory_mib", json_object_new_int64(o->memory_mib));
	if (json_object_array_length(o->disks))
		json_object_object_add(c, "disks", json_object_get(o->disks));
	if (json_object_array_length(o->nets))
		json_object_object_add(c, "nets", json_object_get(o->nets));
	if (json_object_object_length(o->limits))
		json_object_object_add(c, "limits", json_object_get(o->limits));
	json_object_object_foreach(o->devices, key, val)
		json_object_object_add(c, key, json_object_get(val));
	return c;
}

/* NAME [-- ARG...] */
static int create_operands(const struct client *cl, const char **name)
{
	if (!cl->nr_ops) {
		log_err("create: missing NAME (see 'shale create --help')");
		return EXIT_USAGE;
	}
	if (cl->nr_ops > 1) {
		log_err("create: unexpected argument '%s' (guest arguments follow --)", cl->ops[1]);
		return EXIT_USAGE;
	}
	*name = cl->ops[0];
	return check_name(&create_cmd, *name) ? 0 : EXIT_USAGE;
}

static int create_check(const struct create_opts *o, int nargs)
{
	if (!o->guest && !o->kernel) {
		log_err("create: say what to run: --guest ELF or --kernel FILE");
		return EXIT_USAGE;
	}
	if (o->guest && o->kernel) {
		log_err("create: --guest and --kernel exclude each other");
		return EXIT_USAGE;
	}
	if (o->guest && (o->initrd || o->cmdline)) {
		log_err("create: --initrd and --cmdline are for --kernel");
		return EXIT_USAGE;
	}
	if (o->kernel && nargs) {
		log_err("create: with --kernel, pass arguments with --cmdline");
		return EXIT_USAGE;
	}
	if (o->guest && json_object_object_length(o->devices)) {
		log_err("create: --rng, --console and --balloon are for --kernel");
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "memory", required_argument, NULL, 'm' },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "cpu-max", required_argument, NULL, OPT_CPU_MAX },
		{ "cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },
		{ "memory-max", required_argument, NULL, OPT_MEMORY_MAX },
		{ "pin", required_argument, NULL, OPT_PIN },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "balloon", optional_argument, NULL, OPT_BALLOON },
		{ 0 },
	};
	struct create_opts o = {
		.disks = json_object_new_array(),
		.nets = json_object_new_array(),
		.limits = json_object_new_object(),
		.devices = json_object_new_object(),
	};
	struct json_object *config = NULL, *vm;
	struct http_response *r = NULL;
	struct client cl;
	const char *name;
	int ret;

	ret = parse_args(&create_cmd, argc, argv, opts, create_opt, &o, &cl);
	if (ret >= 0)
		goto out;
	ret = create_operands(&cl, &name);
	if (!ret)
		ret = create_check(&o, cl.nr_tail);
	if (ret)
		goto out;
	config = create_config(&o, name, cl.nr_tail, cl.tail);
	r = malloc(sizeof(*r));
	ret = r ? api_call(&cl, "POST", "/v1/vms", config, r) : EXIT_API;
	if (ret)
		goto out;
	if (cl.json) {
		print_raw(r);
	} else if ((vm = answer_json(&cl, r))) {
		printf("%s: %s\n", name, get_str(vm, "state") ? get_str(vm, "state") : "created");
		json_object_put(vm);
	} else {
		ret = EXIT_API;
	}
	http_response_free(r);
out:
	free(r);
	json_object_put(config);
	json_object_put(o.disks);
	json_object_put(o.nets);
	json_object_put(o.limits);
	json_object_put(o.devices);
	free(o.guest);
	free(o.kernel);
	free(o.initrd);
	return ret;
}

/* start, pause, resume, kill, reboot, stop: a POST that answers the VM. */

struct action {
	struct cmd cmd;
	const char *endpoint;
};

static int stop_opt(void *ctx, int opt, char *arg)
{
	struct json_object **body = ctx;
	uint64_t ns;

	if (opt != OPT_TIMEOUT)
		return EXIT_USAGE;
	if (parse_duration(arg, &ns) || !ns || ns / 1000000 > INT32_MAX) {
		log_err("stop: --timeout %s: want a duration such as 30s or 2m", arg);
		return EXIT_USAGE;
	}
	json_object_put(*body);
	*body = json_object_new_object();
	json_object_object_add(*body, "timeout_ms",
			       json_object_new_int64((int64_t)((ns + 999999) / 1000000)));
	return 0;
}

static int vm_action(const struct action *a, int argc, char **argv)
{
	static const struct option stop_opts[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ 0 },
	};
	bool stop = !strcmp(a->endpoint, "shutdown");
	struct json_object *body = NULL, *vm;
	struct http_response *r;
	struct client cl;
	const char *name;
	char target[128];
	int ret;

	ret = parse_args(&a->cmd, argc, argv, stop ? stop_opts : NULL, stop ? stop_opt : NULL,
			 &body, &cl);
	if (ret >= 0) {
		json_object_put(body);
		return ret;
	}
	name = one_name(&a->cmd, &cl);
	if (!name) {
		json_object_put(body);
		return EXIT_USAGE;
	}
	snprintf(target, sizeof(target), "/v1/vms/%s/%s", name, a->endpoint);
	r = malloc(sizeof(*r));
	ret = r ? api_call(&cl, "POST", target, body, r) : EXIT_API;
	json_object_put(body);
	if (ret) {
		free(r);
		return ret;
	}
	if (cl.json) {
		print_raw(r);
	} else if ((vm = answer_json(&cl, r))) {
		if (stop)
			printf("%s: shutdown requested\n", name);
		else
			printf("%s: %s\n", name, get_str(vm, "state") ? get_str(vm, "state") : "?");
		json_object_put(vm);
	} else {
		ret = EXIT_API;
	}
	http_response_free(r);
	free(r);
	return ret;
}

static const struct action start_action = {
	{ "start", "NAME", "Starts VM NAME (created, stopped or crashed): shaled runs it in a new\n"
	  "VMM process.", NULL, NULL },
	"start",
};
static const struct action stop_action = {
	{ "stop", "NAME [--timeout DURATION]",
	  "Asks the guest in VM NAME to shut down: a para-virtual guest sees\n"
	  "SHALE_POLL_SHUTDOWN, a Linux guest an ACPI power-button press. The daemon\n"
	  "kills the VM if it is still running after the timeout. Returns at once.",
	  "      --timeout DURATION  how long the guest has, e.g. 30s or 2m (default:\n"
	  "                          the daemon's, 10s)\n", NULL },
	"shutdown",
};
static const struct action kill_action = {
	{ "kill", "NAME", "Stops VM NAME now, whatever its guest is doing.", NULL, NULL },
	"kill",
};
static const struct action pause_action = {
	{ "pause", "NAME", "Pauses VM NAME: its vCPUs stop running until 'shale resume NAME'.",
	  NULL, NULL },
	"pause",
};
static const struct action resume_action = {
	{ "resume", "NAME", "Lets the vCPUs of paused VM NAME run again.", NULL, NULL },
	"resume",
};
static const struct action reboot_action = {
	{ "reboot", "NAME", "Kills VM NAME and starts it again with the same configuration.",
	  NULL, NULL },
	"reboot",
};

int cmd_start(int argc, char **argv)
{
	return vm_action(&start_action, argc, argv);
}

int cmd_stop(int argc, char **argv)
{
	return vm_action(&stop_action, argc, argv);
}

int cmd_kill(int argc, char **argv)
{
	return vm_action(&kill_action, argc, argv);
}

int cmd_pause(int argc, char **argv)
{
	return vm_action(&pause_action, argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return vm_action(&resume_action, argc, argv);
}

int cmd_reboot(int argc, char **argv)
{
	return vm_action(&reboot_action, argc, argv);
}

/* `shale balloon` */

static const struct cmd balloon_cmd = {
	"balloon", "NAME SIZE",
	"Sets the target of VM NAME's memory balloon (a Linux VM created with\n"
	"--balloon) to SIZE, e.g. 256M or 1G: the guest's balloon driver gives that\n"
	"much of its memory back to the host; 0 gives it all back to the guest.\n"
	"'shale stats NAME' shows where the balloon is.",
	NULL, NULL,
};

int cmd_balloon(int argc, char **argv)
{
	struct json_object *body, *vm;
	struct http_response *r;
	struct client cl;
	char target[128];
	int64_t mib;
	int ret;

	ret = parse_args(&balloon_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	if (cl.nr_ops != 2 || cl.nr_tail) {
		log_err("balloon: want NAME and SIZE (see 'shale balloon --help')");
		return EXIT_USAGE;
	}
	if (!check_name(&balloon_cmd, cl.ops[0]))
		return EXIT_USAGE;
	if (!strcmp(cl.ops[1], "0"))
		mib = 0;
	else if (!parse_mib(cl.ops[1], &mib)) {
		log_err("balloon: %s: want a whole number of MiB, e.g. 256M or 1G, or 0",
			cl.ops[1]);
		return EXIT_USAGE;
	}
	snprintf(target, sizeof(target), "/v1/vms/%s/balloon", cl.ops[0]);
	body = json_object_new_object();
	json_object_object_add(body, "target_mib", json_object_new_int64(mib));
	r = malloc(sizeof(*r));
	ret = r ? api_call(&cl, "POST", target, body, r) : EXIT_API;
	json_object_put(body);
	if (ret) {
		free(r);
		return ret;
	}
	if (cl.json) {
		print_raw(r);
	} else if ((vm = answer_json(&cl, r))) {
		printf("%s: balloon target %lld MiB\n", cl.ops[0], (long long)mib);
		json_object_put(vm);
	} else {
		ret = EXIT_API;
	}
	http_response_free(r);
	free(r);
	return ret;
}

/* `shale rm` */

static const struct cmd rm_cmd = {
	"rm", "NAME [--force]",
	"Removes VM NAME and its state directory (console log included). A running\n"
	"or paused VM is refused unless --force, which kills it first.",
	"  -f, --force             kill the VM first if it runs\n",
	"f",
};

static int rm_opt(void *ctx, int opt, char *arg)
{
	if (opt != 'f' && opt != OPT_FORCE)
		return EXIT_USAGE;
	*(bool *)ctx = true;
	return 0;
}

int cmd_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		{ 0 },
	};
	struct http_response *r;
	bool force = false;
	struct client cl;
	const char *name;
	char target[128];
	int ret;

	ret = parse_args(&rm_cmd, argc, argv, opts, rm_opt, &force, &cl);
	if (ret >= 0)
		return ret;
	name = one_name(&rm_cmd, &cl);
	if (!name)
		return EXIT_USAGE;
	snprintf(target, sizeof(target), "/v1/vms/%s%s", name, force ? "?force=1" : "");
	r = malloc(sizeof(*r));
	ret = r ? api_call(&cl, "DELETE", target, NULL, r) : EXIT_API;
	if (!ret) {
		if (cl.json)
			print_raw(r);
		else
			printf("%s: removed\n", name);
		http_response_free(r);
	}
	free(r);
	return ret;
}

/* GET requests that print a JSON object. */

static int get_object(const struct client *cl, const char *target, struct json_object **out)
{
	struct http_response *r = malloc(sizeof(*r));
	int ret = r ? api_call(cl, "GET", target, NULL, r) : EXIT_API;

	*out = NULL;
	if (ret) {
		free(r);
		return ret;
	}
	if (cl->json) {
		print_raw(r);
	} else {
		*out = answer_json(cl, r);
		if (!*out)
			ret = EXIT_API;
	}
	http_response_free(r);
	free(r);
	return ret;
}

/* `shale list` */

static const struct cmd list_cmd = {
	"list", "",
	"Lists the VMs: name, state, process, vCPUs, memory, guest and how each\n"
	"last stopped.",
	NULL,
	NULL,
};

#define LIST_COLS 7

static void print_table(char *(*rows)[LIST_COLS], size_t nr_rows)
{
	int width[LIST_COLS] = { 0 };

	for (size_t i = 0; i < nr_rows; i++)
		for (int c = 0; c < LIST_COLS; c++)
			width[c] = MAX(width[c], (int)strlen(rows[i][c]));
	for (size_t i = 0; i < nr_rows; i++) {
		for (int c = 0; c < LIST_COLS - 1; c++)
			printf("%-*s  ", width[c], rows[i][c]);
		printf("%s\n", rows[i][LIST_COLS - 1]);
	}
}

static void list_row(struct json_object *vm, char **row)
{
	struct json_object *config = get(vm, "config");
	const char *guest = get_str(config, "guest");
	char buf[256];
	int64_t v;

	if (!guest)
		guest = get_str(config, "kernel");
	if (guest && strrchr(guest, '/'))
		guest = strrchr(guest, '/') + 1;
	row[0] = strdup(get_str(vm, "name") ? get_str(vm, "name") : "?");
	row[1] = strdup(get_str(vm, "state") ? get_str(vm, "state") : "?");
	snprintf(buf, sizeof(buf), "-");
	if (get_int(vm, "pid", &v))
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	row[2] = strdup(buf);
	/* A para-virtual guest has one vCPU; its config does not say so. */
	snprintf(buf, sizeof(buf), "%s", get_str(config, "guest") ? "1" : "-");
	if (get_int(config, "cpus", &v))
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	row[3] = strdup(buf);
	snprintf(buf, sizeof(buf), "-");
	if (get_int(config, "memory_mib", &v))
		fmt_mib(buf, sizeof(buf), v);
	row[4] = strdup(buf);
	row[5] = strdup(guest ? guest : "-");
	fmt_stop(buf, sizeof(buf), get(vm, "last_stop"), false);
	row[6] = strdup(buf);
}

int cmd_list(int argc, char **argv)
{
	static const char *const header[LIST_COLS] = {
		"NAME", "STATE", "PID", "CPUS", "MEMORY", "GUEST", "LAST STOP",
	};
	struct json_object *doc, *vms;
	char *(*rows)[LIST_COLS];
	struct client cl;
	size_t n;
	int ret;

	ret = parse_args(&list_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	if (!no_operands(&list_cmd, &cl))
		return EXIT_USAGE;
	ret = get_object(&cl, "/v1/vms", &doc);
	if (ret || !doc)
		return ret;
	vms = get(doc, "vms");
	if (!vms || !json_object_is_type(vms, json_type_array)) {
		log_err("bad answer from the daemon at %s: no \"vms\" list", cl.socket);
		json_object_put(doc);
		return EXIT_API;
	}
	n = json_object_array_length(vms);
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		die("out of memory");
	for (int c = 0; c < LIST_COLS; c++)
		rows[0][c] = strdup(header[c]);
	for (size_t i = 0; i < n; i++)
		list_row(json_object_array_get_idx(vms, i), rows[i + 1]);
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c < LIST_COLS; c++)
			if (!rows[i][c])
				die("out of memory");
	print_table(rows, n + 1);
	for (size_t i = 0; i <= n; i++)
		for (int c = 0; c < LIST_COLS; c++)
			free(rows[i][c]);
	free(rows);
	json_object_put(doc);
	return 0;
}

/* `shale info` */

static const struct cmd info_cmd = {
	"info", "NAME", "Shows VM NAME: its state, process, configuration and history.", NULL,
	NULL,
};

static void field(const char *label, const char *value)
{
	if (value)
		printf("%-11s %s\n", label, value);
}

static void info_config(struct json_object *config)
{
	struct json_object *list, *limits;
	char buf[512];
	int64_t v;

	field("guest:", get_str(config, "guest"));
	field("kernel:", get_str(config, "kernel"));
	field("initrd:", get_str(config, "initrd"));
	field("cmdline:", get_str(config, "cmdline"));
	list = get(config, "args");
	if (list && json_object_is_type(list, json_type_array) && json_object_array_length(list)) {
		printf("%-11s", "args:");
		for (size_t i = 0; i < json_object_array_length(list); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(list, i)));
		putchar('\n');
	}
	if (get_int(config, "cpus", &v))
		printf("%-11s %lld\n", "cpus:", (long long)v);
	if (get_int(config, "memory_mib", &v)) {
		fmt_mib(buf, sizeof(buf), v);
		field("memory:", buf);
	}
	list = get(config, "disks");
	for (size_t i = 0; list && json_object_is_type(list, json_type_array) &&
			   i < json_object_array_length(list); i++) {
		struct json_object *d = json_object_array_get_idx(list, i), *ro = get(d, "readonly");
		const char *serial = get_str(d, "serial");

		snprintf(buf, sizeof(buf), "%s%s%s%s", get_str(d, "path") ? get_str(d, "path") : "?",
			 ro && json_object_get_boolean(ro) ? " (read-only)" : "",
			 serial ? " serial " : "", serial ? serial : "");
		field("disk:", buf);
	}
	list = get(config, "nets");
	for (size_t i = 0; list && json_object_is_type(list, json_type_array) &&
			   i < json_object_array_length(list); i++) {
		struct json_object *n = json_object_array_get_idx(list, i);

		snprintf(buf, sizeof(buf), "tap %s%s%s", get_str(n, "tap") ? get_str(n, "tap") : "?",
			 get_str(n, "mac") ? ", mac " : "", get_str(n, "mac") ? get_str(n, "mac") : "");
		field("net:", buf);
	}
	limits = get(config, "limits");
	if (limits && json_object_is_type(limits, json_type_object) &&
	    json_object_object_length(limits)) {
		size_t len = 0;

		buf[0] = '\0';
		if (get_int(limits, "cpu_max_percent", &v))
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, ", cpu-max %lld%%",
						(long long)v);
		if (get_int(limits, "cpu_weight", &v) && len < sizeof(buf))
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, ", cpu-weight %lld",
						(long long)v);
		if (get_int(limits, "memory_max_mib", &v) && len < sizeof(buf)) {
			char mib[32];

			fmt_mib(mib, sizeof(mib), v);
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, ", memory-max %s",
						mib);
		}
		if (get_str(limits, "cpus") && len < sizeof(buf))
			snprintf(buf + len, sizeof(buf) - len, ", pin %s", get_str(limits, "cpus"));
		field("limits:", buf[0] ? buf + 2 : NULL);
	}
}

int cmd_info(int argc, char **argv)
{
	struct json_object *vm;
	struct client cl;
	const char *name;
	char target[128], buf[1024];
	int64_t v;
	int ret;

	ret = parse_args(&info_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	name = one_name(&info_cmd, &cl);
	if (!name)
		return EXIT_USAGE;
	snprintf(target, sizeof(target), "/v1/vms/%s", name);
	ret = get_object(&cl, target, &vm);
	if (ret || !vm)
		return ret;
	field("name:", get_str(vm, "name"));
	field("state:", get_str(vm, "state"));
	if (get_int(vm, "pid", &v))
		printf("%-11s %lld\n", "pid:", (long long)v);
	info_config(get(vm, "config"));
	field("created:", get_str(vm, "created_at"));
	field("started:", get_str(vm, "started_at"));
	field("stopped:", get_str(vm, "stopped_at"));
	if (get(vm, "last_stop")) {
		fmt_stop(buf, sizeof(buf), get(vm, "last_stop"), true);
		field("last stop:", buf);
	}
	json_object_put(vm);
	return 0;
}

/* `shale stats` */

static const struct cmd stats_cmd = {
	"stats", "NAME",
	"Shows the counters of running VM NAME: CPU time, memory, VM exits by kind,\n"
	"block, network and console traffic. They only grow while the VM runs.",
	NULL,
	NULL,
};

int cmd_stats(int argc, char **argv)
{
	struct json_object *st;
	struct client cl;
	const char *name;
	char target[128], buf[64];
	int ret;

	ret = parse_args(&stats_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	name = one_name(&stats_cmd, &cl);
	if (!name)
		return EXIT_USAGE;
	snprintf(target, sizeof(target), "/v1/vms/%s/stats", name);
	ret = get_object(&cl, target, &st);
	if (ret || !st)
		return ret;
	/* Whatever the VMM reports, in its order; a few keys read better converted. */
	json_object_object_foreach(st, key, val) {
		char label[64];

		if (!strcmp(key, "ok"))
			continue;
		snprintf(label, sizeof(label), "%s:", key);
		for (char *p = label; *p; p++)
			if (*p == '_')
				*p = ' ';
		if (!strcmp(key, "cpu_ns") && json_object_is_type(val, json_type_int)) {
			snprintf(buf, sizeof(buf), "%.3f s", (double)json_object_get_int64(val) / 1e9);
			printf("%-15s %s\n", "cpu time:", buf);
		} else if (!strcmp(key, "rss_bytes") && json_object_is_type(val, json_type_int)) {
			fmt_bytes(buf, sizeof(buf), json_object_get_int64(val));
			printf("%-15s %s\n", "rss:", buf);
		} else if (json_object_is_type(val, json_type_object)) {
			const char *sep = "";

			printf("%-15s", label);
			json_object_object_foreach(val, k, v) {
				printf("%s %s %s", sep, k, json_object_get_string(v));
				sep = ",";
			}
			putchar('\n');
		} else {
			printf("%-15s %s\n", label, json_object_get_string(val));
		}
	}
	json_object_put(st);
	return 0;
}

/* `shale logs` */

static const struct cmd logs_cmd = {
	"logs", "NAME [--bytes N]",
	"Prints the console output of VM NAME, as kept by the daemon (the last 1-2\n"
	"MiB). It is text: --json changes nothing.",
	"      --bytes N           only the last N bytes (e.g. 4096 or 64k)\n",
	NULL,
};

static int logs_opt(void *ctx, int opt, char *arg)
{
	uint64_t *bytes = ctx;

	if (opt != OPT_BYTES)
		return EXIT_USAGE;
	if (parse_size(arg, bytes) || !*bytes) {
		log_err("logs: --bytes %s: want a number of bytes, e.g. 4096 or 64k", arg);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ 0 },
	};
	struct http_response *r;
	uint64_t bytes = 0;
	struct client cl;
	const char *name;
	char target[128];
	int ret;

	ret = parse_args(&logs_cmd, argc, argv, opts, logs_opt, &bytes, &cl);
	if (ret >= 0)
		return ret;
	name = one_name(&logs_cmd, &cl);
	if (!name)
		return EXIT_USAGE;
	if (bytes)
		snprintf(target, sizeof(target), "/v1/vms/%s/logs?bytes=%llu", name,
			 (unsigned long long)bytes);
	else
		snprintf(target, sizeof(target), "/v1/vms/%s/logs", name);
	r = malloc(sizeof(*r));
	ret = r ? api_call(&cl, "GET", target, NULL, r) : EXIT_API;
	if (!ret) {
		/* The guest's bytes as they are, with no newline added. */
		fwrite(r->body, 1, r->body_len, stdout);
		http_response_free(r);
	}
	free(r);
	return ret;
}

/* `shale console` */

static const struct cmd console_cmd = {
	"console", "NAME",
	"Attaches the terminal to the console of running VM NAME: guest output is\n"
	"printed, keys go to the guest (Linux guests; para-virtual guests take no\n"
	"console input). The terminal is in raw mode meanwhile: Ctrl-] detaches and\n"
	"restores it. --json changes nothing.",
	NULL,
	NULL,
};

static struct termios saved_tty;
static bool tty_raw;
static volatile sig_atomic_t console_signal;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

/* Like the VMM's console (src/vmm/console.c): raw input, output as it is. */
static void tty_make_raw(void)
{
	static bool registered;
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	raw = saved_tty;
	console_termios_raw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw))
		return;
	tty_raw = true;
	if (!registered) {
		atexit(tty_restore);
		registered = true;
	}
}

static void console_on_signal(int sig)
{
	console_signal = sig;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Relays bytes until Ctrl-], the end of the connection or a signal.
 * Returns the exit status.
 */
static int console_relay(int fd, const char *name)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	char buf[4096];

	for (;;) {
		ssize_t n;

		if (console_signal)
			return 128 + console_signal;
		if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("console: poll: %s", strerror(errno));
			return EXIT_API;
		}
		if (p[0].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				tty_restore();
				if (n < 0)
					log_err("console: %s", strerror(errno));
				else
					log_err("the console of %s was closed by the daemon", name);
				return n < 0 ? EXIT_API : 0;
			}
			if (write_all(STDOUT_FILENO, buf, (size_t)n))
				return EXIT_API;
		}
		if (p[1].fd >= 0 && p[1].revents) {
			char *detach;

			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* Input ended: the guest's output may still come. */
				shutdown(fd, SHUT_WR);
				p[1].fd = -1;
				continue;
			}
			detach = memchr(buf, CONSOLE_DETACH, (size_t)n);
			if (write_all(fd, buf, detach ? (size_t)(detach - buf) : (size_t)n)) {
				log_err("console: the daemon closed the connection");
				return EXIT_API;
			}
			if (detach) {
				tty_restore();
				fprintf(stderr, "\nshale: detached from %s\n", name);
				return 0;
			}
		}
	}
}

static int attach_console(const struct client *cl, const char *name)
{
	struct http_request rq = {
		.method = "GET", .upgrade = true, .upgrade_to = "shale-console",
	};
	const size_t cap = HTTP_MAX_HEAD + 4096;
	struct sigaction sa = { .sa_handler = console_on_signal };
	struct http_response *r = malloc(sizeof(*r));
	char target[128], *buf = malloc(cap);
	const char *upgrade;
	size_t len;
	int fd, ret;

	if (!r || !buf)
		die("out of memory");
	snprintf(target, sizeof(target), "/v1/vms/%s/console", name);
	rq.target = target;
	r->body = NULL;
	r->error = NULL;
	fd = http_connect(cl->socket);
	if (fd < 0) {
		connect_error(cl, fd, NULL);
		ret = EXIT_API;
		goto out;
	}
	ret = http_send(fd, &rq);
	if (!ret)
		ret = http_read_head(fd, API_TIMEOUT_MS, buf, cap, &len, r);
	if (!ret && r->status != 101) {
		/* A refusal, with its {"error": ...} body. */
		ret = http_read_response(fd, API_TIMEOUT_MS, buf, len, r);
		if (!ret) {
			api_error(r);
			http_response_free(r);
			ret = EXIT_API;
			goto out;
		}
	}
	if (ret) {
		connect_error(cl, ret, r);
		ret = EXIT_API;
		goto out;
	}
	upgrade = http_header(r, "Upgrade");
	if (!upgrade || strcasecmp(upgrade, "shale-console")) {
		log_err("bad answer from the daemon at %s: 101 without Upgrade: shale-console",
			cl->socket);
		ret = EXIT_API;
		goto out;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "shale: attached to %s; Ctrl-] detaches\n", name);
	tty_make_raw();
	/* Console bytes that came with the head. */
	if (len > r->head_len && write_all(STDOUT_FILENO, buf + r->head_len, len - r->head_len))
		ret = EXIT_API;
	else
		ret = console_relay(fd, name);
	tty_restore();
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(r);
	return ret;
}

int cmd_console(int argc, char **argv)
{
	struct client cl;
	const char *name;
	int ret;

	ret = parse_args(&console_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	name = one_name(&console_cmd, &cl);
	if (!name)
		return EXIT_USAGE;
	return attach_console(&cl, name);
}

/* `shale events` */

static const struct cmd events_cmd = {
	"events", "",
	"Follows the daemon's event stream: one line per change of a VM's state,\n"
	"until interrupted or the daemon stops. With --json, the API's JSON lines.",
	NULL,
	NULL,
};

static void print_event(const struct client *cl, const char *line)
{
	struct json_object *ev;
	const char *reason;

	if (cl->json) {
		printf("%s\n", line);
		fflush(stdout);
		return;
	}
	ev = parse_json(line, strlen(line));
	if (!ev) {
		log_err("events: not a JSON line: %s", line);
		return;
	}
	reason = get_str(ev, "reason");
	printf("%s  %s  %s%s%s\n", get_str(ev, "time") ? get_str(ev, "time") : "-",
	       get_str(ev, "vm") ? get_str(ev, "vm") : "-",
	       get_str(ev, "state") ? get_str(ev, "state") : "-", reason ? "  " : "",
	       reason ? reason : "");
	fflush(stdout);
	json_object_put(ev);
}

/* Splits data into lines; returns false on a line too long. */
static bool event_lines(const struct client *cl, char *line, size_t *line_len, const char *data,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			line[*line_len] = '\0';
			if (*line_len)
				print_event(cl, line);
			*line_len = 0;
		} else if (*line_len == MAX_EVENT_LINE) {
			return false;
		} else {
			line[(*line_len)++] = data[i];
		}
	}
	return true;
}

static int events_lines_once(const struct client *cl, const char *body, size_t n)
{
	char *line = malloc(MAX_EVENT_LINE + 1);
	size_t line_len = 0;
	int ret = 0;

	if (!line)
		die("out of memory");
	if (!event_lines(cl, line, &line_len, body, n)) {
		log_err("bad answer from the daemon at %s: an event line longer than 64 KiB",
			cl->socket);
		ret = EXIT_API;
	}
	free(line);
	return ret;
}

static int events_follow(const struct client *cl, int fd, char *buf, size_t cap, size_t len,
			 const struct http_response *r)
{
	char *line = malloc(MAX_EVENT_LINE + 1), *data = malloc(cap);
	bool chunked = r->framing == HTTP_BODY_CHUNKED;
	struct http_chunked ch;
	size_t line_len = 0, off = r->head_len;
	int ret = 0;

	if (!line || !data)
		die("out of memory");
	http_chunked_init(&ch);
	for (;;) {
		size_t n = len - off;
		ssize_t got;

		if (chunked) {
			ssize_t used = http_chunked_feed(&ch, buf + off, len - off, data, &n);

			if (used < 0) {
				log_err("bad answer from the daemon at %s: %s", cl->socket, ch.error);
				ret = EXIT_API;
				break;
			}
		} else {
			memcpy(data, buf + off, n);
		}
		if (!event_lines(cl, line, &line_len, data, n)) {
			log_err("bad answer from the daemon at %s: an event line longer than "
				"64 KiB", cl->socket);
			ret = EXIT_API;
			break;
		}
		if (chunked && ch.done)
			break;
		got = read(fd, buf, cap);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0 || chunked) {
				log_err("the daemon at %s ended the event stream", cl->socket);
				ret = EXIT_API;
			}
			break;
		}
		len = (size_t)got;
		off = 0;
	}
	free(line);
	free(data);
	return ret;
}

int cmd_events(int argc, char **argv)
{
	struct http_request rq = { .method = "GET", .target = "/v1/events" };
	const size_t cap = HTTP_MAX_HEAD + 4096;
	struct http_response *r;
	struct client cl;
	char *buf;
	size_t len;
	int fd, ret;

	ret = parse_args(&events_cmd, argc, argv, NULL, NULL, NULL, &cl);
	if (ret >= 0)
		return ret;
	if (!no_operands(&events_cmd, &cl))
		return EXIT_USAGE;
	r = malloc(sizeof(*r));
	buf = malloc(cap);
	if (!r || !buf)
		die("out of memory");
	r->body = NULL;
	r->error = NULL;
	fd = http_connect(cl.socket);
	if (fd < 0) {
		connect_error(&cl, fd, NULL);
		ret = EXIT_API;
		goto out;
	}
	ret = http_send(fd, &rq);
	if (!ret)
		ret = http_read_head(fd, API_TIMEOUT_MS, buf, cap, &len, r);
	if (!ret && (r->status < 200 || r->status > 299)) {
		ret = http_read_response(fd, API_TIMEOUT_MS, buf, len, r);
		if (!ret) {
			api_error(r);
			http_response_free(r);
			ret = EXIT_API;
			goto out;
		}
	}
	if (ret) {
		connect_error(&cl, ret, r);
		ret = EXIT_API;
		goto out;
	}
	if (r->framing == HTTP_BODY_LENGTH) {
		/* Not a stream, but lines all the same. */
		ret = http_read_response(fd, API_TIMEOUT_MS, buf, len, r);
		if (ret) {
			connect_error(&cl, ret, r);
			ret = EXIT_API;
			goto out;
		}
		ret = events_lines_once(&cl, r->body, r->body_len);
		http_response_free(r);
		goto out;
	}
	ret = events_follow(&cl, fd, buf, cap, len, r);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(r);
	return ret;
}
