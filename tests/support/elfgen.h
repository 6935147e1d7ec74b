/*
 * Builds small static x86-64 ELF images in memory, for the ELF loader's
 * unit tests and the fuzz seed corpus. Host-side test code only.
 */
#ifndef SHALE_TESTS_ELFGEN_H
#define SHALE_TESTS_ELFGEN_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* One program header. Its filesz bytes of contents follow the headers. */
struct elfgen_seg {
	uint32_t type;
	uint32_t flags;
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t filesz;
};

/* The byte at offset `off` of segment `seg`'s file contents. */
typedef uint8_t elfgen_byte_fn(unsigned seg, uint64_t off);

/*
 * An ELF header of `type` (ET_EXEC, ET_DYN, ...) for x86-64, with `phnum`
 * program headers right after it. Every field not named here is zero.
 */
void elfgen_ehdr(Elf64_Ehdr *eh, uint16_t type, uint64_t entry, unsigned phnum);

/* The size of the image elfgen_build() writes for these segments. */
size_t elfgen_size(const struct elfgen_seg *segs, unsigned n);

/*
 * Writes the ELF header, the n program headers, then each segment's file
 * bytes in order into `buf`, which holds at least elfgen_size(segs, n)
 * bytes. A segment without file bytes gets offset 0; every segment has
 * p_paddr = p_vaddr and 4 KiB alignment. The result is a valid static
 * executable when `segs` is sane. Returns its size.
 */
size_t elfgen_build(uint8_t *buf, uint16_t type, const struct elfgen_seg *segs, unsigned n,
		    uint64_t entry, elfgen_byte_fn *byte);

#endif
