/*
 * hcloop: the raw cost of a port-I/O exit to userspace and back, the
 * baseline for shale's null hypercall. A minimal VMM in one function: one
 * VM, one vCPU started straight in 64-bit mode at CPL 3 with IOPL 0 and a
 * TSS whose I/O permission bitmap allows the two ports it writes (as shale
 * starts its guests: PVM ignores IOPL, so only the bitmap works on every
 * KVM), and a KVM_RUN loop in the main thread that does nothing but count
 * exits.
 *
 *   hcloop [N]      prints "exits <N> ns <elapsed>"
 *
 * The guest executes N times the instruction a shale hypercall is,
 * `outl %eax, %dx` to port 0x500, then writes port 0x501 to say it is done.
 * The clock runs from the first exit to the done exit: N round trips.
 *
 * Guest memory (2 MiB at GPA 0, identity mapped by one 2 MiB page with the
 * U bit set at every level):
 *   0x1000 PML4   0x2000 PDPT   0x3000 PD   0x4000 GDT
 *   0x5000 TSS (104 bytes) and its I/O bitmap   0x10000 code
 *   stack below 0x1ff000
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (2u << 20)
#define CODE_GPA 0x10000
#define PORT_LOOP 0x500
#define PORT_DONE 0x501

/*
 * The TSS and its I/O permission bitmap (SDM vol. 1, 19.5.2): a clear bit
 * allows its port at any CPL, and a 4-byte `outl` to port p needs the bits
 * of p to p + 3 clear. The bitmap covers the ports up to the last one used
 * and ends with the 0xff byte the CPU reads past it; ports past the TSS
 * limit are refused.
 */
#define TSS_GPA 0x5000
#define TSS_SIZE 104
#define IOMAP_PORTS (PORT_DONE + 4)
#define IOMAP_SIZE ((IOMAP_PORTS + 7) / 8 + 1)
#define TSS_LIMIT (TSS_SIZE + IOMAP_SIZE - 1)

extern const unsigned char hcloop_guest[], hcloop_guest_end[];
__asm__(".pushsection .rodata\n"
	".globl hcloop_guest, hcloop_guest_end\n"
	"hcloop_guest:\n"
	"	mov $0x500, %edx\n"
	"1:	outl %eax, %dx\n" /* %rcx = N, set by the VMM */
	"	dec %rcx\n"
	"	jnz 1b\n"
	"	mov $0x501, %edx\n"
	"	outl %eax, %dx\n"
	"	jmp .\n"
	"hcloop_guest_end:\n"
	".popsection\n");

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "hcloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The type of the loaded TSS in TR. VMX refuses to enter a 64-bit guest
 * whose TR is not a busy TSS (11); QEMU's software CPU, which runs the
 * lab's nested guests, checks the I/O bitmap only for an available one (9)
 * and raises #GP for any other. AMD's SVM and PVM accept both. So 11 where
 * kvm_intel serves /dev/kvm, 9 elsewhere.
 */
static uint8_t tss_type(void)
{
	return access("/sys/module/kvm_intel", F_OK) ? 9 : 11;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = sel & 3, .db = db, .s = 1, .l = l, .g = 1,
	};
}

/* Guest RAM with page tables, GDT, TSS and the code in place. */
static uint8_t *setup_memory(int vm)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = MEM_SIZE,
	};
	uint64_t *pml4, *pdpt, *pd, *gdt;
	uint8_t *mem, *iomap;

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap guest memory");
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");

	/* P|RW|US at every level, PS in the PD: one 2 MiB user page. */
	pml4 = (uint64_t *)(mem + 0x1000);
	pdpt = (uint64_t *)(mem + 0x2000);
	pd = (uint64_t *)(mem + 0x3000);
	pml4[0] = 0x2000 | 7;
	pdpt[0] = 0x3000 | 7;
	pd[0] = 0x0 | 0x87;

	/* null, kernel code/data, user data (0x1b), user code (0x23), TSS. */
	gdt = (uint64_t *)(mem + 0x4000);
	gdt[1] = 0x00af9b000000ffffull;
	gdt[2] = 0x00cf93000000ffffull;
	gdt[3] = 0x00cff3000000ffffull;
	gdt[4] = 0x00affb000000ffffull;
	/* 64-bit TSS descriptor (type 9, available; base below 16 MiB). */
	gdt[5] = 0x0000890000000000ull | ((uint64_t)TSS_GPA << 16) | TSS_LIMIT;
	gdt[6] = 0;
	/* The bitmap right after the TSS: offset 0x66 holds where it starts. */
	*(uint16_t *)(mem + TSS_GPA + 0x66) = TSS_SIZE;
	iomap = mem + TSS_GPA + TSS_SIZE;
	memset(iomap, 0xff, IOMAP_SIZE);
	for (unsigned port = PORT_LOOP; port < IOMAP_PORTS; port++)
		iomap[port / 8] &= (uint8_t)~(1u << (port % 8));

	memcpy(mem + CODE_GPA, hcloop_guest, (size_t)(hcloop_guest_end - hcloop_guest));
	return mem;
}

static void setup_vcpu(int kvm, int vcpu, uint64_t n)
{
	struct kvm_cpuid2 *cpuid;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int nent = 256;

	cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		fail("calloc");
	cpuid->nent = nent;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		fail("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
		fail("KVM_SET_CPUID2");
	free(cpuid);

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		fail("KVM_GET_SREGS");
	sregs.cs = seg(0x23, 11, 1, 0);
	sregs.ss = seg(0x1b, 3, 0, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.tr = (struct kvm_segment){ .base = TSS_GPA, .limit = TSS_LIMIT, .selector = 0x28,
					 .type = tss_type(), .present = 1 };
	sregs.ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
	sregs.gdt.base = 0x4000;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80050033; /* PG|WP|NE|ET|MP|PE */
	sregs.cr3 = 0x1000;
	sregs.cr4 = 0x620;  /* OSXMMEXCPT|OSFXSR|PAE */
	sregs.efer = 0xd00; /* NXE|LMA|LME */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		fail("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = MEM_SIZE - 0x1000;
	regs.rcx = n;
	regs.rflags = 0x2; /* IOPL 0: the TSS bitmap decides */
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		fail("KVM_SET_REGS");
}

int main(int argc, char **argv)
{
	uint64_t n = 100000, loops = 0, t0 = 0, t1;
	struct kvm_run *run;
	int kvm, vm, vcpu, mmap_size;
	volatile uint32_t sink = 0;

	if (argc > 1) {
		char *end;

		n = strtoull(argv[1], &end, 0);
		if (!*argv[1] || *end || !n) {
			fprintf(stderr, "usage: hcloop [N]   (N > 0 exits)\n");
			return 2;
		}
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		fail("KVM_CREATE_VM");
	setup_memory(vm);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		fail("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		fail("mmap kvm_run");
	setup_vcpu(kvm, vcpu, n);

	alarm(600); /* a guest that never exits must not hang the benchmark */
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			fail("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.size != 4) {
			fprintf(stderr, "hcloop: unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		if (run->io.port == PORT_DONE)
			break;
		if (run->io.port != PORT_LOOP) {
			fprintf(stderr, "hcloop: write to unexpected port 0x%x\n", run->io.port);
			return 1;
		}
		/* Read the value, as a VMM reads a hypercall's argument address. */
		sink ^= *(const uint32_t *)((const uint8_t *)run + run->io.data_offset);
		if (loops++ == 0)
			t0 = now_ns();
	}
	t1 = now_ns();
	if (loops != n) {
		fprintf(stderr, "hcloop: %llu exits, expected %llu\n", (unsigned long long)loops,
			(unsigned long long)n);
		return 1;
	}
	printf("exits %llu ns %llu\n", (unsigned long long)n, (unsigned long long)(t1 - t0));
	return 0;
}
