#include "backend/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int disk_open(struct disk *d, const char *path, bool readonly, const char *what)
{
	struct stat st;
	uint64_t size;
	int fd, ret;

	d->fd = -1;
	fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			log_err("%s %s: %s", what, path, strerror(errno));
			goto fail;
		}
	} else {
		ret = -EINVAL;
		log_err("%s %s: not a regular file or block device", what, path);
		goto fail;
	}
	if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		ret = -errno;
		log_err("%s %s: %s", what, path,
			errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
		goto fail;
	}
	if (size % DISK_SECTOR)
		log_err("%s %s: size is not a multiple of %u; the last %llu bytes are "
			"not visible to the guest", what, path, DISK_SECTOR,
			(unsigned long long)(size % DISK_SECTOR));
	d->fd = fd;
	d->capacity = ALIGN_DOWN(size, (uint64_t)DISK_SECTOR);
	d->readonly = readonly;
	d->path = path;
	return 0;
fail:
	close(fd);
	return ret;
}

void disk_close(struct disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

#define DISK_MAX_IOV 1024

/* Drops the first `done` bytes of a private copy of the vector. */
static unsigned iov_advance(struct iovec *iov, unsigned nr, size_t done, unsigned *first)
{
	unsigned i = *first;

	while (i < nr && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		i++;
	}
	if (i < nr) {
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	*first = i;
	return nr - i;
}

static int rw_full(const struct disk *d, const struct iovec *src, unsigned nr, uint64_t off,
		   bool write)
{
	struct iovec iov[DISK_MAX_IOV];
	unsigned first = 0;

	if (nr > DISK_MAX_IOV)
		return -EINVAL;
	memcpy(iov, src, nr * sizeof(*iov));
	while (iov_advance(iov, nr, 0, &first)) {
		ssize_t n;

		/* One buffer left: pread/pwrite (the vCPU's filter has no preadv). */
		if (nr - first == 1)
			n = write ? pwrite(d->fd, iov[first].iov_base, iov[first].iov_len, (off_t)off)
				  : pread(d->fd, iov[first].iov_base, iov[first].iov_len, (off_t)off);
		else
			n = write ? pwritev(d->fd, iov + first, (int)(nr - first), (off_t)off)
				  : preadv(d->fd, iov + first, (int)(nr - first), (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		iov_advance(iov, nr, (size_t)n, &first);
	}
	return 0;
}

int disk_preadv(const struct disk *d, const struct iovec *iov, unsigned nr, uint64_t off)
{
	return rw_full(d, iov, nr, off, false);
}

int disk_pwritev(const struct disk *d, const struct iovec *iov, unsigned nr, uint64_t off)
{
	if (d->readonly)
		return -EROFS;
	return rw_full(d, iov, nr, off, true);
}

int disk_flush(const struct disk *d)
{
	return fdatasync(d->fd) ? -errno : 0;
}

int disk_discard(const struct disk *d, uint64_t off, uint64_t len)
{
	if (d->readonly)
		return -EROFS;
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return -errno;
	return 0;
}

int disk_write_zeroes(const struct disk *d, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * KiB];

	if (d->readonly)
		return -EROFS;
	if (!fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	while (len) {
		struct iovec iov = { (void *)zeros, (size_t)MIN(len, (uint64_t)sizeof(zeros)) };
		int ret = rw_full(d, &iov, 1, off, true);

		if (ret)
			return ret;
		off += iov.iov_len;
		len -= iov.iov_len;
	}
	return 0;
}
