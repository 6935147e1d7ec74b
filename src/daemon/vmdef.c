#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "daemon/vmdef.h"
#include "util/json.h"
#include "util/util.h"

/* The limits `shale run` itself enforces, checked here for a clear 400. */
#define PV_MIN_MIB 4u
#define PV_MAX_MIB 4096u
#define LINUX_MIN_MIB 16u
#define LINUX_MAX_MIB (1024u * 1024u)
#define MAX_CPUS 64u

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool vmdef_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > VMDEF_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

/* A string field: no NUL inside, at most `max` bytes. */
static int get_string(json_object *v, const char *field, size_t max, char **out, char *err,
		      size_t errlen)
{
	const char *s;
	size_t len;

	if (*out)
		return fail(err, errlen, "%s: given twice", field);
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "%s: want a string", field);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return fail(err, errlen, "%s: contains a NUL byte", field);
	if (len > max)
		return fail(err, errlen, "%s: longer than %zu bytes", field, max);
	*out = strdup(s);
	if (!*out)
		return fail(err, errlen, "out of memory");
	return 0;
}

static int get_path(json_object *v, const char *field, char **out, char *err, size_t errlen)
{
	int ret = get_string(v, field, VMDEF_PATH_MAX, out, err, errlen);

	if (ret)
		return ret;
	if ((*out)[0] != '/')
		return fail(err, errlen, "%s: want an absolute path", field);
	return 0;
}

static int get_uint(json_object *v, const char *field, uint64_t min, uint64_t max,
		    uint64_t *out, char *err, size_t errlen)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, "%s: want an integer", field);
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return fail(err, errlen, "%s: want an integer from %llu to %llu", field,
			    (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

static int get_bool(json_object *v, const char *field, bool *out, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errlen, "%s: want true or false", field);
	*out = json_object_get_boolean(v);
	return 0;
}

/* As `shale run --net` takes one, in its full XX:XX:XX:XX:XX:XX form. */
static bool mac_ok(const char *s)
{
	uint8_t mac[6];

	return strlen(s) == 17 && !parse_mac(s, mac);
}

int vmdef_cpulist(const char *s, cpu_set_t *set)
{
	if (set)
		CPU_ZERO(set);
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s || a >= VMDEF_CPUS_MAX)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b >= VMDEF_CPUS_MAX || b < a)
				return -EINVAL;
		}
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -EINVAL;
		for (unsigned long c = a; set && c <= b; c++)
			CPU_SET(c, set);
		s = end;
	}
	return 0;
}

/* 1-20 printable characters, no comma: it goes into --disk=PATH,serial=ID. */
static int get_serial(json_object *v, char **out, char *err, size_t errlen)
{
	int ret = get_string(v, "disks[].serial", VMDEF_SERIAL_MAX, out, err, errlen);

	if (ret)
		return ret;
	if (!(*out)[0])
		return fail(err, errlen, "disks[].serial: empty");
	for (const char *p = *out; *p; p++)
		if (*p == ',' || *p < 0x21 || *p > 0x7e)
			return fail(err, errlen, "disks[].serial: want printable characters "
						 "without blanks or commas");
	return 0;
}

static int parse_disks(json_object *v, struct vm_def *def, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "disks: want an array");
	n = json_object_array_length(v);
	if (n > VMDEF_MAX_DISKS - def->nr_disks)
		return fail(err, errlen, "disks: at most %u disks", VMDEF_MAX_DISKS);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);
		struct vmdef_disk *disk = &def->disk[def->nr_disks];
		int ret = 0;

		if (!json_object_is_type(d, json_type_object))
			return fail(err, errlen, "disks[%zu]: want an object", i);
		def->nr_disks++;
		json_object_object_foreach(d, key, val) {
			if (!strcmp(key, "path"))
				ret = get_path(val, "disks[].path", &disk->path, err, errlen);
			else if (!strcmp(key, "readonly"))
				ret = get_bool(val, "disks[].readonly", &disk->readonly, err,
					       errlen);
			else if (!strcmp(key, "serial"))
				ret = get_serial(val, &disk->serial, err, errlen);
			else
				ret = fail(err, errlen, "disks[%zu]: unknown field '%s'", i, key);
			if (ret)
				return ret;
		}
		if (!disk->path)
			return fail(err, errlen, "disks[%zu]: missing path", i);
	}
	return 0;
}

/* nets[i].hostfwd: forwards as `shale run --net user,hostfwd=` takes them. */
static int parse_fwds(json_object *v, size_t i, struct vmdef_net *net, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "nets[%zu].hostfwd: want an array of strings", i);
	n = json_object_array_length(v);
	if (n > USERNET_MAX_FWDS - net->nr_fwds)
		return fail(err, errlen, "nets[%zu].hostfwd: at most %u forwards", i,
			    USERNET_MAX_FWDS);
	for (size_t k = 0; k < n; k++) {
		json_object *f = json_object_array_get_idx(v, k);
		struct usernet_fwd fwd;
		char text[64];

		if (!json_object_is_type(f, json_type_string) ||
		    json_object_get_string_len(f) >= (int)sizeof(text) ||
		    usernet_check_fwd(json_object_get_string(f), &fwd))
			return fail(err, errlen,
				    "nets[%zu].hostfwd[%zu]: want tcp|udp:[HOSTADDR]:PORT-"
				    "[GUESTADDR]:PORT",
				    i, k);
		usernet_format_fwd(&fwd, text, sizeof(text));
		net->fwd[net->nr_fwds] = strdup(text);
		if (!net->fwd[net->nr_fwds])
			return fail(err, errlen, "out of memory");
		net->nr_fwds++;
	}
	return 0;
}

static int parse_nets(json_object *v, struct vm_def *def, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "nets: want an array");
	n = json_object_array_length(v);
	if (n > VMDEF_MAX_NETS - def->nr_nets)
		return fail(err, errlen, "nets: at most %u network devices",
			    VMDEF_MAX_NETS);
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(v, i);
		struct vmdef_net *net = &def->net[def->nr_nets];
		int ret = 0;

		if (!json_object_is_type(d, json_type_object))
			return fail(err, errlen, "nets[%zu]: want an object", i);
		def->nr_nets++;
		bool user = false;

		json_object_object_foreach(d, key, val) {
			if (!strcmp(key, "tap"))
				ret = get_string(val, "nets[].tap", 15, &net->tap, err, errlen);
			else if (!strcmp(key, "mac"))
				ret = get_string(val, "nets[].mac", 17, &net->mac, err, errlen);
			else if (!strcmp(key, "user"))
				ret = get_bool(val, "nets[].user", &user, err, errlen);
			else if (!strcmp(key, "hostfwd"))
				ret = parse_fwds(val, i, net, err, errlen);
			else
				ret = fail(err, errlen, "nets[%zu]: unknown field '%s'", i, key);
			if (ret)
				return ret;
		}
		if (user && net->tap)
			return fail(err, errlen, "nets[%zu]: want one of tap and user", i);
		if (!user && net->nr_fwds)
			return fail(err, errlen, "nets[%zu].hostfwd: only with \"user\": true", i);
		if (!user && (!net->tap || !net->tap[0] || strchr(net->tap, '/') ||
			      strchr(net->tap, ',')))
			return fail(err, errlen,
				    "nets[%zu]: want tap, a network interface name, or \"user\": true",
				    i);
		if (net->mac && !mac_ok(net->mac))
			return fail(err, errlen,
				    "nets[%zu].mac: want a unicast XX:XX:XX:XX:XX:XX", i);
	}
	return 0;
}

static int parse_limits(json_object *v, struct vmdef_limits *l, char *err, size_t errlen)
{
	uint64_t n;
	int ret = 0;

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, "limits: want an object");
	json_object_object_foreach(v, key, val) {
		if (!strcmp(key, "cpu_max_percent")) {
			ret = get_uint(val, "limits.cpu_max_percent", 1, 100 * 1024, &n, err,
				       errlen);
			l->cpu_max_percent = (unsigned)n;
		} else if (!strcmp(key, "cpu_weight")) {
			ret = get_uint(val, "limits.cpu_weight", 1, 10000, &n, err, errlen);
			l->cpu_weight = (unsigned)n;
		} else if (!strcmp(key, "memory_max_mib")) {
			ret = get_uint(val, "limits.memory_max_mib", 1, LINUX_MAX_MIB * 2,
				       &l->memory_max_mib, err, errlen);
		} else if (!strcmp(key, "cpus")) {
			ret = get_string(val, "limits.cpus", 256, &l->cpus, err, errlen);
			if (!ret && vmdef_cpulist(l->cpus, NULL))
				ret = fail(err, errlen,
					   "limits.cpus: want a CPU list such as 0-1,3");
		} else {
			ret = fail(err, errlen, "limits: unknown field '%s'", key);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_balloon(json_object *v, struct vmdef_devices *d, char *err, size_t errlen)
{
	bool reporting = true;
	int ret = 0;

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, "balloon: want an object ({} for the defaults)");
	d->balloon = true;
	json_object_object_foreach(v, key, val) {
		if (!strcmp(key, "deflate_on_oom"))
			ret = get_bool(val, "balloon.deflate_on_oom", &d->deflate_on_oom, err, errlen);
		else if (!strcmp(key, "free_page_reporting"))
			ret = get_bool(val, "balloon.free_page_reporting", &reporting, err, errlen);
		else
			ret = fail(err, errlen, "balloon: unknown field '%s'", key);
		if (ret)
			return ret;
	}
	d->no_reporting = !reporting;
	return 0;
}

static int parse_console(json_object *v, struct vmdef_devices *d, char *err, size_t errlen)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

	if (strcmp(s, "serial") && strcmp(s, "virtio"))
		return fail(err, errlen, "console: want \"serial\" (ttyS0) or \"virtio\" (hvc0)");
	d->virtio_console = !strcmp(s, "virtio");
	return 0;
}

static int parse_args(json_object *v, struct vm_def *def, char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "args: want an array of strings");
	n = json_object_array_length(v);
	if (n > VMDEF_MAX_ARGS - def->nr_args)
		return fail(err, errlen, "args: at most %u arguments", VMDEF_MAX_ARGS);
	for (size_t i = 0; i < n; i++) {
		int ret = get_string(json_object_array_get_idx(v, i), "args[]", VMDEF_TEXT_MAX,
				     &def->args[def->nr_args], err, errlen);
		if (ret)
			return ret;
		def->nr_args++;
	}
	return 0;
}

static int parse_object(json_object *root, struct vm_def *def, char *err, size_t errlen)
{
	bool has_cpus = false, has_memory = false, has_devices = false;
	char *name = NULL;
	uint64_t n;
	int ret = 0;

	if (!json_object_is_type(root, json_type_object))
		return fail(err, errlen, "want a JSON object");
	json_object_object_foreach(root, key, val) {
		if (!strcmp(key, "name")) {
			ret = get_string(val, "name", VMDEF_NAME_MAX + 1, &name, err, errlen);
			if (!ret) {
				if (!vmdef_name_ok(name))
					ret = fail(err, errlen,
						   "name: want 1-64 of A-Z a-z 0-9 . _ -, "
						   "starting with a letter or digit");
				else
					strcpy(def->name, name);
				free(name);
				name = NULL;
			}
		} else if (!strcmp(key, "guest")) {
			ret = get_path(val, "guest", &def->guest, err, errlen);
		} else if (!strcmp(key, "kernel")) {
			ret = get_path(val, "kernel", &def->kernel, err, errlen);
		} else if (!strcmp(key, "initrd")) {
			ret = get_path(val, "initrd", &def->initrd, err, errlen);
		} else if (!strcmp(key, "cmdline")) {
			ret = get_string(val, "cmdline", VMDEF_TEXT_MAX, &def->cmdline, err,
					 errlen);
		} else if (!strcmp(key, "args")) {
			ret = parse_args(val, def, err, errlen);
		} else if (!strcmp(key, "cpus")) {
			ret = get_uint(val, "cpus", 1, MAX_CPUS, &n, err, errlen);
			def->cpus = (unsigned)n;
			has_cpus = true;
		} else if (!strcmp(key, "memory_mib")) {
			ret = get_uint(val, "memory_mib", 1, LINUX_MAX_MIB, &def->memory_mib, err,
				       errlen);
			has_memory = true;
		} else if (!strcmp(key, "disks")) {
			ret = parse_disks(val, def, err, errlen);
		} else if (!strcmp(key, "nets")) {
			ret = parse_nets(val, def, err, errlen);
		} else if (!strcmp(key, "limits")) {
			ret = parse_limits(val, &def->limits, err, errlen);
		} else if (!strcmp(key, "rng")) {
			ret = get_bool(val, "rng", &def->dev.rng, err, errlen);
			has_devices |= def->dev.rng;
		} else if (!strcmp(key, "console")) {
			ret = parse_console(val, &def->dev, err, errlen);
			has_devices |= def->dev.virtio_console;
		} else if (!strcmp(key, "balloon")) {
			ret = parse_balloon(val, &def->dev, err, errlen);
			has_devices = true;
		} else {
			ret = fail(err, errlen, "unknown field '%s'", key);
		}
		if (ret)
			return ret;
	}
	if (!def->name[0])
		return fail(err, errlen, "name: missing");
	if (!def->guest == !def->kernel)
		return fail(err, errlen, "want exactly one of guest (a para-virtual ELF) and "
					 "kernel (a Linux kernel)");
	if (def->guest && (def->initrd || def->cmdline || has_cpus))
		return fail(err, errlen, "initrd, cmdline and cpus need kernel");
	if (def->guest && has_devices)
		return fail(err, errlen, "rng, console and balloon are virtio devices: they need kernel");
	if (def->kernel && def->nr_args)
		return fail(err, errlen, "args: with kernel, pass arguments in cmdline");
	if (def->guest && def->nr_disks > 1)
		return fail(err, errlen, "disks: a para-virtual guest takes one disk");
	if (def->guest && def->nr_disks && def->disk[0].serial)
		return fail(err, errlen, "disks[].serial: for Linux guests (kernel)");
	if (def->guest && def->nr_nets > 1)
		return fail(err, errlen, "nets: a para-virtual guest takes one network device");
	if (!has_cpus)
		def->cpus = 1;
	if (!has_memory)
		def->memory_mib = def->kernel ? 512 : 64;
	if (def->guest && (def->memory_mib < PV_MIN_MIB || def->memory_mib > PV_MAX_MIB))
		return fail(err, errlen, "memory_mib: want %u to %u for a para-virtual guest",
			    PV_MIN_MIB, PV_MAX_MIB);
	if (def->kernel && def->memory_mib < LINUX_MIN_MIB)
		return fail(err, errlen, "memory_mib: want at least %u for a Linux guest",
			    LINUX_MIN_MIB);
	if (def->memory_mib % 2)
		return fail(err, errlen, "memory_mib: want a multiple of 2");
	return 0;
}

int vmdef_parse(const char *text, size_t len, struct vm_def *def, char *err, size_t errlen)
{
	json_object *root;
	char why[128];
	int ret;

	*def = (struct vm_def){ 0 };
	if (len > VMDEF_MAX_BODY)
		return fail(err, errlen, "definition larger than %u bytes", VMDEF_MAX_BODY);
	root = json_parse_whole(text, len, 8, 0, why, sizeof(why));
	if (!root)
		return fail(err, errlen, "bad JSON: %s", why);
	ret = parse_object(root, def, err, errlen);
	json_object_put(root);
	if (ret)
		vmdef_free(def);
	return ret;
}

static int check_file(const char *field, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return fail(err, errlen, "%s %s: %s", field, path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return fail(err, errlen, "%s %s: not a regular file", field, path);
	return 0;
}

int vmdef_check_files(const struct vm_def *def, char *err, size_t errlen)
{
	int ret = 0;

	if (def->guest)
		ret = check_file("guest", def->guest, err, errlen);
	if (!ret && def->kernel)
		ret = check_file("kernel", def->kernel, err, errlen);
	if (!ret && def->initrd)
		ret = check_file("initrd", def->initrd, err, errlen);
	for (unsigned i = 0; !ret && i < def->nr_disks; i++)
		ret = check_file("disk", def->disk[i].path, err, errlen);
	return ret;
}

void vmdef_free(struct vm_def *def)
{
	free(def->guest);
	free(def->kernel);
	free(def->initrd);
	free(def->cmdline);
	for (unsigned i = 0; i < def->nr_args; i++)
		free(def->args[i]);
	for (unsigned i = 0; i < def->nr_disks; i++) {
		free(def->disk[i].path);
		free(def->disk[i].serial);
	}
	for (unsigned i = 0; i < def->nr_nets; i++) {
		free(def->net[i].tap);
		free(def->net[i].mac);
		for (unsigned k = 0; k < def->net[i].nr_fwds; k++)
			free(def->net[i].fwd[k]);
	}
	free(def->limits.cpus);
	*def = (struct vm_def){ 0 };
}

json_object *vmdef_to_json(const struct vm_def *def)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(def->name));
	if (def->guest)
		json_object_object_add(o, "guest", json_object_new_string(def->guest));
	if (def->kernel)
		json_object_object_add(o, "kernel", json_object_new_string(def->kernel));
	if (def->initrd)
		json_object_object_add(o, "initrd", json_object_new_string(def->initrd));
	if (def->cmdline)
		json_object_object_add(o, "cmdline", json_object_new_string(def->cmdline));
	if (def->guest) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < def->nr_args; i++)
			json_object_array_add(a, json_object_new_string(def->args[i]));
		json_object_object_add(o, "args", a);
	} else {
		json_object_object_add(o, "cpus", json_object_new_int((int)def->cpus));
	}
	json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)def->memory_mib));
	if (def->nr_disks) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < def->nr_disks; i++) {
			json_object *d = json_object_new_object();

			json_object_object_add(d, "path", json_object_new_string(def->disk[i].path));
			json_object_object_add(d, "readonly",
					       json_object_new_boolean(def->disk[i].readonly));
			if (def->disk[i].serial)
				json_object_object_add(d, "serial",
						       json_object_new_string(def->disk[i].serial));
			json_object_array_add(a, d);
		}
		json_object_object_add(o, "disks", a);
	}
	if (def->nr_nets) {
		json_object *a = json_object_new_array();

		for (unsigned i = 0; i < def->nr_nets; i++) {
			json_object *d = json_object_new_object();

			if (def->net[i].tap) {
				json_object_object_add(d, "tap",
						       json_object_new_string(def->net[i].tap));
			} else {
				json_object *f = json_object_new_array();

				json_object_object_add(d, "user", json_object_new_boolean(true));
				for (unsigned k = 0; k < def->net[i].nr_fwds; k++)
					json_object_array_add(
						f, json_object_new_string(def->net[i].fwd[k]));
				json_object_object_add(d, "hostfwd", f);
			}
			if (def->net[i].mac)
				json_object_object_add(d, "mac",
						       json_object_new_string(def->net[i].mac));
			json_object_array_add(a, d);
		}
		json_object_object_add(o, "nets", a);
	}
	if (def->dev.rng)
		json_object_object_add(o, "rng", json_object_new_boolean(true));
	if (def->dev.virtio_console)
		json_object_object_add(o, "console", json_object_new_string("virtio"));
	if (def->dev.balloon) {
		json_object *b = json_object_new_object();

		json_object_object_add(b, "deflate_on_oom",
				       json_object_new_boolean(def->dev.deflate_on_oom));
		json_object_object_add(b, "free_page_reporting",
				       json_object_new_boolean(!def->dev.no_reporting));
		json_object_object_add(o, "balloon", b);
	}
	if (def->limits.cpu_max_percent || def->limits.cpu_weight ||
	    def->limits.memory_max_mib || def->limits.cpus) {
		const struct vmdef_limits *l = &def->limits;
		json_object *d = json_object_new_object();

		if (l->cpu_max_percent)
			json_object_object_add(d, "cpu_max_percent",
					       json_object_new_int((int)l->cpu_max_percent));
		if (l->cpu_weight)
			json_object_object_add(d, "cpu_weight",
					       json_object_new_int((int)l->cpu_weight));
		if (l->memory_max_mib)
			json_object_object_add(d, "memory_max_mib",
					       json_object_new_int64((int64_t)l->memory_max_mib));
		if (l->cpus)
			json_object_object_add(d, "cpus", json_object_new_string(l->cpus));
		json_object_object_add(o, "limits", d);
	}
	return o;
}

/* A growing argv; on allocation failure `bad` is set and later adds are no-ops. */
struct argv_buf {
	char **v;
	size_t n, cap;
	bool bad;
};

static void add(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->bad)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->bad = true;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		a->bad = true;
	else
		a->v[a->n++] = s;
	va_end(ap);
	a->v[a->n] = NULL;
}

char **vmdef_argv(const struct vm_def *def, const char *vmm, const char *dir,
		  const char *user)
{
	struct argv_buf a = { 0 };

	add(&a, "%s", vmm);
	add(&a, "run");
	add(&a, "--control=%s/ctl", dir);
	add(&a, "--console-log=%s/console.log", dir);
	add(&a, "--exit-file=%s/exit.json", dir);
	if (user)
		add(&a, "--user=%s", user);
	add(&a, "--memory=%lluM", (unsigned long long)def->memory_mib);
	for (unsigned i = 0; i < def->nr_disks; i++)
		add(&a, "--disk=%s%s%s%s", def->disk[i].path, def->disk[i].readonly ? ",ro" : "",
		    def->disk[i].serial ? ",serial=" : "",
		    def->disk[i].serial ? def->disk[i].serial : "");
	for (unsigned i = 0; i < def->nr_nets; i++) {
		const struct vmdef_net *net = &def->net[i];
		char fwds[USERNET_MAX_FWDS * 72] = "";
		size_t len = 0;

		for (unsigned k = 0; k < net->nr_fwds; k++)
			len += (size_t)snprintf(fwds + len, sizeof(fwds) - len, ",hostfwd=%s",
						net->fwd[k]);
		if (net->tap)
			add(&a, "--net=tap=%s%s%s", net->tap, net->mac ? ",mac=" : "",
			    net->mac ? net->mac : "");
		else
			add(&a, "--net=user%s%s%s", fwds, net->mac ? ",mac=" : "",
			    net->mac ? net->mac : "");
	}
	if (def->kernel) {
		add(&a, "--kernel=%s", def->kernel);
		if (def->initrd)
			add(&a, "--initrd=%s", def->initrd);
		if (def->cmdline)
			add(&a, "--cmdline=%s", def->cmdline);
		add(&a, "--cpus=%u", def->cpus);
		if (def->dev.rng)
			add(&a, "--rng");
		if (def->dev.virtio_console)
			add(&a, "--console=virtio");
		if (def->dev.balloon && !def->dev.deflate_on_oom && !def->dev.no_reporting)
			add(&a, "--balloon");
		else if (def->dev.balloon)
			add(&a, "--balloon=%s%s%s", def->dev.deflate_on_oom ? "deflate-on-oom" : "",
			    def->dev.deflate_on_oom && def->dev.no_reporting ? "," : "",
			    def->dev.no_reporting ? "no-reporting" : "");
	} else {
		add(&a, "--");
		add(&a, "%s", def->guest);
		add(&a, "--");
		for (unsigned i = 0; i < def->nr_args; i++)
			add(&a, "%s", def->args[i]);
	}
	if (a.bad) {
		vmdef_argv_free(a.v);
		return NULL;
	}
	return a.v;
}

void vmdef_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}
