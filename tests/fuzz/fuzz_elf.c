/*
 * elf_parse() over arbitrary bytes. Whatever it accepts must keep the
 * promises the x86 set-up relies on: segments inside the file and inside
 * [min, max), none writable and executable, no page shared by two
 * segments, the entry point in an executable segment. An accepted image
 * is then loaded into fake guest RAM the size of the limit.
 */
#include <string.h>

#include <shale/abi/hypercall.h>

#include "fuzz.h"
#include "loader/elf.h"

#define PAGE 4096ull
#define MIN_ADDR ((uint64_t)SHALE_IMAGE_BASE)
#define MAX_ADDR (16ull << 20)

static uint64_t page_down(uint64_t x)
{
	return x & ~(PAGE - 1);
}

static uint64_t page_up(uint64_t x)
{
	return (x + PAGE - 1) & ~(PAGE - 1);
}

static void check_image(const struct elf_image *img, size_t size, uint64_t min, uint64_t max)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	int entry_ok = 0;

	FUZZ_CHECK(img->nr_segs >= 1 && img->nr_segs <= ELF_MAX_SEGMENTS);
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct elf_segment *s = &img->seg[i];

		FUZZ_CHECK(s->memsz > 0);
		FUZZ_CHECK(s->filesz <= s->memsz);
		FUZZ_CHECK(s->offset <= size && s->filesz <= size - s->offset);
		FUZZ_CHECK(s->vaddr >= min);
		FUZZ_CHECK(s->vaddr + s->memsz > s->vaddr);
		FUZZ_CHECK(s->vaddr + s->memsz <= max);
		/* Rounding the end up to a page must not wrap either. */
		FUZZ_CHECK(page_up(s->vaddr + s->memsz) > s->vaddr);
		FUZZ_CHECK(!((s->prot & ELF_PROT_W) && (s->prot & ELF_PROT_X)));
		FUZZ_CHECK(!(s->prot & ~(ELF_PROT_R | ELF_PROT_W | ELF_PROT_X)));

		for (unsigned j = 0; j < i; j++) {
			const struct elf_segment *o = &img->seg[j];

			FUZZ_CHECK(page_up(s->vaddr + s->memsz) <= page_down(o->vaddr) ||
				   page_up(o->vaddr + o->memsz) <= page_down(s->vaddr));
		}
		if (page_down(s->vaddr) < lo)
			lo = page_down(s->vaddr);
		if (page_up(s->vaddr + s->memsz) > hi)
			hi = page_up(s->vaddr + s->memsz);
		if ((s->prot & ELF_PROT_X) && img->entry >= s->vaddr &&
		    img->entry - s->vaddr < s->memsz)
			entry_ok = 1;
	}
	FUZZ_CHECK(img->lo == lo);
	FUZZ_CHECK(img->hi == hi);
	FUZZ_CHECK(entry_ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct gmem gm;
	struct elf_image img;
	const char *why;

	if (!ram) {
		/* Allocated, not mapped, so the sanitizers see its bounds. */
		ram = malloc(MAX_ADDR);
		if (!ram || gmem_add_region(&gm, 0, MAX_ADDR, ram))
			abort();
	}

	/* No limits at all: only the overflow checks stand in the way. */
	why = NULL;
	if (elf_parse(data, size, 0, UINT64_MAX, &img, &why) == 0)
		check_image(&img, size, 0, UINT64_MAX);
	else
		FUZZ_CHECK(why && *why);

	why = NULL;
	if (elf_parse(data, size, MIN_ADDR, MAX_ADDR, &img, &why)) {
		FUZZ_CHECK(why && *why);
		return 0;
	}
	check_image(&img, size, MIN_ADDR, MAX_ADDR);

	FUZZ_CHECK(elf_load(&img, data, &gm) == 0);
	for (unsigned i = 0; i < img.nr_segs; i++) {
		const struct elf_segment *s = &img.seg[i];

		FUZZ_CHECK(memcmp(ram + s->vaddr, data + s->offset, s->filesz) == 0);
	}
	return 0;
}
