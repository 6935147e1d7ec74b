/*
 * The VM table: definitions, the state machine, one VMM process per
 * running VM, and their persistence in the state directory:
 *
 *   STATE/vms/NAME/                  root's (the daemon's), 0700
 *   STATE/vms/NAME/config.json       the definition (vmdef), written at create
 *   STATE/vms/NAME/state.json        state, VMM pid and start time, last stop
 *   STATE/vms/NAME/vmm.log           the VMM's stderr (opened by the daemon)
 *   STATE/vms/NAME/run/              the VMM's, and all it may write in:
 *   STATE/vms/NAME/run/ctl           its control socket, while it runs
 *   STATE/vms/NAME/run/exit.json     its stop record, written as it exits
 *   STATE/vms/NAME/run/console.log   console output (and .1, the one before)
 *
 * Only run/ is handed to the VMM (its --control, --console-log and
 * --exit-file, so its jail; with --vmm-user, its owner). A VMM taken over
 * by its guest can thus rewrite nothing the daemon trusts, and whatever it
 * leaves in run/ is read as the VMM's word (vmmfile.h): never through a
 * link, and the exit record strictly. The VM's directory being root's and
 * 0700 also keeps every other process of the VMM's user (the other VMs'
 * VMMs) out of run/: the VMM itself reaches it through a descriptor opened
 * before it dropped its privileges.
 *
 * Files are replaced atomically (a temporary file renamed over the old).
 * A VMM outlives the daemon: a restarted daemon finds it by pid and start
 * time and adopts it. A shaled before run/ gave the VMM the VM's directory
 * itself: such a directory is taken back at start-up and its VMM's files
 * moved into run/, once no VMM of that layout runs in it (vms_load()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon/cgroup.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/vmmfile.h"
#include "util/util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define FILE_MAX (1 << 20)
#define RUN_DIR "run"
#define START_TIMEOUT_MS 10000
#define KILL_WAIT_MS 5000

static const char *const state_names[] = {
	[VMS_CREATED] = "created", [VMS_RUNNING] = "running", [VMS_PAUSED] = "paused",
	[VMS_STOPPED] = "stopped", [VMS_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s)
{
	return state_names[s];
}

static int state_from_name(const char *s, enum vm_state *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum vm_state)i;
			return 0;
		}
	return -EINVAL;
}

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

static int64_t now_sec(void)
{
	return (int64_t)(clock_wall_ns() / 1000000000ull);
}

static bool is_live(enum vm_state s)
{
	return s == VMS_RUNNING || s == VMS_PAUSED;
}

/* ---- files ---- */

/* Writes `text` to DIR/NAME through DIR/.NAME.tmp and rename(). */
static int write_atomic(const char *dir, const char *name, const char *text, bool sync)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(tmp); /* one a crash left: never written through */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len && !ret;) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!ret && sync && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/*
 * The whole of fd, NUL-terminated, at most `max` bytes (a power of two of
 * 4 KiB or more); NULL on error or when longer. Closes fd.
 */
static char *read_fd_text(int fd, size_t max, size_t *len_out)
{
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		ssize_t n;

		if (len + 1 == cap) {
			char *b = cap >= max ? NULL : realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else if (n == 0) {
			buf[len] = '\0';
			break;
		} else {
			len += (size_t)n;
		}
	}
	close(fd);
	if (buf && len_out)
		*len_out = len;
	return buf;
}

/* The whole file (of /proc), as read_fd_text(). */
static char *read_text(const char *path, size_t *len_out)
{
	return read_fd_text(open(path, O_RDONLY | O_CLOEXEC), FILE_MAX, len_out);
}

/* A directory of the state dir, never through a symbolic link. */
static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void remove_file(const char *dir, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* DIR/NAME as a JSON object, read as the VMM's files are (vmmfile_open()). */
static json_object *read_json(const char *dir, const char *name)
{
	int dfd = open_dir(dir), fd;
	json_object *o;
	char *text;

	if (dfd < 0)
		return NULL;
	fd = vmmfile_open(dfd, name);
	close(dfd);
	text = read_fd_text(fd < 0 ? -1 : fd, FILE_MAX, NULL);
	if (!text)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* ---- the VM's directory and the VMM's ---- */

/* What a VMM makes in its directory beside its console logs (vmdef_argv()). */
static const char *const vmm_files[] = { "ctl", "exit.json", "exit.json.tmp" };
static const char *const vmm_logs[] = { "console.log", "console.log.1" };

/*
 * The VM's directory is the daemon's alone: its user's, mode 0700. One
 * made by a shaled before run/ was given to --vmm-user; it is taken back
 * (a VMM of that user still running there keeps its control socket and
 * open console log, but can no longer rotate the log or write its exit
 * record: its stop is then recorded from what the daemon sees).
 */
static void take_back_dir(const struct managed_vm *vm)
{
	int fd = open_dir(vm->dir);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		log_err("%s: %s", vm->dir, strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_uid != geteuid() || st.st_gid != getegid()) {
		if (fchown(fd, geteuid(), getegid()) < 0)
			log_err("%s: cannot take it back from uid %u: %s", vm->dir,
				(unsigned)st.st_uid, strerror(errno));
		else
			log_info("%s: taken back from uid %u: only its run/ is the VMM's",
				 vm->dir, (unsigned)st.st_uid);
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		log_err("%s: chmod: %s", vm->dir, strerror(errno));
	close(fd);
}

static bool exists_at(int dfd, const char *name)
{
	struct stat st;

	return !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
}

/*
 * Opens DIR/run, made if missing (0700). Anything else by that name
 * (only a VMM of the old layout could have put it there) is removed.
 */
static int open_run_dir(const struct managed_vm *vm)
{
	int dfd = open_dir(vm->dir), fd = -1;

	if (dfd < 0)
		return dfd;
	for (int tries = 0; tries < 2 && fd < 0; tries++) {
		if (mkdirat(dfd, RUN_DIR, 0700) < 0 && errno != EEXIST)
			break;
		fd = openat(dfd, RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
			unlinkat(dfd, RUN_DIR, 0);
	}
	if (fd < 0)
		fd = -errno;
	close(dfd);
	return fd;
}

/*
 * Moves what a VMM of the old layout left in the VM's directory (console
 * logs, exit record) into run/, and removes the rest of it; then the VM
 * uses run/. With `rewrite`, config.json is written again from the
 * definition in memory: that VMM could have replaced it while it ran.
 */
static void migrate(struct managed_vm *vm, bool rewrite)
{
	static const char *const moved[] = { "console.log", "console.log.1", "exit.json" };
	int dfd, rfd;
	bool any = false;

	snprintf(vm->run, sizeof(vm->run), "%s/%s", vm->dir, RUN_DIR);
	vm->legacy = false;
	dfd = open_dir(vm->dir);
	if (dfd < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(moved) && !any; i++)
		any = exists_at(dfd, moved[i]);
	for (size_t i = 0; i < ARRAY_SIZE(vmm_files) && !any; i++)
		any = exists_at(dfd, vmm_files[i]);
	rfd = any ? open_run_dir(vm) : -1;
	if (any && rfd < 0)
		log_err("%s: cannot make %s: %s", vm->def.name, vm->run, strerror(-rfd));
	for (size_t i = 0; i < ARRAY_SIZE(moved) && rfd >= 0; i++)
		if (vmmfile_plain_or_absent(dfd, moved[i]))
			renameat(dfd, moved[i], rfd, moved[i]);
		else
			unlinkat(dfd, moved[i], 0);
	for (size_t i = 0; i < ARRAY_SIZE(vmm_files) && rfd >= 0; i++)
		unlinkat(dfd, vmm_files[i], 0);
	if (rfd >= 0) {
		log_info("%s: the VMM's files moved into %s", vm->def.name, vm->run);
		close(rfd);
	}
	close(dfd);
	if (rewrite) {
		json_object *cfg = vmdef_to_json(&vm->def);
		int ret = write_atomic(vm->dir, "config.json",
				       json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY),
				       true);

		if (ret)
			log_err("%s: cannot save its config.json: %s", vm->def.name,
				strerror(-ret));
		json_object_put(cfg);
	}
}

/*
 * Readies run/ for a VMM: owned by the user it will run as, 0700, without
 * what the last one made, and with console logs that are plain files (the
 * VMM opens its log before it drops its privileges: a link planted there
 * by the last one must not lead it anywhere).
 */
static int prepare_run_dir(struct shaled *d, struct managed_vm *vm, char *err, size_t errlen)
{
	uid_t uid = d->vmm_user ? d->vmm_uid : geteuid();
	gid_t gid = d->vmm_user ? d->vmm_gid : getegid();
	struct stat st;
	int fd;

	snprintf(vm->run, sizeof(vm->run), "%s/%s", vm->dir, RUN_DIR);
	vm->legacy = false;
	fd = open_run_dir(vm);
	if (fd < 0)
		return fail(err, errlen, fd, "cannot make %s: %s", vm->run, strerror(-fd));
	if (fstat(fd, &st) < 0 ||
	    ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) ||
	    ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)) {
		int ret = -errno;

		close(fd);
		return fail(err, errlen, ret, "cannot hand %s to %s: %s", vm->run,
			    d->vmm_user ? d->vmm_user : "the VMM", strerror(-ret));
	}
	for (size_t i = 0; i < ARRAY_SIZE(vmm_files); i++)
		unlinkat(fd, vmm_files[i], 0);
	for (size_t i = 0; i < ARRAY_SIZE(vmm_logs); i++)
		if (!vmmfile_plain_or_absent(fd, vmm_logs[i])) {
			log_err("%s: %s/%s is not a plain file: removed", vm->def.name, vm->run,
				vmm_logs[i]);
			if (unlinkat(fd, vmm_logs[i], 0) < 0)
				unlinkat(fd, vmm_logs[i], AT_REMOVEDIR);
		}
	close(fd);
	return 0;
}

/* Empties and removes DIR/run, whatever the VMM left there (one level deep). */
static void remove_run_dir(const struct managed_vm *vm)
{
	int dfd = open_dir(vm->dir), fd;
	struct dirent *e;
	DIR *dh;

	if (dfd < 0)
		return;
	fd = openat(dfd, RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dh = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dh && fd >= 0)
		close(fd);
	while (dh && (e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(fd, e->d_name, 0) < 0)
			unlinkat(fd, e->d_name, AT_REMOVEDIR);
	if (dh)
		closedir(dh);
	if (unlinkat(dfd, RUN_DIR, AT_REMOVEDIR) < 0 && errno == ENOTDIR)
		unlinkat(dfd, RUN_DIR, 0);
	close(dfd);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

static json_object *stop_json(const struct stop_record *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "reason", json_object_new_string(r->reason));
	json_object_object_add(o, "status", json_object_new_int(r->status));
	json_object_object_add(o, "message", json_object_new_string(r->message));
	return o;
}

static void stop_from_json(json_object *o, struct stop_record *r)
{
	const char *reason = jstr(o, "reason"), *msg = jstr(o, "message");

	*r = (struct stop_record){ .valid = reason != NULL, .status = (int)jint(o, "status", -1) };
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	snprintf(r->message, sizeof(r->message), "%s", msg ? msg : "");
}

static void save_state(struct managed_vm *vm)
{
	json_object *o = json_object_new_object();
	int ret;

	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	if (is_live(vm->state)) {
		json_object_object_add(o, "pid", json_object_new_int(vm->pid));
		json_object_object_add(o, "pid_start",
				       json_object_new_int64((int64_t)vm->pid_start));
	}
	if (vm->last_stop.valid)
		json_object_object_add(o, "last_stop", stop_json(&vm->last_stop));
	json_object_object_add(o, "created_at", json_object_new_int64(vm->created_at));
	json_object_object_add(o, "started_at", json_object_new_int64(vm->started_at));
	json_object_object_add(o, "stopped_at", json_object_new_int64(vm->stopped_at));
	ret = write_atomic(vm->dir, "state.json", json_object_to_json_string(o), false);
	if (ret)
		log_err("%s: cannot save its state: %s", vm->def.name, strerror(-ret));
	json_object_put(o);
}

/* ---- events ---- */

static void emit(struct shaled *d, struct managed_vm *vm)
{
	struct event *e = &d->events[(d->event_seq + 1) % EVENT_RING];

	*e = (struct event){ .seq = d->event_seq + 1, .time_ns = (int64_t)clock_wall_ns(),
			     .state = vm->state };
	snprintf(e->vm, sizeof(e->vm), "%s", vm->def.name);
	if (!is_live(vm->state) && vm->last_stop.valid)
		snprintf(e->reason, sizeof(e->reason), "%s", vm->last_stop.reason);
	d->event_seq++;
	pthread_cond_broadcast(&d->event_cond);
}

static void set_state(struct shaled *d, struct managed_vm *vm, enum vm_state s)
{
	vm->state = s;
	save_state(vm);
	emit(d, vm);
}

bool events_wait(struct shaled *d, uint64_t seq, int timeout_ms, struct event *out)
{
	struct timespec until;
	bool got = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->lock);
	while (d->event_seq <= seq && !d->quit)
		if (pthread_cond_timedwait(&d->event_cond, &d->lock, &until))
			break;
	if (d->event_seq > seq) {
		if (d->event_seq - seq > EVENT_RING)
			seq = d->event_seq - EVENT_RING;
		*out = d->events[(seq + 1) % EVENT_RING];
		got = true;
	}
	pthread_mutex_unlock(&d->lock);
	return got;
}

/* ---- the table ---- */

static struct managed_vm *find(struct shaled *d, const char *name)
{
	for (size_t i = 0; i < d->nr_vms; i++)
		if (!strcmp(d->vm[i]->def.name, name))
			return d->vm[i];
	return NULL;
}

static struct managed_vm *find_serial(struct shaled *d, uint64_t serial)
{
	for (size_t i = 0; i < d->nr_vms; i++)
		if (d->vm[i]->serial == serial && d->vm[i]->pidfd >= 0)
			return d->vm[i];
	return NULL;
}

static int table_add(struct shaled *d, struct managed_vm *vm)
{
	if (d->nr_vms == d->cap_vms) {
		size_t cap = d->cap_vms ? d->cap_vms * 2 : 64;
		struct managed_vm **v = realloc(d->vm, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->vm = v;
		d->cap_vms = cap;
	}
	d->vm[d->nr_vms++] = vm;
	return 0;
}

static void table_remove(struct shaled *d, struct managed_vm *vm)
{
	for (size_t i = 0; i < d->nr_vms; i++)
		if (d->vm[i] == vm) {
			d->vm[i] = d->vm[--d->nr_vms];
			break;
		}
}

static void vm_free(struct managed_vm *vm)
{
	vmdef_free(&vm->def);
	free(vm);
}

/* ---- processes ---- */

/* Field 22 of /proc/PID/stat: the start time in clock ticks; 0 if gone. */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], *text, *p;
	uint64_t t = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = read_text(path, NULL);
	if (!text)
		return 0;
	p = strrchr(text, ')'); /* the command name may hold spaces */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	free(text);
	return t;
}

/*
 * Whether process `pid` is a VMM shaled started with its directory at
 * `run`: its command line names the control socket there. Before run/,
 * state.json lay in a directory the VMM could write in, so a VMM taken
 * over by its guest could name another process there; this still keeps
 * shaled from adopting (and later signalling) anything but one of its own
 * VMMs for this VM.
 */
static bool is_vmm_of(pid_t pid, const char *run)
{
	char path[64], want[PATH_MAX + 16], *text;
	size_t len, wlen;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	wlen = (size_t)snprintf(want, sizeof(want), "--control=%s/ctl", run);
	text = read_text(path, &len);
	if (!text || wlen >= sizeof(want)) {
		free(text);
		return false;
	}
	for (size_t off = 0; off < len && !found; off += strlen(text + off) + 1)
		found = !strcmp(text + off, want);
	free(text);
	return found;
}

static int watch(struct shaled *d, struct managed_vm *vm)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = vm->serial };

	if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, vm->pidfd, &ev) < 0)
		return -errno;
	return 0;
}

/* The last line the VMM wrote to DIR/vmm.log: usually why it failed. */
static void last_log_line(const char *dir, char *buf, size_t size)
{
	int dfd = open_dir(dir), ret;
	char *text = NULL, *end, *start;
	size_t len = 0;

	buf[0] = '\0';
	if (dfd >= 0) {
		text = vmmfile_read_tail(dfd, "vmm.log", 4096, &len, &ret);
		close(dfd);
	}
	if (!text)
		return;
	end = text + len;
	while (end > text && end[-1] == '\n')
		end--;
	*end = '\0';
	start = strrchr(text, '\n');
	snprintf(buf, size, "%s", start ? start + 1 : text);
	for (char *c = buf; *c; c++) /* the VMM's words, maybe its guest's */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	free(text);
}

/*
 * The VMM's stop record, run/exit.json: true with it in *rec; false when
 * there is none or it is refused (why in `why`, empty when there is none).
 */
static bool read_exit_record(const struct managed_vm *vm, struct stop_record *rec, char *why,
			     size_t whylen)
{
	int dfd = open_dir(vm->run), fd;
	struct vmm_exit ex;
	char err[160];
	size_t len = 0;
	char *text;

	why[0] = '\0';
	if (dfd < 0)
		return false;
	fd = vmmfile_open(dfd, "exit.json");
	close(dfd);
	if (fd < 0) {
		if (fd != -ENOENT)
			snprintf(why, whylen, "%s",
				 fd == -ELOOP ? "it is a symbolic link" :
				 fd == -EPERM ? "it is not a regular file of its own" :
						strerror(-fd));
		return false;
	}
	/* Twice the cap: a longer file is refused unread, a shorter one by the parser. */
	text = read_fd_text(fd, 2 * VMMFILE_EXIT_MAX, &len);
	if (!text) {
		snprintf(why, whylen, "cannot read it, or larger than %d bytes", VMMFILE_EXIT_MAX);
		return false;
	}
	if (vmmfile_exit_parse(text, len, &ex, err, sizeof(err))) {
		snprintf(why, whylen, "%s", err);
		free(text);
		return false;
	}
	free(text);
	*rec = (struct stop_record){ .valid = true, .status = ex.status };
	snprintf(rec->reason, sizeof(rec->reason), "%s", ex.reason);
	snprintf(rec->message, sizeof(rec->message), "%s", ex.message);
	return true;
}

/*
 * Records why the VMM ended: its exit record, or what the daemon saw (`si`
 * from waitid(), NULL when the VMM was not this daemon's child). Lock held.
 */
static void record_stop(struct shaled *d, struct managed_vm *vm, const siginfo_t *si)
{
	struct stop_record rec = { .status = -1 };
	char why[200], note[240] = "";

	if (!read_exit_record(vm, &rec, why, sizeof(why)) && why[0]) {
		log_err("%s: its VMM's exit record %s/exit.json is refused: %s", vm->def.name,
			vm->run, why);
		snprintf(note, sizeof(note), " (its exit record was refused: %s)", why);
	}
	if (vm->kill_reason) {
		rec.valid = true;
		snprintf(rec.reason, sizeof(rec.reason), "killed");
		snprintf(rec.message, sizeof(rec.message), "%s", vm->kill_reason);
	} else if (!rec.valid) {
		rec.valid = true;
		snprintf(rec.reason, sizeof(rec.reason), "vmm-died");
		if (si && (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED))
			snprintf(rec.message, sizeof(rec.message),
				 "the VMM process was killed by signal %d (%s)%s", si->si_status,
				 strsignal(si->si_status), note);
		else if (si) {
			char line[256];

			last_log_line(vm->dir, line, sizeof(line));
			snprintf(rec.message, sizeof(rec.message),
				 "the VMM process exited with status %d and no stop record%s%s%s",
				 si->si_status, note, line[0] ? ": " : "", line);
		}
		else
			snprintf(rec.message, sizeof(rec.message),
				 "the VMM process ended with no stop record%s", note);
		rec.status = si && si->si_code == CLD_EXITED ? si->si_status : -1;
	} else if (vm->shutdown_requested &&
		   (!strcmp(rec.reason, "exit") || !strcmp(rec.reason, "poweroff"))) {
		snprintf(rec.reason, sizeof(rec.reason), "shutdown");
	}
	vm->pid = 0;
	vm->last_stop = rec;
	vm->stopped_at = now_sec();
	vm->shutdown_requested = false;
	vm->shutdown_deadline_ns = 0;
	vm->kill_reason = NULL;
	cgroup_remove(d, vm);
	if (vm->legacy)
		migrate(vm, true);
	set_state(d, vm,
		  !strcmp(rec.reason, "crash") || !strcmp(rec.reason, "error") ||
				  !strcmp(rec.reason, "vmm-died") ?
			  VMS_CRASHED :
			  VMS_STOPPED);
}

/* The VMM behind vm->pidfd has ended: reap it and record why, once. Lock held. */
static void reap(struct shaled *d, struct managed_vm *vm)
{
	siginfo_t si = { 0 };
	bool waited = false;

	if (vm->pidfd < 0)
		return;
	if (vm->own_child &&
	    waitid((idtype_t)P_PIDFD, (id_t)vm->pidfd, &si, WEXITED | WNOHANG) == 0) {
		if (!si.si_pid)
			return; /* still running: a spurious wake-up */
		waited = true;
	}
	epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, vm->pidfd, NULL);
	close(vm->pidfd);
	vm->pidfd = -1;
	record_stop(d, vm, waited ? &si : NULL);
}

/*
 * Starts the VMM: fork, and in the child only async-signal-safe calls up
 * to execv(). The child waits on a pipe until the parent has put it in its
 * cgroup, so that no guest instruction runs outside its limits.
 */
static int spawn(struct shaled *d, struct managed_vm *vm, char **argv, char *err,
		 size_t errlen)
{
	char log_path[PATH_MAX + 16];
	int go[2], null_fd, log_fd, ret;
	sigset_t none;
	pid_t pid;

	snprintf(log_path, sizeof(log_path), "%s/vmm.log", vm->dir);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (null_fd < 0 || log_fd < 0 || pipe2(go, O_CLOEXEC) < 0) {
		ret = -errno;
		if (null_fd >= 0)
			close(null_fd);
		if (log_fd >= 0)
			close(log_fd);
		return fail(err, errlen, ret, "cannot start the VMM: %s", strerror(-ret));
	}
	sigemptyset(&none);
	pid = fork();
	if (pid == 0) {
		char c;

		setsid();
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(argv[0], argv);
		_exit(127);
	}
	ret = pid < 0 ? -errno : 0;
	close(go[0]);
	close(null_fd);
	close(log_fd);
	if (ret) {
		close(go[1]);
		return fail(err, errlen, ret, "fork: %s", strerror(-ret));
	}
	vm->pid = pid;
	vm->own_child = true;
	vm->pid_start = proc_start_time(pid);
	vm->pidfd = pidfd_open(pid, 0);
	if (vm->pidfd < 0) {
		ret = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(go[1]);
		vm->pid = 0;
		return fail(err, errlen, ret, "pidfd_open: %s", strerror(-ret));
	}
	vm->serial = ++d->next_serial;
	ret = cgroup_apply(d, vm, err, errlen);
	if (!ret && write(go[1], "g", 1) != 1)
		ret = fail(err, errlen, -EIO, "cannot start the VMM: %s", strerror(errno));
	close(go[1]);
	if (!ret)
		ret = watch(d, vm);
	if (ret) {
		pidfd_send_signal(vm->pidfd, SIGKILL, NULL, 0);
		waitid((idtype_t)P_PIDFD, (id_t)vm->pidfd, &(siginfo_t){ 0 }, WEXITED);
		close(vm->pidfd);
		vm->pidfd = -1;
		vm->pid = 0;
		cgroup_remove(d, vm);
		if (!err[0])
			fail(err, errlen, ret, "cannot watch the VMM: %s", strerror(-ret));
	}
	return ret;
}

/*
 * Waits, without the lock, until the VMM (`pid`) answers on its control
 * socket in `run`, or ends. `pidfd` is the caller's own duplicate. 0 when
 * it answers.
 */
static int wait_ready(const char *run, pid_t pid, int pidfd)
{
	uint64_t deadline = clock_monotonic_ns() + START_TIMEOUT_MS * 1000000ull;
	int delay_ms = 0;
	char err[256];

	while (clock_monotonic_ns() < deadline) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, delay_ms) > 0)
			return -ECHILD;
		fd = vmmctl_connect(run, pid, err, sizeof(err));
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (fd == -ENAMETOOLONG)
			return fd;
		delay_ms = 1;
	}
	return -ETIMEDOUT;
}

/* Waits without the lock for the process behind a duplicated pidfd to end. */
static bool wait_gone(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) > 0;
}

/* ---- the monitor thread ---- */

static void *monitor(void *arg)
{
	struct shaled *d = arg;

	for (;;) {
		struct epoll_event ev[64];
		uint64_t now = clock_monotonic_ns(), next = 0;
		int timeout = -1, n;

		pthread_mutex_lock(&d->lock);
		if (d->quit) {
			pthread_mutex_unlock(&d->lock);
			return NULL;
		}
		for (size_t i = 0; i < d->nr_vms; i++) {
			struct managed_vm *vm = d->vm[i];

			if (!vm->shutdown_deadline_ns || vm->pidfd < 0)
				continue;
			if (vm->shutdown_deadline_ns <= now) {
				vm->shutdown_deadline_ns = 0;
				vm->kill_reason = "the guest did not shut down in time";
				pidfd_send_signal(vm->pidfd, SIGKILL, NULL, 0);
			} else if (!next || vm->shutdown_deadline_ns < next) {
				next = vm->shutdown_deadline_ns;
			}
		}
		pthread_mutex_unlock(&d->lock);
		if (next)
			timeout = (int)((next - now) / 1000000 + 1);
		n = epoll_wait(d->epoll_fd, ev, ARRAY_SIZE(ev), timeout);
		pthread_mutex_lock(&d->lock);
		for (int i = 0; i < n; i++) {
			struct managed_vm *vm;

			if (ev[i].data.u64 == 0) {
				uint64_t v;

				if (read(d->wake_fd, &v, sizeof(v)) < 0)
					(void)0; /* nothing to drain */
				continue;
			}
			vm = find_serial(d, ev[i].data.u64);
			if (vm)
				reap(d, vm);
		}
		pthread_mutex_unlock(&d->lock);
	}
}

static void wake_monitor(struct shaled *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		log_err("cannot wake the monitor thread: %s", strerror(errno));
}

int vms_init(struct shaled *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	char dir[PATH_MAX];
	int ret;

	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->event_cond, NULL);
	d->host_cpus = (unsigned)MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
	d->host_memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
	snprintf(dir, sizeof(dir), "%s/vms", d->state_dir);
	if ((mkdir(d->state_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		log_err("state directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->epoll_fd < 0 || d->wake_fd < 0 ||
	    epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->wake_fd, &ev) < 0) {
		log_err("epoll: %s", strerror(errno));
		return -errno;
	}
	ret = vms_load(d);
	if (ret)
		return ret;
	ret = pthread_create(&d->monitor, NULL, monitor, d);
	if (ret) {
		log_err("cannot start the monitor thread: %s", strerror(ret));
		return -ret;
	}
	return 0;
}

void vms_fini(struct shaled *d)
{
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	pthread_cond_broadcast(&d->event_cond);
	pthread_mutex_unlock(&d->lock);
	wake_monitor(d);
	pthread_join(d->monitor, NULL);
	/* The VMMs keep running; only the daemon's view of them goes. */
	for (size_t i = 0; i < d->nr_vms; i++) {
		if (d->vm[i]->pidfd >= 0)
			close(d->vm[i]->pidfd);
		vm_free(d->vm[i]);
	}
	free(d->vm);
	d->vm = NULL;
	d->nr_vms = d->cap_vms = 0;
	close(d->epoll_fd);
	close(d->wake_fd);
}

/* ---- loading and adopting ---- */

/*
 * Adopts the VMM state.json names if it still runs and is this VM's, with
 * its directory at run/ or, started by a shaled before run/, at the VM's
 * directory itself (then `legacy` until it ends). True if adopted.
 */
static bool adopt(struct shaled *d, struct managed_vm *vm, json_object *st)
{
	pid_t pid = (pid_t)jint(st, "pid", 0);
	uint64_t start = (uint64_t)jint(st, "pid_start", 0);
	json_object *info = NULL;
	char err[256];

	if (pid <= 0 || !start || proc_start_time(pid) != start)
		return false;
	if (is_vmm_of(pid, vm->dir)) {
		vm->legacy = true;
		snprintf(vm->run, sizeof(vm->run), "%s", vm->dir);
	} else if (!is_vmm_of(pid, vm->run)) {
		return false;
	}
	vm->pidfd = pidfd_open(pid, 0);
	if (vm->pidfd < 0)
		goto not_adopted;
	vm->pid = pid;
	vm->pid_start = start;
	vm->own_child = false;
	vm->serial = ++d->next_serial;
	if (watch(d, vm)) {
		close(vm->pidfd);
		vm->pidfd = -1;
		vm->pid = 0;
		goto not_adopted;
	}
	if (!vmmctl_call(vm->run, pid, "info", NULL, 1000, &info, err, sizeof(err))) {
		const char *s = jstr(info, "state");

		vm->state = s && !strcmp(s, "paused") ? VMS_PAUSED : VMS_RUNNING;
		json_object_put(info);
	}
	log_info("%s: adopted its running VMM (pid %d)%s", vm->def.name, (int)pid,
		 vm->legacy ? ", of the layout before run/" : "");
	return true;
not_adopted:
	snprintf(vm->run, sizeof(vm->run), "%s/%s", vm->dir, RUN_DIR);
	vm->legacy = false;
	return false;
}

static void load_one(struct shaled *d, const char *name)
{
	char err[256];
	struct managed_vm *vm;
	json_object *cfg, *st;
	const char *text;

	if (!vmdef_name_ok(name))
		return;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return;
	vm->pidfd = -1;
	snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", d->state_dir, name);
	snprintf(vm->run, sizeof(vm->run), "%s/%s", vm->dir, RUN_DIR);
	take_back_dir(vm);
	cfg = read_json(vm->dir, "config.json");
	text = cfg ? json_object_to_json_string(cfg) : NULL;
	if (!text || vmdef_parse(text, strlen(text), &vm->def, err, sizeof(err))) {
		log_err("%s: skipping the VM: bad or missing config.json%s%s", vm->dir,
			text ? ": " : "", text ? err : "");
		json_object_put(cfg);
		free(vm);
		return;
	}
	json_object_put(cfg);
	if (strcmp(vm->def.name, name)) {
		log_err("%s: skipping the VM: config.json names '%s'", vm->dir, vm->def.name);
		vm_free(vm);
		return;
	}
	st = read_json(vm->dir, "state.json");
	vm->state = VMS_CREATED;
	if (st) {
		const char *s = jstr(st, "state");
		json_object *ls;

		if (s && state_from_name(s, &vm->state))
			vm->state = VMS_CREATED;
		if (json_object_object_get_ex(st, "last_stop", &ls))
			stop_from_json(ls, &vm->last_stop);
		vm->created_at = jint(st, "created_at", 0);
		vm->started_at = jint(st, "started_at", 0);
		vm->stopped_at = jint(st, "stopped_at", 0);
	}
	if (table_add(d, vm)) {
		json_object_put(st);
		vm_free(vm);
		return;
	}
	if (!is_live(vm->state) || !adopt(d, vm, st)) {
		/* Nothing runs from the old layout's place: run/ is the VMM's. */
		migrate(vm, false);
		/* One that ended while no daemon watched: its exit record says why. */
		if (is_live(vm->state)) {
			vm->own_child = false;
			record_stop(d, vm, NULL);
		}
	} else if (!vm->legacy) {
		migrate(vm, false);
	}
	json_object_put(st);
}

int vms_load(struct shaled *d)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/vms", d->state_dir);
	dh = opendir(dir);
	if (!dh) {
		log_err("state directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&d->lock);
	while ((e = readdir(dh)))
		if (e->d_name[0] != '.')
			load_one(d, e->d_name);
	pthread_mutex_unlock(&d->lock);
	closedir(dh);
	return 0;
}

/* ---- operations ---- */

/* vCPUs and guest RAM of every running or paused VM. Lock held. */
static void committed(struct shaled *d, uint64_t *vcpus, uint64_t *memory)
{
	*vcpus = *memory = 0;
	for (size_t i = 0; i < d->nr_vms; i++)
		if (is_live(d->vm[i]->state)) {
			*vcpus += d->vm[i]->def.cpus;
			*memory += d->vm[i]->def.memory_mib * MiB;
		}
}

static int check_fits(struct shaled *d, const struct vm_def *def, bool others, char *err,
		      size_t errlen)
{
	uint64_t vcpus = 0, memory = 0;
	double max_vcpus = d->cpu_overcommit * d->host_cpus;
	double max_memory = d->memory_overcommit * (double)d->host_memory;

	if (others)
		committed(d, &vcpus, &memory);
	vcpus += def->cpus;
	memory += def->memory_mib * MiB;
	if (d->cpu_overcommit > 0 && (double)vcpus > max_vcpus)
		return fail(err, errlen, -ENOSPC,
			    "%s needs %u vCPU(s): %llu would be committed, the policy allows "
			    "%.0f (%u host CPUs x %.2f)",
			    def->name, def->cpus, (unsigned long long)vcpus, max_vcpus,
			    d->host_cpus, d->cpu_overcommit);
	if (d->host_memory && (double)memory > max_memory)
		return fail(err, errlen, -ENOSPC,
			    "%s needs %llu MiB: %llu MiB would be committed, the policy allows "
			    "%.0f MiB (host RAM x %.2f)",
			    def->name, (unsigned long long)def->memory_mib,
			    (unsigned long long)(memory / MiB), max_memory / (double)MiB,
			    d->memory_overcommit);
	return 0;
}

int vms_create(struct shaled *d, struct vm_def *def, char *err, size_t errlen)
{
	struct managed_vm *vm;
	json_object *cfg;
	int ret;

	ret = vmdef_check_files(def, err, errlen);
	if (ret)
		return ret;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return fail(err, errlen, -ENOMEM, "out of memory");
	vm->pidfd = -1;
	if ((size_t)snprintf(vm->dir, sizeof(vm->dir), "%s/vms/%s", d->state_dir, def->name) +
		    sizeof("/" RUN_DIR "/console.log.1") >
	    108) {
		free(vm);
		return fail(err, errlen, -EINVAL,
			    "state directory %s is too long for the VM's control socket path",
			    d->state_dir);
	}
	pthread_mutex_lock(&d->lock);
	if (find(d, def->name)) {
		ret = fail(err, errlen, -EEXIST, "a VM named %s exists", def->name);
		goto unlock;
	}
	ret = check_fits(d, def, false, err, errlen);
	if (ret)
		goto unlock;
	snprintf(vm->run, sizeof(vm->run), "%s/%s", vm->dir, RUN_DIR);
	if (mkdir(vm->dir, 0700) < 0) {
		ret = fail(err, errlen, -errno, "cannot create %s: %s", vm->dir, strerror(errno));
		goto unlock;
	}
	if (mkdir(vm->run, 0700) < 0) {
		ret = fail(err, errlen, -errno, "cannot create %s: %s", vm->run, strerror(errno));
		rmdir(vm->dir);
		goto unlock;
	}
	cfg = vmdef_to_json(def);
	ret = write_atomic(vm->dir, "config.json",
			   json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY), true);
	json_object_put(cfg);
	if (!ret)
		ret = table_add(d, vm);
	if (ret) {
		fail(err, errlen, ret, "cannot save %s/config.json: %s", vm->dir, strerror(-ret));
		remove_file(vm->dir, "config.json");
		rmdir(vm->run);
		rmdir(vm->dir);
		goto unlock;
	}
	vm->def = *def;
	*def = (struct vm_def){ 0 };
	vm->created_at = now_sec();
	vm->state = VMS_CREATED;
	set_state(d, vm, VMS_CREATED);
	vm = NULL;
unlock:
	pthread_mutex_unlock(&d->lock);
	free(vm);
	return ret;
}

static struct managed_vm *find_or_fail(struct shaled *d, const char *name, char *err,
				       size_t errlen)
{
	struct managed_vm *vm = find(d, name);

	if (!vm)
		fail(err, errlen, 0, "no VM named %s", name);
	return vm;
}

int vms_start(struct shaled *d, const char *name, char *err, size_t errlen)
{
	struct managed_vm *vm;
	char dir[VM_RUN_MAX];
	char **argv = NULL;
	uint64_t serial;
	int ret, dup_fd;
	pid_t pid;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (!vm) {
		ret = -ENOENT;
		goto unlock;
	}
	if (is_live(vm->state)) {
		ret = fail(err, errlen, -EBUSY, "%s is %s", name, vm_state_name(vm->state));
		goto unlock;
	}
	ret = check_fits(d, &vm->def, true, err, errlen);
	if (ret)
		goto unlock;
	/* The VMM, once it runs as --vmm-user, rotates its log and writes its exit record there. */
	ret = prepare_run_dir(d, vm, err, errlen);
	if (ret)
		goto unlock;
	argv = vmdef_argv(&vm->def, d->vmm, vm->run, d->vmm_user);
	if (!argv) {
		ret = fail(err, errlen, -ENOMEM, "out of memory");
		goto unlock;
	}
	ret = spawn(d, vm, argv, err, errlen);
	if (ret)
		goto unlock;
	vm->started_at = now_sec();
	vm->shutdown_requested = false;
	vm->kill_reason = NULL;
	set_state(d, vm, VMS_RUNNING);
	serial = vm->serial;
	pid = vm->pid;
	snprintf(dir, sizeof(dir), "%s", vm->run);
	dup_fd = fcntl(vm->pidfd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&d->lock);
	vmdef_argv_free(argv);
	argv = NULL;

	/* The start is done when the VMM answers, or has already ended. */
	ret = dup_fd >= 0 ? wait_ready(dir, pid, dup_fd) : 0;
	if (dup_fd >= 0)
		close(dup_fd);
	if (ret == -ETIMEDOUT)
		log_err("%s: the VMM did not open its control socket in %d ms", name,
			START_TIMEOUT_MS);
	if (ret != -ECHILD)
		return 0;
	/* It ended at once: a guest that exits, or a VMM that failed to start. */
	pthread_mutex_lock(&d->lock);
	vm = find_serial(d, serial);
	if (vm)
		reap(d, vm);
	vm = find(d, name);
	ret = 0;
	if (vm && vm->last_stop.valid &&
	    (!strcmp(vm->last_stop.reason, "error") ||
	     (!strcmp(vm->last_stop.reason, "vmm-died") && vm->last_stop.status == 125)))
		ret = fail(err, errlen, -ECANCELED, "%s did not start: %s", name, vm->last_stop.message);
unlock:
	pthread_mutex_unlock(&d->lock);
	vmdef_argv_free(argv);
	return ret;
}

/* As `to` below: the op changes no state (the balloon's target). */
#define VMS_KEEP ((enum vm_state)-1)

/*
 * A control request to a live VM, made without the lock, with `args` for
 * the op (vmmctl_call()). On success the state becomes `to` (if the VM
 * still runs the same VMM).
 */
static int control(struct shaled *d, const char *name, const char *op, const char *args,
		   enum vm_state to, char *err, size_t errlen)
{
	struct managed_vm *vm;
	char dir[VM_RUN_MAX];
	uint64_t serial;
	pid_t pid;
	int ret;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (!vm) {
		pthread_mutex_unlock(&d->lock);
		return -ENOENT;
	}
	if (!is_live(vm->state)) {
		ret = fail(err, errlen, -EBUSY, "%s is %s", name, vm_state_name(vm->state));
		pthread_mutex_unlock(&d->lock);
		return ret;
	}
	serial = vm->serial;
	pid = vm->pid;
	snprintf(dir, sizeof(dir), "%s", vm->run);
	pthread_mutex_unlock(&d->lock);

	ret = vmmctl_call(dir, pid, op, args, 5000, NULL, err, errlen);
	if (ret)
		return ret == -EBUSY ? -EBUSY : -EIO;
	pthread_mutex_lock(&d->lock);
	vm = find_serial(d, serial);
	if (vm && to != VMS_KEEP && is_live(vm->state) && vm->state != to)
		set_state(d, vm, to);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int vms_pause(struct shaled *d, const char *name, bool pause, char *err, size_t errlen)
{
	return control(d, name, pause ? "pause" : "resume", NULL,
		       pause ? VMS_PAUSED : VMS_RUNNING, err, errlen);
}

int vms_balloon(struct shaled *d, const char *name, uint64_t target_mib, char *err,
		size_t errlen)
{
	char args[48];

	snprintf(args, sizeof(args), "\"target_mib\":%llu", (unsigned long long)target_mib);
	/* The VM's state stays what it is: a paused guest sees the target when it runs. */
	return control(d, name, "balloon", args, VMS_KEEP, err, errlen);
}

int vms_shutdown(struct shaled *d, const char *name, uint64_t timeout_ns, char *err,
		 size_t errlen)
{
	struct managed_vm *vm;
	uint64_t serial = 0;
	bool paused;
	int ret;

	/*
	 * Marked before asking: the guest may be gone, and its VMM reaped,
	 * before the answer is back, and its stop is a shutdown all the same.
	 */
	pthread_mutex_lock(&d->lock);
	vm = find(d, name);
	paused = vm && vm->state == VMS_PAUSED;
	if (vm && vm->pidfd >= 0) {
		vm->shutdown_requested = true;
		serial = vm->serial;
	}
	pthread_mutex_unlock(&d->lock);
	/* A paused guest cannot see the request: let it run to answer. */
	ret = paused ? vms_pause(d, name, false, err, errlen) : 0;
	if (!ret)
		ret = control(d, name, "shutdown", NULL, VMS_RUNNING, err, errlen);
	pthread_mutex_lock(&d->lock);
	vm = serial ? find_serial(d, serial) : NULL;
	if (vm && vm->pidfd >= 0) {
		if (ret && ret != -EIO) {
			vm->shutdown_requested = false;
		} else {
			/* Asked, or not even the VMM answers: the deadline kills it either way. */
			vm->shutdown_deadline_ns = clock_monotonic_ns() + (ret ? 0 : timeout_ns);
			wake_monitor(d);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret && ret != -EIO ? ret : 0;
}

/* Kills the VMM and waits for it to end. Lock held on entry and exit. */
static int kill_locked(struct shaled *d, struct managed_vm *vm, const char *reason)
{
	uint64_t serial = vm->serial;
	int dup_fd = fcntl(vm->pidfd, F_DUPFD_CLOEXEC, 0);

	vm->kill_reason = reason;
	pidfd_send_signal(vm->pidfd, SIGKILL, NULL, 0);
	pthread_mutex_unlock(&d->lock);
	if (dup_fd >= 0) {
		wait_gone(dup_fd, KILL_WAIT_MS);
		close(dup_fd);
	}
	pthread_mutex_lock(&d->lock);
	vm = find_serial(d, serial);
	if (vm)
		reap(d, vm);
	return 0;
}

/* Kills a running or paused VM's VMM and waits for it; 0 or -errno. */
static int kill_live(struct shaled *d, const char *name, const char *reason, char *err,
		     size_t errlen)
{
	struct managed_vm *vm;
	int ret;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (!vm)
		ret = -ENOENT;
	else if (!is_live(vm->state) || vm->pidfd < 0)
		ret = fail(err, errlen, -EBUSY, "%s is %s", name, vm_state_name(vm->state));
	else
		ret = kill_locked(d, vm, reason);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int vms_kill(struct shaled *d, const char *name, char *err, size_t errlen)
{
	return kill_live(d, name, "killed through the API", err, errlen);
}

int vms_reboot(struct shaled *d, const char *name, char *err, size_t errlen)
{
	int ret = kill_live(d, name, "killed for a reboot through the API", err, errlen);

	return ret ? ret : vms_start(d, name, err, errlen);
}

int vms_delete(struct shaled *d, const char *name, bool force, char *err, size_t errlen)
{
	static const char *const files[] = {
		"config.json", "state.json", "exit.json", "ctl", "console.log", "console.log.1",
		"vmm.log", ".config.json.tmp", ".state.json.tmp",
	};
	struct managed_vm *vm;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (!vm) {
		ret = -ENOENT;
		goto unlock;
	}
	if (is_live(vm->state)) {
		if (!force) {
			ret = fail(err, errlen, -EBUSY,
				   "%s is %s: stop it first, or delete with force", name,
				   vm_state_name(vm->state));
			goto unlock;
		}
		kill_locked(d, vm, "killed to delete it");
		vm = find(d, name);
		if (!vm || is_live(vm->state)) {
			ret = fail(err, errlen, -EBUSY, "%s did not stop", name);
			goto unlock;
		}
	}
	remove_run_dir(vm);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		remove_file(vm->dir, files[i]);
	if (rmdir(vm->dir) < 0 && errno != ENOENT)
		log_err("%s: %s", vm->dir, strerror(errno));
	table_remove(d, vm);
	vm_free(vm);
unlock:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* ---- reports ---- */

static json_object *time_json(int64_t sec)
{
	struct tm tm;
	char buf[80];

	sec_to_utc(sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return json_object_new_string(buf);
}

static json_object *vm_json(const struct managed_vm *vm)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(vm->def.name));
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	json_object_object_add(o, "config", vmdef_to_json(&vm->def));
	if (is_live(vm->state) && vm->pid)
		json_object_object_add(o, "pid", json_object_new_int(vm->pid));
	if (vm->last_stop.valid)
		json_object_object_add(o, "last_stop", stop_json(&vm->last_stop));
	json_object_object_add(o, "created_at", time_json(vm->created_at));
	if (vm->started_at)
		json_object_object_add(o, "started_at", time_json(vm->started_at));
	if (vm->stopped_at)
		json_object_object_add(o, "stopped_at", time_json(vm->stopped_at));
	return o;
}

json_object *vms_info(struct shaled *d, const char *name)
{
	struct managed_vm *vm;
	json_object *o = NULL;

	pthread_mutex_lock(&d->lock);
	vm = find(d, name);
	if (vm)
		o = vm_json(vm);
	pthread_mutex_unlock(&d->lock);
	return o;
}

json_object *vms_list(struct shaled *d)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->nr_vms; i++)
		json_object_array_add(a, vm_json(d->vm[i]));
	pthread_mutex_unlock(&d->lock);
	json_object_object_add(o, "vms", a);
	return o;
}

/* CPU time (ns) and resident memory (bytes) of a process, from /proc. */
static void proc_usage(pid_t pid, uint64_t *cpu_ns, uint64_t *rss)
{
	char path[64], *text, *p;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

	*cpu_ns = *rss = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = read_text(path, NULL);
	if (text && (p = strrchr(text, ')'))) {
		unsigned long long utime = 0, stime = 0;
		long long rss_pages = 0;

		/* Fields 14, 15 and 24 (state is field 3). */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
				  "%*d %*d %*d %*d %*u %*u %lld",
			   &utime, &stime, &rss_pages) == 3 &&
		    tick > 0) {
			*cpu_ns = (utime + stime) * (1000000000ull / (uint64_t)tick);
			*rss = rss_pages > 0 ? (uint64_t)rss_pages * (uint64_t)page : 0;
		}
	}
	free(text);
}

json_object *vms_stats(struct shaled *d, const char *name, char *err, size_t errlen)
{
	struct managed_vm *vm;
	enum vm_state state;
	char dir[VM_RUN_MAX];
	json_object *o = NULL;
	uint64_t cpu_ns, rss;
	pid_t pid;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (!vm) {
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	state = vm->state;
	pid = vm->pid;
	snprintf(dir, sizeof(dir), "%s", vm->run);
	pthread_mutex_unlock(&d->lock);

	if (is_live(state) && vmmctl_call(dir, pid, "stats", NULL, 2000, &o, err, errlen))
		o = NULL;
	if (!o)
		o = json_object_new_object();
	json_object_object_del(o, "ok");
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(state)));
	/* The VMM's own figures are finer; /proc's stand in for a VMM that is mute. */
	if (is_live(state) && !json_object_object_get_ex(o, "cpu_ns", NULL)) {
		proc_usage(pid, &cpu_ns, &rss);
		json_object_object_add(o, "cpu_ns", json_object_new_int64((int64_t)cpu_ns));
		json_object_object_add(o, "rss_bytes", json_object_new_int64((int64_t)rss));
	}
	err[0] = '\0';
	return o;
}

json_object *vms_host(struct shaled *d)
{
	json_object *o = json_object_new_object(), *c = json_object_new_object(),
		    *p = json_object_new_object();
	uint64_t vcpus, memory;
	unsigned running = 0;

	pthread_mutex_lock(&d->lock);
	committed(d, &vcpus, &memory);
	for (size_t i = 0; i < d->nr_vms; i++)
		running += is_live(d->vm[i]->state);
	json_object_object_add(o, "version", json_object_new_string(d->version));
	json_object_object_add(o, "host_kind", json_object_new_string(d->host_kind));
	json_object_object_add(o, "cpus", json_object_new_int((int)d->host_cpus));
	json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)d->host_memory));
	json_object_object_add(o, "vms", json_object_new_int((int)d->nr_vms));
	json_object_object_add(o, "running", json_object_new_int((int)running));
	json_object_object_add(c, "vcpus", json_object_new_int64((int64_t)vcpus));
	json_object_object_add(c, "memory_bytes", json_object_new_int64((int64_t)memory));
	json_object_object_add(o, "committed", c);
	json_object_object_add(p, "cpu", json_object_new_double(d->cpu_overcommit));
	json_object_object_add(p, "memory", json_object_new_double(d->memory_overcommit));
	json_object_object_add(o, "overcommit", p);
	pthread_mutex_unlock(&d->lock);
	return o;
}

struct vm_sample {
	char name[VMDEF_NAME_MAX + 1];
	char run[VM_RUN_MAX];
	enum vm_state state;
	pid_t pid;
	unsigned cpus;
	uint64_t memory;
};

static void metric_vm(struct metrics_text *t, const struct vm_sample *s)
{
	char err[256];
	json_object *st = NULL;
	uint64_t cpu_ns, rss;

	proc_usage(s->pid, &cpu_ns, &rss);
	metrics_printf(t, "shale_vm_cpu_seconds_total{vm=\"%s\"} %.6f\n", s->name,
		       (double)cpu_ns / 1e9);
	metrics_printf(t, "shale_vm_rss_bytes{vm=\"%s\"} %llu\n", s->name,
		       (unsigned long long)rss);
	if (vmmctl_call(s->run, s->pid, "stats", NULL, 1000, &st, err, sizeof(err)))
		return;
	metrics_vm_stats(t, s->name, st);
	json_object_put(st);
}

char *vms_metrics(struct shaled *d)
{
	struct metrics_text t = { 0 };
	struct vm_sample *s;
	size_t n;
	uint64_t vcpus, memory, requests, bad;

	pthread_mutex_lock(&d->lock);
	n = d->nr_vms;
	s = calloc(n + 1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct managed_vm *vm = d->vm[i];

		snprintf(s[i].name, sizeof(s[i].name), "%s", vm->def.name);
		snprintf(s[i].run, sizeof(s[i].run), "%s", vm->run);
		s[i].state = vm->state;
		s[i].pid = vm->pid;
		s[i].cpus = vm->def.cpus;
		s[i].memory = vm->def.memory_mib * MiB;
	}
	committed(d, &vcpus, &memory);
	requests = d->requests;
	bad = d->bad_requests;
	pthread_mutex_unlock(&d->lock);

	metrics_printf(&t, "# HELP shale_host_cpus Host CPUs.\n# TYPE shale_host_cpus gauge\n");
	metrics_printf(&t, "shale_host_cpus %u\n", d->host_cpus);
	metrics_printf(&t, "# HELP shale_host_memory_bytes Host RAM.\n"
			   "# TYPE shale_host_memory_bytes gauge\n");
	metrics_printf(&t, "shale_host_memory_bytes %llu\n", (unsigned long long)d->host_memory);
	metrics_printf(&t, "# HELP shale_committed_vcpus vCPUs of running and paused VMs.\n"
			   "# TYPE shale_committed_vcpus gauge\nshale_committed_vcpus %llu\n",
		       (unsigned long long)vcpus);
	metrics_printf(&t, "# HELP shale_committed_memory_bytes Guest RAM of running and paused VMs.\n"
			   "# TYPE shale_committed_memory_bytes gauge\n"
			   "shale_committed_memory_bytes %llu\n",
		       (unsigned long long)memory);
	metrics_printf(&t, "# HELP shale_api_requests_total API requests served.\n"
			   "# TYPE shale_api_requests_total counter\nshale_api_requests_total %llu\n",
		       (unsigned long long)requests);
	metrics_printf(&t, "# HELP shale_api_bad_requests_total API requests answered with 4xx.\n"
			   "# TYPE shale_api_bad_requests_total counter\n"
			   "shale_api_bad_requests_total %llu\n",
		       (unsigned long long)bad);
	metrics_printf(&t, "# HELP shale_vms VMs by state.\n# TYPE shale_vms gauge\n");
	for (size_t st = 0; st < ARRAY_SIZE(state_names); st++) {
		unsigned count = 0;

		for (size_t i = 0; i < n; i++)
			count += s[i].state == st;
		metrics_printf(&t, "shale_vms{state=\"%s\"} %u\n", state_names[st], count);
	}
	metrics_printf(&t, "# HELP shale_vm_up 1 while the VM runs or is paused.\n"
			   "# TYPE shale_vm_up gauge\n");
	for (size_t i = 0; i < n; i++)
		metrics_printf(&t, "shale_vm_up{vm=\"%s\",state=\"%s\"} %d\n", s[i].name,
			       state_names[s[i].state], is_live(s[i].state));
	metrics_printf(&t, "# HELP shale_vm_memory_bytes Guest RAM configured.\n"
			   "# TYPE shale_vm_memory_bytes gauge\n");
	for (size_t i = 0; i < n; i++)
		metrics_printf(&t, "shale_vm_memory_bytes{vm=\"%s\"} %llu\n", s[i].name,
			       (unsigned long long)s[i].memory);
	metrics_printf(&t, "# HELP shale_vm_cpu_seconds_total CPU time of the VM's VMM process.\n"
			   "# TYPE shale_vm_cpu_seconds_total counter\n"
			   "# HELP shale_vm_rss_bytes Resident memory of the VM's VMM process.\n"
			   "# TYPE shale_vm_rss_bytes gauge\n"
			   "# HELP shale_vm_exits_total VM exits by reason.\n"
			   "# TYPE shale_vm_exits_total counter\n");
	for (size_t i = 0; i < n; i++)
		if (is_live(s[i].state) && s[i].pid)
			metric_vm(&t, &s[i]);
	free(s);
	return t.buf;
}

/*
 * The last `max` bytes of a console log in the VMM's directory, however
 * large the file: a log is rotated at 1 MiB (vmm/conout.h). NULL if there
 * is none; one that is not a plain file of the VMM's own is refused.
 */
static char *read_log(const char *vm_name, const char *run, int dfd, const char *name,
		      size_t max, size_t *len)
{
	int ret = 0;
	char *text = dfd >= 0 ? vmmfile_read_tail(dfd, name, max, len, &ret) : NULL;

	if (!text && ret && ret != -ENOENT)
		log_err("%s: %s/%s is refused: %s", vm_name, run, name,
			ret == -ELOOP ? "it is a symbolic link" :
			ret == -EPERM ? "it is not a regular file of its own" :
					strerror(-ret));
	return text;
}

char *vms_logs(struct shaled *d, const char *name, size_t max, size_t *len, char *err,
	       size_t errlen)
{
	char dir[VM_RUN_MAX];
	char *old, *cur, *out;
	size_t old_len = 0, cur_len = 0, total, skip;
	struct managed_vm *vm;
	int dfd;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	if (vm)
		snprintf(dir, sizeof(dir), "%s", vm->run);
	pthread_mutex_unlock(&d->lock);
	if (!vm)
		return NULL;
	dfd = open_dir(dir);
	old = read_log(name, dir, dfd, "console.log.1", max, &old_len);
	cur = read_log(name, dir, dfd, "console.log", max, &cur_len);
	if (dfd >= 0)
		close(dfd);
	if (!old)
		old_len = 0;
	if (!cur)
		cur_len = 0;
	total = old_len + cur_len;
	skip = total > max ? total - max : 0;
	out = malloc(total - skip + 1);
	if (out) {
		size_t o = 0;

		if (skip < old_len) {
			memcpy(out, old + skip, old_len - skip);
			o = old_len - skip;
			skip = 0;
		} else {
			skip -= old_len;
		}
		memcpy(out + o, cur + skip, cur_len - skip);
		o += cur_len - skip;
		*len = o;
	}
	free(old);
	free(cur);
	return out;
}

int vms_console(struct shaled *d, const char *name, char *err, size_t errlen)
{
	struct managed_vm *vm;
	char dir[VM_RUN_MAX];
	pid_t pid = 0;
	bool live;

	pthread_mutex_lock(&d->lock);
	vm = find_or_fail(d, name, err, errlen);
	live = vm && is_live(vm->state);
	if (vm) {
		snprintf(dir, sizeof(dir), "%s", vm->run);
		pid = vm->pid;
	}
	if (vm && !live)
		fail(err, errlen, 0, "%s is %s", name, vm_state_name(vm->state));
	pthread_mutex_unlock(&d->lock);
	if (!vm)
		return -ENOENT;
	if (!live)
		return -EBUSY;
	return vmmctl_console(dir, pid, err, errlen);
}
