/* x86 architectural constants and vCPU set-up shared by all guest kinds. */
#ifndef SHALE_ARCH_X86_CPU_H
#define SHALE_ARCH_X86_CPU_H

#include <stdint.h>
#include <string.h>

struct vm;
struct vcpu;

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_FIXED (1ull << 1)
#define RFLAGS_IOPL3 (3ull << 12)

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PT_SPAN_2M (2ull << 20)

static inline void put_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v)); /* x86 hosts only: already little-endian */
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Gives the vCPU what KVM supports (KVM_GET_SUPPORTED_CPUID), with the
 * hypervisor bit and the topology of nr_cpus single-threaded cores, and
 * reports in *xcr0 the XSAVE features to enable (0: no XSAVE).
 */
int x86_setup_cpuid(struct vm *vm, struct vcpu *vcpu, unsigned nr_cpus, uint64_t *xcr0);
/*
 * Starts asking KVM what CPUID it supports, on a thread of its own, for
 * x86_setup_cpuid() to take later. Once per process; a no-op after.
 */
void x86_cpuid_prefetch(int kvm_fd);
int x86_set_xcr0(struct vcpu *vcpu, uint64_t xcr0);

#endif
