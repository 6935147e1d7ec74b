#include "arch/x86/linux.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "loader/elf.h"
#include "util/util.h"

/* struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 4096

/* Setup header fields, at their offsets in the file and in boot_params. */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_INIT_SIZE 0x260

#define LOADFLAGS_LOADED_HIGH 0x01
#define LOADFLAGS_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02

#define E820_RAM 1
#define E820_RESERVED 2

/* PVH (xen/include/public/arch-x86/hvm/start_info.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_MAGIC 0x336ec578u

struct e820 {
	uint64_t addr, size;
	uint32_t type;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

/*
 * Writes into guest RAM, or with gm == NULL (a check before any VM exists)
 * only checks that the range lies inside low RAM.
 */
static bool put(const struct gmem *gm, const struct linux_boot *lb, uint64_t gpa,
		const void *src, uint64_t len)
{
	uint64_t end = MIN(lb->mem_size, LINUX_LOW_RAM_MAX);

	if (gpa > end || len > end - gpa)
		return false;
	return !gm || gmem_write(gm, gpa, src, len);
}

/*
 * put() for bytes of the kernel or initrd file (src points into lb->kernel
 * or lb->initrd): through lb->fill when the caller gave one. 0, -ENOSPC
 * outside low RAM, or the fill's -errno.
 */
static int put_file(const struct gmem *gm, const struct linux_boot *lb, uint64_t gpa,
		    const uint8_t *src, uint64_t len)
{
	uint8_t *dst;

	if (!put(NULL, lb, gpa, src, len))
		return -ENOSPC;
	if (!gm)
		return 0;
	dst = gmem_ptr(gm, gpa, len);
	if (!dst)
		return -ENOSPC;
	if (!lb->fill) {
		memcpy(dst, src, len);
		return 0;
	}
	return lb->fill(dst, src, len, lb->fill_opaque);
}

static int reject(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

/*
 * Writes the guest's memory map (low RAM, the BIOS hole, RAM above 1 MiB and
 * above 4 GiB) as a table of `stride`-byte entries {addr, size, type}: 20
 * bytes in boot_params, 24 in PVH's memmap. Returns the entry count.
 */
static unsigned write_e820(uint64_t mem_size, uint8_t *table, size_t stride)
{
	uint64_t low_end = MIN(mem_size, LINUX_LOW_RAM_MAX);
	struct e820 map[4];
	unsigned n = 0;

	map[n++] = (struct e820){ 0, LINUX_EBDA_GPA, E820_RAM };
	map[n++] = (struct e820){ LINUX_EBDA_GPA, LINUX_KERNEL_GPA - LINUX_EBDA_GPA, E820_RESERVED };
	map[n++] = (struct e820){ LINUX_KERNEL_GPA, low_end - LINUX_KERNEL_GPA, E820_RAM };
	if (mem_size > LINUX_LOW_RAM_MAX)
		map[n++] = (struct e820){ LINUX_HIGH_RAM_GPA, mem_size - LINUX_LOW_RAM_MAX, E820_RAM };
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = table + i * stride;

		put_le64(e, map[i].addr);
		put_le64(e + 8, map[i].size);
		put_le32(e + 16, map[i].type);
	}
	return n;
}

void linux_write_boot_tables(const struct gmem *gm)
{
	static const uint64_t gdt[4] = {
		[LINUX_BOOT_CS >> 3] = 0x00af9b000000ffffull, /* 64-bit code */
		[LINUX_BOOT_DS >> 3] = 0x00cf93000000ffffull, /* flat data */
	};
	uint8_t *pml4 = gmem_ptr(gm, LINUX_PML4_GPA, 4096);
	uint8_t *pdpt = gmem_ptr(gm, LINUX_PDPT_GPA, 4096);
	uint8_t *pd = gmem_ptr(gm, LINUX_PD_GPA, 4 * 4096);

	if (!pml4 || !pdpt || !pd || !gmem_write(gm, LINUX_GDT_GPA, gdt, sizeof(gdt)))
		die("boot tables outside guest RAM");
	put_le64(pml4, LINUX_PDPT_GPA | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4; i++)
		put_le64(pdpt + i * 8, (LINUX_PD_GPA + i * 4096) | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4 * 512; i++)
		put_le64(pd + i * 8, (uint64_t)i * PT_SPAN_2M | PTE_P | PTE_RW | PTE_PS);
}

/*
 * The initrd goes as high as it can below `hi` (the end of low RAM or the
 * kernel's initrd_addr_max) and above `lo` (the end of the kernel).
 */
static int load_initrd(const struct gmem *gm, const struct linux_boot *lb, uint64_t lo,
		       uint64_t hi, uint64_t *gpa, const char **why)
{
	uint64_t size = lb->initrd_size;
	int ret;

	if (size > hi || ALIGN_DOWN(hi - size, 4096ull) < lo) {
		*why = "initrd too large for the guest's memory";
		return -ENOSPC;
	}
	*gpa = ALIGN_DOWN(hi - size, 4096ull);
	ret = put_file(gm, lb, *gpa, lb->initrd, size);
	if (ret)
		*why = ret == -ENOSPC ? "initrd too large for the guest's memory"
				      : "cannot read the initrd file";
	return ret;
}

static int write_cmdline(const struct gmem *gm, const struct linux_boot *lb, size_t max,
			 const char **why)
{
	const char *cmdline = lb->cmdline;
	size_t len = strlen(cmdline) + 1;

	if (len > max) {
		*why = "command line too long for this kernel";
		return -EINVAL;
	}
	if (!put(gm, lb, LINUX_CMDLINE_GPA, cmdline, len))
		die("command line outside guest RAM");
	return 0;
}

static uint64_t low_ram_end(uint64_t mem_size)
{
	return MIN(mem_size, LINUX_LOW_RAM_MAX);
}

static int load_bzimage(const struct gmem *gm, struct linux_boot *lb, const char **why)
{
	const uint8_t *k = lb->kernel;
	size_t size = lb->kernel_size;
	uint8_t bp[BP_SIZE] = { 0 };
	unsigned setup_sects, hdr_end;
	uint64_t pm_offset, pm_size, init_size, kernel_end, initrd_max, initrd_gpa = 0;
	uint16_t version;
	int ret;

	if (size < 0x270 || get16(k + HDR_BOOT_FLAG) != 0xaa55 || memcmp(k + HDR_MAGIC, "HdrS", 4))
		return reject(why, "not a Linux kernel (no bzImage setup header)");
	version = get16(k + HDR_VERSION);
	if (version < 0x020c || !(k[HDR_XLOADFLAGS] & XLF_KERNEL_64))
		return reject(why, "kernel too old: it has no 64-bit boot entry (boot protocol 2.12)");
	if (!(k[HDR_LOADFLAGS] & LOADFLAGS_LOADED_HIGH))
		return reject(why, "kernel cannot be loaded at 1 MiB (zImage)");

	setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	pm_offset = (setup_sects + 1) * 512ull;
	pm_size = (uint64_t)get32(k + HDR_SYSSIZE) * 16;
	if (pm_offset >= size || pm_size > size - pm_offset || pm_size == 0)
		return reject(why, "kernel image is truncated");
	init_size = MAX(get32(k + HDR_INIT_SIZE), (uint32_t)(size - pm_offset));
	kernel_end = LINUX_KERNEL_GPA + ALIGN_UP(init_size, 4096ull);
	if (kernel_end > low_ram_end(lb->mem_size))
		return *why = "kernel needs more memory than the guest has", -ENOSPC;
	ret = put_file(gm, lb, LINUX_KERNEL_GPA, k + pm_offset, size - pm_offset);
	if (ret)
		return *why = ret == -ENOSPC ? "kernel needs more memory than the guest has"
					     : "cannot read the kernel file", ret;

	/* The setup header, as the kernel wrote it, then what the loader fills in. */
	hdr_end = HDR_JUMP + 2 + k[HDR_JUMP + 1];
	if (hdr_end > size || hdr_end > BP_E820_TABLE)
		return reject(why, "kernel setup header is malformed");
	memcpy(bp + BP_HDR, k + BP_HDR, hdr_end - BP_HDR);
	bp[HDR_TYPE_OF_LOADER] = 0xff;
	bp[HDR_LOADFLAGS] |= LOADFLAGS_CAN_USE_HEAP;
	put_le16(bp + HDR_HEAP_END_PTR, 0xfe00);
	put_le32(bp + HDR_CMD_LINE_PTR, (uint32_t)LINUX_CMDLINE_GPA);
	put_le64(bp + BP_ACPI_RSDP, lb->rsdp_gpa);
	ret = write_cmdline(gm, lb,
			    MIN((size_t)get32(k + HDR_CMDLINE_SIZE) + 1, (size_t)LINUX_CMDLINE_MAX), why);
	if (ret)
		return ret;

	if (lb->initrd) {
		initrd_max = (uint64_t)get32(k + HDR_INITRD_ADDR_MAX) + 1;
		if (k[HDR_XLOADFLAGS] & XLF_CAN_BE_LOADED_ABOVE_4G)
			initrd_max = UINT64_MAX;
		ret = load_initrd(gm, lb, kernel_end, MIN(initrd_max, low_ram_end(lb->mem_size)),
				  &initrd_gpa, why);
		if (ret)
			return ret;
		put_le32(bp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
		put_le32(bp + HDR_RAMDISK_SIZE, (uint32_t)lb->initrd_size);
		put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
		put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)lb->initrd_size >> 32));
	} else {
		put_le32(bp + HDR_RAMDISK_IMAGE, 0);
		put_le32(bp + HDR_RAMDISK_SIZE, 0);
	}

	bp[BP_E820_ENTRIES] = (uint8_t)write_e820(lb->mem_size, bp + BP_E820_TABLE, 20);
	if (!put(gm, lb, LINUX_BOOT_PARAMS_GPA, bp, sizeof(bp)))
		die("boot_params outside guest RAM");

	lb->mode = LINUX_ENTRY_64;
	lb->entry = LINUX_KERNEL_GPA + 0x200; /* startup_64 */
	lb->boot_data = LINUX_BOOT_PARAMS_GPA;
	return 0;
}

/* hvm_start_info, version 1, followed by its memory map and module list. */
#define SI_MEMMAP_OFF 0x100
#define SI_MODLIST_OFF 0x400

static int load_pvh(const struct gmem *gm, struct linux_boot *lb, const char **why)
{
	uint8_t si[0x800] = { 0 };
	struct elf_image img;
	const uint8_t *desc;
	uint32_t desc_len, entry;
	uint64_t initrd_gpa;
	int ret;

	ret = elf_parse_flags(lb->kernel, lb->kernel_size, LINUX_KERNEL_GPA,
			      low_ram_end(lb->mem_size), ELF_PHYSICAL | ELF_ALLOW_WX, &img, why);
	if (ret) {
		if (!strcmp(*why, "segment lies outside guest memory available to the image"))
			*why = "kernel needs more memory than the guest has";
		return ret;
	}
	if (elf_find_note(lb->kernel, lb->kernel_size, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc,
			  &desc_len) || desc_len < 4)
		return reject(why, "ELF kernel has no PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY)");
	entry = get32(desc);
	if (!elf_contains_exec(&img, entry))
		return reject(why, "ELF kernel's PVH entry point is not in an executable segment");
	if (gm) {
		ret = elf_load_fill(&img, lb->kernel, gm, lb->fill, lb->fill_opaque);
		if (ret == -EFAULT)
			return *why = "kernel needs more memory than the guest has", -ENOSPC;
		if (ret)
			return *why = "cannot read the kernel file", ret;
	}
	ret = write_cmdline(gm, lb, LINUX_CMDLINE_MAX, why);
	if (ret)
		return ret;

	put_le32(si + 0, PVH_MAGIC);
	put_le32(si + 4, 1); /* version */
	put_le64(si + 16, 0); /* modlist_paddr, below */
	put_le64(si + 24, LINUX_CMDLINE_GPA);
	put_le64(si + 32, lb->rsdp_gpa);
	if (lb->initrd) {
		ret = load_initrd(gm, lb, img.hi, low_ram_end(lb->mem_size), &initrd_gpa, why);
		if (ret)
			return ret;
		put_le32(si + 12, 1); /* nr_modules */
		put_le64(si + 16, LINUX_START_INFO_GPA + SI_MODLIST_OFF);
		put_le64(si + SI_MODLIST_OFF, initrd_gpa);
		put_le64(si + SI_MODLIST_OFF + 8, lb->initrd_size);
	}
	put_le64(si + 40, LINUX_START_INFO_GPA + SI_MEMMAP_OFF);
	put_le32(si + 48, write_e820(lb->mem_size, si + SI_MEMMAP_OFF, 24));
	if (!put(gm, lb, LINUX_START_INFO_GPA, si, sizeof(si)))
		die("start_info outside guest RAM");

	lb->mode = LINUX_ENTRY_PVH;
	lb->entry = entry;
	lb->boot_data = LINUX_START_INFO_GPA;
	return 0;
}

int linux_load(const struct gmem *gm, struct linux_boot *lb, const char **why)
{
	if (lb->kernel_size >= 4 && !memcmp(lb->kernel, "\177ELF", 4))
		return load_pvh(gm, lb, why);
	return load_bzimage(gm, lb, why);
}
