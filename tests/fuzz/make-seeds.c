/*
 * Writes the seed corpus of the fuzz harnesses: small ELF images, good
 * and subtly bad; one hypercall input per call with its argument struct
 * laid out as a guest would; Linux kernels reduced to their boot headers
 * (bzImage setup headers, an ELF vmlinux with a PVH note); port I/O
 * sequences like those of Linux's drivers for the legacy PC devices;
 * scripts of guest and VMM steps on an I/O queue ring; and in/out
 * instructions (with %dx) for the port-fault decoder; scripts of driver
 * and device steps on a split virtqueue, and on the virtio PCI transport.
 * `make fuzz-seeds`
 * runs it into tests/fuzz/corpus/; the files it wrote are checked in,
 * beside inputs kept from fuzzing runs that once found a bug
 * (linux/pvh-entry-outside-ram, pcdev/rtc-negative-year), which it does
 * not write.
 *
 *   make-seeds DIR [BZIMAGE]   writes DIR/elf/..., DIR/hypercall/...,
 *                              DIR/linux/..., DIR/pcdev/...,
 *                              DIR/queue/..., DIR/insn/... and
 *                              DIR/ctl/..., DIR/virtq/..., DIR/vpci/..., DIR/vnet/...;
 *                              with a
 *                              real bzImage, also DIR/linux/bzimage-head:
 *                              its first BZ_HEAD_SIZE bytes, with syssize
 *                              cut down to what is left of the kernel
 */
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "../support/elfgen.h"

static const char *out_dir;

static void write_file(const char *sub, const char *name, const void *data, size_t size)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ELF seeds. */

/* The byte at offset j of segment i's file contents. */
static uint8_t elf_byte(unsigned i, uint64_t j)
{
	return (uint8_t)(0x90 + i + j);
}

static void elf_seed(const char *name, uint16_t type, const struct elfgen_seg *segs,
		     unsigned n, uint64_t entry)
{
	uint8_t buf[8192] = { 0 };

	if (elfgen_size(segs, n) > sizeof(buf))
		abort();
	write_file("elf", name, buf, elfgen_build(buf, type, segs, n, entry, elf_byte));
}

/* As many loadable segments as the loader takes (ELF_MAX_SEGMENTS). */
#define MANY 16

static void elf_seeds(void)
{
	static const struct elfgen_seg good[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1800, 0x40 },
		{ PT_NOTE, PF_R, 0, 0, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0x102000, 0x2000, 0x20 },
		{ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0 },
	};
	static const struct elfgen_seg single[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x100, 0x100 },
	};
	static const struct elfgen_seg unaligned[] = {
		{ PT_LOAD, PF_R, 0x203456, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, 0x101234, 0x100, 0x20 },
		{ PT_LOAD, PF_R | PF_W, 0x300ff0, 0x20, 0x8 },
	};
	static const struct elfgen_seg at_limit[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0xfff000, 0x1000, 0x10 },
	};
	static const struct elfgen_seg shared_page[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x800, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0x100800, 0x800, 0x10 },
	};
	static const struct elfgen_seg wx[] = {
		{ PT_LOAD, PF_R | PF_W | PF_X, 0x100000, 0x1000, 0x10 },
	};
	static const struct elfgen_seg interp[] = {
		{ PT_INTERP, PF_R, 0, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
	};
	static const struct elfgen_seg tls[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
		{ PT_TLS, PF_R, 0x101000, 0x10, 0x8 },
	};
	struct elfgen_seg many[MANY];

	elf_seed("good", ET_EXEC, good, 4, 0x100000);
	elf_seed("single", ET_EXEC, single, 1, 0x1000ff);
	elf_seed("unaligned", ET_EXEC, unaligned, 3, 0x101300);
	elf_seed("at-limit", ET_EXEC, at_limit, 2, 0x100000);
	elf_seed("pie", ET_DYN, single, 1, 0x100000);
	elf_seed("shared-page", ET_EXEC, shared_page, 2, 0x100000);
	elf_seed("wx", ET_EXEC, wx, 1, 0x100000);
	elf_seed("interp", ET_EXEC, interp, 2, 0x100000);
	elf_seed("tls", ET_EXEC, tls, 2, 0x100000);
	elf_seed("entry-in-data", ET_EXEC, good, 4, 0x102000);
	for (unsigned i = 0; i < MANY; i++) {
		static const uint32_t prot[] = { PF_R | PF_X, PF_R, PF_R | PF_W };

		many[i] = (struct elfgen_seg){ PT_LOAD, prot[i % 3], 0x100000 + i * 0x2000ull,
					       0x1000 + i * 8, 8 };
	}
	elf_seed("many", ET_EXEC, many, MANY, 0x100000);
}

/* Hypercall seeds: header, then guest RAM from address 0. */

#define ARG 0x40u  /* argument struct */
#define DATA 0x100u /* the buffer it names */
#define F_DISK_RO 0x1u
#define F_NO_DISK 0x2u
#define F_NO_NET 0x4u
#define F_FRAME 0x8u

static void hc_seed(const char *name, uint8_t nr, uint8_t flags, uint32_t gpa,
		    const void *arg, size_t arg_size, const void *buf, size_t buf_size)
{
	uint8_t out[6 + DATA + 1024] = { 0 };
	size_t size = 6 + ARG + arg_size;

	out[0] = nr;
	out[1] = flags;
	memcpy(out + 2, &gpa, 4);
	if (arg_size)
		memcpy(out + 6 + ARG, arg, arg_size);
	if (buf_size) {
		if (buf_size > 1024)
			abort();
		memcpy(out + 6 + DATA, buf, buf_size);
		size = 6 + DATA + buf_size;
	}
	write_file("hypercall", name, out, size);
}

static void hc_seeds(void)
{
	static const char hello[] = "hello, world\n";
	uint8_t frame[64];
	struct shale_hc_console_write con = { .data = DATA, .len = sizeof(hello) - 1 };
	struct shale_hc_exit ex = { .status = 7 };
	struct shale_hc_clock clk = { 0 };
	struct shale_hc_poll poll = { .deadline_ns = 0, .events = SHALE_POLL_NET };
	struct shale_hc_block_info bi = { 0 };
	struct shale_hc_block_io rd = { .offset = 512, .data = DATA, .len = 1024 };
	struct shale_hc_block_io wr = { .offset = 0, .data = DATA, .len = 512 };
	struct shale_hc_status st = { 0 };
	struct shale_hc_net_info ni = { 0 };
	struct shale_hc_buffer nrd = { .data = DATA, .len = 1514 };
	struct shale_hc_buffer nwr = { .data = DATA, .len = sizeof(frame) };
	struct shale_hc_buffer rnd = { .data = DATA, .len = 32 };
	struct shale_hc_buffer args0 = { .data = DATA, .len = 0 };
	struct shale_hc_buffer args = { .data = DATA, .len = 64 };
	/* A ring of 4 at 4 KiB, zero (the harness's RAM past the input is). */
	struct shale_hc_queue_setup qs = { .queue = SHALE_QUEUE_BLOCK, .entries = 4, .ring = 0x1000 };
	struct shale_hc_queue_setup qs_con = { .queue = SHALE_QUEUE_CONSOLE, .entries = 1,
					       .ring = 0x2000 };
	struct shale_hc_queue_setup qs_bad = { .queue = SHALE_QUEUE_NET, .entries = 3, .ring = 0x1040 };
	struct shale_hc_queue_wait qw = { .queue = SHALE_QUEUE_BLOCK, .min = 1, .deadline_ns = 0 };
	uint8_t sector[512];

	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i < 6 ? 0xff : i);
	for (unsigned i = 0; i < sizeof(sector); i++)
		sector[i] = (uint8_t)i;

	hc_seed("nop", SHALE_HC_NOP, 0, 0, NULL, 0, NULL, 0);
	hc_seed("console", SHALE_HC_CONSOLE_WRITE, 0, ARG, &con, sizeof(con), hello,
		sizeof(hello) - 1);
	hc_seed("console-outside", SHALE_HC_CONSOLE_WRITE, 0, 0xfff0, &con, sizeof(con), hello,
		sizeof(hello) - 1);
	hc_seed("exit", SHALE_HC_EXIT, 0, ARG, &ex, sizeof(ex), NULL, 0);
	hc_seed("clock", SHALE_HC_CLOCK, 0, ARG, &clk, sizeof(clk), NULL, 0);
	hc_seed("poll", SHALE_HC_POLL, F_FRAME, ARG, &poll, sizeof(poll), NULL, 0);
	hc_seed("block-info", SHALE_HC_BLOCK_INFO, 0, ARG, &bi, sizeof(bi), NULL, 0);
	hc_seed("block-info-none", SHALE_HC_BLOCK_INFO, F_NO_DISK, ARG, &bi, sizeof(bi), NULL, 0);
	hc_seed("block-read", SHALE_HC_BLOCK_READ, 0, ARG, &rd, sizeof(rd), NULL, 0);
	hc_seed("block-write", SHALE_HC_BLOCK_WRITE, 0, ARG, &wr, sizeof(wr), sector,
		sizeof(sector));
	hc_seed("block-write-ro", SHALE_HC_BLOCK_WRITE, F_DISK_RO, ARG, &wr, sizeof(wr), sector,
		sizeof(sector));
	hc_seed("block-flush", SHALE_HC_BLOCK_FLUSH, 0, ARG, &st, sizeof(st), NULL, 0);
	hc_seed("net-info", SHALE_HC_NET_INFO, 0, ARG, &ni, sizeof(ni), NULL, 0);
	hc_seed("net-read", SHALE_HC_NET_READ, F_FRAME, ARG, &nrd, sizeof(nrd), NULL, 0);
	hc_seed("net-write", SHALE_HC_NET_WRITE, 0, ARG, &nwr, sizeof(nwr), frame, sizeof(frame));
	hc_seed("net-write-none", SHALE_HC_NET_WRITE, F_NO_NET, ARG, &nwr, sizeof(nwr), frame,
		sizeof(frame));
	hc_seed("random", SHALE_HC_RANDOM, 0, ARG, &rnd, sizeof(rnd), NULL, 0);
	hc_seed("args-size", SHALE_HC_ARGS, 0, ARG, &args0, sizeof(args0), NULL, 0);
	hc_seed("args", SHALE_HC_ARGS, 0, ARG, &args, sizeof(args), NULL, 0);
	hc_seed("unknown", 20, 0, ARG, &st, sizeof(st), NULL, 0);
	hc_seed("queue-setup", SHALE_HC_QUEUE_SETUP, 0, ARG, &qs, sizeof(qs), NULL, 0);
	hc_seed("queue-setup-console", SHALE_HC_QUEUE_SETUP, F_NO_DISK | F_NO_NET, ARG, &qs_con,
		sizeof(qs_con), NULL, 0);
	hc_seed("queue-setup-bad", SHALE_HC_QUEUE_SETUP, 0, ARG, &qs_bad, sizeof(qs_bad), NULL, 0);
	hc_seed("queue-wait", SHALE_HC_QUEUE_WAIT, 0, ARG, &qw, sizeof(qw), NULL, 0);
	hc_seed("queue-notify", SHALE_HC_QUEUE_NOTIFY, 0, 1, NULL, 0, NULL, 0);
}

/*
 * Linux seeds: the harness's header (guest RAM, initrd, command line
 * length), then the kernel file.
 */

#define MEM_MIB(n) ((uint8_t)(((n) - 16) / 2)) /* 16 to 510 MiB */
#define MEM_3G 249
#define MEM_4G 251
#define MEM_1T 255
#define INITRD 0x1
#define INITRD_HUGE 0x2
#define KERNEL_MAX (64 * 1024)
#define BZ_HEAD_SIZE (24 * 1024)

struct kernel_seed {
	uint8_t mem;
	uint8_t initrd_flags;
	uint32_t initrd_size;
	uint16_t cmdline_len;
	uint8_t buf[KERNEL_MAX];
	size_t size;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void kernel_seed(const char *name, const struct kernel_seed *k)
{
	static uint8_t out[7 + KERNEL_MAX];

	out[0] = k->mem;
	out[1] = k->initrd_flags;
	out[2] = (uint8_t)k->initrd_size;
	out[3] = (uint8_t)(k->initrd_size >> 8);
	out[4] = (uint8_t)(k->initrd_size >> 16);
	put16(out + 5, k->cmdline_len);
	memcpy(out + 7, k->buf, k->size);
	write_file("linux", name, out, 7 + k->size);
}

/* A bzImage's setup header (Documentation/arch/x86/boot.rst, protocol 2.15). */
struct bz {
	uint8_t setup_sects;
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t pm_size; /* a multiple of 16: syssize */
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint8_t jump; /* the header ends at 0x202 + jump */
};

static const struct bz bz_default = {
	.setup_sects = 4,
	.version = 0x020f,
	.loadflags = 0x01,     /* LOADED_HIGH */
	.xloadflags = 0x7f,    /* KERNEL_64, CAN_BE_LOADED_ABOVE_4G, EFI... */
	.pm_size = 0x800,
	.init_size = 0x10000,
	.cmdline_size = 0x7ff,
	.initrd_addr_max = 0x7fffffff,
	.jump = 0x6a,
};

static void bz_build(struct kernel_seed *k, const struct bz *b)
{
	uint8_t *p = k->buf;
	size_t pm = ((size_t)(b->setup_sects ? b->setup_sects : 4) + 1) * 512;

	memset(p, 0, sizeof(k->buf));
	p[0x1f1] = b->setup_sects;
	put32(p + 0x1f4, b->pm_size / 16);
	put16(p + 0x1fe, 0xaa55);
	p[0x200] = 0xeb; /* jmp short, over the header */
	p[0x201] = b->jump;
	memcpy(p + 0x202, "HdrS", 4);
	put16(p + 0x206, b->version);
	p[0x211] = b->loadflags;
	put32(p + 0x22c, b->initrd_addr_max);
	put32(p + 0x230, 0x200000); /* kernel_alignment */
	p[0x234] = 1;               /* relocatable_kernel */
	p[0x235] = 21;              /* min_alignment: 2 MiB */
	put16(p + 0x236, b->xloadflags);
	put32(p + 0x238, b->cmdline_size);
	put32(p + 0x258, 0x1000000); /* pref_address */
	put32(p + 0x260, b->init_size);
	for (size_t i = 0; i < b->pm_size; i++)
		p[pm + i] = (uint8_t)(0x90 ^ i);
	p[pm + 0x200] = 0xf4; /* startup_64: hlt */
	k->size = pm + b->pm_size;
	if (k->size > sizeof(k->buf))
		abort();
}

static void bz_seed(const char *name, uint8_t mem, uint8_t initrd_flags, uint32_t initrd_size,
		    uint16_t cmdline_len, const struct bz *b)
{
	static struct kernel_seed k;

	k.mem = mem;
	k.initrd_flags = initrd_flags;
	k.initrd_size = initrd_size;
	k.cmdline_len = cmdline_len;
	bz_build(&k, b);
	kernel_seed(name, &k);
}

/* An ELF vmlinux: its segments at physical addresses, and a PVH entry note. */
struct note {
	const char *name;
	uint32_t type;
	const void *desc;
	uint32_t desc_len;
};

static size_t add_note(uint8_t *p, const struct note *n)
{
	Elf64_Nhdr nh = {
		.n_namesz = (uint32_t)strlen(n->name) + 1,
		.n_descsz = n->desc_len,
		.n_type = n->type,
	};
	size_t off = sizeof(nh);

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + off, n->name, nh.n_namesz);
	off += (nh.n_namesz + 3) & ~3u;
	memcpy(p + off, n->desc, n->desc_len);
	return off + ((n->desc_len + 3) & ~3u);
}

static void pvh_seed(const char *name, uint8_t mem, uint8_t initrd_flags, uint32_t initrd_size,
		     const struct note *notes, unsigned nr_notes, bool tls)
{
	static struct kernel_seed k;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)k.buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(k.buf + sizeof(*eh));
	unsigned nph = tls ? 4 : 3;
	size_t off = sizeof(*eh) + nph * sizeof(*ph), note_off;
	const uint64_t virt = 0xffffffff81000000ull, phys = 0x1000000;

	memset(&k, 0, sizeof(k));
	k.mem = mem;
	k.initrd_flags = initrd_flags;
	k.initrd_size = initrd_size;
	k.cmdline_len = 40;

	elfgen_ehdr(eh, ET_EXEC, virt, nph);

	/* Text, then data and bss, as vmlinux.lds lays them out. */
	off = (off + 0xfff) & ~(size_t)0xfff;
	ph[0] = (Elf64_Phdr){ PT_LOAD, PF_R | PF_X, off, virt, phys, 0x200, 0x200, 0x200000 };
	for (unsigned i = 0; i < 0x200; i++)
		k.buf[off + i] = (uint8_t)(0xcc ^ i);
	off += 0x200;
	ph[1] = (Elf64_Phdr){ PT_LOAD, PF_R | PF_W | PF_X, off, virt + 0x2000, phys + 0x2000,
			      0x100, 0x3000, 0x200000 };
	off += 0x100;
	note_off = off;
	for (unsigned i = 0; i < nr_notes; i++)
		off += add_note(k.buf + off, &notes[i]);
	ph[2] = (Elf64_Phdr){ PT_NOTE, PF_R, note_off, 0, 0, off - note_off, off - note_off, 4 };
	if (tls)
		ph[3] = (Elf64_Phdr){ PT_TLS, PF_R, 0, 0, 0, 0, 0x40, 8 };
	k.size = off;
	kernel_seed(name, &k);
}

static void linux_seeds(void)
{
	static const uint32_t entry = 0x1000000, high_entry = 0x1002040;
	static const uint8_t entry_short[2] = { 0, 1 };
	static const uint8_t build_id[20] = { 0xde, 0xad, 0xbe, 0xef };
	static const char xen_loader[] = "generic";
	const struct note pvh[] = {
		{ "Xen", 18, &entry, 4 },
	};
	const struct note many[] = {
		{ "GNU", 3, build_id, sizeof(build_id) },
		{ "Linux", 6, "6.1", 4 },
		{ "Xen", 8, xen_loader, sizeof(xen_loader) },
		{ "Xen", 18, &high_entry, 4 },
	};
	const struct note none[] = {
		{ "Xen", 1, &entry, 4 },
		{ "Xe", 18, &entry, 4 },
	};
	const struct note short_desc[] = {
		{ "Xen", 18, entry_short, 2 },
	};
	struct bz b;

	bz_seed("bz-basic", MEM_MIB(64), 0, 0, 30, &bz_default);
	bz_seed("bz-initrd", MEM_MIB(64), INITRD, 8192, 30, &bz_default);
	b = bz_default;
	b.xloadflags = 0x01;
	b.initrd_addr_max = 0x01ffffff;
	bz_seed("bz-initrd-max", MEM_MIB(128), INITRD, 5000, 12, &b);
	bz_seed("bz-initrd-huge", MEM_MIB(16), INITRD | INITRD_HUGE, 0, 12, &bz_default);
	bz_seed("bz-initrd-empty", MEM_MIB(16), INITRD, 0, 0, &bz_default);
	b = bz_default;
	b.init_size = 0x3378000; /* a Debian kernel's */
	bz_seed("bz-init-size", MEM_MIB(56), INITRD, 0xf000, 100, &b);
	bz_seed("bz-init-size-small-ram", MEM_MIB(16), 0, 0, 100, &b);
	b = bz_default;
	b.setup_sects = 0;
	bz_seed("bz-setup-sects-0", MEM_MIB(16), 0, 0, 1, &b);
	b = bz_default;
	b.setup_sects = 30;
	bz_seed("bz-setup-sects-30", MEM_MIB(32), INITRD, 4096, 200, &b);
	b = bz_default;
	b.version = 0x020b;
	bz_seed("bz-protocol-2.11", MEM_MIB(64), 0, 0, 10, &b);
	b = bz_default;
	b.xloadflags = 0;
	bz_seed("bz-32-bit-only", MEM_MIB(64), 0, 0, 10, &b);
	b = bz_default;
	b.loadflags = 0;
	bz_seed("bz-zimage", MEM_MIB(64), 0, 0, 10, &b);
	b = bz_default;
	b.jump = 0xff;
	bz_seed("bz-header-too-long", MEM_MIB(64), 0, 0, 10, &b);
	b = bz_default;
	b.jump = 0xcc; /* the header ends right at the e820 table */
	bz_seed("bz-header-longest", MEM_MIB(64), 0, 0, 10, &b);
	bz_seed("bz-cmdline-max", MEM_MIB(64), 0, 0, 0x7ff, &bz_default);
	bz_seed("bz-cmdline-too-long", MEM_MIB(64), 0, 0, 0x800, &bz_default);
	b = bz_default;
	b.cmdline_size = 0xffffffff;
	bz_seed("bz-cmdline-4k", MEM_MIB(64), 0, 0, 4095, &b);
	bz_seed("bz-3g", MEM_3G, INITRD, 0x10000, 30, &bz_default);
	bz_seed("bz-4g", MEM_4G, INITRD, 0x10000, 30, &bz_default);
	bz_seed("bz-1t", MEM_1T, INITRD, 0x1000, 30, &bz_default);

	pvh_seed("pvh-basic", MEM_MIB(64), 0, 0, pvh, 1, false);
	pvh_seed("pvh-initrd", MEM_MIB(64), INITRD, 12345, pvh, 1, true);
	pvh_seed("pvh-notes", MEM_4G, INITRD, 4096, many, 4, false);
	pvh_seed("pvh-no-entry", MEM_MIB(64), 0, 0, none, 2, false);
	pvh_seed("pvh-short-entry", MEM_MIB(64), 0, 0, short_desc, 1, false);
	pvh_seed("pvh-small-ram", MEM_MIB(16), 0, 0, pvh, 1, false);
}

/* The first BZ_HEAD_SIZE bytes of a real bzImage, still loadable. */
static void bzimage_head_seed(const char *path)
{
	static struct kernel_seed k;
	FILE *f = fopen(path, "rb");
	size_t pm;

	if (!f || (k.size = fread(k.buf, 1, BZ_HEAD_SIZE, f)) != BZ_HEAD_SIZE) {
		perror(path);
		exit(1);
	}
	fclose(f);
	pm = ((size_t)(k.buf[0x1f1] ? k.buf[0x1f1] : 4) + 1) * 512;
	if (pm >= k.size) {
		fprintf(stderr, "%s: setup code longer than %d bytes\n", path, BZ_HEAD_SIZE);
		exit(1);
	}
	put32(k.buf + 0x1f4, (uint32_t)((k.size - pm) / 16));
	k.mem = MEM_MIB(64);
	k.initrd_flags = INITRD;
	k.initrd_size = 0x2000;
	k.cmdline_len = 60;
	kernel_seed("bzimage-head", &k);
}

/*
 * Legacy device seeds: a RAM size byte, then port accesses encoded as
 * fuzz_pcdev.c reads them.
 */

static const uint16_t pc_ports[32] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
	0x60, 0x64, 0x70, 0x71,
	0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff,
	0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x606, 0x607,
	0x608, 0x609, 0x60a, 0x60b,
};

static uint8_t io_buf[8192];
static size_t io_len;

static void io_byte(uint8_t b)
{
	if (io_len == sizeof(io_buf))
		abort();
	io_buf[io_len++] = b;
}

static void io_start(uint8_t mem)
{
	io_len = 0;
	io_byte(mem);
}

static void io(uint16_t port, unsigned width, bool is_write, uint32_t value)
{
	unsigned log2 = width == 4 ? 2 : width == 2 ? 1 : 0;
	uint8_t w = is_write ? 0x80 : 0;
	unsigned i;

	for (i = 0; i < 32 && pc_ports[i] != port; i++)
		;
	if (i < 32) {
		io_byte((uint8_t)(w | log2 << 5 | i));
	} else {
		io_byte((uint8_t)(w | 3 << 5 | log2));
		io_byte((uint8_t)port);
		io_byte((uint8_t)(port >> 8));
	}
	for (i = 0; is_write && i < width; i++)
		io_byte((uint8_t)(value >> (8 * i)));
}

static void outb(uint16_t port, uint8_t v)
{
	io(port, 1, true, v);
}

static void outw(uint16_t port, uint16_t v)
{
	io(port, 2, true, v);
}

static void outl(uint16_t port, uint32_t v)
{
	io(port, 4, true, v);
}

static void inb(uint16_t port)
{
	io(port, 1, false, 0);
}

static void inw(uint16_t port)
{
	io(port, 2, false, 0);
}

static void inl(uint16_t port)
{
	io(port, 4, false, 0);
}


static void type_text(const char *s)
{
	size_t len = strlen(s);

	io_byte(3 << 5 | 24);
	io_byte((uint8_t)len);
	for (size_t i = 0; i < len; i++)
		io_byte((uint8_t)s[i]);
}

static void power_button(void)
{
	io_byte(3 << 5 | 28);
}

static void pass_ms(uint8_t ms)
{
	io_byte(3 << 5 | 30);
	io_byte(ms);
}

static void pass_s(uint8_t s)
{
	io_byte(3 << 5 | 31);
	io_byte(s);
}

static void io_done(const char *name)
{
	write_file("pcdev", name, io_buf, io_len);
}

/* After drivers/tty/serial/8250/8250_port.c: autoconfig(), then a console. */
static void serial_seed(void)
{
	static const char banner[] = "Linux version 6.1\r\n";

	io_start(2);
	/* The IER test: bits 4-7 must not stick. */
	inb(0x3f9);
	outb(0x3f9, 0);
	inb(0x3f9);
	outb(0x3f9, 0x0f);
	inb(0x3f9);
	outb(0x3f9, 0);
	/* The loopback test: MSR follows MCR. */
	inb(0x3fc);
	outb(0x3fc, 0x1a);
	inb(0x3fe);
	outb(0x3fc, 0);
	/* No EFR (LCR 0xbf), then the FIFO. */
	inb(0x3fb);
	outb(0x3fb, 0xbf);
	outb(0x3fa, 0);
	inb(0x3fa);
	outb(0x3fb, 0);
	outb(0x3fa, 0x01);
	inb(0x3fa);
	/* Divisor latches. */
	outb(0x3fb, 0x80);
	inb(0x3f8);
	inb(0x3f9);
	outb(0x3f8, 0x01);
	outb(0x3f9, 0x00);
	outb(0x3fb, 0x03);
	/* The FIFO's size: fill it in loopback until it overruns. */
	outb(0x3fc, 0x10);
	outb(0x3fa, 0xc7);
	for (unsigned i = 0; i < 20; i++)
		outb(0x3f8, (uint8_t)i);
	inb(0x3fd);
	for (unsigned i = 0; i < 20; i++)
		inb(0x3f8);
	outb(0x3fc, 0x0b);
	/* The THRE interrupt, and the console. */
	outb(0x3f9, 0x02);
	inb(0x3fa);
	inb(0x3fa);
	outb(0x3f9, 0);
	for (const char *p = banner; *p; p++) {
		inb(0x3fd);
		outb(0x3f8, (uint8_t)*p);
	}
	outb(0x3f9, 0x0f);
	/* Host input, read under interrupts. */
	type_text("root\n");
	inb(0x3fa);
	inb(0x3fd);
	for (unsigned i = 0; i < 6; i++)
		inb(0x3f8);
	inb(0x3fa);
	inb(0x3fe);
	inw(0x3f8);
	inl(0x3fc);
	outw(0x3fb, 0x0383);
	outl(0x3f8, 0x0b000102);
	io_done("serial-autoconfig");
}

/* After drivers/input/serio/i8042.c and atkbd.c, then a reboot. */
static void i8042_seed(void)
{
	io_start(30);
	inb(0x64);
	outb(0x64, 0x20);
	inb(0x64);
	inb(0x60);
	outb(0x64, 0xaa);
	inb(0x64);
	inb(0x60);
	outb(0x64, 0x60);
	outb(0x60, 0x47);
	outb(0x64, 0xa8);
	outb(0x64, 0x20);
	inb(0x60);
	outb(0x64, 0xa9);
	inb(0x60);
	outb(0x64, 0xd3);
	outb(0x60, 0x5a);
	inb(0x64);
	inb(0x60);
	outb(0x64, 0xd4);
	outb(0x60, 0xf2);
	inb(0x64);
	inb(0x60);
	outb(0x64, 0xab);
	inb(0x60);
	outb(0x60, 0xff);
	inb(0x60);
	inb(0x60);
	outb(0x60, 0xf2);
	inb(0x60);
	inb(0x60);
	inb(0x60);
	outb(0x60, 0xf0);
	outb(0x60, 0x00);
	inb(0x60);
	inb(0x60);
	outb(0x60, 0xed);
	outb(0x60, 0x07);
	inb(0x60);
	inb(0x60);
	outb(0x64, 0xd1);
	outb(0x60, 0xdf);
	outb(0x64, 0xd0);
	inb(0x60);
	for (unsigned i = 0; i < 18; i++)
		outb(0x64, 0x20);
	inb(0x64);
	outb(0x64, 0xfe); /* pulse the reset line */
	inb(0x64);
	outb(0x64, 0xaa);
	inb(0x60);
	io_done("i8042-selftest");
}

static void rtc_read(uint8_t reg)
{
	outb(0x70, reg);
	inb(0x71);
}

/* After mc146818_get_time() and mc146818_set_time(), and CMOS memory sizes. */
static void rtc_seed(void)
{
	static const uint8_t regs[] = { 0x0a, 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32,
					0x0b, 0x0c, 0x0d, 0x15, 0x16, 0x17, 0x18, 0x30, 0x31,
					0x34, 0x35, 0x5b, 0x5c, 0x5d };

	io_start(250); /* 4 GiB + 2 MiB: memory above 4 GiB too */
	for (unsigned i = 0; i < sizeof(regs); i++)
		rtc_read(regs[i]);
	/* Set 23:59:58 on 31 December 2099, then read it in binary and 12-hour mode. */
	outw(0x70, 0x820b);
	outw(0x70, 0x5800);
	outw(0x70, 0x5902);
	outw(0x70, 0x2304);
	outw(0x70, 0x3107);
	outw(0x70, 0x1208);
	outw(0x70, 0x9909);
	outw(0x70, 0x2032);
	outw(0x70, 0x020b);
	rtc_read(0x00);
	pass_s(3); /* into the next century */
	rtc_read(0x00);
	rtc_read(0x09);
	rtc_read(0x32);
	outw(0x70, 0x040b);
	rtc_read(0x04);
	rtc_read(0x07);
	/* An alarm and the periodic rate, polled through register C. */
	outw(0x70, 0xc001);
	outw(0x70, 0xc003);
	outw(0x70, 0xc005);
	outw(0x70, 0x2f0a);
	outw(0x70, 0x720b);
	rtc_read(0x0c);
	pass_ms(200);
	rtc_read(0x0c);
	pass_s(1);
	rtc_read(0x0c);
	outb(0x70, 0x8f); /* NMI masked */
	inw(0x70);
	outb(0x71, 0x00);
	/* The start of the calendar: January of year 0, minus a month. */
	outw(0x70, 0x820b);
	outw(0x70, 0x0032);
	outw(0x70, 0x0009);
	outw(0x70, 0x0108);
	outw(0x70, 0x020b);
	rtc_read(0x09);
	outw(0x70, 0x820b);
	outw(0x70, 0x0008);
	outw(0x70, 0x020b);
	rtc_read(0x08);
	rtc_read(0x09);
	rtc_read(0x32);
	io_done("rtc-read");
}

/* After arch/x86/pci/direct.c: pci_check_type1() and pci_sanity_check(). */
static void pci_seed(void)
{
	io_start(0);
	outb(0xcfb, 0x01);
	inl(0xcf8);
	outl(0xcf8, 0x80000000);
	inl(0xcf8);
	outl(0xcf8, 0);
	/* Every device on bus 0, class and vendor. */
	for (unsigned dev = 0; dev < 32; dev += 3) {
		outl(0xcf8, 0x80000000u | dev << 11 | 0x08);
		inw(0xcfe);
		outl(0xcf8, 0x80000000u | dev << 11);
		inw(0xcfc);
		inl(0xcfc);
	}
	outl(0xcf8, 0x80000100); /* function 1 */
	inl(0xcfc);
	outl(0xcf8, 0x80010000); /* bus 1 */
	inl(0xcfc);
	/* The host bridge: command, BAR sizing, interrupt line. */
	outl(0xcf8, 0x80000004);
	outw(0xcfc, 0x0007);
	outw(0xcfe, 0xffff);
	inl(0xcfc);
	outl(0xcf8, 0x80000010);
	outl(0xcfc, 0xffffffff);
	inl(0xcfc);
	outl(0xcf8, 0x8000003c);
	outb(0xcfc, 0x0b);
	inb(0xcfd);
	outl(0xcf8, 0x80000000);
	outl(0xcfc, 0);
	inl(0xcfc);
	inw(0xcfa);
	inb(0xcf8);
	inw(0xcf9);
	outl(0xcf8, 0x7fffffff);
	inl(0xcfc);
	/* The reset register in the same dword, as Linux's reboot=pci. */
	inb(0xcf9);
	outb(0xcf9, 0x02);
	inb(0xcf9);
	outb(0xcf9, 0x06);
	inl(0xcf8);
	inb(0xcf9);
	outl(0xcf8, 0x80000000);
	inl(0xcfc);
	io_done("pci-probe");
}

/*
 * A driver's look at the devices fuzz_pcdev.c registers at 00:03.0 and
 * 00:1f.0, as Linux's __pci_read_base() and pci_enable_device() go: each
 * BAR sized with all-ones and placed, the command register enabled, then
 * the bytes past the header written and cleared.
 */
static void pci_bars_seed(void)
{
	static const unsigned devs[2] = { 3, 31 };

	io_start(0);
	for (unsigned d = 0; d < 2; d++) {
		uint32_t base = 0x80000000u | devs[d] << 11;

		outl(0xcf8, base);
		inl(0xcfc);
		outl(0xcf8, base | 0x04);
		outw(0xcfc, 0);
		for (unsigned bar = 0; bar < 6; bar++) {
			outl(0xcf8, base | (0x10 + 4 * bar));
			inl(0xcfc);
			outl(0xcfc, 0xffffffff);
			inl(0xcfc);
			outl(0xcfc, bar == 0 ? 0xc040 : 0xfe000000u + bar * 0x100000u);
			inl(0xcfc);
		}
		outl(0xcf8, base | 0x3c);
		outb(0xcfc, 0x0b);
		inl(0xcfc);
		outl(0xcf8, base | 0x04);
		outw(0xcfc, 0x0007);
		outw(0xcfe, 0xffff);
		inl(0xcfc);
		for (unsigned reg = 0x40; reg < 0x58; reg += 4) {
			outl(0xcf8, base | reg);
			outl(0xcfc, 0xffffffff);
			inl(0xcfc);
			outw(0xcfe, 0x00ff);
			inb(0xcfd);
		}
	}
	io_done("pci-bars");
}

/* ACPI: the power button's SCI, the PM timer, then S5 (acpi_enter_sleep_state). */
static void acpi_seed(void)
{
	io_start(8);
	inw(0x600);
	inw(0x602);
	outw(0x602, 0x0100);
	inw(0x604);
	inl(0x608);
	pass_ms(1);
	inl(0x608);
	inw(0x60a);
	pass_s(255);
	inl(0x608);
	power_button();
	inw(0x600);
	outw(0x600, 0x0100);
	inw(0x600);
	inl(0x608);
	inb(0x609);
	outw(0x600, 0xffff);
	outw(0x602, 0xffff);
	inw(0x602);
	outl(0x600, 0);
	outw(0x604, 5 << 10);
	outw(0x604, 5 << 10 | 0x2000);
	/* Stopped: everything still answers. */
	inw(0x604);
	inl(0x608);
	outb(0x3f8, 'x');
	power_button();
	inw(0x600);
	outb(0x605, 0x34);
	outl(0x604, 0);
	inw(0x606);
	io_done("acpi-s5");
}

/* What nobody claims, and widths the devices do not take. */
static void wild_seed(void)
{
	static const uint16_t probes[] = { 0x80, 0x2f8, 0x3e8, 0x2e8, 0x61, 0x40, 0x43, 0x4d0,
					   0xcf4, 0xcf7, 0x3f7, 0x400, 0x5ff, 0x60c, 0x72,
					   0x65, 0xffff };

	io_start(255);
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		inb(probes[i]);
		outb(probes[i], 0x5a);
		inl(probes[i]);
	}
	inl(0x3fe);  /* runs past the UART */
	inw(0x3ff);
	inw(0x6f);
	inw(0x71);
	inl(0x60b);
	inl(0xcfe);
	outl(0x604, 0x3400); /* PM1a control takes no dwords: the VM stops */
	inl(0x60);
	inb(0x64);
	outw(0x60, 0xfe);
	inl(0x70);
	inb(0x3f8);
	io_done("wild-ports");
}

static void pcdev_seeds(void)
{
	serial_seed();
	i8042_seed();
	rtc_seed();
	pci_seed();
	pci_bars_seed();
	acpi_seed();
	wild_seed();
}

/* I/O queue seeds: the ring's size, then steps as fuzz_queue.c reads them. */

enum { Q_WRITE, Q_SUBMIT, Q_CONSUME, Q_SET, Q_TAKE, Q_COMPLETE, Q_ARM, Q_UNCONSUMED };
enum { Q_SQ_TAIL, Q_CQ_HEAD, Q_SQ_HEAD, Q_CQ_TAIL, Q_FLAGS };
#define Q_JUNK 0x10u

static uint8_t q_buf[1024];
static size_t q_len;

static void q_byte(uint8_t b)
{
	if (q_len == sizeof(q_buf))
		abort();
	q_buf[q_len++] = b;
}

static void q_start(unsigned log2_entries, uint8_t flags)
{
	q_len = 0;
	q_byte((uint8_t)(log2_entries | flags));
}

/* `a` is 0-31. */
static void q_op(unsigned what, unsigned a)
{
	if (a > 31)
		abort();
	q_byte((uint8_t)(what | a << 3));
}

static void q_submit(unsigned n)
{
	q_op(Q_SUBMIT, n);
}

static void q_consume(unsigned n)
{
	q_op(Q_CONSUME, n);
}

static void q_take(unsigned n)
{
	q_op(Q_TAKE, n - 1);
}

/* Completes the held requests picked[0..n), n from 1 to 4. */
static void q_complete(const uint8_t *picked, unsigned n)
{
	q_op(Q_COMPLETE, n - 1);
	for (unsigned i = 0; i < n; i++)
		q_byte(picked[i]);
}

static void q_set(unsigned field, uint32_t v)
{
	q_op(Q_SET, field);
	for (unsigned i = 0; i < 4; i++)
		q_byte((uint8_t)(v >> (8 * i)));
}

static void q_add(unsigned field, int8_t delta)
{
	q_op(Q_SET, field + 5);
	q_byte((uint8_t)delta);
}

/* The guest writes n (1 to 32) bytes at `off` in the ring. */
static void q_write(uint16_t off, const void *p, unsigned n)
{
	q_op(Q_WRITE, n - 1);
	q_byte((uint8_t)off);
	q_byte((uint8_t)(off >> 8));
	for (unsigned i = 0; i < n; i++)
		q_byte(((const uint8_t *)p)[i]);
}

static void q_done(const char *name)
{
	write_file("queue", name, q_buf, q_len);
}

static void queue_seeds(void)
{
	static const uint8_t first[4] = { 0, 0, 0, 0 }, mixed[4] = { 2, 0, 5, 1 };
	static const uint8_t junk[32] = { 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff,
					  0x01, 0x00, 0x00, 0x80, 0x07 };
	const struct { uint16_t op, flags; uint32_t len; uint64_t user_data, addr, offset; }
		raw = { 2, 0, 4096, 0x1234, 0x200000, 512 };

	/* The way a guest drives it: submit, take, complete, consume, sleep. */
	q_start(2, 0);
	q_submit(3);
	q_take(8);
	q_complete(first, 3);
	q_consume(3);
	q_op(Q_UNCONSUMED, 0);
	q_op(Q_ARM, 0);
	q_submit(1);
	q_op(Q_ARM, 0);
	q_take(1);
	q_complete(first, 1);
	q_op(Q_UNCONSUMED, 0);
	q_consume(1);
	q_op(Q_ARM, 0);
	q_op(Q_ARM, 1);
	q_done("basic");

	/* No completion slot left: requests wait in the ring. */
	q_start(2, 0);
	q_submit(4);
	q_take(4);
	q_submit(3);
	q_take(4);
	q_op(Q_ARM, 0);
	q_complete(mixed + 3, 1);
	q_take(1);
	q_consume(1);
	q_take(4);
	q_complete(mixed, 4);
	q_op(Q_UNCONSUMED, 0);
	q_consume(4);
	q_take(4);
	q_op(Q_ARM, 0);
	q_complete(first, 3);
	q_consume(31);
	q_op(Q_ARM, 0);
	q_done("full-ring");

	/* Completions in any order, round the ring twice. */
	q_start(3, 0);
	for (unsigned i = 0; i < 2; i++) {
		q_submit(8);
		q_take(8);
		q_complete(mixed, 4);
		q_consume(2);
		q_complete(mixed + 1, 3);
		q_complete(first, 1);
		q_consume(8);
	}
	q_op(Q_UNCONSUMED, 0);
	q_done("out-of-order");

	/* A ring of one. */
	q_start(0, 0);
	q_submit(2);
	q_take(2);
	q_op(Q_ARM, 0);
	q_complete(first, 1);
	q_take(1);
	q_consume(1);
	q_take(1);
	q_complete(first, 1);
	q_consume(1);
	q_op(Q_ARM, 0);
	q_done("one-entry");

	/* The biggest ring, filled and emptied. */
	q_start(10, 0);
	for (unsigned i = 0; i < 33; i++) {
		q_submit(31);
		q_take(32);
	}
	q_submit(31);
	q_take(32);
	for (unsigned i = 0; i < 8; i++)
		q_complete(mixed, 4);
	q_consume(31);
	q_take(32);
	q_op(Q_UNCONSUMED, 0);
	q_done("max-entries");

	/* sq_tail runs more than a ring ahead. */
	q_start(2, 0);
	q_submit(2);
	q_take(1);
	q_add(Q_SQ_TAIL, 10);
	q_take(1);
	q_op(Q_ARM, 0);
	q_op(Q_UNCONSUMED, 0);
	q_op(Q_ARM, 1);
	q_complete(first, 1);
	q_add(Q_SQ_TAIL, -10);
	q_take(1);
	q_done("bad-sq-tail");

	/* cq_head past cq_tail. */
	q_start(1, 0);
	q_submit(1);
	q_take(1);
	q_complete(first, 1);
	q_set(Q_CQ_HEAD, 5);
	q_op(Q_UNCONSUMED, 0);
	q_submit(1);
	q_take(1);
	q_op(Q_ARM, 0);
	q_done("bad-cq-head");

	/* cq_head a whole ring behind, then more. */
	q_start(2, 0);
	for (unsigned i = 0; i < 5; i++) {
		q_submit(1);
		q_take(1);
		q_complete(first, 1);
		q_consume(1);
	}
	q_add(Q_CQ_HEAD, -4);
	q_op(Q_UNCONSUMED, 0);
	q_submit(1);
	q_take(1);
	q_op(Q_ARM, 0);
	q_add(Q_CQ_HEAD, -1);
	q_take(1);
	q_done("cq-head-behind");

	/* The guest writes over the VMM's indices and flags. */
	q_start(4, 0);
	q_submit(5);
	q_set(Q_SQ_HEAD, 0xdeadbeef);
	q_set(Q_CQ_TAIL, 1234);
	q_set(Q_FLAGS, 0xffffffff);
	q_take(3);
	q_write(64, junk, 13);
	q_complete(mixed, 2);
	q_op(Q_ARM, 0);
	q_set(Q_FLAGS, 0);
	q_take(4);
	q_op(Q_ARM, 1);
	q_consume(2);
	q_op(Q_UNCONSUMED, 0);
	q_done("scribble-vmm");

	/* Requests the guest writes byte by byte, and rewrites once taken. */
	q_start(3, 0);
	q_write(128, &raw, sizeof(raw));
	q_write(128 + 32, &raw, sizeof(raw));
	q_set(Q_SQ_TAIL, 2);
	q_take(1);
	q_write(128, junk, 32);
	q_take(1);
	q_write(128 + 32, junk, 32);
	q_complete(mixed, 2);
	q_write(128 + 32 * 8, junk, 16); /* over a completion */
	q_consume(2);
	q_done("raw-requests");

	/* A ring the guest did not zero. */
	q_start(10, Q_JUNK);
	q_take(1);
	q_op(Q_ARM, 0);
	q_op(Q_UNCONSUMED, 0);
	q_done("junk-ring");
}

/* Decoder seeds: %dx (little-endian), then the code bytes. */
static void insn_seed(const char *name, const char *bytes, size_t size)
{
	write_file("insn", name, bytes, size);
}

#define INSN_SEED(name, lit) insn_seed(name, lit, sizeof(lit) - 1)

static void insn_seeds(void)
{
	INSN_SEED("outb-imm", "\x80\x00\xe6\x80");
	INSN_SEED("outb-dx", "\xf8\x03\xee");
	INSN_SEED("outl-hypercall", "\x00\x05\xef");
	INSN_SEED("inw-imm", "\x61\x00\x66\xe5\x61");
	INSN_SEED("rep-outsb", "\xf8\x03\xf3\x6e");
	INSN_SEED("prefixes-rex", "\x00\x00\x2e\x67\x66\x41\xed");
	INSN_SEED("ud2", "\x00\x00\x0f\x0b");
	INSN_SEED("too-long", "\x00\x00\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66"
			      "\x66\x66\x66\xef");
}

/* Control socket request lines (no newline: the parser gets the line without it). */
#define CTL_SEED(name, lit) write_file("ctl", name, lit, sizeof(lit) - 1)

static void ctl_seeds(void)
{
	CTL_SEED("info", "{\"op\":\"info\"}");
	CTL_SEED("stats", "{\"op\":\"stats\"}");
	CTL_SEED("pause-fields", " {\"op\" : \"pause\", \"id\": [1, {\"a\": null}]} \r");
	CTL_SEED("console-escaped", "{\"op\":\"\\u0063onsole\"}");
	CTL_SEED("unknown-op", "{\"op\":\"reboot\"}");
	CTL_SEED("array", "[\"op\",\"kill\"]");
	CTL_SEED("truncated", "{\"op\":\"info\"");
	CTL_SEED("two-objects", "{\"op\":\"info\"}{\"op\":\"kill\"}");
	CTL_SEED("nul-escape", "{\"op\":\"in\\u0000fo\"}");
	CTL_SEED("deep", "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]");
	CTL_SEED("numbers", "{\"op\":1e999,\"x\":-0.0e-5,\"y\":\"\\ud800\"}");
}


/* Split virtqueue seeds: the scripts fuzz_virtq.c reads. */
static uint8_t vq_buf[4096];
static size_t vq_len;

static void vq_byte(uint8_t b)
{
	if (vq_len == sizeof(vq_buf))
		abort();
	vq_buf[vq_len++] = b;
}

/* Descriptor i of the ring (or of the indirect table area). */
static void vq_desc(bool table, uint8_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	vq_byte((uint8_t)(1 | (table ? 1 : 0) << 2));
	vq_byte(i);
	for (unsigned k = 0; k < 8; k++)
		vq_byte((uint8_t)(addr >> 8 * k));
	for (unsigned k = 0; k < 4; k++)
		vq_byte((uint8_t)(len >> 8 * k));
	vq_byte((uint8_t)flags);
	vq_byte((uint8_t)(flags >> 8));
	vq_byte((uint8_t)next);
	vq_byte((uint8_t)(next >> 8));
}

static void vq_offer(uint8_t head)
{
	vq_byte(2);
	vq_byte(head);
}

static void vq_serve(unsigned n)
{
	vq_byte((uint8_t)(3 | (n - 1) << 2));
}

static void vq_start(uint8_t first)
{
	vq_len = 0;
	vq_byte(first);
}

static void vq_done(const char *name)
{
	write_file("virtq", name, vq_buf, vq_len);
}

#define VQ_F_INDIRECT 0x10
#define VQ_F_EVENT_IDX 0x20
#define VQ_NEXT 1
#define VQ_WRITE 2
#define VQ_INDIRECT 4

static void virtq_seeds(void)
{
	/* A block request: header, data, status; served, then one more. */
	vq_start(VQ_F_INDIRECT | 3);
	vq_desc(false, 0, 0x6000, 16, VQ_NEXT, 1);
	vq_desc(false, 1, 0x6100, 512, VQ_NEXT | VQ_WRITE, 2);
	vq_desc(false, 2, 0x6400, 1, VQ_WRITE, 0);
	vq_offer(0);
	vq_serve(4);
	vq_offer(2);
	vq_serve(1);
	vq_done("basic");

	vq_start(VQ_F_INDIRECT | 8);
	vq_desc(true, 0, 0x6000, 16, VQ_NEXT, 1);
	vq_desc(true, 1, 0x10000, 4096, VQ_NEXT | VQ_WRITE, 2);
	vq_desc(true, 2, 0x6400, 1, VQ_WRITE, 0);
	vq_desc(false, 7, 0x5000, 48, VQ_INDIRECT, 0);
	vq_offer(7);
	vq_serve(2);
	vq_done("indirect");

	vq_start(3);
	vq_desc(false, 0, 0x6000, 16, VQ_NEXT, 1);
	vq_desc(false, 1, 0x6000, 16, VQ_NEXT, 0);
	vq_offer(0);
	vq_serve(1);
	vq_done("loop");

	vq_start(2);
	vq_desc(false, 0, 0x7ff0, 0x8100, 0, 0);
	vq_offer(0);
	vq_serve(1);
	vq_done("across-regions");

	vq_start(VQ_F_INDIRECT | 4);
	vq_desc(true, 0, 0x5000, 16, VQ_INDIRECT, 0);
	vq_desc(false, 0, 0x5000, 16, VQ_INDIRECT, 0);
	vq_offer(0);
	vq_serve(1);
	vq_done("nested-indirect");

	/* The avail index jumps ahead of the ring. */
	vq_start(2);
	vq_byte(0 | 1 << 2);
	vq_byte(0x02);
	vq_byte(0x20);
	vq_byte(0x40);
	vq_byte(0x00);
	vq_serve(1);
	vq_done("avail-ahead");

	/* Many chains, indices wrapping the ring several times. */
	vq_start(1);
	vq_desc(false, 0, 0x6000, 8, 0, 0);
	vq_desc(false, 1, 0x6000, 8, VQ_WRITE, 0);
	for (unsigned i = 0; i < 40; i++) {
		vq_offer((uint8_t)(i & 1));
		vq_serve(1);
	}
	vq_done("wrap");

	/* The event index: chains in batches, the ring drained in between. */
	vq_start(VQ_F_EVENT_IDX | VQ_F_INDIRECT | 2);
	vq_desc(false, 0, 0x6000, 16, VQ_NEXT, 1);
	vq_desc(false, 1, 0x6100, 8, VQ_WRITE, 0);
	vq_desc(false, 2, 0x6000, 8, 0, 0);
	for (unsigned i = 0; i < 6; i++) {
		vq_offer((uint8_t)(i % 3 ? 2 : 0));
		vq_offer(2);
		vq_serve(3);
	}
	vq_done("event-idx");
}

/* virtio-vsock seeds: the scripts fuzz_vsock.c reads. */
struct vs_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

#define VS_FIX 3u /* the CIDs right, type STREAM and len = the payload's */
#define VS_HOST_PORT0 (1u << 30)

static void vs_tx(unsigned a, uint16_t op, uint32_t src, uint32_t dst, uint32_t flags,
		  uint32_t buf_alloc, uint32_t fwd_cnt, const char *payload)
{
	/* Without VS_FIX: another guest's CID and a datagram type, for the harness to keep. */
	struct vs_hdr h = { (a & 1) ? 3 : 4, 2, src, dst, 0, (a & 2) ? 1 : 2, op, flags, buf_alloc,
			    fwd_cnt };
	size_t n = payload ? strlen(payload) : 0;
	const uint8_t *p = (const uint8_t *)&h;

	vq_byte((uint8_t)(a << 3));
	for (size_t i = 0; i < sizeof(h); i++)
		vq_byte(p[i]);
	vq_byte((uint8_t)n);
	for (size_t i = 0; i < n; i++)
		vq_byte((uint8_t)payload[i]);
}

static void vs_rx(unsigned count, uint8_t size16)
{
	vq_byte((uint8_t)((count - 1) << 3 | 1));
	vq_byte(size16);
}

static void vs_rounds(unsigned n)
{
	vq_byte((uint8_t)((n - 1) << 3 | 3));
}

static void vs_done(const char *name)
{
	write_file("vsock", name, vq_buf, vq_len);
}

static void vsock_seeds(void)
{
	/* The guest connects to the echo server at PATH_1024, sends, reads back, shuts down. */
	vq_len = 0;
	vs_rx(8, 0xff);
	vs_tx(VS_FIX, 1, 5000, 1024, 0, 65536, 0, NULL);
	vs_rounds(4);
	vs_tx(VS_FIX, 5, 5000, 1024, 0, 65536, 0, "hello");
	vs_rounds(4);
	vs_rx(8, 0xff);
	vs_rounds(4);
	vs_tx(VS_FIX, 6, 5000, 1024, 0, 65536, 5, NULL);
	vs_tx(VS_FIX, 7, 5000, 1024, 0, 65536, 5, NULL);
	vs_tx(VS_FIX, 4, 5000, 1024, 3, 65536, 5, NULL);
	vs_rounds(4);
	vs_done("guest-echo");

	/* A host program's CONNECT 77; the guest accepts; data both ways; the host closes. */
	vq_len = 0;
	vs_rx(8, 0xff);
	vq_byte(2);
	vq_byte(77);
	vq_byte(0);
	vs_rounds(4);
	vs_tx(VS_FIX, 2, 77, VS_HOST_PORT0, 0, 65536, 0, NULL);
	vs_rounds(2);
	vq_byte(2 << 3 | 6);
	vq_byte(0);
	vs_rounds(4);
	vs_tx(VS_FIX, 5, 77, VS_HOST_PORT0, 0, 65536, 128, "from the guest");
	vs_rounds(2);
	vq_byte(6);
	vq_byte(0);
	vs_rounds(4);
	vs_tx(VS_FIX, 3, 77, VS_HOST_PORT0, 0, 65536, 128, NULL);
	vs_done("host-connect");

	/* A tiny credit: the echo's answer comes 10 bytes at a time. */
	vq_len = 0;
	vs_rx(8, 0xff);
	vs_tx(VS_FIX, 1, 5001, 1024, 0, 10, 0, NULL);
	vs_rounds(2);
	vs_tx(VS_FIX, 5, 5001, 1024, 0, 10, 0, "0123456789abcdefghijklmnopqrstuvwxyz");
	vs_rounds(4);
	vs_tx(VS_FIX, 6, 5001, 1024, 0, 10, 10, NULL);
	vs_rounds(4);
	vs_done("credit");

	/* Refused and bad: no listener, a wrong CID, a bad type and op, too long a length. */
	vq_len = 0;
	vs_rx(8, 0xff);
	vs_tx(VS_FIX, 1, 5002, 999, 0, 65536, 0, NULL);
	vs_tx(2, 1, 5003, 1024, 0, 65536, 0, NULL);
	vs_tx(1, 1, 5004, 1024, 0, 65536, 0, "xx");
	vs_tx(VS_FIX, 42, 5005, 1024, 0, 65536, 0, NULL);
	vs_tx(VS_FIX | 4, 1, 5006, 1024, 0, 65536, 0, NULL);
	vs_rounds(2);
	vs_done("bad-headers");

	/* Breaking the device: a chain shorter than a header; then a buffer too small for one. */
	vq_len = 0;
	vs_rx(2, 0xff);
	vs_tx(VS_FIX | 4 | 8, 1, 5007, 1024, 0, 65536, 0, NULL);
	vs_rounds(2);
	vq_byte(5);
	vs_rx(1, 1);
	vs_tx(VS_FIX, 1, 5008, 999, 0, 65536, 0, NULL);
	vs_rounds(2);
	vs_done("needs-reset");

	/* More connections than the cap. */
	vq_len = 0;
	vs_rx(8, 0xff);
	for (unsigned i = 0; i < 40; i++) {
		vs_tx(VS_FIX, 1, 6000 + i, 1024, 0, 65536, 0, NULL);
		if (i % 8 == 7) {
			vs_rx(8, 0xff);
			vs_rounds(1);
		}
	}
	vs_rounds(2);
	vs_done("many");
}

/* virtio PCI seeds: the scripts fuzz_vpci.c reads. */
static void vp_op(unsigned what, unsigned width_log2, unsigned a)
{
	vq_byte((uint8_t)(what | width_log2 << 3 | a << 5));
}

/* n <= 29 RAM bytes at `gpa` (a multiple of 16), zeros after them up to the op's length. */
static void vp_ram(uint32_t gpa, const void *src, size_t n)
{
	const uint8_t *p = src;
	unsigned a = (unsigned)(n + 2) / 4;

	if (n == 0 || n > 29 || gpa % 16)
		abort();
	vp_op(4, 0, a);
	vq_byte((uint8_t)(gpa / 16));
	vq_byte((uint8_t)(gpa / 16 >> 8));
	for (size_t i = 0; i < (size_t)a * 4 + 1; i++)
		vq_byte(i < n ? p[i] : 0);
}

static void vp_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	vp_ram(0x1000 + 16 * i, d, 16);
}

static void vp_done(const char *name)
{
	write_file("vpci", name, vq_buf, vq_len);
}

static void vpci_seeds(void)
{
	const struct { uint32_t type, reserved; uint64_t sector; } rd = { 0, 0, 3 }, wr = { 1, 0, 5 },
		id = { 8, 0, 0 };

	/* Set up, then a read: header, 512 bytes, status; served. */
	vq_start(0);
	vp_op(6, 0, 0);
	vp_ram(0x4000, &rd, 16);
	vp_desc(0, 0x4000, 16, VQ_NEXT, 1);
	vp_desc(1, 0x5000, 512, VQ_NEXT | VQ_WRITE, 2);
	vp_desc(2, 0x6000, 1, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vp_done("read");

	vq_start(0);
	vp_op(6, 0, 1);
	vp_ram(0x4000, &wr, 16);
	vp_desc(0, 0x4000, 16, VQ_NEXT, 1);
	vp_desc(1, 0x5000, 1024, VQ_NEXT, 2);
	vp_desc(2, 0x6000, 1, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vp_ram(0x4000, &id, 16);
	vp_desc(1, 0x5000, 20, VQ_NEXT | VQ_WRITE, 2);
	vp_op(7, 0, 0);
	vq_byte(0);
	vp_done("write-get-id");

	vq_start(1);
	vp_op(6, 0, 0);
	vp_ram(0x4000, &wr, 16);
	vp_desc(0, 0x4000, 16, VQ_NEXT, 1);
	vp_desc(1, 0x5000, 512, VQ_NEXT, 2);
	vp_desc(2, 0x6000, 1, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vp_done("readonly-write");

	/* A head out of range: NEEDS_RESET, then served again, then reset. */
	vq_start(0);
	vp_op(6, 0, 0);
	vp_op(7, 0, 0);
	vq_byte(200);
	vp_op(5, 0, 0);
	vp_op(3, 0, 0);
	vq_byte(0x14);
	vq_byte(0);
	vp_op(6, 0, 0);
	vp_done("needs-reset");

	/* Configuration space: BAR sizing and capability walk, MSI-X on and off. */
	vq_start(0);
	vp_op(0, 2, 0);
	vq_byte(0x10);
	vq_byte(0xff); vq_byte(0xff); vq_byte(0xff); vq_byte(0xff);
	vp_op(1, 2, 0);
	vq_byte(0x10);
	for (unsigned r = 0x34; r < 0x94; r += 4) {
		vp_op(1, 2, 0);
		vq_byte((uint8_t)r);
	}
	vp_op(6, 0, 2);
	vp_op(0, 1, 0);
	vq_byte(0x86);
	vq_byte(0x00); vq_byte(0xc0); vq_byte(0); vq_byte(0);
	vp_op(0, 1, 0);
	vq_byte(0x04);
	vq_byte(0); vq_byte(0); vq_byte(0); vq_byte(0);
	vp_done("config-space");

	/* Every register of BAR 0's structures read in each width. */
	vq_start(0);
	vp_op(6, 0, 0);
	for (unsigned off = 0; off < 0x40; off += 4)
		for (unsigned w = 0; w < 4; w++) {
			vp_op(3, w, 0);
			vq_byte((uint8_t)off);
			vq_byte(0);
		}
	vp_op(3, 0, 0); vq_byte(0x00); vq_byte(0x10);
	vp_op(3, 3, 0); vq_byte(0x00); vq_byte(0x20);
	vp_op(3, 2, 0); vq_byte(0x00); vq_byte(0x40);
	vp_op(3, 3, 0); vq_byte(0x00); vq_byte(0x50);
	vp_done("registers");
}

/* Balloon seeds: the scripts fuzz_balloon.c reads (features byte, then ops). */
static void bl_op(unsigned what, unsigned a)
{
	vq_byte((uint8_t)(what | a << 5));
}

/* n <= 29 RAM bytes at `gpa` (a multiple of 16). */
static void bl_ram(uint32_t gpa, const void *src, size_t n)
{
	const uint8_t *p = src;
	unsigned a = (unsigned)(n + 2) / 4;

	if (n == 0 || n > 29 || gpa % 16)
		abort();
	bl_op(3, a);
	vq_byte((uint8_t)(gpa / 16));
	vq_byte((uint8_t)(gpa / 16 >> 8));
	for (size_t i = 0; i < (size_t)a * 4 + 1; i++)
		vq_byte(i < n ? p[i] : 0);
}

/* Descriptor i of queue q (at 0x1000 + 0x400 * q). */
static void bl_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	bl_ram(0x1000 + 0x400 * q + 16 * i, d, 16);
}

static void bl_avail(unsigned q, uint8_t head)
{
	bl_op(5, q);
	vq_byte(head);
}

static void bl_target(uint16_t pages)
{
	bl_op(6, 0);
	vq_byte((uint8_t)pages);
	vq_byte((uint8_t)(pages >> 8));
}

static void bl_done(const char *name)
{
	write_file("balloon", name, vq_buf, vq_len);
}

static void balloon_seeds(void)
{
	const uint32_t pfns[] = { 4, 5, 6, 12 }, bad[] = { 7, 0x12345 };
	const uint8_t stats[20] = { 4, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0 };

	/* Target, then an inflate of four pages and a deflate of two. */
	vq_start(3);
	bl_op(4, 0);
	bl_target(8);
	bl_ram(0x3000, pfns, sizeof(pfns));
	bl_desc(0, 0, 0x3000, sizeof(pfns), 0, 0);
	bl_avail(0, 0);
	bl_desc(1, 0, 0x3000, 8, 0, 0);
	bl_avail(1, 0);
	bl_target(0);
	bl_done("inflate-deflate");

	/* Statistics: a buffer, kept; handed back by the host; sent again. */
	vq_start(3);
	bl_op(4, 0);
	bl_ram(0x3000, stats, sizeof(stats));
	bl_desc(2, 0, 0x3000, sizeof(stats), 0, 0);
	bl_avail(2, 0);
	bl_target(1);
	bl_avail(2, 0);
	bl_done("stats");

	/* Free page reporting: two writable ranges on queue 3. */
	vq_start(3);
	bl_op(4, 0);
	bl_desc(3, 0, 0x4000, 0x2000, 1, 1);
	bl_desc(3, 1, 0x8100, 0x3000, 2, 0);
	bl_avail(3, 0);
	bl_done("report");

	/* Reporting without statistics: it is queue 2. */
	vq_start(2);
	bl_op(4, 0);
	bl_desc(2, 0, 0x4000, 0x4000, 2, 0);
	bl_avail(2, 0);
	bl_done("report-no-stats");

	/* A PFN outside RAM: NEEDS_RESET; then the driver starts again. */
	vq_start(3);
	bl_op(4, 0);
	bl_ram(0x3000, bad, sizeof(bad));
	bl_desc(0, 0, 0x3000, sizeof(bad), 0, 0);
	bl_avail(0, 0);
	bl_op(2, 0);
	vq_byte(0x14);
	vq_byte(0);
	bl_op(4, 0);
	bl_avail(0, 0);
	bl_done("bad-pfn");

	/* The device configuration, byte by byte and written. */
	vq_start(0x1b);
	bl_op(4, 0);
	bl_target(12);
	for (unsigned off = 0; off < 16; off++) {
		bl_op(2, 0);
		vq_byte((uint8_t)off);
		vq_byte(0x20);
	}
	vq_byte(1 | 2 << 3);
	vq_byte(4);
	vq_byte(0x20);
	for (unsigned i = 0; i < 8; i++)
		vq_byte((uint8_t)(i + 1));
	bl_done("config");
}

/* virtio-console seeds: the scripts fuzz_vconsole.c reads (same ops as the balloon's). */
static void vcon_done(const char *name)
{
	write_file("vconsole", name, vq_buf, vq_len);
}

static void vconsole_seeds(void)
{
	static const char hello[] = "hello, hvc0\n";

	/*
	 * Input before the driver transmitted (not taken); a transmit; then
	 * input into two receive buffers, more than they hold.
	 */
	vq_start(3);
	bl_op(4, 0);
	bl_desc(0, 0, 0x3000, 8, 3, 1);
	bl_desc(0, 1, 0x3100, 16, 2, 0);
	bl_avail(0, 0);
	bl_op(6, 1);
	bl_ram(0x4000, hello, sizeof(hello) - 1);
	bl_desc(1, 0, 0x4000, sizeof(hello) - 1, 0, 0);
	bl_avail(1, 0);
	bl_op(6, 1);
	vcon_done("input-output");

	/* Input before DRIVER_OK, then two chains and input in between. */
	vq_start(3);
	bl_op(6, 0);
	bl_op(4, 0);
	bl_ram(0x4000, hello, 2);
	bl_desc(1, 0, 0x4000, 2, 0, 0);
	bl_avail(1, 0);
	bl_desc(0, 0, 0x3000, 100, 2, 0);
	bl_desc(0, 1, 0x3100, 100, 2, 0);
	bl_avail(0, 0);
	bl_op(6, 3);
	bl_avail(0, 1);
	bl_op(6, 7);
	bl_op(6, 0);
	vcon_done("input-waits");

	/* A head out of range on the receive queue: NEEDS_RESET at the input. */
	vq_start(3);
	bl_op(4, 0);
	bl_ram(0x4000, hello, 2);
	bl_desc(1, 0, 0x4000, 2, 0, 0);
	bl_avail(1, 0);
	bl_avail(0, 77);
	bl_op(6, 2);
	bl_op(7, 1);
	vcon_done("bad-head");
}

/* virtio-net seeds: the scripts fuzz_vnet.c reads (rx ring at 0x1000, tx ring at 0x4000). */
static void vn_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	vp_ram(0x1000 + 0x3000 * q + 16 * i, d, 16);
}

static void vn_frame(unsigned extra, uint16_t len)
{
	vp_op(5, 0, 2 | extra);
	vq_byte((uint8_t)len);
	vq_byte((uint8_t)(len >> 8));
}

static void vn_done(const char *name)
{
	write_file("vnet", name, vq_buf, vq_len);
}

static void vnet_seeds(void)
{
	/* Transmit: header and frame in one descriptor, then split in two. */
	vq_start(0);
	vp_op(6, 0, 0);
	vn_desc(1, 0, 0x8000, 12 + 60, 0, 0);
	vp_op(7, 0, 1);
	vq_byte(0);
	vn_desc(1, 1, 0x8100, 12, VQ_NEXT, 2);
	vn_desc(1, 2, 0x8200, 1514, 0, 0);
	vp_op(7, 0, 1);
	vq_byte(1);
	vn_done("transmit");

	/* Receive: a buffer, a frame that fits, one too long, one that fits again. */
	vq_start(0);
	vp_op(6, 0, 1);
	vn_desc(0, 0, 0x9000, 12 + 1518, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vn_frame(0, 60);
	vn_desc(0, 1, 0xa000, 12 + 100, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(1);
	vn_frame(0, 1514);
	vn_frame(0, 64);
	vn_frame(1, 60000);
	vn_done("receive");

	/* Receive into a header descriptor and a data descriptor; frames wait, no buffer. */
	vq_start(0);
	vp_op(6, 0, 0);
	vn_desc(0, 0, 0x9000, 12, VQ_WRITE | VQ_NEXT, 1);
	vn_desc(0, 1, 0x9100, 1518, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vn_frame(0, 100);
	vn_frame(0, 100);
	vn_frame(0, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vn_frame(0, 13);
	vn_done("receive-split");

	/* Broken: a readable receive chain; a transmit chain shorter than its header. */
	vq_start(0);
	vp_op(6, 0, 0);
	vn_desc(0, 0, 0x9000, 1530, 0, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vn_frame(0, 60);
	vp_op(5, 0, 0);
	vp_op(6, 0, 0);
	vn_desc(1, 0, 0x8000, 11, 0, 0);
	vp_op(7, 0, 1);
	vq_byte(0);
	vp_op(5, 0, 1);
	vp_op(6, 0, 0);
	vn_done("needs-reset");

	/* The back end closed from the start. */
	vq_start(1);
	vp_op(6, 0, 0);
	vn_desc(0, 0, 0x9000, 12 + 1518, VQ_WRITE, 0);
	vp_op(7, 0, 0);
	vq_byte(0);
	vn_frame(0, 60);
	vn_desc(1, 0, 0x8000, 12 + 60, 0, 0);
	vp_op(7, 0, 1);
	vq_byte(0);
	vn_done("backend-closed");

	/* The device configuration read in each width. */
	vq_start(0);
	vp_op(6, 0, 0);
	for (unsigned off = 0; off < 16; off++)
		for (unsigned w = 0; w < 4; w++) {
			vp_op(3, w, 0);
			vq_byte((uint8_t)off);
			vq_byte(0x20);
		}
	vn_done("config");
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s DIR [BZIMAGE]\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	elf_seeds();
	hc_seeds();
	linux_seeds();
	if (argc == 3)
		bzimage_head_seed(argv[2]);
	pcdev_seeds();
	queue_seeds();
	insn_seeds();
	ctl_seeds();
	virtq_seeds();
	vpci_seeds();
	vnet_seeds();
	balloon_seeds();
	vconsole_seeds();
	vsock_seeds();
	return 0;
}
