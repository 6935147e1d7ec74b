/*
 * linux_load() over an arbitrary kernel file: a bzImage setup header or an
 * ELF vmlinux with a PVH note, as `shale run --kernel` takes from the
 * user. The input is
 *
 *   byte 0      guest RAM: 16 MiB + 2 MiB * n for n < 248, else one of
 *               big_mem[] (around the PCI hole, and far above it)
 *   byte 1      initrd: bit 0 one is given; bit 1 its size is at least
 *               the guest's RAM (it must be refused); bit 2: reading the
 *               files fails (the load must then fail, and say so)
 *   bytes 2-4   initrd size, little-endian (modulo 64 KiB, or added
 *               to the RAM size when bit 1 is set)
 *   bytes 5-6   command line length, little-endian (low 13 bits)
 *   bytes 7-    the kernel file
 *
 * linux_load() runs first as the CLI's check (no guest memory), then into
 * fake guest RAM laid out as vm_add_ram() lays it out. The two must agree;
 * what a successful load leaves in guest RAM must be what the boot
 * protocol promises the kernel: a memory map of the guest's RAM, the
 * command line and initrd where the boot structures say they are, the
 * kernel where it was asked to go. A refusal must say why. The bytes of
 * the kernel and initrd reach guest RAM through a fill function, as the
 * CLI's pread() does: it must only be asked for ranges of those two files,
 * into guest RAM.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/linux.h"
#include "fuzz.h"
#include "loader/elf.h"
#include "util/util.h"

#define HEADER 7
#define INITRD_MAX (64u << 10)
#define CMDLINE_LEN_MASK 0x1fffu
#define RSDP_GPA 0xe0000ull
#define PAGE 4096ull

#define F_INITRD 0x1u
#define F_INITRD_HUGE 0x2u
#define F_READ_FAILS 0x4u

/* boot_params and setup header offsets (Linux boot protocol 2.15). */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define HDR_SETUP_SECTS 0x1f1
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_XLOADFLAGS 0x236
#define HDR_INIT_SIZE 0x260
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02

/* hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). */
#define PVH_MAGIC 0x336ec578u
#define SI_SIZE 0x800
#define SI_NR_MODULES 12
#define SI_MODLIST 16
#define SI_CMDLINE 24
#define SI_RSDP 32
#define SI_MEMMAP 40
#define SI_MEMMAP_ENTRIES 48

#define E820_RAM 1
#define E820_RESERVED 2

static const uint64_t big_mem[8] = {
	3 * GiB - 2 * MiB, 3 * GiB, 3 * GiB + 2 * MiB, 4 * GiB,
	4 * GiB + 2 * MiB, 8 * GiB, 64 * GiB, 1024 * GiB,
};

static uint8_t *initrd_data; /* INITRD_MAX bytes of a pattern */
static bool fill_fails;      /* checked_fill() returns -EIO */
static uint64_t initrd_gpa;  /* where the last load put it */

/*
 * Guest RAM as vm_add_ram(size, 3 GiB, 4 GiB) maps it, between guard pages.
 * One mapping serves every input of the same size, and what a load wrote
 * is zeroed after it: a fresh mapping, or dropping the pages, costs more
 * than all the rest of an input.
 */
static struct {
	uint8_t *map;
	size_t map_size;
	uint64_t size;
	struct gmem gm;
} ram;

/* Zeroed guest RAM of `size` bytes; false when the host has no room. */
static bool ram_get(uint64_t size)
{
	uint64_t low = MIN(size, LINUX_LOW_RAM_MAX);
	uint8_t *host;

	if (ram.map && ram.size == size)
		return true;
	if (ram.map)
		munmap(ram.map, ram.map_size);
	memset(&ram, 0, sizeof(ram));
	ram.map_size = size + 2 * PAGE;
	ram.map = mmap(NULL, ram.map_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram.map == MAP_FAILED) {
		ram.map = NULL;
		return false;
	}
	ram.size = size;
	host = ram.map + PAGE;
	if (mprotect(host, size, PROT_READ | PROT_WRITE))
		abort();
	/* An input touches a few pages: zeroing 2 MiB for each would be slow. */
	madvise(host, size, MADV_NOHUGEPAGE);
	if (gmem_add_region(&ram.gm, 0, low, host))
		abort();
	if (size > low && gmem_add_region(&ram.gm, LINUX_HIGH_RAM_GPA, size - low, host + low))
		abort();
	return true;
}

static bool within(const void *p, size_t len, const void *base, size_t size)
{
	uintptr_t at = (uintptr_t)p, start = (uintptr_t)base;

	return at >= start && len <= size && at - start <= size - len;
}

/* linux_boot.fill: checks its contract, then copies (or fails, if asked to). */
static int checked_fill(void *dst, const uint8_t *src, size_t len, void *opaque)
{
	const struct linux_boot *lb = opaque;

	FUZZ_CHECK(within(src, len, lb->kernel, lb->kernel_size) ||
		   (lb->initrd && within(src, len, lb->initrd, lb->initrd_size)));
	FUZZ_CHECK(within(dst, len, ram.map + PAGE, ram.size));
	if (fill_fails)
		return -EIO;
	memcpy(dst, src, len);
	return 0;
}

/* Zeroes [gpa, gpa + len), clipped to the first RAM region. */
static void ram_zero(uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = &ram.gm.region[0];

	if (gpa >= r->size)
		return;
	memset(r->host + gpa, 0, MIN(len, r->size - gpa));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* RAM at [gpa, gpa + len), all of it. */
static bool in_ram(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(gm, gpa, len) != NULL;
}

/*
 * A memory map, e820 or PVH: 1 to 128 entries, each non-empty and inside
 * guest RAM, in order without overlap, RAM or reserved, adding up to the
 * guest's RAM (the BIOS hole at 640 KiB is RAM reported reserved).
 */
static void check_map(const struct gmem *gm, const uint8_t *map, unsigned n, unsigned stride,
		      uint64_t mem_size)
{
	uint64_t sum = 0, prev_end = 0;

	FUZZ_CHECK(n >= 1 && n <= BP_E820_MAX);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = map + i * stride;
		uint64_t addr = get64(e), size = get64(e + 8);
		uint32_t type = get32(e + 16);

		FUZZ_CHECK(size > 0 && addr + size > addr);
		FUZZ_CHECK(in_ram(gm, addr, size));
		FUZZ_CHECK(addr >= prev_end);
		FUZZ_CHECK(type == E820_RAM || type == E820_RESERVED);
		prev_end = addr + size;
		sum += size;
	}
	FUZZ_CHECK(sum == mem_size);
}

/* The command line, NUL included, at the address the kernel is given. */
static void check_cmdline(const struct gmem *gm, uint64_t gpa, const char *cmdline)
{
	size_t len = strlen(cmdline) + 1;
	const char *p = gmem_ptr(gm, gpa, len);

	FUZZ_CHECK(gpa == LINUX_CMDLINE_GPA);
	FUZZ_CHECK(p && !memcmp(p, cmdline, len));
}

static void check_initrd(const struct gmem *gm, const struct linux_boot *lb, uint64_t gpa,
			 uint64_t size, uint64_t lo, uint64_t hi)
{
	const uint8_t *p = gmem_ptr(gm, gpa, size);

	initrd_gpa = gpa;
	FUZZ_CHECK(size == lb->initrd_size);
	FUZZ_CHECK(p && !memcmp(p, lb->initrd, size));
	FUZZ_CHECK(gpa % PAGE == 0);
	FUZZ_CHECK(gpa >= lo && gpa + size <= hi);
}

static void check_bzimage(const struct gmem *gm, const struct linux_boot *lb)
{
	const uint8_t *k = lb->kernel;
	uint8_t bp[4096];
	uint64_t pm_offset, kernel_end, initrd_hi;
	unsigned setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	const uint8_t *loaded;

	/* The protected-mode kernel, whole, at 1 MiB, with room for init_size. */
	pm_offset = (setup_sects + 1) * 512ull;
	FUZZ_CHECK(pm_offset < lb->kernel_size);
	loaded = gmem_ptr(gm, LINUX_KERNEL_GPA, lb->kernel_size - pm_offset);
	FUZZ_CHECK(loaded && !memcmp(loaded, k + pm_offset, lb->kernel_size - pm_offset));
	kernel_end = LINUX_KERNEL_GPA +
		     ALIGN_UP(MAX((uint64_t)get32(k + HDR_INIT_SIZE), lb->kernel_size - pm_offset),
			      PAGE);
	FUZZ_CHECK(kernel_end <= MIN(lb->mem_size, LINUX_LOW_RAM_MAX));
	FUZZ_CHECK(lb->entry >= LINUX_KERNEL_GPA && lb->entry < kernel_end);

	FUZZ_CHECK(lb->boot_data == LINUX_BOOT_PARAMS_GPA);
	FUZZ_CHECK(gmem_read(gm, bp, LINUX_BOOT_PARAMS_GPA, sizeof(bp)));
	FUZZ_CHECK(bp[HDR_TYPE_OF_LOADER] != 0);
	FUZZ_CHECK(get64(bp + BP_ACPI_RSDP) == lb->rsdp_gpa);
	check_map(gm, bp + BP_E820_TABLE, bp[BP_E820_ENTRIES], 20, lb->mem_size);
	check_cmdline(gm, get32(bp + HDR_CMD_LINE_PTR) |
			      (uint64_t)get32(bp + BP_EXT_CMD_LINE_PTR) << 32, lb->cmdline);

	/*
	 * Without an initrd the ramdisk fields are the file's own; with one
	 * they name it, above the kernel and below initrd_addr_max.
	 */
	if (!lb->initrd)
		return;
	initrd_hi = (uint64_t)get32(k + HDR_INITRD_ADDR_MAX) + 1;
	if (k[HDR_XLOADFLAGS] & XLF_CAN_BE_LOADED_ABOVE_4G)
		initrd_hi = UINT64_MAX;
	check_initrd(gm, lb,
		     get32(bp + HDR_RAMDISK_IMAGE) |
			     (uint64_t)get32(bp + BP_EXT_RAMDISK_IMAGE) << 32,
		     get32(bp + HDR_RAMDISK_SIZE) | (uint64_t)get32(bp + BP_EXT_RAMDISK_SIZE) << 32,
		     kernel_end, initrd_hi);
}

static void check_pvh(const struct gmem *gm, const struct linux_boot *lb)
{
	struct elf_image img;
	uint8_t si[SI_SIZE];
	const char *why = NULL;
	const uint8_t *map;
	uint32_t nr_modules, nr_map;

	/* Every segment where its physical address says, above 1 MiB. */
	FUZZ_CHECK(elf_parse_flags(lb->kernel, lb->kernel_size, LINUX_KERNEL_GPA,
				   MIN(lb->mem_size, LINUX_LOW_RAM_MAX),
				   ELF_PHYSICAL | ELF_ALLOW_WX, &img, &why) == 0);
	for (unsigned i = 0; i < img.nr_segs; i++) {
		const struct elf_segment *s = &img.seg[i];
		const uint8_t *p = gmem_ptr(gm, s->vaddr, s->memsz);

		FUZZ_CHECK(p && !memcmp(p, lb->kernel + s->offset, s->filesz));
	}
	/* The PVH entry point lies in the kernel's text. */
	{
		bool in_text = false;

		for (unsigned i = 0; i < img.nr_segs; i++)
			if ((img.seg[i].prot & ELF_PROT_X) && lb->entry >= img.seg[i].vaddr &&
			    lb->entry - img.seg[i].vaddr < img.seg[i].memsz)
				in_text = true;
		FUZZ_CHECK(in_text);
	}

	FUZZ_CHECK(lb->boot_data == LINUX_START_INFO_GPA);
	FUZZ_CHECK(gmem_read(gm, si, LINUX_START_INFO_GPA, sizeof(si)));
	FUZZ_CHECK(get32(si) == PVH_MAGIC);
	FUZZ_CHECK(get32(si + 4) >= 1);
	FUZZ_CHECK(get64(si + SI_RSDP) == lb->rsdp_gpa);
	check_cmdline(gm, get64(si + SI_CMDLINE), lb->cmdline);

	nr_map = get32(si + SI_MEMMAP_ENTRIES);
	FUZZ_CHECK(nr_map <= BP_E820_MAX);
	map = gmem_ptr(gm, get64(si + SI_MEMMAP), (uint64_t)nr_map * 24);
	FUZZ_CHECK(map);
	check_map(gm, map, nr_map, 24, lb->mem_size);

	nr_modules = get32(si + SI_NR_MODULES);
	FUZZ_CHECK(nr_modules == (lb->initrd ? 1 : 0));
	if (nr_modules) {
		const uint8_t *mod = gmem_ptr(gm, get64(si + SI_MODLIST), 32);

		FUZZ_CHECK(mod);
		check_initrd(gm, lb, get64(mod), get64(mod + 8), img.hi,
			     MIN(lb->mem_size, LINUX_LOW_RAM_MAX));
	}
}

/* Zeroes what linux_load() and the boot tables may have written: it all lies here. */
static void ram_clean(const struct linux_boot *lb, bool loaded)
{
	struct elf_image img;
	const char *why;

	ram_zero(LINUX_GDT_GPA, 32);
	ram_zero(LINUX_START_INFO_GPA, LINUX_PD_GPA + 4 * 4096 - LINUX_START_INFO_GPA);
	ram_zero(LINUX_CMDLINE_GPA, LINUX_CMDLINE_MAX);
	ram_zero(LINUX_KERNEL_GPA, lb->kernel_size);
	if (!elf_parse_flags(lb->kernel, lb->kernel_size, LINUX_KERNEL_GPA,
			     MIN(lb->mem_size, LINUX_LOW_RAM_MAX), ELF_PHYSICAL | ELF_ALLOW_WX,
			     &img, &why))
		for (unsigned i = 0; i < img.nr_segs; i++)
			ram_zero(img.seg[i].vaddr, img.seg[i].filesz);
	if (loaded && lb->initrd)
		ram_zero(initrd_gpa, lb->initrd_size);
}

static void init(void)
{
	initrd_data = malloc(INITRD_MAX);
	if (!initrd_data)
		abort();
	/* No period of a page or less, so a misplaced copy shows. */
	for (uint32_t i = 0; i < INITRD_MAX; i++)
		initrd_data[i] = (uint8_t)(i ^ (i >> 8) * 31 ^ (i >> 16) * 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char words[] = "console=ttyS0 quiet panic=-1 init=/sbin/init ";
	struct linux_boot check, real;
	const char *why_check = NULL, *why_real = NULL;
	uint32_t initrd_size;
	size_t cmdline_len;
	char *cmdline;
	bool huge;
	int ret_check, ret_real;

	if (!initrd_data)
		init();
	if (size < HEADER)
		return 0;

	check = (struct linux_boot){
		.kernel = data + HEADER,
		.kernel_size = size - HEADER,
		.rsdp_gpa = RSDP_GPA,
	};
	check.mem_size = data[0] < 248 ? 16 * MiB + data[0] * 2 * MiB : big_mem[data[0] - 248];

	initrd_size = data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16;
	huge = data[1] & F_INITRD_HUGE;
	if (data[1] & F_INITRD) {
		/*
		 * A huge one must be refused before it is read: only INITRD_MAX
		 * bytes back it, so a load that copied it would overrun them.
		 */
		check.initrd = initrd_data;
		check.initrd_size = huge ? check.mem_size + initrd_size : initrd_size % INITRD_MAX;
		if (huge && initrd_size == 0xffffff)
			check.initrd_size = SIZE_MAX;
	}

	cmdline_len = (data[5] | (size_t)data[6] << 8) & CMDLINE_LEN_MASK;
	cmdline = malloc(cmdline_len + 1);
	if (!cmdline)
		abort();
	for (size_t i = 0; i < cmdline_len; i++)
		cmdline[i] = words[i % (sizeof(words) - 1)];
	cmdline[cmdline_len] = '\0';
	check.cmdline = cmdline;
	real = check;
	real.fill = checked_fill;
	real.fill_opaque = &real;
	fill_fails = data[1] & F_READ_FAILS;

	ret_check = linux_load(NULL, &check, &why_check);
	if (ret_check)
		FUZZ_CHECK(why_check && *why_check);
	if (check.initrd && huge)
		FUZZ_CHECK(ret_check);

	/* A terabyte of address space may be more than this host allows. */
	if (!ram_get(real.mem_size))
		goto out;
	ret_real = linux_load(&ram.gm, &real, &why_real);
	if (fill_fails) {
		/* The kernel is always read: no load succeeds, each says why. */
		FUZZ_CHECK(ret_real);
		if (ret_real == -EIO)
			FUZZ_CHECK(why_real && !strncmp(why_real, "cannot read the ", 16));
		else
			FUZZ_CHECK(ret_real == ret_check && why_real && why_check &&
				   !strcmp(why_real, why_check));
	} else if (ret_real) {
		FUZZ_CHECK(ret_real == ret_check);
		FUZZ_CHECK(why_real && why_check && !strcmp(why_real, why_check));
	} else {
		FUZZ_CHECK(ret_check == 0);
		/* As pc_build() goes on: the boot page tables must not land on any of it. */
		linux_write_boot_tables(&ram.gm);
		FUZZ_CHECK(real.mode == check.mode);
		FUZZ_CHECK(real.entry == check.entry);
		FUZZ_CHECK(real.boot_data == check.boot_data);
		FUZZ_CHECK(in_ram(&ram.gm, real.entry, 1));
		if (real.mode == LINUX_ENTRY_64)
			check_bzimage(&ram.gm, &real);
		else
			check_pvh(&ram.gm, &real);
	}
	ram_clean(&real, ret_real == 0);
out:
	free(cmdline);
	return 0;
}
