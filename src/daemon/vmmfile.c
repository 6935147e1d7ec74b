#include "daemon/vmmfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/json.h"

static const char *const exit_reasons[] = {
	"exit", "poweroff", "reset", "crash", "timeout", "signal", "quit", "error", "killed",
};

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

static int parse_fields(json_object *root, struct vmm_exit *out, char *err, size_t errlen)
{
	json_object *reason = NULL, *status = NULL, *message = NULL;
	const char *r, *m;
	size_t mlen, o = 0;
	int64_t s;
	bool known = false;

	if (!json_object_is_type(root, json_type_object))
		return fail(err, errlen, -EINVAL, "not a JSON object");
	json_object_object_foreach(root, key, val)
	{
		if (!strcmp(key, "reason"))
			reason = val;
		else if (!strcmp(key, "status"))
			status = val;
		else if (!strcmp(key, "message"))
			message = val;
		else
			return fail(err, errlen, -EINVAL, "unknown field '%.32s'", key);
	}
	if (!reason || !json_object_is_type(reason, json_type_string))
		return fail(err, errlen, -EINVAL, "reason: want a string");
	if (!status || !json_object_is_type(status, json_type_int))
		return fail(err, errlen, -EINVAL, "status: want an integer");
	if (!message || !json_object_is_type(message, json_type_string))
		return fail(err, errlen, -EINVAL, "message: want a string");
	r = json_object_get_string(reason);
	for (size_t i = 0; i < sizeof(exit_reasons) / sizeof(exit_reasons[0]) && !known; i++)
		known = (size_t)json_object_get_string_len(reason) == strlen(exit_reasons[i]) &&
			!strcmp(r, exit_reasons[i]);
	if (!known)
		return fail(err, errlen, -EINVAL, "reason: not one the VMM gives");
	s = json_object_get_int64(status);
	if (s < 0 || s > 255)
		return fail(err, errlen, -EINVAL, "status: want 0-255");
	snprintf(out->reason, sizeof(out->reason), "%s", r);
	out->status = (int)s;
	/* The message may quote the guest (a kernel panic's line): printable only. */
	m = json_object_get_string(message);
	mlen = (size_t)json_object_get_string_len(message);
	for (size_t i = 0; i < mlen && o + 1 < sizeof(out->message); i++) {
		unsigned char c = (unsigned char)m[i];

		out->message[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out->message[o] = '\0';
	return 0;
}

int vmmfile_exit_parse(const char *text, size_t len, struct vmm_exit *out, char *err,
		       size_t errlen)
{
	json_object *root;
	char why[128];
	int ret;

	*out = (struct vmm_exit){ .status = -1 };
	if (len > VMMFILE_EXIT_MAX)
		return fail(err, errlen, -EFBIG, "larger than %d bytes", VMMFILE_EXIT_MAX);
	root = json_parse_whole(text, len, 2, 0, why, sizeof(why));
	if (!root)
		return fail(err, errlen, -EINVAL, "bad JSON: %s", why);
	ret = parse_fields(root, out, err, errlen);
	json_object_put(root);
	if (ret)
		*out = (struct vmm_exit){ .status = -1 };
	return ret;
}

int vmmfile_open(int dirfd, const char *name)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

bool vmmfile_plain_or_absent(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT;
	return S_ISREG(st.st_mode) && st.st_nlink == 1;
}

char *vmmfile_read_tail(int dirfd, const char *name, size_t max, size_t *len, int *ret)
{
	int fd = vmmfile_open(dirfd, name);
	struct stat st;
	size_t size, want, got = 0;
	off_t off;
	char *buf;

	if (fd < 0) {
		*ret = fd;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*ret = -errno;
		close(fd);
		return NULL;
	}
	size = st.st_size > 0 ? (size_t)st.st_size : 0;
	want = size < max ? size : max;
	off = (off_t)(size - want);
	buf = malloc(want + 1);
	*ret = buf ? 0 : -ENOMEM;
	while (buf && got < want) {
		ssize_t n = pread(fd, buf + got, want - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*ret = -errno;
			free(buf);
			buf = NULL;
		} else if (n == 0) {
			break; /* it shrank meanwhile */
		} else {
			got += (size_t)n;
		}
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[got] = '\0';
	*len = got;
	return buf;
}
