/*
 * The ELF loader over images built in memory: one good image, then one
 * defect at a time, each of which elf_parse() must refuse. Images live in
 * buffers of exactly their size so that the sanitizers catch any read past
 * the end.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loader/elf.h"
#include "../support/elfgen.h"

#define MIN_ADDR 0x100000ull
#define MAX_ADDR 0x400000ull
#define TEXT 0x100000ull
#define DATA 0x102000ull
#define ENTRY (TEXT + 0x10)

struct image {
	uint8_t *buf;
	size_t size;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

/* The byte at offset j of segment i's file contents. */
static uint8_t payload(unsigned i, uint64_t j)
{
	return (uint8_t)(0x11 * (i + 1) + j * 7);
}

/* An executable in a buffer of exactly its size (see elfgen_build()). */
static struct image build(const struct elfgen_seg *segs, unsigned n, uint64_t entry)
{
	struct image im;

	im.size = elfgen_size(segs, n);
	im.buf = calloc(1, im.size);
	assert_non_null(im.buf);
	im.eh = (Elf64_Ehdr *)im.buf;
	im.ph = (Elf64_Phdr *)(im.buf + sizeof(Elf64_Ehdr));
	elfgen_build(im.buf, ET_EXEC, segs, n, entry, payload);
	return im;
}

/* Text, data+bss, and two headers that load nothing. */
static const struct elfgen_seg good_segs[] = {
	{ PT_LOAD, PF_R | PF_X, TEXT, 0x1800, 0x200 },
	{ PT_NOTE, PF_R, 0, 0, 0x20 },
	{ PT_LOAD, PF_R | PF_W, DATA, 0x2000, 0x100 },
	{ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0 },
};

static struct image good(void)
{
	return build(good_segs, 4, ENTRY);
}

/* Parses `im` with the default limits, frees it, returns the result. */
static int parse_free(struct image im, const char **why)
{
	struct elf_image img;
	int ret;

	*why = NULL;
	ret = elf_parse(im.buf, im.size, MIN_ADDR, MAX_ADDR, &img, why);
	if (ret)
		assert_non_null(*why);
	free(im.buf);
	return ret;
}

static int parse_segs(const struct elfgen_seg *segs, unsigned n, uint64_t entry,
		      const char **why)
{
	return parse_free(build(segs, n, entry), why);
}

static void test_good(void **state)
{
	struct image im = good();
	struct elf_image img;
	const char *why = NULL;

	assert_int_equal(elf_parse(im.buf, im.size, MIN_ADDR, MAX_ADDR, &img, &why), 0);
	assert_int_equal(img.entry, ENTRY);
	assert_int_equal(img.nr_segs, 2);

	assert_int_equal(img.seg[0].vaddr, TEXT);
	assert_int_equal(img.seg[0].memsz, 0x1800);
	assert_int_equal(img.seg[0].filesz, 0x200);
	assert_int_equal(img.seg[0].offset, im.ph[0].p_offset);
	assert_int_equal(img.seg[0].prot, ELF_PROT_R | ELF_PROT_X);

	assert_int_equal(img.seg[1].vaddr, DATA);
	assert_int_equal(img.seg[1].memsz, 0x2000);
	assert_int_equal(img.seg[1].filesz, 0x100);
	assert_int_equal(img.seg[1].offset, im.ph[2].p_offset);
	assert_int_equal(img.seg[1].prot, ELF_PROT_R | ELF_PROT_W);

	assert_int_equal(img.lo, TEXT);
	assert_int_equal(img.hi, DATA + 0x2000);
	free(im.buf);
}

static void test_good_unaligned_span(void **state)
{
	/* Segments that start and end mid-page: lo and hi are page-rounded. */
	static const struct elfgen_seg segs[] = {
		{ PT_LOAD, PF_R, 0x203456, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, 0x101234, 0x100, 0x100 },
	};
	struct image im = build(segs, 2, 0x101234 + 0xff);
	struct elf_image img;
	const char *why;

	assert_int_equal(elf_parse(im.buf, im.size, MIN_ADDR, MAX_ADDR, &img, &why), 0);
	assert_int_equal(img.lo, 0x101000);
	assert_int_equal(img.hi, 0x204000);
	assert_int_equal(img.entry, 0x101234 + 0xff);
	free(im.buf);
}

static void test_segment_at_limits(void **state)
{
	/* [MIN_ADDR, MAX_ADDR) exactly is allowed. */
	static const struct elfgen_seg segs[] = {
		{ PT_LOAD, PF_R | PF_X, MIN_ADDR, MAX_ADDR - MIN_ADDR, 0x10 },
	};
	const char *why;

	assert_int_equal(parse_segs(segs, 1, MAX_ADDR - 1, &why), 0);
}

static void test_short_file(void **state)
{
	struct image im = good();
	struct elf_image img;
	const char *why;

	for (size_t n = 0; n < sizeof(Elf64_Ehdr); n++) {
		/* A copy of exactly n bytes, so a read past n is caught. */
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, im.buf, n);
		why = NULL;
		assert_int_equal(elf_parse(p, n, MIN_ADDR, MAX_ADDR, &img, &why), -EINVAL);
		assert_string_equal(why, "file too short for an ELF header");
		free(p);
	}
	/* Header complete, program headers cut off. */
	assert_int_equal(elf_parse(im.buf, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) * 3 + 1,
				   MIN_ADDR, MAX_ADDR, &img, &why), -EINVAL);
	assert_string_equal(why, "program headers lie outside the file");
	free(im.buf);
}

static void test_bad_ident(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.eh->e_ident[EI_MAG0] = 0x7e;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "not an ELF file");

	im = good();
	im.eh->e_ident[EI_MAG3] = 'G';
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "not a 64-bit ELF file");

	im = good();
	im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "not a little-endian ELF file");

	im = good();
	im.eh->e_ident[EI_VERSION] = 2;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_version = 0;
	assert_int_equal(parse_free(im, &why), -EINVAL);
}

static void test_bad_type(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.eh->e_machine = EM_386;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "not an x86-64 executable");

	im = good();
	im.eh->e_machine = EM_AARCH64;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_type = ET_DYN;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_non_null(strstr(why, "position-independent"));

	im = good();
	im.eh->e_type = ET_REL;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_type = ET_CORE;
	assert_int_equal(parse_free(im, &why), -EINVAL);
}

static void test_bad_phdr_table(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.eh->e_phentsize = sizeof(Elf32_Phdr);
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_phentsize = sizeof(Elf64_Phdr) + 8;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_phnum = 0;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_phnum = PN_XNUM;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_phoff = 4;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "misaligned program headers");
}

static void test_phdrs_beyond_file(void **state)
{
	struct image im;
	const char *why;

	/* Starting past the end. */
	im = good();
	im.eh->e_phoff = im.size + 8;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "program headers lie outside the file");

	/* Starting inside, ending outside. */
	im = good();
	im.eh->e_phoff = (im.size - sizeof(Elf64_Phdr) + 8) & ~7ull;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	/* More of them than the file holds. */
	im = good();
	im.eh->e_phnum = (uint16_t)(im.size / sizeof(Elf64_Phdr) + 1);
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.eh->e_phnum = PN_XNUM - 1;
	assert_int_equal(parse_free(im, &why), -EINVAL);
}

static void test_phoff_overflow(void **state)
{
	static const uint64_t offs[] = {
		SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - sizeof(Elf64_Phdr) + 1, (uint64_t)1 << 63,
		SIZE_MAX - 4 * sizeof(Elf64_Phdr) + 1,
	};
	const char *why;

	/* phoff + phnum * phentsize wraps around to a small number. */
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct image im = good();

		im.eh->e_phoff = offs[i];
		assert_int_equal(parse_free(im, &why), -EINVAL);
	}
}

static void test_filesz_gt_memsz(void **state)
{
	static const struct elfgen_seg segs[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x100, 0x101 },
	};
	const char *why;

	assert_int_equal(parse_segs(segs, 1, TEXT, &why), -EINVAL);
	assert_string_equal(why, "segment's file size exceeds its memory size");
}

static void test_segment_beyond_file(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.ph[0].p_offset = im.size - 0x1ff;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "segment lies outside the file");

	im = good();
	im.ph[0].p_offset = im.size + 1;
	im.ph[0].p_filesz = 0;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	/* offset + filesz wraps around. */
	im = good();
	im.ph[0].p_offset = UINT64_MAX - 0xff;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.ph[0].p_offset = 0x10;
	im.ph[0].p_filesz = UINT64_MAX - 0x8;
	im.ph[0].p_memsz = UINT64_MAX;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	/* Ending exactly at the end of the file is fine. */
	im = good();
	im.ph[0].p_offset = im.size - 0x200;
	assert_int_equal(parse_free(im, &why), 0);
}

static void test_vaddr_overflow(void **state)
{
	static const struct {
		uint64_t vaddr, memsz;
	} cases[] = {
		{ UINT64_MAX - 0xfff, 0x2000 },
		{ UINT64_MAX, 1 },
		{ 0x1000, UINT64_MAX },
		{ UINT64_MAX - 0x1000 + 1, 0x800 }, /* its page-rounded end wraps */
		{ UINT64_MAX - 0x800, 0x10 },
	};
	struct elf_image img;
	const char *why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct image im = good();

		im.ph[0].p_vaddr = cases[i].vaddr;
		im.ph[0].p_memsz = cases[i].memsz;
		im.ph[0].p_filesz = 0;
		im.eh->e_entry = cases[i].vaddr;
		why = NULL;
		/* No upper limit, so only overflow checks stand in the way. */
		assert_int_equal(elf_parse(im.buf, im.size, 0, UINT64_MAX, &img, &why), -EINVAL);
		assert_string_equal(why, "segment address overflows");
		free(im.buf);
	}
}

static void test_outside_limits(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.ph[0].p_vaddr = MIN_ADDR - 0x1000;
	im.eh->e_entry = MIN_ADDR - 0x1000;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "segment lies outside guest memory available to the image");

	im = good();
	im.ph[0].p_vaddr = MIN_ADDR - 1;
	im.eh->e_entry = MIN_ADDR;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.ph[2].p_vaddr = MAX_ADDR - 0x1000;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.ph[2].p_vaddr = MAX_ADDR - 0x2000 + 1;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.ph[2].p_vaddr = MAX_ADDR;
	im.ph[2].p_memsz = 1;
	im.ph[2].p_filesz = 1;
	assert_int_equal(parse_free(im, &why), -EINVAL);

	im = good();
	im.ph[2].p_vaddr = 0;
	assert_int_equal(parse_free(im, &why), -EINVAL);
}

static void test_wx(void **state)
{
	struct image im;
	const char *why;

	im = good();
	im.ph[0].p_flags = PF_R | PF_W | PF_X;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "segment is both writable and executable");

	im = good();
	im.ph[2].p_flags = PF_W | PF_X;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_string_equal(why, "segment is both writable and executable");
}

static void test_overlap(void **state)
{
	static const struct elfgen_seg overlap[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x3000, 0x10 },
		{ PT_LOAD, PF_R | PF_W, TEXT + 0x2000, 0x1000, 0x10 },
	};
	static const struct elfgen_seg same[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x1000, 0x10 },
		{ PT_LOAD, PF_R, TEXT, 0x1000, 0x10 },
	};
	static const struct elfgen_seg inside[] = {
		{ PT_LOAD, PF_R, TEXT + 0x1000, 0x100, 0x10 },
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x4000, 0x10 },
	};
	const char *why;

	assert_int_equal(parse_segs(overlap, 2, TEXT, &why), -EINVAL);
	assert_string_equal(why, "segments overlap or share a page");
	assert_int_equal(parse_segs(same, 2, TEXT, &why), -EINVAL);
	assert_int_equal(parse_segs(inside, 2, TEXT, &why), -EINVAL);
}

static void test_shared_page(void **state)
{
	/* Disjoint bytes, but one page would need both R-X and RW-. */
	static const struct elfgen_seg tail[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x800, 0x10 },
		{ PT_LOAD, PF_R | PF_W, TEXT + 0x800, 0x800, 0x10 },
	};
	static const struct elfgen_seg across[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x1001, 0x10 },
		{ PT_LOAD, PF_R | PF_W, TEXT + 0x1fff, 0x10, 0x10 },
	};
	/* Registered the other way round. */
	static const struct elfgen_seg reversed[] = {
		{ PT_LOAD, PF_R | PF_W, TEXT + 0x1fff, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x1001, 0x10 },
	};
	/* Adjacent pages are fine. */
	static const struct elfgen_seg adjacent[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0x1000, 0x10 },
		{ PT_LOAD, PF_R | PF_W, TEXT + 0x1000, 0x1000, 0x10 },
	};
	const char *why;

	assert_int_equal(parse_segs(tail, 2, TEXT, &why), -EINVAL);
	assert_string_equal(why, "segments overlap or share a page");
	assert_int_equal(parse_segs(across, 2, TEXT, &why), -EINVAL);
	assert_int_equal(parse_segs(reversed, 2, TEXT, &why), -EINVAL);
	assert_int_equal(parse_segs(adjacent, 2, TEXT, &why), 0);
}

static void test_dynamic(void **state)
{
	static const uint32_t types[] = { PT_INTERP, PT_DYNAMIC };
	struct image im;
	const char *why;

	for (size_t i = 0; i < 2; i++) {
		im = good();
		im.ph[1].p_type = types[i];
		assert_int_equal(parse_free(im, &why), -EINVAL);
		assert_string_equal(why, "dynamically linked (link with -static)");
	}
	im = good();
	im.ph[3].p_type = PT_TLS;
	assert_int_equal(parse_free(im, &why), -EINVAL);
	assert_non_null(strstr(why, "thread-local"));
}

static void test_no_load(void **state)
{
	static const struct elfgen_seg notes[] = {
		{ PT_NOTE, PF_R, 0, 0, 0x20 },
		{ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0 },
	};
	/* A PT_LOAD of size 0 loads nothing either. */
	static const struct elfgen_seg empty[] = {
		{ PT_LOAD, PF_R | PF_X, TEXT, 0, 0 },
	};
	const char *why;

	assert_int_equal(parse_segs(notes, 2, TEXT, &why), -EINVAL);
	assert_string_equal(why, "no loadable segments");
	assert_int_equal(parse_segs(empty, 1, TEXT, &why), -EINVAL);
	assert_string_equal(why, "no loadable segments");
}

static void test_entry(void **state)
{
	static const uint64_t bad[] = {
		0, TEXT - 1, TEXT + 0x1800, DATA, DATA + 0x10, MAX_ADDR, UINT64_MAX,
	};
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_segs(good_segs, 4, bad[i], &why), -EINVAL);
		assert_string_equal(why, "entry point is not in an executable segment");
	}
	assert_int_equal(parse_segs(good_segs, 4, TEXT, &why), 0);
	assert_int_equal(parse_segs(good_segs, 4, TEXT + 0x17ff, &why), 0);
}

static void test_segment_limit(void **state)
{
	struct elfgen_seg segs[ELF_MAX_SEGMENTS + 1];
	const char *why;

	for (unsigned i = 0; i < ELF_MAX_SEGMENTS + 1; i++)
		segs[i] = (struct elfgen_seg){ PT_LOAD, PF_R | PF_X, TEXT + i * 0x1000ull,
					       0x1000, 8 };
	assert_int_equal(parse_segs(segs, ELF_MAX_SEGMENTS, TEXT, &why), 0);
	assert_int_equal(parse_segs(segs, ELF_MAX_SEGMENTS + 1, TEXT, &why), -EINVAL);
	assert_string_equal(why, "too many loadable segments");
}

static void test_load(void **state)
{
	struct image im = good();
	struct elf_image img;
	struct gmem gm = { 0 };
	uint8_t *ram = calloc(1, MAX_ADDR);
	const char *why;

	assert_non_null(ram);
	assert_int_equal(gmem_add_region(&gm, 0, MAX_ADDR, ram), 0);
	assert_int_equal(elf_parse(im.buf, im.size, MIN_ADDR, MAX_ADDR, &img, &why), 0);
	assert_int_equal(elf_load(&img, im.buf, &gm), 0);

	/* File bytes where they belong; bss and everything else still zero. */
	for (uint64_t a = 0; a < MAX_ADDR; a++) {
		uint8_t want = 0;

		if (a >= TEXT && a < TEXT + 0x200)
			want = payload(0, a - TEXT);
		else if (a >= DATA && a < DATA + 0x100)
			want = payload(2, a - DATA);
		if (ram[a] != want)
			fail_msg("byte at 0x%llx is 0x%02x, want 0x%02x",
				 (unsigned long long)a, ram[a], want);
	}
	free(ram);
	free(im.buf);
}

static void test_load_too_small(void **state)
{
	struct image im = good();
	struct elf_image img;
	struct gmem gm = { 0 };
	/* Room for the text segment, not for all of the data segment's bss. */
	size_t size = DATA + 0x1000;
	uint8_t *ram = calloc(1, size);
	const char *why;

	assert_non_null(ram);
	assert_int_equal(gmem_add_region(&gm, 0, size, ram), 0);
	assert_int_equal(elf_parse(im.buf, im.size, MIN_ADDR, MAX_ADDR, &img, &why), 0);
	assert_int_equal(elf_load(&img, im.buf, &gm), -EFAULT);
	free(ram);
	free(im.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_good_unaligned_span),
		cmocka_unit_test(test_segment_at_limits),
		cmocka_unit_test(test_short_file),
		cmocka_unit_test(test_bad_ident),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_bad_phdr_table),
		cmocka_unit_test(test_phdrs_beyond_file),
		cmocka_unit_test(test_phoff_overflow),
		cmocka_unit_test(test_filesz_gt_memsz),
		cmocka_unit_test(test_segment_beyond_file),
		cmocka_unit_test(test_vaddr_overflow),
		cmocka_unit_test(test_outside_limits),
		cmocka_unit_test(test_wx),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_shared_page),
		cmocka_unit_test(test_dynamic),
		cmocka_unit_test(test_no_load),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_segment_limit),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_too_small),
	};

	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
