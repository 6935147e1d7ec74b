/*
 * PCI configuration mechanism #1 through ports 0xcf8/0xcfc of a hand-made
 * VM: Linux's type 1 probe, the host bridge at 00:00.0, all-ones wherever
 * nothing answers, BAR sizing and read-only fields on a registered device,
 * and the reset control register at 0xcf9 that shares the address dword.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/legacy/pci.h"
#include "devices/legacy/pm.h"
#include "fake_vm.h"
#include "util/util.h"

/* Configuration space has no interrupt to raise. */
static void no_irq(struct vm *vm, unsigned gsi, bool level)
{
	fail_msg("PCI configuration raised IRQ %u", gsi);
}

struct fixture {
	struct fake_vm fv;
	struct pm *pm;
	struct pci_bus *bus;
	struct pci_device dev; /* a test device, registered by some tests */
	unsigned writes, reads; /* hook calls */
	unsigned last_offset, last_size;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, 0))
		return -1;
	f->fv.vm.set_irq = no_irq;
	if (pm_create(&f->fv.vm, &f->pm) || pci_create(&f->fv.vm, f->pm, &f->bus))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_destroy(f->bus);
	pm_destroy(f->pm);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Linux's pci_conf1_read()/write(): address dword, then data at reg & 3. */
static uint32_t cfg_read(struct fixture *f, unsigned dev, unsigned reg, unsigned size)
{
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	return fake_vm_in(&f->fv, (uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_write(struct fixture *f, unsigned dev, unsigned reg, uint32_t v, unsigned size)
{
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(0, dev, 0, reg), 4);
	fake_vm_out(&f->fv, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static void hook_write(struct pci_device *dev, unsigned offset, unsigned size)
{
	struct fixture *f = dev->opaque;

	f->writes++;
	f->last_offset = offset;
	f->last_size = size;
}

static void hook_read(struct pci_device *dev, unsigned offset, unsigned size)
{
	struct fixture *f = dev->opaque;

	f->reads++;
	/* A device may refresh what is about to be read. */
	dev->config[0x40] = (uint8_t)f->reads;
}

/* A virtio-like device: 4 KiB memory, 32 bytes of I/O, a 64-bit 16 KiB BAR. */
static void register_test_device(struct fixture *f, unsigned devnum)
{
	pci_device_init(&f->dev, 0x1af4, 0x1042, 0x010000, 1);
	assert_int_equal(pci_device_set_bar(&f->dev, 0, 4096, 0), 0);
	assert_int_equal(pci_device_set_bar(&f->dev, 1, 32, PCI_BAR_IO), 0);
	assert_int_equal(pci_device_set_bar(&f->dev, 2, 16384, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);
	f->dev.config[PCI_CFG_INT_PIN] = 1;
	f->dev.config[PCI_CFG_STATUS] = PCI_STATUS_CAP_LIST;
	f->dev.config[PCI_CFG_STATUS + 1] = 0x80; /* a parity error to clear */
	f->dev.wmask[0x48] = 0x0f; /* a capability's writable nibble */
	f->dev.config_write = hook_write;
	f->dev.config_read = hook_read;
	f->dev.opaque = f;
	assert_int_equal(pci_register_device(f->bus, devnum, &f->dev), 0);
}

static void test_linux_type1_probe(void **state)
{
	struct fixture *f = *state;
	uint32_t tmp;

	/* pci_check_type1() */
	fake_vm_out(&f->fv, 0xcfb, 0x01, 1);
	tmp = fake_vm_in(&f->fv, 0xcf8, 4);
	fake_vm_out(&f->fv, 0xcf8, 0x80000000u, 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 4), 0x80000000u);
	fake_vm_out(&f->fv, 0xcf8, tmp, 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 4), tmp);

	/* pci_sanity_check(): a host bridge (class 0x0600) on bus 0. */
	assert_int_equal(cfg_read(f, 0, 0x0a, 2), 0x0600);

	/* The address register keeps only its defined bits. */
	fake_vm_out(&f->fv, 0xcf8, 0xffffffffu, 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 4), 0x80fffffcu);
	/* Narrow accesses do not reach it (type 2's probe reads non-zero). */
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 1), 0xff);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfa, 2), 0xffff);
	fake_vm_out(&f->fv, 0xcf8, 0, 2);
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 4), 0x80fffffcu);
}

static void test_host_bridge(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cfg_read(f, 0, 0x00, 4), 0x12378086u);
	assert_int_equal(cfg_read(f, 0, 0x00, 2), 0x8086);
	assert_int_equal(cfg_read(f, 0, 0x02, 2), 0x1237);
	assert_int_equal(cfg_read(f, 0, 0x03, 1), 0x12);
	assert_int_equal(cfg_read(f, 0, 0x08, 4), 0x06000002u);
	assert_int_equal(cfg_read(f, 0, PCI_CFG_HEADER_TYPE, 1), 0x00); /* single function */
	for (unsigned reg = PCI_CFG_BAR0; reg < 0x28; reg += 4)
		assert_int_equal(cfg_read(f, 0, reg, 4), 0);

	/* Identity is read-only; the command register is not. */
	cfg_write(f, 0, 0x00, 0xdeadbeef, 4);
	cfg_write(f, 0, 0x08, 0xffffffff, 4);
	assert_int_equal(cfg_read(f, 0, 0x00, 4), 0x12378086u);
	assert_int_equal(cfg_read(f, 0, 0x08, 4), 0x06000002u);
	cfg_write(f, 0, PCI_CFG_COMMAND, 0xffff, 2);
	assert_int_equal(cfg_read(f, 0, PCI_CFG_COMMAND, 2), 0x0547);
	cfg_write(f, 0, PCI_CFG_COMMAND, 0, 2);
	assert_int_equal(cfg_read(f, 0, PCI_CFG_COMMAND, 2), 0);
}

static void test_nothing_there(void **state)
{
	struct fixture *f = *state;

	for (unsigned dev = 1; dev < 32; dev++)
		assert_int_equal(cfg_read(f, dev, 0, 4), 0xffffffffu);
	/* Other functions of the bridge, other buses. */
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(0, 0, 1, 0), 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfc, 4), 0xffffffffu);
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(1, 0, 0, 0), 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfc, 4), 0xffffffffu);
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(1, 0, 0, 0), 4);
	fake_vm_out(&f->fv, 0xcfc, 0, 4);
	/* With the enable bit clear the data port is not a configuration access. */
	fake_vm_out(&f->fv, 0xcf8, 0x00000000, 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfc, 4), 0xffffffffu);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfe, 2), 0xffff);
	fake_vm_out(&f->fv, 0xcfc, 0, 4);
	assert_int_equal(cfg_read(f, 0, 0, 4), 0x12378086u);
}

static uint32_t size_bar(struct fixture *f, unsigned dev, unsigned bar)
{
	unsigned reg = PCI_CFG_BAR0 + 4 * bar;
	uint32_t orig = cfg_read(f, dev, reg, 4), sz;

	/* __pci_read_base(): write all-ones, read the mask, restore. */
	cfg_write(f, dev, reg, 0xffffffffu, 4);
	sz = cfg_read(f, dev, reg, 4);
	cfg_write(f, dev, reg, orig, 4);
	assert_int_equal(cfg_read(f, dev, reg, 4), orig);
	return sz;
}

static void test_bar_sizing(void **state)
{
	struct fixture *f = *state;

	register_test_device(f, 3);
	assert_int_equal(cfg_read(f, 3, 0, 4), 0x10421af4u);
	assert_int_equal(cfg_read(f, 3, 0x08, 4), 0x01000001u);

	cfg_write(f, 3, PCI_CFG_COMMAND, 0, 2); /* decoding off while sizing */
	assert_int_equal(size_bar(f, 3, 0), 0xfffff000u);
	assert_int_equal(size_bar(f, 3, 1), 0x0000ffe1u);
	assert_int_equal(size_bar(f, 3, 2), 0xffffc00cu);
	assert_int_equal(size_bar(f, 3, 3), 0xffffffffu);
	assert_int_equal(size_bar(f, 3, 4), 0);
	assert_int_equal(size_bar(f, 3, 5), 0);

	/* Place them, as the kernel's resource allocation would. */
	cfg_write(f, 3, 0x10, 0xfebf1000u, 4);
	cfg_write(f, 3, 0x14, 0xc040, 4);
	cfg_write(f, 3, 0x18, 0xfe000000u, 4);
	cfg_write(f, 3, 0x1c, 0x1, 4);
	assert_int_equal(cfg_read(f, 3, 0x10, 4), 0xfebf1000u);
	assert_int_equal(cfg_read(f, 3, 0x14, 4), 0xc041);
	assert_int_equal(cfg_read(f, 3, 0x18, 4), 0xfe00000cu);
	assert_int_equal(pci_device_bar_address(&f->dev, 0), 0xfebf1000u);
	assert_int_equal(pci_device_bar_address(&f->dev, 1), 0xc040);
	assert_int_equal(pci_device_bar_address(&f->dev, 2), 0x1fe000000ull);
	assert_int_equal(pci_device_bar_address(&f->dev, 4), 0);
	assert_int_equal(pci_device_bar_address(&f->dev, 6), 0);
	/* Unaligned addresses lose their low bits, as the hardware's would. */
	cfg_write(f, 3, 0x10, 0xfebf1234u, 4);
	assert_int_equal(pci_device_bar_address(&f->dev, 0), 0xfebf1000u);

	/* The device heard about each write, with its offset and size. */
	cfg_write(f, 3, PCI_CFG_COMMAND, PCI_CMD_MEM | PCI_CMD_IO | PCI_CMD_MASTER, 2);
	assert_int_equal(f->last_offset, PCI_CFG_COMMAND);
	assert_int_equal(f->last_size, 2);
	assert_int_equal(cfg_read(f, 3, PCI_CFG_COMMAND, 2), 7);
}

static void test_read_only_fields(void **state)
{
	struct fixture *f = *state;
	unsigned writes;
	uint32_t v;

	register_test_device(f, 31);
	writes = f->writes;
	/* Identity, class, header type and BIST, capability pointer, pin. */
	cfg_write(f, 31, 0x00, 0, 4);
	cfg_write(f, 31, 0x08, 0, 4);
	cfg_write(f, 31, 0x0c, 0xffffffffu, 4);
	cfg_write(f, 31, 0x34, 0xff, 1);
	cfg_write(f, 31, 0x3c, 0xffffffffu, 4);
	assert_int_equal(f->writes, writes + 5);
	assert_int_equal(cfg_read(f, 31, 0x00, 4), 0x10421af4u);
	assert_int_equal(cfg_read(f, 31, 0x08, 4), 0x01000001u);
	/* Cache line size is writable, latency timer and header type are not. */
	assert_int_equal(cfg_read(f, 31, 0x0c, 4), 0x000000ffu);
	assert_int_equal(cfg_read(f, 31, 0x34, 1), 0);
	/* Interrupt line writable, pin not. */
	assert_int_equal(cfg_read(f, 31, 0x3c, 4), 0x000001ffu);

	/* Status: error bits clear by writing 1, the rest stays. */
	assert_int_equal(cfg_read(f, 31, PCI_CFG_STATUS, 2), 0x8010);
	cfg_write(f, 31, PCI_CFG_STATUS, 0x0010, 2);
	assert_int_equal(cfg_read(f, 31, PCI_CFG_STATUS, 2), 0x8010);
	cfg_write(f, 31, PCI_CFG_STATUS, 0xffff, 2);
	assert_int_equal(cfg_read(f, 31, PCI_CFG_STATUS, 2), 0x0010);

	/* Device-specific space: only what the device marked writable. */
	cfg_write(f, 31, 0x48, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, 31, 0x48, 4), 0x0000000fu);
	/* Byte and word accesses at every offset of the data port. */
	cfg_write(f, 31, 0x49, 0xff, 1);
	cfg_write(f, 31, 0x4a, 0xffff, 2);
	assert_int_equal(cfg_read(f, 31, 0x48, 1), 0x0f);
	assert_int_equal(cfg_read(f, 31, 0x49, 1), 0);
	assert_int_equal(cfg_read(f, 31, 0x4a, 2), 0);
	assert_int_equal(cfg_read(f, 31, 0xfc, 4), 0);

	/* The read hook runs before the bytes are copied. */
	v = cfg_read(f, 31, 0x40, 1);
	assert_int_equal(v, (uint8_t)f->reads);
}

static void test_register_errors(void **state)
{
	struct fixture *f = *state;
	struct pci_device d;
	struct pci_bus *other;

	pci_device_init(&d, 0x1234, 0x5678, 0xff0000, 0);
	assert_int_equal(pci_register_device(f->bus, 0, &d), -EINVAL);
	assert_int_equal(pci_register_device(f->bus, 32, &d), -EINVAL);
	assert_int_equal(pci_register_device(f->bus, 5, &d), 0);
	assert_int_equal(pci_register_device(f->bus, 5, &d), -EEXIST);
	assert_int_equal(cfg_read(f, 5, 0, 4), 0x56781234u);
	/* Single-function: function 1 of the device is absent. */
	fake_vm_out(&f->fv, 0xcf8, cfg_addr(0, 5, 1, 0), 4);
	assert_int_equal(fake_vm_in(&f->fv, 0xcfc, 4), 0xffffffffu);

	/* BARs that cannot exist. */
	assert_int_equal(pci_device_set_bar(&d, 6, 4096, 0), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 5, 4096, PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 4095, 0), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 8, 0), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 0, 0), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 4 * GiB, 0), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 512, PCI_BAR_IO), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 2, PCI_BAR_IO), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 16, PCI_BAR_IO | PCI_BAR_PREFETCH), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 0, 16, 0x2), -EINVAL);
	assert_int_equal(pci_device_set_bar(&d, 4, 8 * GiB, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_device_set_bar(&d, 0, 2 * GiB, 0), 0);

	/* A 64-bit BAR above 4 GiB sizes through both halves. */
	assert_int_equal(cfg_read(f, 5, 0x20, 4), 4);
	cfg_write(f, 5, 0x20, 0xffffffffu, 4);
	cfg_write(f, 5, 0x24, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, 5, 0x20, 4), 0x00000004u);
	assert_int_equal(cfg_read(f, 5, 0x24, 4), 0xfffffffeu);
	assert_int_equal(pci_device_bar_address(&d, 4), 0xfffffffe00000000ull);

	/* Another bus's ports. */
	assert_int_equal(pci_create(&f->fv.vm, NULL, &other), -EEXIST);
}

static void test_reset_register(void **state)
{
	struct fixture *f = *state;

	/* Linux's BOOT_CF9_FORCE: read, SYS_RST, then SYS_RST | RST_CPU. */
	assert_int_equal(fake_vm_in(&f->fv, RESET_PORT, 1), 0);
	fake_vm_out(&f->fv, RESET_PORT, 0x02, 1);
	assert_int_equal(fake_vm_in(&f->fv, RESET_PORT, 1), 0x02);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	/* The address register is untouched by it. */
	fake_vm_out(&f->fv, 0xcf8, 0x80000000u, 4);
	fake_vm_out(&f->fv, RESET_PORT, 0x02, 1);
	assert_int_equal(fake_vm_in(&f->fv, 0xcf8, 4), 0x80000000u);
	fake_vm_out(&f->fv, RESET_PORT, RESET_VALUE, 1);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_RESET);
}

static void test_reset_register_without_pm(void **state)
{
	struct fixture *f = *state;

	pci_destroy(f->bus);
	assert_int_equal(pci_create(&f->fv.vm, NULL, &f->bus), 0);
	assert_int_equal(fake_vm_in(&f->fv, RESET_PORT, 1), 0xff);
	fake_vm_out(&f->fv, RESET_PORT, RESET_VALUE, 1);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linux_type1_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_there, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register_without_pm, setup, teardown),
	};

	return cmocka_run_group_tests_name("legacy_pci", tests, NULL, NULL);
}
