/*
 * PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2) on bus 0.
 *
 * CONFIG_ADDRESS at 0xcf8 is a dword register: bit 31 enables, bits 23-16
 * select the bus, 15-11 the device, 10-8 the function and 7-2 the
 * register. Reserved bits 30-24 and 1-0 read 0. Byte and word accesses to
 * 0xcf8-0xcfb do not reach it, as on Intel chipsets, with one exception:
 * a byte at 0xcf9 is the chipset's reset control register, which this
 * file passes to pm.c. (Linux's type 1 probe writes a byte to 0xcfb and
 * then checks that the dword reads back; both must work.)
 *
 * CONFIG_DATA at 0xcfc-0xcff reads or writes the selected dword, any
 * byte, word or dword of it. An access that selects no device, another
 * bus, or a disabled address reads all-ones and writes nothing, as a
 * master abort does.
 */
#include "devices/legacy/pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/pm.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

#define ADDR_ENABLE 0x80000000u
#define ADDR_MASK 0x80fffffcu
#define ADDR_BUS(a) (((a) >> 16) & 0xff)
#define ADDR_DEV(a) (((a) >> 11) & 0x1f)
#define ADDR_FN(a) (((a) >> 8) & 0x7)
#define ADDR_REG(a) ((a) & 0xfc)

/* Intel 82441FX PMC (440FX host bridge), as QEMU's pc machine shows. */
#define HOST_VENDOR 0x8086
#define HOST_DEVICE 0x1237
#define HOST_REVISION 0x02
#define HOST_CLASS 0x060000 /* bridge, host */

#define STATUS_ERRORS 0xf900 /* parity, aborts, SERR: write 1 to clear */
#define COMMAND_WRITABLE 0x0547 /* IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE */

struct pci_bus {
	struct vm *vm;
	struct pm *pm;

	pthread_mutex_t lock; /* address, slots and every registered config space */
	uint32_t address;
	struct pci_device *slot[PCI_NR_DEVICES];
	struct pci_device host_bridge;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	put16(&dev->config[PCI_CFG_VENDOR_ID], vendor);
	put16(&dev->config[PCI_CFG_DEVICE_ID], device);
	dev->config[PCI_CFG_REVISION] = revision;
	dev->config[PCI_CFG_CLASS] = (uint8_t)class_code;
	dev->config[PCI_CFG_CLASS + 1] = (uint8_t)(class_code >> 8);
	dev->config[PCI_CFG_CLASS + 2] = (uint8_t)(class_code >> 16);
	put16(&dev->wmask[PCI_CFG_COMMAND], COMMAND_WRITABLE);
	put16(&dev->w1cmask[PCI_CFG_STATUS], STATUS_ERRORS);
	dev->wmask[PCI_CFG_CACHE_LINE] = 0xff;
	dev->wmask[PCI_CFG_INT_LINE] = 0xff;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/*
 * The size of a BAR is its writable bits (PCI 3.0 §6.2.5.1): software
 * writes all-ones and reads back ~(size - 1) over the address bits, with
 * the type bits unchanged. The masks make that happen with no code.
 */
int pci_device_set_bar(struct pci_device *dev, unsigned bar, uint64_t size, unsigned flags)
{
	unsigned off = PCI_CFG_BAR0 + 4 * bar;
	bool io = flags & PCI_BAR_IO, is64 = flags & PCI_BAR_MEM64;
	uint64_t mask = ~(size - 1);

	if (bar >= PCI_NR_BARS || (is64 && bar + 1 >= PCI_NR_BARS) || !is_pow2(size) ||
	    (flags & ~(PCI_BAR_IO | PCI_BAR_MEM64 | PCI_BAR_PREFETCH)))
		return -EINVAL;
	if (io) {
		/* I/O BARs ask for at most 256 bytes (§6.2.5.1), in x86's 64 KiB. */
		if ((flags & ~PCI_BAR_IO) || size < 4 || size > 256)
			return -EINVAL;
		put32(&dev->config[off], PCI_BAR_IO);
		put32(&dev->wmask[off], (uint32_t)mask & 0xfffcu);
		return 0;
	}
	if (size < 16 || (!is64 && size > 2 * GiB))
		return -EINVAL;
	put32(&dev->config[off], flags);
	put32(&dev->wmask[off], (uint32_t)mask & ~0xfu);
	if (is64) {
		put32(&dev->config[off + 4], 0);
		put32(&dev->wmask[off + 4], (uint32_t)(mask >> 32));
	}
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t pci_device_bar_address(const struct pci_device *dev, unsigned bar)
{
	uint32_t lo;

	if (bar >= PCI_NR_BARS)
		return 0;
	lo = get32(&dev->config[PCI_CFG_BAR0 + 4 * bar]);
	if (lo & PCI_BAR_IO)
		return lo & ~0x3u;
	if ((lo & 0x6) == PCI_BAR_MEM64 && bar + 1 < PCI_NR_BARS)
		return (uint64_t)get32(&dev->config[PCI_CFG_BAR0 + 4 * (bar + 1)]) << 32 |
		       (lo & ~0xfu);
	return lo & ~0xfu;
}

/* The device CONFIG_ADDRESS selects, or NULL. */
static struct pci_device *selected(struct pci_bus *bus)
{
	uint32_t a = bus->address;

	if (!(a & ADDR_ENABLE) || ADDR_BUS(a) != 0 || ADDR_FN(a) != 0)
		return NULL;
	return bus->slot[ADDR_DEV(a)];
}

static void config_write(struct pci_device *dev, unsigned reg, const uint8_t *data,
			 unsigned size)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned r = reg + i;
		uint8_t v = data[i];

		dev->config[r] = (uint8_t)((dev->config[r] & ~dev->wmask[r]) | (v & dev->wmask[r]));
		dev->config[r] &= (uint8_t)~(v & dev->w1cmask[r]);
	}
	if (dev->config_write)
		dev->config_write(dev, reg, size);
}

static int data_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		   unsigned size, bool is_write)
{
	struct pci_bus *bus = opaque;
	struct pci_device *dev;
	unsigned reg;

	pthread_mutex_lock(&bus->lock);
	dev = selected(bus);
	/* The access lies in the dword: iobus keeps it inside 0xcfc-0xcff. */
	reg = ADDR_REG(bus->address) + (unsigned)offset;
	if (!dev) {
		if (!is_write)
			memset(data, 0xff, size);
	} else if (is_write) {
		config_write(dev, reg, data, size);
	} else {
		if (dev->config_read)
			dev->config_read(dev, reg, size);
		memcpy(data, &dev->config[reg], size);
	}
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

static int address_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		      unsigned size, bool is_write)
{
	struct pci_bus *bus = opaque;

	if (offset == RESET_PORT - PCI_CONFIG_ADDRESS_PORT && size == 1 && bus->pm) {
		if (is_write)
			pm_reset_control_write(bus->pm, data[0]);
		else
			data[0] = pm_reset_control_read(bus->pm);
		return 0;
	}
	if (offset != 0 || size != 4) {
		if (!is_write)
			memset(data, 0xff, size);
		return 0;
	}
	pthread_mutex_lock(&bus->lock);
	if (is_write)
		bus->address = get32(data) & ADDR_MASK;
	else
		put32(data, bus->address);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

int pci_register_device(struct pci_bus *bus, unsigned devnum, struct pci_device *dev)
{
	int ret = 0;

	if (devnum == 0 || devnum >= PCI_NR_DEVICES || !dev)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	if (bus->slot[devnum])
		ret = -EEXIST;
	else
		bus->slot[devnum] = dev;
	pthread_mutex_unlock(&bus->lock);
	return ret;
}

int pci_create(struct vm *vm, struct pm *pm, struct pci_bus **out)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	unsigned widths = IOBUS_W1 | IOBUS_W2 | IOBUS_W4;
	int ret;

	if (!bus)
		return -ENOMEM;
	bus->vm = vm;
	bus->pm = pm;
	pthread_mutex_init(&bus->lock, NULL);
	pci_device_init(&bus->host_bridge, HOST_VENDOR, HOST_DEVICE, HOST_CLASS, HOST_REVISION);
	bus->slot[0] = &bus->host_bridge;

	ret = iobus_register(&vm->pio, PCI_CONFIG_ADDRESS_PORT, 4, widths, address_io, bus,
			     "pci address");
	if (ret)
		goto err;
	ret = iobus_register(&vm->pio, PCI_CONFIG_DATA_PORT, 4, widths, data_io, bus, "pci data");
	if (ret) {
		iobus_unregister(&vm->pio, PCI_CONFIG_ADDRESS_PORT);
		goto err;
	}
	*out = bus;
	return 0;
err:
	pthread_mutex_destroy(&bus->lock);
	free(bus);
	return ret;
}

void pci_destroy(struct pci_bus *bus)
{
	if (!bus)
		return;
	iobus_unregister(&bus->vm->pio, PCI_CONFIG_DATA_PORT);
	iobus_unregister(&bus->vm->pio, PCI_CONFIG_ADDRESS_PORT);
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}
