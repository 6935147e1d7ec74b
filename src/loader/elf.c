#include "loader/elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "util/util.h"

#define PAGE 4096ull

static int reject(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

static int check_header(const Elf64_Ehdr *eh, size_t size, const char **why)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return reject(why, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return reject(why, "not a 64-bit ELF file");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return reject(why, "not a little-endian ELF file");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return reject(why, "unknown ELF version");
	if (eh->e_machine != EM_X86_64)
		return reject(why, "not an x86-64 executable");
	if (eh->e_type == ET_DYN)
		return reject(why, "position-independent executable (link with -static -no-pie)");
	if (eh->e_type != ET_EXEC)
		return reject(why, "not an executable (ET_EXEC)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return reject(why, "bad program header entry size");
	if (eh->e_phnum == 0 || eh->e_phnum == PN_XNUM)
		return reject(why, "no program headers");
	if (eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return reject(why, "program headers lie outside the file");
	if (eh->e_phoff % 8)
		return reject(why, "misaligned program headers");
	return 0;
}

static int add_segment(struct elf_image *img, const Elf64_Phdr *in, size_t size,
		       uint64_t min_addr, uint64_t max_addr, unsigned flags, const char **why)
{
	Elf64_Phdr phys = *in, *ph = &phys;
	struct elf_segment *s;
	uint64_t start, end;

	if (flags & ELF_PHYSICAL)
		phys.p_vaddr = in->p_paddr;

	if (ph->p_filesz > ph->p_memsz)
		return reject(why, "segment's file size exceeds its memory size");
	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return reject(why, "segment lies outside the file");
	if (ph->p_memsz == 0)
		return 0;
	if (ph->p_vaddr + ph->p_memsz < ph->p_vaddr || ph->p_vaddr + ph->p_memsz > UINT64_MAX - PAGE)
		return reject(why, "segment address overflows");
	if (ph->p_vaddr < min_addr || ph->p_vaddr + ph->p_memsz > max_addr)
		return reject(why, "segment lies outside guest memory available to the image");
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X) && !(flags & ELF_ALLOW_WX))
		return reject(why, "segment is both writable and executable");
	if (img->nr_segs == ELF_MAX_SEGMENTS)
		return reject(why, "too many loadable segments");

	/* Page permissions come from segments, so no two may share a page. */
	start = ALIGN_DOWN(ph->p_vaddr, PAGE);
	end = ALIGN_UP(ph->p_vaddr + ph->p_memsz, PAGE);
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct elf_segment *o = &img->seg[i];

		if (start < ALIGN_UP(o->vaddr + o->memsz, PAGE) && ALIGN_DOWN(o->vaddr, PAGE) < end)
			return reject(why, "segments overlap or share a page");
	}

	s = &img->seg[img->nr_segs++];
	*s = (struct elf_segment){
		.vaddr = ph->p_vaddr,
		.memsz = ph->p_memsz,
		.offset = ph->p_offset,
		.filesz = ph->p_filesz,
		.prot = ((ph->p_flags & PF_R) ? ELF_PROT_R : 0) |
			((ph->p_flags & PF_W) ? ELF_PROT_W : 0) |
			((ph->p_flags & PF_X) ? ELF_PROT_X : 0),
	};
	if (img->nr_segs == 1 || start < img->lo)
		img->lo = start;
	if (img->nr_segs == 1 || end > img->hi)
		img->hi = end;
	return 0;
}

bool elf_contains_exec(const struct elf_image *img, uint64_t addr)
{
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct elf_segment *s = &img->seg[i];

		if ((s->prot & ELF_PROT_X) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

int elf_parse(const uint8_t *buf, size_t size, uint64_t min_addr, uint64_t max_addr,
	      struct elf_image *img, const char **why)
{
	return elf_parse_flags(buf, size, min_addr, max_addr, 0, img, why);
}

int elf_parse_flags(const uint8_t *buf, size_t size, uint64_t min_addr, uint64_t max_addr,
		    unsigned flags, struct elf_image *img, const char **why)
{
	Elf64_Ehdr eh;
	bool entry_ok = false;
	int ret;

	memset(img, 0, sizeof(*img));
	if (size < sizeof(eh))
		return reject(why, "file too short for an ELF header");
	memcpy(&eh, buf, sizeof(eh));
	ret = check_header(&eh, size, why);
	if (ret)
		return ret;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		switch (ph.p_type) {
		case PT_LOAD:
			ret = add_segment(img, &ph, size, min_addr, max_addr, flags, why);
			if (ret)
				return ret;
			break;
		case PT_INTERP:
		case PT_DYNAMIC:
			return reject(why, "dynamically linked (link with -static)");
		case PT_TLS:
			if (flags & ELF_PHYSICAL)
				break; /* a kernel's per-CPU data, its own business */
			return reject(why, "uses thread-local storage, which guests do not have");
		default:
			/* Notes, GNU_STACK, GNU_PROPERTY and the like: nothing to load. */
			break;
		}
	}
	if (!img->nr_segs)
		return reject(why, "no loadable segments");

	entry_ok = elf_contains_exec(img, eh.e_entry);
	if (!entry_ok && !(flags & ELF_PHYSICAL))
		return reject(why, "entry point is not in an executable segment");
	img->entry = eh.e_entry;
	return 0;
}

int elf_load_fill(const struct elf_image *img, const uint8_t *buf, const struct gmem *gm,
		  loader_fill_fn *fill, void *opaque)
{
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct elf_segment *s = &img->seg[i];
		uint8_t *dst = gmem_ptr(gm, s->vaddr, s->memsz);
		int ret;

		if (!dst)
			return -EFAULT;
		if (!fill) {
			memcpy(dst, buf + s->offset, s->filesz);
			continue;
		}
		ret = fill(dst, buf + s->offset, s->filesz, opaque);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_load(const struct elf_image *img, const uint8_t *buf, const struct gmem *gm)
{
	return elf_load_fill(img, buf, gm, NULL, NULL);
}

int elf_find_note(const uint8_t *buf, size_t size, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *desc_len)
{
	Elf64_Ehdr eh;
	size_t name_len = strlen(name) + 1;

	if (size < sizeof(eh))
		return -EINVAL;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_phoff > size || (size - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
		return -EINVAL;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		off = ph.p_offset;
		end = ph.p_offset + ph.p_filesz;
		/* Each note: namesz, descsz, type, name and desc padded to 4. */
		while (end - off >= sizeof(Elf64_Nhdr)) {
			Elf64_Nhdr nh;
			uint64_t name_at, desc_at, next;

			memcpy(&nh, buf + off, sizeof(nh));
			name_at = off + sizeof(nh);
			desc_at = name_at + ALIGN_UP((uint64_t)nh.n_namesz, 4);
			next = desc_at + ALIGN_UP((uint64_t)nh.n_descsz, 4);
			if (desc_at > end || next > end)
				break;
			if (nh.n_type == type && nh.n_namesz == name_len &&
			    !memcmp(buf + name_at, name, name_len)) {
				*desc = buf + desc_at;
				*desc_len = nh.n_descsz;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}
