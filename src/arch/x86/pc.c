#include "arch/x86/pc.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pci.h"
#include "devices/legacy/pm.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/vsock.h"
#include "util/util.h"
#include "vmm/conout.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* KVM's private pages for VMX real-mode emulation: in the hole, below 4 GiB. */
#define PC_TSS_ADDR 0xfffbd000ull
#define PC_IDENTITY_MAP_ADDR 0xfffbc000ull

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE_WB ((1u << 11) | 6) /* MTRRs on, default type write-back */

/* Local APIC registers (offsets in struct kvm_lapic_state). */
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI 0x4

static int ioctl_err(int fd, unsigned long req, void *arg, const char *name)
{
	if (ioctl(fd, req, arg) >= 0)
		return 0;
	int ret = -errno;

	log_err("%s: %s", name, strerror(errno));
	return ret;
}

static int pc_create_irqchip(struct vm *vm)
{
	/* The dummy speaker port 0x61 keeps the kernel's NMI-reason reads sane. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = PC_IDENTITY_MAP_ADDR;
	int ret;

	ret = ioctl_err(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)PC_TSS_ADDR,
			"KVM_SET_TSS_ADDR");
	if (!ret)
		ret = ioctl_err(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident,
				"KVM_SET_IDENTITY_MAP_ADDR");
	if (!ret)
		ret = ioctl_err(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (!ret)
		ret = ioctl_err(vm->vm_fd, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	return ret;
}

static int set_msrs(struct vcpu *vcpu)
{
	static const struct { uint32_t index; uint64_t data; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(init)];
	} msrs = { .hdr.nmsrs = ARRAY_SIZE(init) };

	for (size_t i = 0; i < ARRAY_SIZE(init); i++) {
		msrs.e[i].index = init[i].index;
		msrs.e[i].data = init[i].data;
	}
	if (ioctl(vcpu->fd, KVM_SET_MSRS, &msrs) != (int)ARRAY_SIZE(init)) {
		log_err("KVM_SET_MSRS: could not set the initial MSRs");
		return -EIO;
	}
	return 0;
}

/* LINT0 delivers the 8259's interrupts (ExtINT), LINT1 the NMI, as on a PC. */
static int set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state la;
	uint32_t v;
	int ret;

	ret = ioctl_err(vcpu->fd, KVM_GET_LAPIC, &la, "KVM_GET_LAPIC");
	if (ret)
		return ret;
	memcpy(&v, la.regs + APIC_LVT0, 4);
	v = (v & ~0x700u) | APIC_MODE_EXTINT << 8;
	memcpy(la.regs + APIC_LVT0, &v, 4);
	memcpy(&v, la.regs + APIC_LVT1, 4);
	v = (v & ~0x700u) | APIC_MODE_NMI << 8;
	memcpy(la.regs + APIC_LVT1, &v, 4);
	return ioctl_err(vcpu->fd, KVM_SET_LAPIC, &la, "KVM_SET_LAPIC");
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .s = 1, .g = 1, .db = code64 ? 0 : 1, .l = code64 ? 1 : 0,
	};
}

static int set_entry_state(struct vcpu *vcpu, const struct linux_boot *lb)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = RFLAGS_FIXED, .rip = lb->entry };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int ret;

	ret = ioctl_err(vcpu->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (ret)
		return ret;
	sregs.gdt.base = LINUX_GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	if (lb->mode == LINUX_ENTRY_64) {
		/* Boot protocol, 64-bit entry: paging on, %rsi = boot_params. */
		flat_seg(&sregs.cs, LINUX_BOOT_CS, 0xb, true);
		sregs.cr3 = LINUX_PML4_GPA;
		sregs.cr4 = CR4_PAE;
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsi = lb->boot_data;
	} else {
		/* PVH: 32-bit protected mode, paging off, %ebx = start_info. */
		flat_seg(&sregs.cs, LINUX_BOOT_CS, 0xb, false);
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = lb->boot_data;
	}
	flat_seg(&sregs.ds, LINUX_BOOT_DS, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	ret = ioctl_err(vcpu->fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (!ret)
		ret = ioctl_err(vcpu->fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	if (!ret)
		ret = ioctl_err(vcpu->fd, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
	return ret;
}

int pc_setup_vcpu(struct vm *vm, struct vcpu *vcpu, unsigned nr_cpus,
		  const struct linux_boot *lb)
{
	uint64_t xcr0;
	int ret;

	ret = x86_setup_cpuid(vm, vcpu, nr_cpus, &xcr0);
	if (!ret)
		ret = set_msrs(vcpu);
	if (!ret)
		ret = set_lapic(vcpu);
	if (!ret && vcpu->id == 0)
		ret = set_entry_state(vcpu, lb);
	return ret;
}

int pc_check(const struct pc_config *cfg, const char *kernel_name)
{
	struct linux_boot lb = cfg->boot;
	const char *why;

	if (linux_load(NULL, &lb, &why)) {
		log_err("%s: cannot boot it: %s", kernel_name, why);
		return -EINVAL;
	}
	return 0;
}

static int write_acpi(struct vm *vm, unsigned nr_cpus, uint64_t *rsdp_gpa)
{
	const struct acpi_config acfg = {
		.nr_cpus = nr_cpus,
		.pm1a_evt_port = PM1A_EVT_PORT,
		.pm1a_cnt_port = PM1A_CNT_PORT,
		.reset_port = RESET_PORT,
		.reset_value = RESET_VALUE,
		.sci_irq = SCI_IRQ,
		.slp_typ_s5 = PM_SLP_TYP_S5,
		.pm_tmr_port = PM_TMR_PORT,
		.pci_mmio_base = PC_PCI_MMIO_START,
		.pci_mmio_size = PC_PCI_MMIO_END - PC_PCI_MMIO_START,
	};
	uint8_t *buf = gmem_ptr(&vm->gmem, LINUX_ACPI_GPA, ACPI_TABLES_MAX);
	long n;

	if (!buf)
		die("no room for ACPI tables");
	n = acpi_build(buf, ACPI_TABLES_MAX, LINUX_ACPI_GPA, &acfg, rsdp_gpa);
	if (n < 0)
		die("acpi_build: %s", strerror((int)-n));
	return 0;
}

/*
 * Linux says "Kernel panic - not syncing: REASON" on the console before it
 * halts or reboots (panic=N). Watching for it turns a panic into its own
 * stop, with the reason, instead of a hang or a reboot loop.
 */
static void watch_line(struct pc_machine *pc, struct pc_line *l, const uint8_t *buf, size_t len)
{
	static const char marker[] = "Kernel panic - not syncing: ";

	for (size_t i = 0; i < len; i++) {
		char c = (char)buf[i];
		char *hit;

		if (c != '\n' && c != '\r') {
			if (l->len < sizeof(l->text) - 1)
				l->text[l->len++] = c;
			continue;
		}
		l->text[l->len] = '\0';
		l->len = 0;
		hit = strstr(l->text, marker);
		if (hit)
			vm_stop(pc->vm, VM_STOP_CRASH, 0, "guest kernel panic: %s",
				hit + sizeof(marker) - 1);
	}
}

static void watch_console(void *opaque, const uint8_t *buf, size_t len)
{
	struct pc_machine *pc = opaque;

	watch_line(pc, &pc->serial_line, buf, len);
	/* Under the UART's lock, so bytes leave in the order the guest sent them. */
	if (pc->console)
		conout_write(pc->console, pc->vm, buf, len);
}

/* hvc0's output (its I/O thread): where the UART's goes, watched alike. */
static void hvc_output(void *opaque, const uint8_t *buf, size_t len)
{
	struct pc_machine *pc = opaque;

	watch_line(pc, &pc->hvc_line, buf, len);
	if (pc->console)
		conout_write(pc->console, pc->vm, buf, len);
	else if (pc->console_out >= 0)
		vm_write_all(pc->vm, pc->console_out, buf, len);
}

static int create_devices(struct vm *vm, const struct pc_config *cfg, struct pc_machine *pc)
{
	uint64_t low = MIN(cfg->boot.mem_size, (uint64_t)PC_HOLE_START);
	int ret;

	pc->console = cfg->console;
	pc->console_out = cfg->console_out;
	ret = serial_create(vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ,
			    cfg->console ? -1 : cfg->console_out, &pc->serial);
	if (!ret)
		serial_set_tx_hook(pc->serial, watch_console, pc);
	if (!ret)
		ret = i8042_create(vm, &pc->i8042);
	if (!ret)
		ret = rtc_create(vm, low, cfg->boot.mem_size - low, &pc->rtc);
	if (!ret)
		ret = pm_create(vm, &pc->pm);
	/* The reset register at 0xcf9 sits inside the PCI ports: pci forwards it. */
	if (!ret)
		ret = pci_create(vm, pc->pm, &pc->pci);
	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++) {
		ret = virtio_blk_create(vm, pc->pci, 1 + i, cfg->disk[i].disk, cfg->disk[i].serial,
					&pc->blk[i]);
		pc->nr_blk = i + 1;
	}
	if (!ret && cfg->rng)
		ret = virtio_rng_create(vm, pc->pci, PC_RNG_SLOT, &pc->rng);
	if (!ret && cfg->virtio_console)
		ret = virtio_console_create(vm, pc->pci, PC_CONSOLE_SLOT, hvc_output, pc, &pc->vcon);
	if (!ret && cfg->balloon)
		ret = virtio_balloon_create(vm, pc->pci, PC_BALLOON_SLOT,
			(cfg->balloon_deflate_on_oom ? VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0) |
			(cfg->balloon_reporting ? VIRTIO_BALLOON_F_PAGE_REPORTING : 0),
			&pc->balloon);
	if (!ret && cfg->vsock)
		ret = virtio_vsock_create(vm, pc->pci, PC_VSOCK_SLOT, cfg->vsock_cid, cfg->vsock,
					  &pc->vsock);
	for (unsigned i = 0; !ret && i < cfg->nr_nets; i++) {
		ret = virtio_net_create(vm, pc->pci, PC_NET_SLOT + i, cfg->net[i].fd, cfg->net[i].mac,
					&pc->net[i]);
		pc->nr_net = i + 1;
	}
	return ret;
}

int pc_start_devices(struct pc_machine *pc)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < pc->nr_blk; i++)
		ret = virtio_blk_start(pc->blk[i]);
	if (!ret && pc->rng)
		ret = virtio_rng_start(pc->rng);
	if (!ret && pc->vcon)
		ret = virtio_console_start(pc->vcon);
	if (!ret && pc->balloon)
		ret = virtio_balloon_start(pc->balloon);
	if (!ret && pc->vsock)
		ret = virtio_vsock_start(pc->vsock);
	for (unsigned i = 0; !ret && i < pc->nr_net; i++)
		ret = virtio_net_start(pc->net[i]);
	return ret;
}

int pc_build(struct vm *vm, const struct pc_config *cfg, struct pc_machine *pc)
{
	struct linux_boot lb;
	uint64_t rsdp_gpa;
	const char *why;
	int ret;

	memset(pc, 0, sizeof(*pc));
	pc->vm = vm;
	/* A PC has legacy ports nobody emulates; the kernel probes them. */
	vm->unclaimed_io = VM_IO_IGNORE;
	vm->ram_hugepages = true;
	ret = pc_create_irqchip(vm);
	if (!ret)
		ret = vm_add_ram(vm, cfg->boot.mem_size, PC_HOLE_START, PC_HOLE_END);
	vm_mark(vm, "memory");
	if (!ret)
		ret = write_acpi(vm, cfg->nr_cpus, &rsdp_gpa);
	vm_mark(vm, "acpi");
	if (ret)
		return ret;

	lb = cfg->boot;
	lb.rsdp_gpa = rsdp_gpa;
	if (linux_load(&vm->gmem, &lb, &why)) {
		log_err("cannot boot the kernel: %s", why);
		return -EINVAL;
	}
	linux_write_boot_tables(&vm->gmem);
	vm_mark(vm, "load");

	ret = create_devices(vm, cfg, pc);
	vm_mark(vm, "devices");
	for (unsigned i = 0; !ret && i < cfg->nr_cpus; i++) {
		struct vcpu *vcpu;

		ret = vcpu_create(vm, i, &vcpu);
		if (!ret)
			ret = pc_setup_vcpu(vm, vcpu, cfg->nr_cpus, &lb);
	}
	vm_mark(vm, "vcpus");
	return ret;
}

void pc_destroy(struct pc_machine *pc)
{
	if (pc->serial)
		serial_flush(pc->serial);
	/* Devices go after the vCPUs have stopped: vm_destroy() joined them. */
	if (pc->pci)
		pci_destroy(pc->pci); /* holds pm: first */
	/* After the bus: no configuration access reaches them any more. */
	for (unsigned i = 0; i < pc->nr_blk; i++)
		virtio_blk_destroy(pc->blk[i]);
	virtio_rng_destroy(pc->rng);
	pc->rng = NULL;
	virtio_console_destroy(pc->vcon);
	pc->vcon = NULL;
	virtio_balloon_destroy(pc->balloon);
	pc->balloon = NULL;
	virtio_vsock_destroy(pc->vsock);
	pc->vsock = NULL;
	for (unsigned i = 0; i < pc->nr_net; i++)
		virtio_net_destroy(pc->net[i]);
	if (pc->pm)
		pm_destroy(pc->pm);
	if (pc->rtc)
		rtc_destroy(pc->rtc);
	if (pc->i8042)
		i8042_destroy(pc->i8042);
	if (pc->serial)
		serial_destroy(pc->serial);
	memset(pc, 0, sizeof(*pc));
}

size_t pc_console_input(void *opaque, const uint8_t *buf, size_t len)
{
	struct pc_machine *pc = opaque;

	/* With hvc0 (--console virtio) the guest's console is there: so is its input. */
	if (pc->vcon)
		return virtio_console_input(pc->vcon, buf, len);
	return serial_input(pc->serial, buf, len);
}

int pc_console_room_fd(const struct pc_machine *pc)
{
	if (pc->vcon)
		return virtio_console_room_fd(pc->vcon);
	return serial_input_fd(pc->serial);
}

void pc_power_button(struct pc_machine *pc)
{
	pm_power_button(pc->pm);
}
