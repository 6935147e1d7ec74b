#include "vmm/gmem.h"

#include <errno.h>
#include <string.h>

int gmem_add_region(struct gmem *gm, gpa_t gpa, uint64_t size, void *host)
{
	if (!size || gpa + size < gpa || !host)
		return -EINVAL;
	if (gm->nr_regions == GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->region[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	gm->region[gm->nr_regions++] = (struct gmem_region){
		.gpa = gpa, .size = size, .host = host,
	};
	gm->ram_size += size;
	return 0;
}

void *gmem_ptr(const struct gmem *gm, gpa_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written so that no sum can wrap around. */
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

bool gmem_read(const struct gmem *gm, void *dst, gpa_t src, uint64_t len)
{
	const void *p = gmem_ptr(gm, src, len);

	if (!p)
		return false;
	memcpy(dst, p, len);
	return true;
}

bool gmem_write(const struct gmem *gm, gpa_t dst, const void *src, uint64_t len)
{
	void *p = gmem_ptr(gm, dst, len);

	if (!p)
		return false;
	memcpy(p, src, len);
	return true;
}
