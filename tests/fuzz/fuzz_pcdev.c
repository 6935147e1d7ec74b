/*
 * The legacy PC devices (16550A, i8042, RTC, PCI configuration ports,
 * ACPI PM) as a guest drives them: port accesses of any width, any value,
 * in any order, dispatched through iobus_access() as the vCPU loop does,
 * with host input on the serial line and the power button in between.
 * The input is
 *
 *   byte 0      guest RAM, which the CMOS memory-size bytes report:
 *               16 MiB + 32 MiB * n for n < 248, else one of big_mem[]
 *   then        operations, each an opcode byte and its operands:
 *
 *   opcode bit 7      write (else read)
 *   opcode bits 5-6   0, 1, 2: a 1-, 2- or 4-byte access to ports[bits 0-4];
 *                     3: by bits 0-4, n < 24: an access of 1 << (n % 3)
 *                     bytes to the port in the next two bytes (little-
 *                     endian); 24-27: the next byte says how many of the
 *                     bytes after it the host types on the serial line;
 *                     28, 29: the power button is pressed; 30, 31: the
 *                     next byte says how many milliseconds (30) or
 *                     seconds (31) pass
 *   a write's value follows its port, little-endian, `width` bytes
 *
 * Time is the harness's: the RTC and the PM timer read a clock that only
 * the input moves (the links wrap clock_wall_ns() and clock_monotonic_ns()),
 * so a run is the same at any hour and on any machine.
 *
 * The devices are made for each input and destroyed after it. Nothing may
 * crash, a stop the guest asks for (reset, power off) must leave the
 * devices working, and what the guest reads back must keep the promises
 * a PC makes: all-ones from ports and PCI functions nobody claims,
 * read-only registers unchanged, interrupts only on the devices' lines.
 *
 * Besides the host bridge, bus 0 holds two functions that register as a
 * PCI device does (at 00:03.0 and 00:1f.0), with BARs of every kind,
 * writable and write-1-to-clear bytes past the header, and hooks: their
 * read-only bits never change, BARs stay aligned to their sizes, and the
 * hooks see only accesses inside one dword of the configuration space.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/legacy/i8042.h"
#include "devices/legacy/pci.h"
#include "devices/legacy/pm.h"
#include "devices/legacy/rtc.h"
#include "devices/legacy/serial.h"
#include "fuzz.h"
#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

#define HOLE_START (3 * GiB) /* where the PC machine's low RAM ends */
#define START_WALL_NS (1704067200ull * 1000000000u) /* 2024-01-01 00:00:00 UTC */
#define START_MONOTONIC_NS (1000ull * 1000000000u)

/* The clocks the devices read, by way of -Wl,--wrap (fuzz.mk). */
static uint64_t elapsed_ns;

uint64_t __wrap_clock_wall_ns(void);
uint64_t __wrap_clock_monotonic_ns(void);

uint64_t __wrap_clock_wall_ns(void)
{
	return START_WALL_NS + elapsed_ns;
}

uint64_t __wrap_clock_monotonic_ns(void)
{
	return START_MONOTONIC_NS + elapsed_ns;
}

/* The ports a guest pokes, one per index of a short opcode. */
static const uint16_t ports[32] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
	0x60, 0x64, 0x70, 0x71,
	0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff,
	0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x606, 0x607,
	0x608, 0x609, 0x60a, 0x60b,
};

/* Who claims which ports, from the devices' headers. */
static const struct {
	uint16_t base, len;
} claimed[] = {
	{ SERIAL_COM1_BASE, SERIAL_NR_REGS },
	{ I8042_DATA_PORT, 1 },
	{ I8042_CMD_PORT, 1 },
	{ RTC_INDEX_PORT, 2 },
	{ PCI_CONFIG_ADDRESS_PORT, 4 },
	{ PCI_CONFIG_DATA_PORT, 4 },
	{ PM1A_EVT_PORT, PM1A_EVT_LEN },
	{ PM1A_CNT_PORT, PM1A_CNT_LEN },
	{ PM_TMR_PORT, PM_TMR_LEN },
};

static const uint64_t big_mem[8] = {
	3 * GiB, 4 * GiB, 4 * GiB + 2 * MiB, 64 * GiB,
	1024 * GiB - 2 * MiB, 1024 * GiB, 18 * MiB, 1 * GiB,
};

/* The host bridge's identity: read-only, whatever the guest writes. */
static const uint8_t host_bridge_id[12] = {
	0x86, 0x80, 0x37, 0x12, /* Intel 82441FX */
	0, 0, 0, 0,             /* command, status: writable */
	0x02, 0x00, 0x00, 0x06, /* revision, class: host bridge */
};

/* The registered functions' layout (a virtio-pci device has this shape). */
static const unsigned fake_slot[2] = { 3, 31 };
static const struct {
	uint64_t size;
	unsigned flags;
} fake_bar[PCI_NR_BARS] = {
	{ 32, PCI_BAR_IO },
	{ 4096, 0 },
	{ 1 * MiB, PCI_BAR_MEM64 | PCI_BAR_PREFETCH },
	{ 0, 0 }, /* the upper half of BAR 2 */
	{ 0, 0 }, /* none */
	{ 16, 0 },
};
#define FAKE_CAP 0x40 /* bytes the guest may write */
#define FAKE_W1C 0x50 /* bytes it clears by writing 1 */
#define FAKE_W1C_INIT 0xa5

static struct pci_device fake_dev[2], fake_init[2];
static unsigned fake_hook_calls;

static struct vm vm;
static int null_fd = -1;
static struct serial *serial;
static struct i8042 *kbc;
static struct rtc *rtc;
static struct pm *pm;
static struct pci_bus *pci;

/* What the guest has seen of the interrupt lines. */
static bool irq_level[32];

/* The little the harness models to check what reads return. */
static struct {
	uint32_t pci_address;
	uint8_t rst_cnt;
	uint8_t serial_lcr;
	uint8_t rtc_index;
	bool cmos_written[128];
} model;

static void record_irq(struct vm *v, unsigned gsi, bool level)
{
	FUZZ_CHECK(v == &vm);
	FUZZ_CHECK(gsi == I8042_KBD_IRQ || gsi == SERIAL_COM1_IRQ || gsi == RTC_IRQ ||
		   gsi == SCI_IRQ || gsi == I8042_AUX_IRQ);
	/* Each device tracks its line: a call is always an edge. */
	FUZZ_CHECK(irq_level[gsi] != level);
	irq_level[gsi] = level;
}

/* A hook's view: inside one dword, with the bus's masks already applied. */
static void check_hook_access(struct pci_device *dev, unsigned offset, unsigned size)
{
	FUZZ_CHECK(dev == &fake_dev[0] || dev == &fake_dev[1]);
	FUZZ_CHECK(size == 1 || size == 2 || size == 4);
	FUZZ_CHECK(offset + size <= PCI_CFG_SIZE && (offset & 3) + size <= 4);
	fake_hook_calls++;
}

static void fake_config_read(struct pci_device *dev, unsigned offset, unsigned size)
{
	check_hook_access(dev, offset, size);
}

static void fake_config_write(struct pci_device *dev, unsigned offset, unsigned size)
{
	check_hook_access(dev, offset, size);
	/* Where the guest put the BARs: always on a multiple of their size. */
	for (unsigned b = 0; b < PCI_NR_BARS; b++) {
		uint64_t a = pci_device_bar_address(dev, b);

		if (fake_bar[b].size)
			FUZZ_CHECK(a % fake_bar[b].size == 0);
		if (fake_bar[b].flags & PCI_BAR_IO)
			FUZZ_CHECK(a < 0x10000);
	}
}

static void make_fake(struct pci_device *dev)
{
	pci_device_init(dev, 0x1af4, 0x1041, 0x020000, 0x01);
	dev->config[PCI_CFG_INT_PIN] = 1;
	for (unsigned b = 0; b < PCI_NR_BARS; b++)
		if (fake_bar[b].size &&
		    pci_device_set_bar(dev, b, fake_bar[b].size, fake_bar[b].flags))
			abort();
	for (unsigned i = 0; i < 8; i++)
		dev->wmask[FAKE_CAP + i] = (uint8_t)(0xff >> i);
	for (unsigned i = 0; i < 4; i++) {
		dev->config[FAKE_W1C + i] = FAKE_W1C_INIT;
		dev->w1cmask[FAKE_W1C + i] = 0xff;
	}
	dev->config_read = fake_config_read;
	dev->config_write = fake_config_write;
}

static void init(void)
{
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.lock, NULL);
	iobus_init(&vm.pio);
	iobus_init(&vm.mmio);
	vm.unclaimed_io = VM_IO_IGNORE;
	vm.set_irq = record_irq;
	vm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (vm.stop_fd < 0 || null_fd < 0)
		abort();
}

static void create_devices(uint64_t mem_size)
{
	uint64_t low = MIN(mem_size, HOLE_START);

	elapsed_ns = 0;
	vm.reason = VM_RUNNING;
	atomic_store(&vm.stopping, false);
	memset(irq_level, 0, sizeof(irq_level));
	memset(&model, 0, sizeof(model));
	/* In pc.c's order: pci forwards the reset register to pm. */
	if (serial_create(&vm, SERIAL_COM1_BASE, SERIAL_COM1_IRQ, null_fd, &serial) ||
	    i8042_create(&vm, &kbc) || rtc_create(&vm, low, mem_size - low, &rtc) ||
	    pm_create(&vm, &pm) || pci_create(&vm, pm, &pci))
		abort();
	for (unsigned i = 0; i < 2; i++) {
		make_fake(&fake_dev[i]);
		fake_init[i] = fake_dev[i];
		if (pci_register_device(pci, fake_slot[i], &fake_dev[i]))
			abort();
	}
	/* Taken slots and slots outside bus 0's 32 are refused. */
	FUZZ_CHECK(pci_register_device(pci, fake_slot[0], &fake_dev[1]) == -EEXIST);
	FUZZ_CHECK(pci_register_device(pci, 0, &fake_dev[1]) == -EINVAL);
	FUZZ_CHECK(pci_register_device(pci, PCI_NR_DEVICES, &fake_dev[1]) == -EINVAL);
	fake_hook_calls = 0;
}

static void destroy_devices(void)
{
	uint64_t v;
	ssize_t n;

	pci_destroy(pci);
	pm_destroy(pm);
	rtc_destroy(rtc);
	i8042_destroy(kbc);
	serial_destroy(serial);
	FUZZ_CHECK(vm.pio.nr == 0);

	/* The stop was announced once, if there was one. */
	n = read(vm.stop_fd, &v, sizeof(v));
	if (vm.reason == VM_RUNNING)
		FUZZ_CHECK(n < 0 && errno == EAGAIN);
	else
		FUZZ_CHECK(n == sizeof(v) && v == 1);
}

static bool is_claimed(uint16_t port, unsigned size)
{
	for (unsigned i = 0; i < ARRAY_SIZE(claimed); i++)
		if (port >= claimed[i].base &&
		    (unsigned)port + size <= (unsigned)claimed[i].base + claimed[i].len)
			return true;
	return false;
}

/* CMOS memory-size bytes, as the PC/AT BIOS leaves them. */
static int cmos_expected(unsigned index, uint64_t mem_size)
{
	uint64_t low = MIN(mem_size, HOLE_START), high = mem_size - low;
	uint64_t ext = low > MiB ? MIN((low - MiB) / KiB, 0xffffu) : 0;
	uint64_t mem16 = low > 16 * MiB ? MIN((low - 16 * MiB) / (64 * KiB), 0xffffu) : 0;
	uint64_t mem4g = MIN(high / (64 * KiB), 0xffffffu);

	switch (index) {
	case 0x15: return 640 & 0xff;
	case 0x16: return 640 >> 8;
	case 0x17: case 0x30: return (int)(ext & 0xff);
	case 0x18: case 0x31: return (int)(ext >> 8);
	case 0x34: return (int)(mem16 & 0xff);
	case 0x35: return (int)(mem16 >> 8);
	case 0x5b: return (int)(mem4g & 0xff);
	case 0x5c: return (int)((mem4g >> 8) & 0xff);
	case 0x5d: return (int)(mem4g >> 16);
	default: return -1;
	}
}

/*
 * What CONFIG_ADDRESS selects on bus 0, function 0: -1 for nothing, 0 for
 * the host bridge, 1 + i for fake_dev[i].
 */
static int selected_function(uint32_t a)
{
	unsigned dev = (a >> 11) & 0x1f;

	if (!(a & 0x80000000u) || (a & 0x00ff0000u) || (a & 0x700u))
		return -1;
	if (dev == 0)
		return 0;
	for (unsigned i = 0; i < 2; i++)
		if (dev == fake_slot[i])
			return 1 + (int)i;
	return -1;
}

/* Checks one byte read from `port`, knowing the model before the access. */
static void check_read_byte(uint16_t port, uint8_t v, uint64_t mem_size)
{
	if (port >= SERIAL_COM1_BASE && port < SERIAL_COM1_BASE + SERIAL_NR_REGS) {
		unsigned reg = port - SERIAL_COM1_BASE;
		bool dlab = model.serial_lcr & 0x80;

		if (reg == 1 && !dlab)
			FUZZ_CHECK(!(v & 0xf0)); /* IER: bits 4-7 read 0 */
		if (reg == 2)
			FUZZ_CHECK(!(v & 0x30)); /* IIR */
		if (reg == 3)
			FUZZ_CHECK(v == model.serial_lcr);
		if (reg == 5)
			FUZZ_CHECK((v & 0x60) == 0x60); /* LSR: THR and transmitter empty */
	} else if (port == I8042_CMD_PORT) {
		FUZZ_CHECK(v & 0x10); /* not inhibited by the key lock */
	} else if (port == RTC_INDEX_PORT) {
		FUZZ_CHECK(v == 0xff); /* write-only */
	} else if (port == RTC_DATA_PORT) {
		int want = model.cmos_written[model.rtc_index] ? -1 :
							       cmos_expected(model.rtc_index, mem_size);

		if (model.rtc_index == 0x0a)
			FUZZ_CHECK(!(v & 0x80)); /* UIP never reads 1 */
		if (model.rtc_index == 0x0d)
			FUZZ_CHECK(v == 0x80); /* VRT */
		if (want >= 0)
			FUZZ_CHECK(v == want);
	} else if (port >= PCI_CONFIG_DATA_PORT && port < PCI_CONFIG_DATA_PORT + 4) {
		uint32_t a = model.pci_address;
		unsigned reg = (a & 0xfc) + (port - PCI_CONFIG_DATA_PORT);

		int f = selected_function(a);

		if (f < 0) {
			FUZZ_CHECK(v == 0xff); /* master abort */
		} else if (f > 0) {
			const struct pci_device *d = &fake_init[f - 1];
			uint8_t fixed = (uint8_t)~(d->wmask[reg] | d->w1cmask[reg]);

			/* What the masks do not open stays as the device made it... */
			FUZZ_CHECK((v & fixed) == (d->config[reg] & fixed));
			/* ...and write-1-to-clear bits only ever clear. */
			FUZZ_CHECK(!(v & d->w1cmask[reg] & ~d->config[reg]));
		} else if (reg < sizeof(host_bridge_id) && (reg < 4 || reg >= 8))
			FUZZ_CHECK(v == host_bridge_id[reg]);
		else if (reg >= 0x10 && reg != PCI_CFG_INT_LINE)
			FUZZ_CHECK(v == 0); /* no BARs, no capabilities, nothing else */
	} else if (port >= PM1A_EVT_PORT && port < PM1A_EVT_PORT + 2) {
		/* Only the power button ever sets a status bit. */
		FUZZ_CHECK(!(v & ~(port == PM1A_EVT_PORT ? 0 : 0x01)));
	} else if (port >= PM1A_EVT_PORT + 2 && port < PM1A_EVT_PORT + 4) {
		FUZZ_CHECK(!(v & ~(port == PM1A_EVT_PORT + 2 ? 0x21 : 0x47)));
	} else if (port == PM1A_CNT_PORT) {
		FUZZ_CHECK(v & 0x01); /* SCI_EN: always in ACPI mode */
	} else if (port >= PM_TMR_PORT && port < PM_TMR_PORT + PM_TMR_LEN) {
		/* 3.579545 MHz ticks since the devices were made, in 32 bits. */
		uint32_t ticks = (uint32_t)((unsigned __int128)elapsed_ns * PM_TMR_HZ / 1000000000u);

		FUZZ_CHECK(v == (uint8_t)(ticks >> 8 * (port - PM_TMR_PORT)));
	}
}

static void check_read(uint16_t port, const uint8_t *data, unsigned size, uint64_t mem_size)
{
	if (port == PCI_CONFIG_ADDRESS_PORT && size == 4) {
		uint32_t a = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
			     (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;

		FUZZ_CHECK(a == model.pci_address);
		return;
	}
	if (port >= PCI_CONFIG_ADDRESS_PORT && port < PCI_CONFIG_ADDRESS_PORT + 4) {
		if (port == RESET_PORT && size == 1) {
			FUZZ_CHECK(data[0] == model.rst_cnt);
			return;
		}
		for (unsigned i = 0; i < size; i++)
			FUZZ_CHECK(data[i] == 0xff);
		return;
	}
	/* A wide access reaches consecutive registers: 0x70 then 0x71, say. */
	for (unsigned i = 0; i < size; i++)
		check_read_byte((uint16_t)(port + i), data[i], mem_size);
}

/* Updates the model after a write the bus took. */
static void model_write(uint16_t port, const uint8_t *data, unsigned size)
{
	if (port == PCI_CONFIG_ADDRESS_PORT && size == 4) {
		model.pci_address = ((uint32_t)data[0] | (uint32_t)data[1] << 8 |
				     (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24) &
				    0x80fffffcu;
		return;
	}
	if (port == RESET_PORT && size == 1) {
		model.rst_cnt = data[0] & 0x0a; /* SYS_RST and FULL_RST stay */
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		unsigned p = port + i;

		if (p == SERIAL_COM1_BASE + 3)
			model.serial_lcr = data[i];
		else if (p == RTC_INDEX_PORT)
			model.rtc_index = data[i] & 0x7f;
		else if (p == RTC_DATA_PORT)
			model.cmos_written[model.rtc_index] = true;
	}
}

/* One access, as handle_io() in src/vmm/vcpu.c makes it. */
static void guest_io(uint16_t port, unsigned size, bool is_write, const uint8_t *value,
		     uint64_t mem_size)
{
	uint8_t buf[8];
	int err;

	memset(buf, 0xa5, sizeof(buf));
	if (is_write)
		memcpy(buf, value, size);
	err = iobus_access(&vm.pio, NULL, port, buf, size, is_write);

	/* The handler keeps to the access's bytes. */
	for (unsigned i = size; i < sizeof(buf); i++)
		FUZZ_CHECK(buf[i] == 0xa5);
	/* Nobody's: the vCPU loop reads all-ones and drops writes. */
	if (!is_claimed(port, size)) {
		FUZZ_CHECK(err == -ENOENT);
		return;
	}
	/* Every device takes bytes; wider accesses are up to each. */
	FUZZ_CHECK(err == 0 || (err == -EINVAL && size > 1));
	/* A width the chip ignores: the vCPU loop floats the bus, as on a PC. */
	if (err)
		return;
	if (is_write)
		model_write(port, value, size);
	else
		check_read(port, buf, size, mem_size);
}

static void check_stop(void)
{
	switch (vm.reason) {
	case VM_RUNNING:
		FUZZ_CHECK(!vm_stopping(&vm));
		break;
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
		FUZZ_CHECK(vm_stopping(&vm));
		break;
	default:
		FUZZ_CHECK(!"a legacy device stopped the VM for another reason");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	uint64_t mem_size;

	if (null_fd < 0)
		init();
	if (size < 1)
		return 0;
	mem_size = p[0] < 248 ? 16 * MiB + p[0] * 32 * MiB : big_mem[p[0] - 248];
	p++;
	create_devices(mem_size);

	while (p < end) {
		uint8_t op = *p++;
		bool is_write = op & 0x80;
		unsigned kind = (op >> 5) & 3, n = op & 0x1f, width;
		uint16_t port;

		if (kind < 3) {
			port = ports[n];
			width = 1u << kind;
		} else if (n < 24) {
			if (end - p < 2)
				break;
			port = (uint16_t)(p[0] | p[1] << 8);
			p += 2;
			width = 1u << (n % 3);
		} else if (n < 28) {
			size_t len;

			if (p == end)
				break;
			len = *p++;
			len = MIN(len, (size_t)(end - p));
			serial_input(serial, p, len);
			p += len;
			continue;
		} else if (n < 30) {
			pm_power_button(pm);
			continue;
		} else {
			if (p == end)
				break;
			elapsed_ns += *p++ * (n == 30 ? 1000000ull : 1000000000ull);
			continue;
		}
		if (is_write && (size_t)(end - p) < width)
			break;
		guest_io(port, width, is_write, p, mem_size);
		if (is_write)
			p += width;
		check_stop();
	}

	destroy_devices();
	return 0;
}
