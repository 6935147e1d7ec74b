/*
 * x86-64 set-up for para-virtual guests: the VMM-owned low megabyte (GDT,
 * TSS, IDT, exception stubs, page tables) and a vCPU that starts in 64-bit
 * ring 3 with IOPL 0, the TSS I/O permission bitmap allowing only the
 * hypercall ports. The guest can read only its boot info page there and
 * can never change its page tables.
 */
#ifndef SHALE_ARCH_X86_PV_H
#define SHALE_ARCH_X86_PV_H

#include <stdint.h>

#include "loader/elf.h"
#include "vmm/gmem.h"

struct vm;
struct vcpu;

struct pv_layout {
	uint64_t heap_start;
	uint64_t heap_end;
	uint64_t stack_top;
};

/* Highest address + 1 an image may use in a guest of `mem_size` bytes. */
uint64_t x86_pv_image_limit(uint64_t mem_size);

/*
 * Writes descriptor tables, exception stubs and page tables for `img` into
 * guest memory of `mem_size` bytes and describes the rest of the layout.
 */
int x86_pv_setup_memory(const struct gmem *gm, uint64_t mem_size,
			const struct elf_image *img, struct pv_layout *layout);

/* CPUID, control and segment registers, and the entry registers. */
int x86_pv_setup_vcpu(struct vm *vm, struct vcpu *vcpu, uint64_t entry, uint64_t rsp,
		      uint64_t rdi);

/* Frequency of the guest's TSC in kHz, or 0 when KVM does not say. */
uint64_t x86_tsc_khz(struct vcpu *vcpu);

/* Called when an exception stub reports: logs the crash and stops the VM. */
void x86_pv_exception(struct vcpu *vcpu);

#endif
