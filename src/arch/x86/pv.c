#include "arch/x86/pv.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <shale/abi/hypercall.h>

#include "arch/x86/cpu.h"
#include "arch/x86/insn.h"
#include "util/util.h"
#include "vmm/host.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* The VMM-owned low megabyte; see the memory map in hypercall.h. */
#define PV_GDT_GPA 0x2000ull
#define PV_TSS_GPA 0x2100ull
#define PV_IDT_GPA 0x3000ull
#define PV_STUBS_GPA 0x4000ull
#define PV_XSTACK_GPA 0x5000ull /* 8 KiB supervisor stack for exceptions */
#define PV_XSTACK_TOP 0x7000ull
#define PV_GUARD_PT_GPA 0x7000ull /* page table for the stack guard page */
#define PV_PML4_GPA 0x8000ull
#define PV_PDPT_GPA 0x9000ull
#define PV_PD_GPA 0xa000ull /* four page directories: 4 GiB */
#define PV_PT_GPA 0xe000ull /* page tables for the 4 KiB-mapped low part */
#define PV_NR_PTS ((SHALE_IMAGE_BASE - PV_PT_GPA) / 4096)

#define PV_EXC_VECTORS 32
#define PV_STUB_SIZE 16

/*
 * The guest runs with IOPL 0 (PVM ignores any other value), so ring-3 port
 * I/O goes through the TSS I/O permission bitmap (SDM vol. 1, 19.5.2): a
 * clear bit allows the port. The bitmap covers ports up to the last
 * hypercall port and ends with the 0xff byte the CPU needs past it; every
 * port past the TSS limit is refused with #GP.
 */
#define PV_TSS_BASE_SIZE 104
#define PV_IOMAP_PORTS (SHALE_HC_PORT_BASE + SHALE_HC_MAX)
#define PV_IOMAP_SIZE (PV_IOMAP_PORTS / 8 + 1)
#define PV_TSS_LIMIT (PV_TSS_BASE_SIZE + PV_IOMAP_SIZE - 1)
_Static_assert(PV_IOMAP_PORTS % 8 == 0, "hypercall ports end on a bitmap byte");
_Static_assert(PV_TSS_GPA + PV_TSS_LIMIT < PV_IDT_GPA, "TSS overlaps the IDT");

/* GDT selectors. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b /* index 3, RPL 3 */
#define SEL_UCODE 0x23 /* index 4, RPL 3 */
#define SEL_TSS 0x28

extern const uint8_t x86_pv_stubs_start[], x86_pv_stubs_end[];

uint64_t x86_pv_image_limit(uint64_t mem_size)
{
	uint64_t limit = PV_NR_PTS * PT_SPAN_2M;

	if (mem_size < SHALE_STACK_SIZE + 4096)
		return 0;
	return MIN(limit, mem_size - SHALE_STACK_SIZE - 4096);
}

static void write_iomap(uint8_t *map)
{
	memset(map, 0xff, PV_IOMAP_SIZE);
	for (unsigned port = SHALE_HC_PORT_BASE; port < PV_IOMAP_PORTS; port++)
		map[port / 8] &= (uint8_t)~(1u << (port % 8));
}

/*
 * The TSS type in TR and its descriptor: VMX enters a 64-bit guest only
 * with a busy TSS (11); QEMU's software CPU, which runs the lab's nested
 * guests, consults the I/O bitmap only for an available one (9) and raises
 * #GP otherwise. SVM and PVM take either. The guest cannot load TR.
 */
static uint8_t tss_type(void)
{
	return host_kvm_is_vmx() ? 0xb : 0x9;
}

static void write_gdt(uint8_t *gdt, uint8_t *tss)
{
	uint64_t desc[7] = {
		[SEL_KCODE >> 3] = 0x00209a0000000000ull, /* 64-bit code, DPL 0 */
		[SEL_KDATA >> 3] = 0x0000920000000000ull, /* data, DPL 0 */
		[SEL_UDATA >> 3] = 0x0000f20000000000ull, /* data, DPL 3 */
		[SEL_UCODE >> 3] = 0x0020fa0000000000ull, /* 64-bit code, DPL 3 */
	};
	uint64_t base = PV_TSS_GPA, limit = PV_TSS_LIMIT;

	/* 64-bit TSS descriptor, present, DPL 0, of the type TR holds. */
	desc[SEL_TSS >> 3] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			     ((0x80ull | tss_type()) << 40) | (((limit >> 16) & 0xf) << 48) |
			     (((base >> 24) & 0xff) << 56);
	desc[(SEL_TSS >> 3) + 1] = base >> 32;
	memcpy(gdt, desc, sizeof(desc));

	/* rsp0 at offset 4; the I/O bitmap right after the 104-byte TSS. */
	memset(tss, 0, PV_TSS_BASE_SIZE);
	put_le64(tss + 4, PV_XSTACK_TOP);
	put_le16(tss + 102, PV_TSS_BASE_SIZE);
	write_iomap(tss + PV_TSS_BASE_SIZE);
}


static void write_idt(uint8_t *idt)
{
	for (unsigned v = 0; v < PV_EXC_VECTORS; v++) {
		uint64_t off = PV_STUBS_GPA + v * PV_STUB_SIZE;
		/* 64-bit interrupt gate, DPL 0: `int n` from ring 3 is a #GP. */
		uint64_t lo = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
			      (0x8eull << 40) | (((off >> 16) & 0xffff) << 48);

		put_le64(idt + v * 16, lo);
		put_le64(idt + v * 16 + 8, off >> 32);
	}
}

/* Leaf flags for a page the image or the guest owns. */
static uint64_t user_flags(unsigned prot)
{
	uint64_t f = PTE_P | PTE_U;

	if (prot & ELF_PROT_W)
		f |= PTE_RW;
	if (!(prot & ELF_PROT_X))
		f |= PTE_NX;
	return f;
}

static uint64_t low_page_flags(const struct elf_image *img, uint64_t guard, uint64_t addr)
{
	if (addr < SHALE_BOOT_INFO_GPA || addr == guard)
		return 0; /* null page */
	if (addr == SHALE_BOOT_INFO_GPA)
		return PTE_P | PTE_U | PTE_NX;
	if (addr == PV_STUBS_GPA)
		return PTE_P; /* supervisor, read-only, executable */
	if (addr < SHALE_IMAGE_BASE)
		return PTE_P | PTE_RW | PTE_NX; /* supervisor data */
	for (unsigned i = 0; i < img->nr_segs; i++) {
		const struct elf_segment *s = &img->seg[i];

		if (addr + 4096 > s->vaddr && addr < s->vaddr + s->memsz)
			return user_flags(s->prot);
	}
	if (addr >= img->hi)
		return user_flags(ELF_PROT_R | ELF_PROT_W); /* heap or stack */
	return 0; /* hole between segments */
}

int x86_pv_setup_memory(const struct gmem *gm, uint64_t mem_size,
			const struct elf_image *img, struct pv_layout *layout)
{
	uint64_t small_end = ALIGN_UP(img->hi, PT_SPAN_2M);
	/* An unmapped page under the stack turns an overflow into a fault. */
	uint64_t guard = mem_size - SHALE_STACK_SIZE - 4096;
	uint64_t stubs_size = (uint64_t)((uintptr_t)x86_pv_stubs_end - (uintptr_t)x86_pv_stubs_start);
	uint8_t *low = gmem_ptr(gm, 0, SHALE_IMAGE_BASE);
	uint64_t *pml4, *pdpt;

	if (!low || mem_size % PT_SPAN_2M || mem_size > 4 * GiB)
		return -EINVAL;
	if (img->hi > x86_pv_image_limit(mem_size) || small_end / PT_SPAN_2M > PV_NR_PTS)
		return -ENOSPC;
	if (stubs_size > 4096)
		die("exception stubs are %llu bytes", (unsigned long long)stubs_size);

	write_gdt(low + PV_GDT_GPA, low + PV_TSS_GPA);
	write_idt(low + PV_IDT_GPA);
	memcpy(low + PV_STUBS_GPA, x86_pv_stubs_start, stubs_size);

	/*
	 * Identity map. Upper levels allow everything; leaves decide. The
	 * 2 MiB chunks holding the VMM pages and the image use 4 KiB pages so
	 * that every page has its segment's permissions; the rest of RAM
	 * (heap and stack) is mapped with 2 MiB pages, read/write, no exec.
	 */
	pml4 = (uint64_t *)(low + PV_PML4_GPA);
	pdpt = (uint64_t *)(low + PV_PDPT_GPA);
	pml4[0] = PV_PDPT_GPA | PTE_P | PTE_RW | PTE_U;
	for (uint64_t gb = 0; gb * GiB < mem_size; gb++)
		pdpt[gb] = (PV_PD_GPA + gb * 4096) | PTE_P | PTE_RW | PTE_U;

	for (uint64_t chunk = 0; chunk * PT_SPAN_2M < mem_size; chunk++) {
		uint64_t *pde = (uint64_t *)(low + PV_PD_GPA) + chunk;
		uint64_t base = chunk * PT_SPAN_2M;

		if (base >= small_end && guard - base >= PT_SPAN_2M) {
			*pde = base | PTE_P | PTE_RW | PTE_U | PTE_PS | PTE_NX;
			continue;
		}
		if (base >= small_end) {
			uint64_t *pt = (uint64_t *)(low + PV_GUARD_PT_GPA);

			*pde = PV_GUARD_PT_GPA | PTE_P | PTE_RW | PTE_U;
			for (unsigned i = 0; i < 512; i++) {
				uint64_t addr = base + i * 4096ull;

				pt[i] = addr == guard ? 0 : addr | user_flags(ELF_PROT_R | ELF_PROT_W);
			}
			continue;
		}
		uint64_t pt_gpa = PV_PT_GPA + chunk * 4096;
		uint64_t *pt = (uint64_t *)(low + pt_gpa);

		*pde = pt_gpa | PTE_P | PTE_RW | PTE_U;
		for (unsigned i = 0; i < 512; i++) {
			uint64_t addr = base + i * 4096ull;
			uint64_t flags = low_page_flags(img, guard, addr);

			pt[i] = flags ? addr | flags : 0;
		}
	}

	layout->heap_start = img->hi;
	layout->heap_end = guard;
	layout->stack_top = mem_size;
	return 0;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl,
		    bool code64)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = dpl,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

int x86_pv_setup_vcpu(struct vm *vm, struct vcpu *vcpu, uint64_t entry, uint64_t rsp,
		      uint64_t rdi)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t xcr0;
	int ret;

	ret = x86_setup_cpuid(vm, vcpu, 1, &xcr0);
	if (ret)
		return ret;
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;

	set_seg(&sregs.cs, SEL_UCODE, 0xb, 3, true);
	set_seg(&sregs.ss, SEL_UDATA, 0x3, 3, false);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.tr = (struct kvm_segment){
		.base = PV_TSS_GPA, .limit = PV_TSS_LIMIT, .selector = SEL_TSS,
		.type = tss_type(), .present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	sregs.gdt.base = PV_GDT_GPA;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.idt.base = PV_IDT_GPA;
	sregs.idt.limit = PV_EXC_VECTORS * 16 - 1;
	sregs.cr3 = PV_PML4_GPA;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (xcr0 ? CR4_OSXSAVE : 0);
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;

	if (xcr0) {
		ret = x86_set_xcr0(vcpu, xcr0);
		if (ret)
			return ret;
	}

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = rsp;
	regs.rdi = rdi;
	regs.rflags = RFLAGS_FIXED; /* IOPL 0: the TSS bitmap decides */
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	ret = -errno;
	log_err("cannot set up vCPU %u registers: %s", vcpu->id, strerror(errno));
	return ret;
}

static const char *const exception_names[PV_EXC_VECTORS] = {
	[0] = "divide error (#DE)",
	[1] = "debug exception (#DB)",
	[2] = "non-maskable interrupt",
	[3] = "breakpoint (#BP)",
	[4] = "overflow (#OF)",
	[5] = "bound range exceeded (#BR)",
	[6] = "invalid opcode (#UD)",
	[7] = "device not available (#NM)",
	[8] = "double fault (#DF)",
	[10] = "invalid TSS (#TS)",
	[11] = "segment not present (#NP)",
	[12] = "stack fault (#SS)",
	[13] = "general protection fault (#GP)",
	[14] = "page fault (#PF)",
	[16] = "x87 floating-point error (#MF)",
	[17] = "alignment check (#AC)",
	[18] = "machine check (#MC)",
	[19] = "SIMD floating-point exception (#XM)",
	[20] = "virtualization exception (#VE)",
	[21] = "control protection exception (#CP)",
};

/* What the exception stubs leave on the supervisor stack. */
enum { FR_RDX, FR_VECTOR, FR_ERROR, FR_RIP, FR_CS, FR_RFLAGS, FR_RSP, FR_SS, FR_WORDS };

/*
 * A #GP with error code 0 is what a refused in/out raises: the TSS bitmap
 * opens only the hypercall ports. Names the port when the instruction at
 * the faulting rip is one; false otherwise.
 */
static bool report_port_fault(struct vcpu *vcpu, const uint64_t *frame)
{
	uint8_t code[X86_INSN_MAX];
	struct x86_pio pio;
	size_t len;

	if (frame[FR_VECTOR] != 13 || frame[FR_ERROR] != 0)
		return false;
	for (len = sizeof(code); len; len--)
		if (gmem_read(&vcpu->vm->gmem, code, frame[FR_RIP], len))
			break;
	if (!x86_decode_pio(code, len, (uint16_t)frame[FR_RDX], &pio))
		return false;
	if (pio.port >= SHALE_HC_PORT_BASE && pio.port + pio.size <= PV_IOMAP_PORTS) {
		vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
			"guest crashed: %s %s hypercall port 0x%x at rip 0x%llx raised #GP although "
			"the TSS I/O bitmap allows it: this KVM does not honour the bitmap",
			x86_pio_name(&pio), pio.in ? "from" : "to", pio.port,
			(unsigned long long)frame[FR_RIP]);
		return true;
	}
	vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
		"guest crashed: %s %s I/O port 0x%x at rip 0x%llx: %s the hypercall ports "
		"0x%x-0x%x (general protection fault, #GP)",
		x86_pio_name(&pio), pio.in ? "from" : "to", pio.port,
		(unsigned long long)frame[FR_RIP],
		pio.port >= SHALE_HC_PORT_BASE && pio.port < PV_IOMAP_PORTS
			? "the access reaches past" : "the guest may use only",
		SHALE_HC_PORT_BASE, PV_IOMAP_PORTS - 1);
	return true;
}

void x86_pv_exception(struct vcpu *vcpu)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t frame[FR_WORDS];
	const char *name;
	char extra[64] = "";

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		vm_stop(vcpu->vm, VM_STOP_CRASH, 0, "guest crashed: exception (registers unavailable)");
		return;
	}
	/*
	 * Only the stubs run in ring 0, and ring 3 cannot write the exception
	 * port (a 4-byte access to it reaches past the bitmap's open ports);
	 * still, a frame that is not the stubs' is reported as a forgery.
	 */
	if ((sregs.cs.selector & 3) != 0 ||
	    !gmem_read(&vcpu->vm->gmem, frame, regs.rsp, sizeof(frame)) ||
	    frame[FR_VECTOR] >= PV_EXC_VECTORS) {
		vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
			"guest crashed: write to the exception port from rip 0x%llx",
			(unsigned long long)regs.rip);
		return;
	}
	if (report_port_fault(vcpu, frame))
		return;
	name = exception_names[frame[FR_VECTOR]] ? exception_names[frame[FR_VECTOR]]
						 : "reserved exception";
	if (frame[FR_VECTOR] == 14)
		snprintf(extra, sizeof(extra), ", address 0x%llx", (unsigned long long)sregs.cr2);
	vm_stop(vcpu->vm, VM_STOP_CRASH, 0,
		"guest crashed: vector %llu, %s at rip 0x%llx%s, error code 0x%llx, rsp 0x%llx",
		(unsigned long long)frame[FR_VECTOR], name, (unsigned long long)frame[FR_RIP], extra,
		(unsigned long long)frame[FR_ERROR], (unsigned long long)frame[FR_RSP]);
}
