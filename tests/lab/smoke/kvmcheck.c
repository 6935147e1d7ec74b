/*
 * kvmcheck: the smallest check that /dev/kvm can start a vCPU the way shale
 * does: straight into 64-bit long mode at CPL 3, with IOPL 0 and a TSS
 * whose I/O permission bitmap allows a few ports, so that port I/O to those
 * from ring 3 exits to the VMM and port I/O to any other faults.
 *
 * Guest memory (2 MiB at GPA 0, identity mapped by one 2 MiB page with the
 * U bit set at every level):
 *   0x1000 PML4   0x2000 PDPT   0x3000 PD   0x4000 GDT
 *   0x5000 TSS (104 bytes) and its I/O bitmap   0x6000 data   0x10000 code
 * The code writes port 0x80 LOOPS times, reads a word from 0x6000 and sends
 * it to port 0x82, stores a word at 0x6008, touches an SSE register, writes
 * port 0x81 and finally writes port 0x86, which the bitmap refuses: at CPL
 * 3 above IOPL 0 that must fault, and with no IDT the fault ends in a
 * triple fault, i.e. KVM_EXIT_SHUTDOWN.
 *
 * Prints the time per port exit. Exit status 0 when everything checked out.
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
#define LOOPS 1000
#define CODE_GPA 0x10000
#define DATA_GPA 0x6000
#define MAGIC_IN 0x5a5a1234u
#define MAGIC_OUT 0x600dcafeu

/*
 * The I/O permission bitmap (SDM vol. 1, 19.5.2) right after the 104-byte
 * TSS: a clear bit allows its port, a 4-byte access needs all four bits
 * clear. Ports 0x80-0x85 are allowed (0x82 is written with outl); the
 * bitmap ends with the 0xff byte the CPU reads past the last one.
 */
#define TSS_GPA 0x5000
#define TSS_SIZE 104
#define PORT_FIRST 0x80
#define PORT_END 0x86 /* first port refused */
#define IOMAP_SIZE (PORT_END / 8 + 2)
#define TSS_LIMIT (TSS_SIZE + IOMAP_SIZE - 1)

extern const unsigned char guest_code[], guest_code_end[];
__asm__(".pushsection .rodata\n"
	".globl guest_code, guest_code_end\n"
	"guest_code:\n"
	"	mov $1000, %ecx\n" /* LOOPS */
	"1:	out %al, $0x80\n"
	"	dec %ecx\n"
	"	jnz 1b\n"
	"	mov 0x6000, %eax\n"
	"	out %eax, $0x82\n"
	"	movl $0x600dcafe, 0x6008\n"
	"	pxor %xmm0, %xmm0\n"
	"	out %al, $0x81\n"
	"	out %al, $0x86\n" /* #GP: not in the I/O bitmap */
	"	jmp .\n"
	"guest_code_end:\n"
	".popsection\n");

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "kvmcheck: FAIL: " __VA_ARGS__);     \
			fputc('\n', stderr);                                 \
			failures++;                                          \
		}                                                            \
	} while (0)

static void die(const char *what)
{
	fprintf(stderr, "kvmcheck: FAIL: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t s, uint8_t l, uint8_t db)
{
	struct kvm_segment sg = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = sel & 3,
		.db = db,
		.s = s,
		.l = l,
		.g = 1,
	};
	return sg;
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

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	default: return "other";
	}
}

int main(void)
{
	int kvm, vm, vcpu, api, mmap_size, n80 = 0;
	uint8_t *mem;
	uint64_t *pt;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	double t_first = 0, t_last = 0;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != 12) {
		fprintf(stderr, "kvmcheck: FAIL: KVM_GET_API_VERSION is %d, not 12\n", api);
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap guest memory");
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	/* Identity map of the first 2 MiB: P|RW|US at every level, PS in the PD. */
	pt = (uint64_t *)(mem + 0x1000);
	pt[0] = 0x2000 | 7;
	pt = (uint64_t *)(mem + 0x2000);
	pt[0] = 0x3000 | 7;
	pt = (uint64_t *)(mem + 0x3000);
	pt[0] = 0x0 | 0x87;

	/* GDT: null, kernel code/data, user data (0x1b), user code (0x23), TSS. */
	uint64_t *gdt = (uint64_t *)(mem + 0x4000);
	gdt[1] = 0x00af9b000000ffffull; /* 0x08 code64 DPL0 */
	gdt[2] = 0x00cf93000000ffffull; /* 0x10 data DPL0 */
	gdt[3] = 0x00cff3000000ffffull; /* 0x18 data DPL3 */
	gdt[4] = 0x00affb000000ffffull; /* 0x20 code64 DPL3 */
	gdt[5] = 0x0000890000000000ull | ((uint64_t)TSS_GPA << 16) | TSS_LIMIT; /* 0x28 TSS64 */
	gdt[6] = 0;
	*(uint16_t *)(mem + TSS_GPA + 0x66) = TSS_SIZE; /* the I/O bitmap's offset */
	uint8_t *iomap = mem + TSS_GPA + TSS_SIZE;
	memset(iomap, 0xff, IOMAP_SIZE);
	for (unsigned port = PORT_FIRST; port < PORT_END; port++)
		iomap[port / 8] &= (uint8_t)~(1u << (port % 8));

	*(uint32_t *)(mem + DATA_GPA) = MAGIC_IN;
	memcpy(mem + CODE_GPA, guest_code, guest_code_end - guest_code);

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");

	/* CPUID: what KVM supports, as a real VMM would. */
	int nent = 256;
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		die("calloc");
	cpuid->nent = nent;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
		die("KVM_SET_CPUID2");

	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	sregs.cs = seg(0x23, 11, 1, 1, 0);
	sregs.ss = seg(0x1b, 3, 1, 0, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.tr = (struct kvm_segment){ .base = TSS_GPA, .limit = TSS_LIMIT, .selector = 0x28,
					 .type = tss_type(), .present = 1 };
	sregs.ldt = (struct kvm_segment){ .selector = 0, .type = 2, .unusable = 1 };
	sregs.gdt.base = 0x4000;
	sregs.gdt.limit = 7 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x80050033; /* PG|AM=0|WP|NE|ET|MP|PE */
	sregs.cr3 = 0x1000;
	sregs.cr4 = 0x620; /* OSXMMEXCPT|OSFXSR|PAE */
	sregs.efer = 0xd00; /* NXE|LMA|LME */
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = MEM_SIZE - 0x1000;
	regs.rflags = 0x2; /* IOPL 0: the TSS bitmap decides */
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	alarm(30); /* a vCPU that never exits must not hang the lab */
	int saw82 = 0, saw81 = 0, checked_cpl = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			if (!checked_cpl) {
				struct kvm_sregs s;
				struct kvm_regs r;
				checked_cpl = 1;
				if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0 || ioctl(vcpu, KVM_GET_REGS, &r) < 0)
					die("KVM_GET_SREGS/REGS");
				CHECK(s.cs.dpl == 3 && s.ss.dpl == 3 && s.cs.l == 1,
				      "after entry cs.dpl=%u ss.dpl=%u cs.l=%u", s.cs.dpl, s.ss.dpl, s.cs.l);
				CHECK(((r.rflags >> 12) & 3) == 0, "IOPL is %llu, not 0",
				      (unsigned long long)(r.rflags >> 12) & 3);
				CHECK(s.efer & 0x400, "EFER.LMA clear: 0x%llx", (unsigned long long)s.efer);
			}
			if (run->io.port == 0x80) {
				t_last = now();
				if (n80++ == 0)
					t_first = t_last;
				continue;
			}
			if (run->io.port == 0x82) {
				uint32_t v;
				memcpy(&v, data, 4);
				CHECK(run->io.size == 4 && v == MAGIC_IN, "port 0x82 got 0x%x (size %u)", v,
				      run->io.size);
				saw82 = 1;
				continue;
			}
			if (run->io.port == 0x81) {
				CHECK(*(uint32_t *)(mem + DATA_GPA + 8) == MAGIC_OUT,
				      "guest store to 0x6008 not seen");
				saw81 = 1;
				continue;
			}
		}
		if (run->exit_reason == KVM_EXIT_SHUTDOWN && saw81)
			break; /* the refused port faulted: bitmap and CPL 3 confirmed */
		if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
			die("KVM_GET_REGS");
		fprintf(stderr, "kvmcheck: FAIL: unexpected exit %u (%s) at rip 0x%llx",
			run->exit_reason, exit_name(run->exit_reason), (unsigned long long)regs.rip);
		if (run->exit_reason == KVM_EXIT_IO)
			fprintf(stderr, " port 0x%x", run->io.port);
		if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			fprintf(stderr, " hw reason 0x%llx",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			fprintf(stderr, " suberror %u", run->internal.suberror);
		fputc('\n', stderr);
		return 1;
	}
	alarm(0);

	CHECK(n80 == LOOPS, "%d exits on port 0x80, expected %d", n80, LOOPS);
	CHECK(saw82, "no exit on port 0x82");
	if (failures)
		return 1;
	printf("kvmcheck: ring-3 long mode, IOPL 0, TSS I/O bitmap: %d port exits, %.2f us/exit\n",
	       n80, (t_last - t_first) / (n80 - 1) * 1e6);
	printf("kvmcheck: ok\n");
	return 0;
}
