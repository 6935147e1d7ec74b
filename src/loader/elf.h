/*
 * Validating loader for static ELF64 x86-64 guest images. elf_parse() is a
 * pure function over an untrusted buffer (unit tested and fuzzed); it
 * rejects anything it does not understand. elf_load() then copies the
 * checked segments into guest memory.
 */
#ifndef SHALE_LOADER_ELF_H
#define SHALE_LOADER_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/gmem.h"

#define ELF_MAX_SEGMENTS 16

#define ELF_PROT_R 0x1u
#define ELF_PROT_W 0x2u
#define ELF_PROT_X 0x4u

struct elf_segment {
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t offset;
	uint64_t filesz;
	unsigned prot; /* ELF_PROT_* */
};

struct elf_image {
	uint64_t entry;
	uint64_t lo, hi; /* page-aligned span of all segments */
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	unsigned nr_segs;
};

/*
 * Checks `buf` and describes it in `img`. Every segment must lie in
 * [min_addr, max_addr). Returns 0, or -EINVAL with *why set to a sentence
 * fragment naming the problem.
 */
int elf_parse(const uint8_t *buf, size_t size, uint64_t min_addr, uint64_t max_addr,
	      struct elf_image *img, const char **why);

/*
 * The same for kernels: ELF_PHYSICAL places segments at their physical
 * addresses (p_paddr) and accepts an entry point anywhere (PVH enters
 * through a note); ELF_ALLOW_WX accepts writable+executable segments, which
 * a kernel maps itself.
 */
#define ELF_PHYSICAL 0x1u
#define ELF_ALLOW_WX 0x2u
int elf_parse_flags(const uint8_t *buf, size_t size, uint64_t min_addr, uint64_t max_addr,
		    unsigned flags, struct elf_image *img, const char **why);

/* Whether addr lies in an executable segment of the parsed image. */
bool elf_contains_exec(const struct elf_image *img, uint64_t addr);

/* Finds the ELF note (name, type) in the PT_NOTE segments. 0 or -ENOENT. */
int elf_find_note(const uint8_t *buf, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len);

/*
 * How a loader moves file contents into guest RAM: copies the `len` bytes
 * that start at `src`, inside the buffer it parsed, to `dst` in guest RAM.
 * Returns 0 or -errno. A caller that has the file open reads the bytes
 * straight from it (no copy through a mapping whose pages the VMM would
 * otherwise fault in and keep); NULL means memcpy from the buffer.
 */
typedef int loader_fill_fn(void *dst, const uint8_t *src, size_t len, void *opaque);

/*
 * Copies the segments of a parsed image, through `fill` (NULL: memcpy);
 * guest RAM must be zero-filled. 0, -EFAULT (outside guest RAM) or what
 * `fill` returned.
 */
int elf_load_fill(const struct elf_image *img, const uint8_t *buf, const struct gmem *gm,
		  loader_fill_fn *fill, void *opaque);
int elf_load(const struct elf_image *img, const uint8_t *buf, const struct gmem *gm);

#endif
