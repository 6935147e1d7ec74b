/*
 * A guest image, kernel or initrd given on the command line: mapped
 * read-only for the loaders to parse, and kept open so that its bulk can be
 * read straight into guest RAM.
 */
#ifndef SHALE_LOADER_IMAGE_H
#define SHALE_LOADER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image {
	const uint8_t *data;
	size_t size;
	void *map; /* non-NULL when mapped from a file */
	int fd;    /* the file, open while mapped */
};

/*
 * Maps a whole file read-only, for parsing, and keeps it open, for
 * image_read(); `what` names it in messages.
 */
int image_map(const char *path, const char *what, size_t max, struct image *img);
void image_unmap(struct image *img);
/*
 * Whether the file is now shorter than when it was mapped: reading the
 * mapping past its new end would raise SIGBUS, so a caller about to parse
 * it again (a reboot) checks first. -errno if fstat() fails.
 */
int image_shrank(const struct image *img);
/* Whether [src, src + len) lies inside img->data. */
bool image_contains(const struct image *img, const uint8_t *src, size_t len);
/*
 * Reads the `len` bytes at `src`, inside img->data, from the file into
 * `dst`: a loader that copies with this moves the bytes straight from the
 * page cache into guest RAM, and the VMM never maps the file's pages.
 * 0, -EIO (the file shrank) or -errno.
 */
int image_read(const struct image *img, void *dst, const uint8_t *src, size_t len);

#endif
