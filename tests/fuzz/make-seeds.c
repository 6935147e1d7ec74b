/*
 * Writes the seed corpus of the fuzz harnesses: small ELF images, good
 * and subtly bad, and one hypercall input per call with its argument
 * struct laid out as a guest would. `make fuzz-seeds` runs it into
 * tests/fuzz/corpus/; the files it wrote are checked in.
 *
 *   make-seeds DIR     writes DIR/elf/... and DIR/hypercall/...
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shale/abi/hypercall.h>

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

struct seg {
	uint32_t type;
	uint32_t flags;
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t filesz;
};

static void elf_seed(const char *name, uint16_t type, const struct seg *segs, unsigned n,
		     uint64_t entry)
{
	uint8_t buf[8192] = { 0 };
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t off = sizeof(*eh) + n * sizeof(*ph);

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = type;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (uint16_t)n;
	for (unsigned i = 0; i < n; i++) {
		ph[i] = (Elf64_Phdr){
			.p_type = segs[i].type,
			.p_flags = segs[i].flags,
			.p_offset = segs[i].filesz ? off : 0,
			.p_vaddr = segs[i].vaddr,
			.p_paddr = segs[i].vaddr,
			.p_filesz = segs[i].filesz,
			.p_memsz = segs[i].memsz,
			.p_align = 0x1000,
		};
		for (uint64_t j = 0; j < segs[i].filesz; j++)
			buf[off + j] = (uint8_t)(0x90 + i + j);
		off += segs[i].filesz;
		if (off > sizeof(buf))
			abort();
	}
	write_file("elf", name, buf, off);
}

/* As many loadable segments as the loader takes (ELF_MAX_SEGMENTS). */
#define MANY 16

static void elf_seeds(void)
{
	static const struct seg good[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1800, 0x40 },
		{ PT_NOTE, PF_R, 0, 0, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0x102000, 0x2000, 0x20 },
		{ PT_GNU_STACK, PF_R | PF_W, 0, 0, 0 },
	};
	static const struct seg single[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x100, 0x100 },
	};
	static const struct seg unaligned[] = {
		{ PT_LOAD, PF_R, 0x203456, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, 0x101234, 0x100, 0x20 },
		{ PT_LOAD, PF_R | PF_W, 0x300ff0, 0x20, 0x8 },
	};
	static const struct seg at_limit[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0xfff000, 0x1000, 0x10 },
	};
	static const struct seg shared_page[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x800, 0x10 },
		{ PT_LOAD, PF_R | PF_W, 0x100800, 0x800, 0x10 },
	};
	static const struct seg wx[] = {
		{ PT_LOAD, PF_R | PF_W | PF_X, 0x100000, 0x1000, 0x10 },
	};
	static const struct seg interp[] = {
		{ PT_INTERP, PF_R, 0, 0x10, 0x10 },
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
	};
	static const struct seg tls[] = {
		{ PT_LOAD, PF_R | PF_X, 0x100000, 0x1000, 0x10 },
		{ PT_TLS, PF_R, 0x101000, 0x10, 0x8 },
	};
	struct seg many[MANY];

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

		many[i] = (struct seg){ PT_LOAD, prot[i % 3], 0x100000 + i * 0x2000ull,
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
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	elf_seeds();
	hc_seeds();
	return 0;
}
