/*
 * Guest memory. A guest physical address is a number (gpa_t), never a
 * pointer: gmem_ptr() is the only way from a guest address to host memory,
 * and it checks overflow, bounds and that the whole range lies inside one
 * region. Nothing else in shale touches guest RAM.
 */
#ifndef SHALE_VMM_GMEM_H
#define SHALE_VMM_GMEM_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t gpa_t;

#define GMEM_MAX_REGIONS 4

struct gmem_region {
	gpa_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct gmem {
	struct gmem_region region[GMEM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_size; /* sum of region sizes */
};

/*
 * Adds a region backed by `host` (already mapped). Regions must not
 * overlap. Returns 0 or -EINVAL / -ENOSPC.
 */
int gmem_add_region(struct gmem *gm, gpa_t gpa, uint64_t size, void *host);

/*
 * Host pointer for [gpa, gpa + len), or NULL when any byte of the range is
 * not guest RAM or the range crosses a region boundary. len may be 0 (the
 * address itself must still be inside RAM or at the end of a region).
 */
void *gmem_ptr(const struct gmem *gm, gpa_t gpa, uint64_t len);

/* Copies between guest and host memory; false when the range is bad. */
bool gmem_read(const struct gmem *gm, void *dst, gpa_t src, uint64_t len);
bool gmem_write(const struct gmem *gm, gpa_t dst, const void *src, uint64_t len);

#endif
