/*
 * PCI bus 0 behind configuration mechanism #1 (ports 0xcf8 and 0xcfc):
 * an Intel 440FX host bridge at 00:00.0 and up to 31 devices that
 * register themselves, each supplying its configuration space.
 */
#ifndef SHALE_DEVICES_LEGACY_PCI_H
#define SHALE_DEVICES_LEGACY_PCI_H

#include <stdint.h>

struct vm;
struct pm;
struct pci_bus;

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc

#define PCI_CFG_SIZE 256
#define PCI_NR_BARS 6
#define PCI_NR_DEVICES 32 /* device numbers on bus 0; 0 is the host bridge */

/*
 * INTx routing on bus 0, the contract between the _PRT of the ACPI root
 * bridge (src/arch/x86/acpi.c) and the devices: pin INTA-INTD (0-3, the
 * Interrupt Pin register's value minus 1) of device d raises IOAPIC GSI
 * 16 + (d + pin) % 8. Those are the IOAPIC pins above the ISA IRQs (KVM's
 * IOAPIC has 24; its default routing sends GSI 16-23 to them alone), and
 * the swizzle spreads the INTA lines of neighbouring slots over all
 * eight. The guest is told level-triggered, active low, the PCI default;
 * KVM's IOAPIC ignores the polarity, so a device asserts its line with
 * vm_set_irq(vm, gsi, true) and releases it with false.
 */
#define PCI_INTX_PINS 4
#define PCI_INTX_GSI_BASE 16u
#define PCI_INTX_NR_GSIS 8u

static inline unsigned pci_intx_gsi(unsigned devnum, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (devnum + pin) % PCI_INTX_NR_GSIS;
}

/* Type 0 configuration header offsets (PCI Local Bus 3.0 §6.1). */
#define PCI_CFG_VENDOR_ID 0x00
#define PCI_CFG_DEVICE_ID 0x02
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_STATUS 0x06
#define PCI_CFG_REVISION 0x08
#define PCI_CFG_CLASS 0x09 /* three bytes: programming interface, subclass, class */
#define PCI_CFG_CACHE_LINE 0x0c
#define PCI_CFG_HEADER_TYPE 0x0e
#define PCI_CFG_BAR0 0x10
#define PCI_CFG_SUBSYS_VENDOR_ID 0x2c
#define PCI_CFG_SUBSYS_ID 0x2e
#define PCI_CFG_CAP_PTR 0x34
#define PCI_CFG_INT_LINE 0x3c
#define PCI_CFG_INT_PIN 0x3d

#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEM 0x0002
#define PCI_CMD_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

/* pci_device_set_bar() flags; they are also the BAR's low bits. */
#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM64 0x4
#define PCI_BAR_PREFETCH 0x8

/*
 * A function on bus 0, embedded in the device that implements it. The
 * device fills it in with pci_device_init() and pci_device_set_bar(),
 * marks any further writable bits (capabilities) in `wmask` or `w1cmask`,
 * then registers it. From then on the bus owns `config`: guest writes are
 * applied bit by bit through the masks, and the hooks run afterwards
 * (writes) or beforehand (reads) with the bus lock held. A hook must not
 * call back into this API; it may read `config` and update its own state
 * (map BARs where the guest moved them, start on bus mastering).
 */
struct pci_device {
	uint8_t config[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may set and clear */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits the guest clears by writing 1 */
	void (*config_read)(struct pci_device *dev, unsigned offset, unsigned size);
	void (*config_write)(struct pci_device *dev, unsigned offset, unsigned size);
	void *opaque; /* the device's own */
};

/*
 * Registers the configuration ports. `pm` (may be NULL; must outlive the
 * bus) receives byte accesses to RESET_PORT (0xcf9), which lies inside
 * the address register.
 */
int pci_create(struct vm *vm, struct pm *pm, struct pci_bus **out);
/* Unregisters the ports; registered devices stay their owners'. */
void pci_destroy(struct pci_bus *bus);

/*
 * Puts `dev` at 00:devnum.0. -EINVAL for devnum 0 or >= 32, -EEXIST when
 * taken. Functions other than 0 read as absent: devices are single-function.
 */
int pci_register_device(struct pci_bus *bus, unsigned devnum, struct pci_device *dev);

/*
 * A header with identity and class (0xccsspp), every other field zero, and
 * the standard writable bits: command, status error bits (write 1 to
 * clear), cache line size, interrupt line.
 */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision);

/*
 * Declares BAR `bar` as `size` bytes (a power of two: 4 to 256 for I/O,
 * at least 16 and at most 2 GiB for 32-bit memory) of I/O or memory space;
 * PCI_BAR_MEM64 also takes BAR bar + 1. -EINVAL for anything else.
 */
int pci_device_set_bar(struct pci_device *dev, unsigned bar, uint64_t size, unsigned flags);

/* Where the guest placed BAR `bar` (flag bits removed); for the hooks. */
uint64_t pci_device_bar_address(const struct pci_device *dev, unsigned bar);

#endif
