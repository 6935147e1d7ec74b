#include "loader/image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int image_map(const char *path, const char *what, size_t max, struct image *img)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		log_err("%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		log_err("%s: not a regular file", path);
	} else if (st.st_size == 0 || (uint64_t)st.st_size > max) {
		ret = -EINVAL;
		log_err("%s: not %s shale can run: %s", path, what,
			st.st_size ? "too large" : "empty file");
	} else {
		img->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (img->map == MAP_FAILED) {
			ret = -errno;
			img->map = NULL;
			log_err("%s: %s", path, strerror(errno));
		} else {
			img->data = img->map;
			img->size = (size_t)st.st_size;
			img->fd = fd;
			return 0;
		}
	}
	close(fd);
	return ret;
}

void image_unmap(struct image *img)
{
	if (img->map) {
		munmap(img->map, img->size);
		close(img->fd);
	}
	img->map = NULL;
}

int image_shrank(const struct image *img)
{
	struct stat st;

	if (!img->map)
		return 0;
	if (fstat(img->fd, &st) < 0)
		return -errno;
	return (uint64_t)st.st_size < img->size;
}

bool image_contains(const struct image *img, const uint8_t *src, size_t len)
{
	uintptr_t start = (uintptr_t)img->data, at = (uintptr_t)src;

	return img->map && at >= start && len <= img->size && at - start <= img->size - len;
}

int image_read(const struct image *img, void *dst, const uint8_t *src, size_t len)
{
	size_t done = 0;

	if (!image_contains(img, src, len))
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(img->fd, (uint8_t *)dst + done, len - done,
				  (off_t)(src - img->data + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank since it was mapped */
		done += (size_t)n;
	}
	return 0;
}
