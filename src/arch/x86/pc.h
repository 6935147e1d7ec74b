/*
 * The emulated PC for unmodified guests: in-kernel irqchip and PIT, legacy
 * chips, ACPI tables, and vCPUs started where the Linux boot protocol (or
 * PVH) wants them.
 */
#ifndef SHALE_ARCH_X86_PC_H
#define SHALE_ARCH_X86_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/acpi.h"
#include "arch/x86/linux.h"

struct vm;
struct vcpu;
struct conout;

/* 32-bit PCI/MMIO hole: RAM above 3 GiB continues at 4 GiB. */
#define PC_HOLE_START LINUX_LOW_RAM_MAX
#define PC_HOLE_END LINUX_HIGH_RAM_GPA
/*
 * The memory window of PCI bus 0, where the guest places BARs: the hole up
 * to the IOAPIC. 0xfec00000 and above belong to the IOAPIC and the local
 * APICs, as on a PC.
 */
#define PC_PCI_MMIO_START PC_HOLE_START
#define PC_PCI_MMIO_END ACPI_IOAPIC_GPA
#define PC_MAX_CPUS 64u
/* virtio-blk devices take PCI slots 1, 2, ... in --disk order. */
#define PC_MAX_DISKS 16u
/* The entropy device (--rng) takes slot 17, whatever the disks; hvc0 18. */
#define PC_RNG_SLOT (PC_MAX_DISKS + 1)
#define PC_CONSOLE_SLOT (PC_MAX_DISKS + 2)
/* virtio-vsock (--vsock) takes slot 23, the memory balloon (--balloon) 24. */
#define PC_VSOCK_SLOT 23u
#define PC_BALLOON_SLOT 24u
/* virtio-net devices take slots 19-22 in --net order. */
#define PC_MAX_NETS 4u
#define PC_NET_SLOT (PC_MAX_DISKS + 3)

struct disk;
struct virtio_blk;
struct virtio_rng;
struct virtio_console;
struct virtio_balloon;
struct virtio_vsock;
struct vsock_unix;
struct virtio_net;

struct pc_disk {
	struct disk *disk; /* open; the caller's, across reboots */
	const char *serial; /* GET_ID's answer, or NULL */
};

struct pc_net {
	int fd; /* the back end (backend/tap.h); the caller's, across reboots */
	uint8_t mac[6];
};

struct pc_config {
	struct linux_boot boot; /* the inputs: kernel, initrd, cmdline, mem_size */
	unsigned nr_cpus;
	int console_out; /* where the serial console's output goes... */
	struct conout *console; /* ...unless this is set */
	struct pc_disk disk[PC_MAX_DISKS];
	unsigned nr_disks;
	bool rng; /* virtio-rng */
	bool virtio_console; /* hvc0 beside the UART */
	bool balloon; /* virtio-balloon */
	bool balloon_deflate_on_oom, balloon_reporting;
	/* virtio-vsock: the guest's CID and the host side (open; the caller's), or NULL. */
	struct vsock_unix *vsock;
	uint64_t vsock_cid;
	struct pc_net net[PC_MAX_NETS];
	unsigned nr_nets;
};

#define PC_PANIC_LINE_MAX 160

struct pc_machine {
	struct vm *vm;
	struct conout *console;
	int console_out; /* where output goes without `console` */
	/* The console lines being written, watched for a panic: ttyS0's and hvc0's. */
	struct pc_line {
		char text[PC_PANIC_LINE_MAX];
		size_t len;
	} serial_line, hvc_line;
	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct pci_bus *pci;
	struct pm *pm;
	struct virtio_blk *blk[PC_MAX_DISKS];
	unsigned nr_blk;
	struct virtio_rng *rng;
	struct virtio_console *vcon;
	struct virtio_balloon *balloon;
	struct virtio_vsock *vsock;
	struct virtio_net *net[PC_MAX_NETS];
	unsigned nr_net;
};

/* Checks kernel, initrd and command line without building anything. */
int pc_check(const struct pc_config *cfg, const char *kernel_name);

/*
 * Builds the whole PC in `vm` (created, empty): RAM, irqchip and PIT,
 * ACPI tables, legacy devices, the kernel, and nr_cpus set-up vCPUs ready
 * to start. pc_destroy() undoes it, also after a partial failure.
 */
int pc_build(struct vm *vm, const struct pc_config *cfg, struct pc_machine *pc);
void pc_destroy(struct pc_machine *pc);
/*
 * Starts the devices' I/O threads: after the sandbox (each thread installs
 * its own filter), before the vCPUs. 0 or -errno with a message.
 */
int pc_start_devices(struct pc_machine *pc);

/*
 * Console input for the guest (a console_input_fn): its serial port, or
 * hvc0 when there is one; and the fd that says when that device has room
 * for what it refused.
 */
size_t pc_console_input(void *pc, const uint8_t *buf, size_t len);
int pc_console_room_fd(const struct pc_machine *pc);

/* Presses the ACPI power button (the control socket's shutdown). */
void pc_power_button(struct pc_machine *pc);

/*
 * CPUID, MSRs, LAPIC and FPU for vCPU `vcpu` of nr_cpus; the boot vCPU
 * (id 0) also gets the entry state of `lb`. The others wait for INIT/SIPI
 * from the guest, in the in-kernel LAPIC.
 */
int pc_setup_vcpu(struct vm *vm, struct vcpu *vcpu, unsigned nr_cpus,
		  const struct linux_boot *lb);

#endif
