/*
 * The emulated PC for unmodified guests: in-kernel irqchip and PIT, legacy
 * chips, ACPI tables, and vCPUs started where the Linux boot protocol (or
 * PVH) wants them.
 */
#ifndef SHALE_ARCH_X86_PC_H
#define SHALE_ARCH_X86_PC_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/linux.h"

struct vm;
struct vcpu;

/* 32-bit PCI/MMIO hole: RAM above 3 GiB continues at 4 GiB. */
#define PC_HOLE_START LINUX_LOW_RAM_MAX
#define PC_HOLE_END LINUX_HIGH_RAM_GPA
#define PC_MAX_CPUS 64

/* In-kernel irqchip and PIT, and KVM's private VMX pages below 4 GiB. */
int pc_create_irqchip(struct vm *vm);

/*
 * CPUID, MSRs, LAPIC and FPU for vCPU `vcpu` of nr_cpus; the boot vCPU
 * (id 0) also gets the entry state of `lb`. The others wait for INIT/SIPI
 * from the guest, in the in-kernel LAPIC.
 */
int pc_setup_vcpu(struct vm *vm, struct vcpu *vcpu, unsigned nr_cpus,
		  const struct linux_boot *lb);

#endif
