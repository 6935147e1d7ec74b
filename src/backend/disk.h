/*
 * Host disk back end: a raw image file or a host block device, shared by
 * the para-virtual block calls and virtio-blk. Opening checks and locks
 * the disk; the I/O calls move data between the disk and host memory
 * (guest RAM already translated by the caller) and resume short
 * transfers. Safe from several threads at once: they keep no offset.
 */
#ifndef SHALE_BACKEND_DISK_H
#define SHALE_BACKEND_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_SECTOR 512u

struct disk {
	int fd;
	uint64_t capacity; /* bytes, a multiple of DISK_SECTOR */
	bool readonly;
	const char *path; /* for messages; the caller's string */
};

/*
 * Opens `path` read-only or read-write, takes an flock (shared for
 * read-only, else exclusive: two VMs writing one image corrupt it) and
 * reads its size. `what` names the flag in messages ("--disk").
 * 0, or -errno with one line logged.
 */
int disk_open(struct disk *d, const char *path, bool readonly, const char *what);
void disk_close(struct disk *d);

/*
 * Whole transfers at byte offset `off`: the full length of the vector
 * or an error (a one-buffer vector with pread/pwrite, which every thread
 * may call; more with preadv/pwritev, which only I/O threads may). -EIO for an end of file before the end (a file shrunk
 * under the VM), else -errno. The range must lie inside the capacity;
 * the caller checks.
 */
int disk_preadv(const struct disk *d, const struct iovec *iov, unsigned nr, uint64_t off);
int disk_pwritev(const struct disk *d, const struct iovec *iov, unsigned nr, uint64_t off);
/* fdatasync. */
int disk_flush(const struct disk *d);
/*
 * Deallocates [off, off + len) (reads as zeros afterwards where the host
 * supports it); -EOPNOTSUPP where the file system cannot.
 */
int disk_discard(const struct disk *d, uint64_t off, uint64_t len);
/* Makes [off, off + len) read as zeros: by ZERO_RANGE, else by writing. */
int disk_write_zeroes(const struct disk *d, uint64_t off, uint64_t len);

#endif
