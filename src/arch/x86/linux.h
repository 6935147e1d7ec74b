/*
 * Booting an unmodified Linux kernel: a bzImage through the 64-bit entry of
 * the Linux x86 boot protocol (Documentation/arch/x86/boot.rst), or an ELF
 * vmlinux through its PVH entry (xen/include/public/arch-x86/hvm/start_info.h).
 * Both get the same memory map, command line, initrd and ACPI tables.
 */
#ifndef SHALE_ARCH_X86_LINUX_H
#define SHALE_ARCH_X86_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "loader/elf.h"
#include "vmm/gmem.h"

/* Low-memory layout shared by the loaders and the vCPU set-up. */
#define LINUX_GDT_GPA 0x500ull
#define LINUX_START_INFO_GPA 0x6000ull /* PVH start_info, memmap, modules */
#define LINUX_BOOT_PARAMS_GPA 0x7000ull
#define LINUX_PML4_GPA 0x9000ull
#define LINUX_PDPT_GPA 0xa000ull
#define LINUX_PD_GPA 0xb000ull /* four page directories: 4 GiB identity map */
#define LINUX_CMDLINE_GPA 0x20000ull
#define LINUX_CMDLINE_MAX 4096u
#define LINUX_EBDA_GPA 0x9fc00ull
#define LINUX_ACPI_GPA 0xe0000ull /* to 0xfffff: where a legacy RSDP scan looks */
#define LINUX_KERNEL_GPA 0x100000ull
#define LINUX_LOW_RAM_MAX (3 * (1ull << 30)) /* RAM above this moves past 4 GiB */
#define LINUX_HIGH_RAM_GPA (1ull << 32)

/* Boot GDT selectors, as the boot protocol names them. */
#define LINUX_BOOT_CS 0x10
#define LINUX_BOOT_DS 0x18

enum linux_entry_mode {
	LINUX_ENTRY_64,  /* 64-bit, paging on, %rsi = boot_params */
	LINUX_ENTRY_PVH, /* 32-bit protected mode, paging off, %ebx = start_info */
};

struct linux_boot {
	/* In: */
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_size;
	/* Moves the kernel's and initrd's bytes into guest RAM; NULL: memcpy. */
	loader_fill_fn *fill;
	void *fill_opaque;
	const char *cmdline;
	uint64_t mem_size;
	uint64_t rsdp_gpa; /* ACPI tables, already written */
	/* Out: */
	enum linux_entry_mode mode;
	uint64_t entry;
	uint64_t boot_data; /* boot_params or start_info address */
};

/*
 * Loads kernel, initrd and command line into guest memory and writes the
 * boot structures and the e820 map. Returns 0, or -EINVAL / -ENOSPC with
 * *why naming the problem (not a kernel, truncated, too large, ...). With
 * gm == NULL it only checks, writing nothing: bad input is refused before
 * a VM exists.
 */
int linux_load(const struct gmem *gm, struct linux_boot *lb, const char **why);

/* Identity page tables for the first 4 GiB and the boot GDT. */
void linux_write_boot_tables(const struct gmem *gm);

#endif
