/*
 * What shaled reads from the directory it hands to a VMM (STATE/vms/NAME/run):
 * a VMM taken over by its guest writes there whatever it likes, symbolic
 * links, FIFOs and hard links included, so every file is opened without
 * following a link and checked to be a plain file of its own, and the
 * exit record is parsed strictly, with a size cap.
 */
#ifndef SHALE_DAEMON_VMMFILE_H
#define SHALE_DAEMON_VMMFILE_H

#include <stdbool.h>
#include <stddef.h>

/* A larger exit record is refused: the VMM writes about 100 bytes. */
#define VMMFILE_EXIT_MAX 4096

/* The VMM's stop record: {"reason":R,"status":S,"message":M}, nothing else. */
struct vmm_exit {
	char reason[16];  /* one of vm_stop_reason_name()'s (vmm/vm.c) */
	int status;       /* what `shale run` exited with, 0-255 */
	char message[512]; /* truncated; control characters replaced by '?' */
};

/*
 * Parses an exit record of `len` bytes (not NUL-terminated). 0, or
 * -EINVAL / -EFBIG with one sentence in err saying what is wrong with it.
 * Pure: unit tested and fuzzed (fuzz_exitrec).
 */
int vmmfile_exit_parse(const char *text, size_t len, struct vmm_exit *out, char *err,
		       size_t errlen);

/*
 * Opens NAME in the directory `dirfd` for reading: not through a symbolic
 * link (O_NOFOLLOW), without blocking on a FIFO (O_NONBLOCK), and only if
 * it is a regular file with one link (a hard link to a host file is not
 * the VMM's). A descriptor, or -errno: -ENOENT when there is none,
 * -ELOOP for a link, -EPERM for anything else that is not such a file.
 */
int vmmfile_open(int dirfd, const char *name);

/*
 * The last `max` bytes of NAME in `dirfd` (opened as vmmfile_open() does),
 * NUL-terminated, malloc'd, its length in *len; NULL with -errno in *ret.
 */
char *vmmfile_read_tail(int dirfd, const char *name, size_t max, size_t *len, int *ret);

/* Whether NAME in `dirfd` is, if it exists, a regular file with one link. */
bool vmmfile_plain_or_absent(int dirfd, const char *name);

#endif
