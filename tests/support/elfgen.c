#include <string.h>

#include "elfgen.h"

void elfgen_ehdr(Elf64_Ehdr *eh, uint16_t type, uint64_t entry, unsigned phnum)
{
	memset(eh, 0, sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = type;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)phnum;
}

size_t elfgen_size(const struct elfgen_seg *segs, unsigned n)
{
	size_t size = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr);

	for (unsigned i = 0; i < n; i++)
		size += segs[i].filesz;
	return size;
}

size_t elfgen_build(uint8_t *buf, uint16_t type, const struct elfgen_seg *segs, unsigned n,
		    uint64_t entry, elfgen_byte_fn *byte)
{
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr));
	size_t off = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr);

	elfgen_ehdr((Elf64_Ehdr *)buf, type, entry, n);
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
			buf[off + j] = byte(i, j);
		off += segs[i].filesz;
	}
	return off;
}
