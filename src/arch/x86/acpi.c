/*
 * ACPI tables (ACPI 6.3): fixed-hardware ACPI on a PC with KVM's in-kernel
 * 8259 PIC, IOAPIC, local APICs and PIT, an i8042, a COM1 UART, a CMOS
 * RTC and PCI bus 0. Section numbers below refer to the ACPI 6.3
 * specification.
 *
 * Layout in the buffer: RSDP first (a legacy scan finds it on a 16-byte
 * boundary), then FACS (64-byte aligned, §5.2.10), DSDT, FADT, MADT, XSDT,
 * each table written after the ones it points to.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "devices/legacy/pci.h"

#define OEM_ID "SHALE "          /* 6 bytes */
#define OEM_TABLE_ID "SHALEVM "  /* 8 bytes */
#define OEM_REVISION 1
#define CREATOR_ID "SHAL"        /* 4 bytes: no ASL compiler made these */
#define CREATOR_REVISION 1
#define HYPERVISOR_ID "SHALEVM " /* FADT hypervisor vendor identity */

#define SDT_HEADER_LEN 36
#define SDT_CHECKSUM 9

#define RSDP_V1_LEN 20
#define RSDP_LEN 36
#define FACS_LEN 64
#define FADT_LEN 276 /* FADT revision 6 (§5.2.9) */
#define MADT_FIXED_LEN 44

/* Generic Address Structure (§5.2.3.2). */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2
#define GAS_ACCESS_DWORD 3

/* FADT fixed feature flags (§5.2.9, table 5-34). */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5)
#define FADT_FIX_RTC (1u << 6)
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)

/* IA-PC boot architecture flags (§5.2.9.3). */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)

/* MADT (§5.2.12). */
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED (1u << 0)
/* MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2. */
#define INTI_ACTIVE_HIGH 0x1
#define INTI_LEVEL 0xc
#define ACPI_ALL_PROCESSORS 0xff

/* The legacy devices the DSDT describes, and their ISA IRQs. */
#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define RTC_PORT 0x70
#define RTC_IRQ 8
#define PIT_IRQ 0
#define CASCADE_IRQ 2

/* PCI configuration mechanism #1: CONFIG_ADDRESS and CONFIG_DATA. */
#define PCI_CFG_PORTS 8

/* Address Space Descriptors (§6.4.3.5): resource types and flags. */
#define RES_TYPE_MEM 0
#define RES_TYPE_IO 1
#define RES_TYPE_BUS 2
/*
 * General flags of a bridge window: _MAF and _MIF set (a fixed range),
 * positive decode, and bit 0 clear: the bridge produces the range for
 * the devices below it rather than consuming it.
 */
#define RES_WINDOW 0x0c
#define RES_IO_ENTIRE_RANGE 0x03 /* _RNG: ISA and non-ISA addresses */
#define RES_MEM_READ_WRITE 0x01  /* _RW; _MEM 0: non-cacheable */

/*
 * Output cursor over the caller's buffer. Once something does not fit,
 * `full` is set and every later write is dropped: the caller checks once
 * at the end.
 */
struct out {
	uint8_t *buf;
	size_t size;
	size_t pos;
	uint64_t gpa;
	bool full;
};

/* Room for len bytes whose guest address is a multiple of align, zeroed. */
static uint8_t *reserve(struct out *o, size_t len, size_t align)
{
	size_t start = o->pos;

	if (o->full)
		return NULL;
	while ((o->gpa + start) % align)
		start++;
	if (start > o->size || len > o->size - start) {
		o->full = true;
		return NULL;
	}
	memset(o->buf + o->pos, 0, start + len - o->pos);
	o->pos = start + len;
	return o->buf + start;
}

static uint64_t gpa_of(const struct out *o, const uint8_t *p)
{
	return o->gpa + (uint64_t)(p - o->buf);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

/* The common table header (§5.2.6); the checksum is set by sdt_finish(). */
static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put_le32(t + 32, CREATOR_REVISION);
}

static void sdt_finish(uint8_t *t, uint32_t len)
{
	put_le32(t + 4, len);
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = checksum(t, len);
}

static void put_gas_io(uint8_t *p, uint8_t bytes, uint8_t access, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = (uint8_t)(bytes * 8);
	p[2] = 0;
	p[3] = access;
	put_le64(p + 4, port);
}

/*
 * AML (§20). Everything is appended at the cursor; a PkgLength is opened
 * with 4 bytes reserved and shrunk to its shortest encoding when closed.
 */
static void aml_bytes(struct out *o, const void *p, size_t len)
{
	uint8_t *d = reserve(o, len, 1);

	if (d)
		memcpy(d, p, len);
}

static void aml_byte(struct out *o, uint8_t b)
{
	aml_bytes(o, &b, 1);
}

/* A NameString, spelled out: here always NameSegs of 4 characters. */
static void aml_name(struct out *o, const char *s)
{
	aml_bytes(o, s, strlen(s));
}

/* Integer constant (§20.2.3): the shortest of Zero, One and the prefixes. */
static void aml_int(struct out *o, uint64_t v)
{
	uint8_t b[9];
	size_t n;

	if (v <= 1) {
		aml_byte(o, (uint8_t)v); /* ZeroOp, OneOp */
		return;
	}
	if (v <= UINT8_MAX) {
		b[0] = 0x0a, n = 1;
	} else if (v <= UINT16_MAX) {
		b[0] = 0x0b, n = 2;
	} else if (v <= UINT32_MAX) {
		b[0] = 0x0c, n = 4;
	} else {
		b[0] = 0x0e, n = 8;
	}
	for (size_t i = 0; i < n; i++)
		b[1 + i] = (uint8_t)(v >> (8 * i));
	aml_bytes(o, b, 1 + n);
}

static size_t aml_pkg_open(struct out *o)
{
	size_t at = o->pos;

	reserve(o, 4, 1);
	return at;
}

/*
 * PkgLength (§20.2.4) counts itself and what follows. One byte holds up
 * to 63; otherwise bits 7:6 of the lead byte give the number of following
 * bytes and its bits 3:0 the low nibble.
 */
static void aml_pkg_close(struct out *o, size_t at)
{
	size_t body, n, len;

	if (o->full)
		return;
	body = o->pos - at - 4;
	for (n = 1; n < 4; n++) {
		len = body + n;
		if (len < (n == 1 ? 0x40u : 1u << (4 + 8 * (n - 1))))
			break;
	}
	len = body + n;
	memmove(o->buf + at + n, o->buf + at + 4, body);
	if (n == 1) {
		o->buf[at] = (uint8_t)len;
	} else {
		o->buf[at] = (uint8_t)(((n - 1) << 6) | (len & 0x0f));
		for (size_t i = 1; i < n; i++)
			o->buf[at + i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	}
	o->pos -= 4 - n;
}

/* EisaId("PNP0501"): three compressed letters and four hex digits. */
static void aml_eisa_id(struct out *o, const char *id)
{
	uint16_t vendor = (uint16_t)(((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@'));
	uint16_t product = 0;
	uint8_t b[5];

	for (int i = 3; i < 7; i++) {
		char c = id[i];

		product = (uint16_t)((product << 4) | (c <= '9' ? c - '0' : c - 'A' + 10));
	}
	b[0] = 0x0c; /* DWordPrefix */
	b[1] = (uint8_t)(vendor >> 8);
	b[2] = (uint8_t)vendor;
	b[3] = (uint8_t)(product >> 8);
	b[4] = (uint8_t)product;
	aml_bytes(o, b, sizeof(b));
}

/* Small resource descriptors (§6.4.2) for a ResourceTemplate. */
static size_t res_io(uint8_t *p, uint16_t port, uint8_t len)
{
	p[0] = 0x47; /* I/O port descriptor, 7 bytes follow */
	p[1] = 0x01; /* 16-bit decode */
	put_le16(p + 2, port);
	put_le16(p + 4, port);
	p[6] = 1; /* alignment */
	p[7] = len;
	return 8;
}

static size_t res_irq(uint8_t *p, unsigned irq)
{
	p[0] = 0x22; /* IRQ descriptor without flags byte: edge, active high */
	put_le16(p + 1, (uint16_t)(1u << irq));
	return 3;
}

/*
 * Large resource descriptors (§6.4.3) for the windows of a bridge: the
 * Word (§6.4.3.5.3) and DWord (§6.4.3.5.2) Address Space Descriptors of a
 * fixed range [min, max], whose granularity must then be 0 and whose
 * length is max - min + 1 (§6.4.3.5, valid combinations of _MIF, _MAF
 * and _LEN), without translation.
 */
static size_t res_word_window(uint8_t *p, uint8_t type, uint8_t type_flags, uint16_t min,
			      uint16_t max)
{
	p[0] = 0x88;
	put_le16(p + 1, 13); /* bytes that follow: no resource source */
	p[3] = type;
	p[4] = RES_WINDOW;
	p[5] = type_flags;
	put_le16(p + 6, 0); /* granularity */
	put_le16(p + 8, min);
	put_le16(p + 10, max);
	put_le16(p + 12, 0); /* translation offset */
	put_le16(p + 14, (uint16_t)(max - min + 1));
	return 16;
}

static size_t res_dword_memory_window(uint8_t *p, uint32_t min, uint32_t max)
{
	p[0] = 0x87;
	put_le16(p + 1, 23);
	p[3] = RES_TYPE_MEM;
	p[4] = RES_WINDOW;
	p[5] = RES_MEM_READ_WRITE;
	put_le32(p + 6, 0);
	put_le32(p + 10, min);
	put_le32(p + 14, max);
	put_le32(p + 18, 0);
	put_le32(p + 22, max - min + 1);
	return 26;
}

/* Name (NAME, value) */
static void aml_name_int(struct out *o, const char *name, uint64_t v)
{
	aml_byte(o, 0x08); /* NameOp */
	aml_name(o, name);
	aml_int(o, v);
}

/*
 * Device (NAME) { Name (_HID, EisaId (hid)) Name (_UID, uid) ...: the
 * caller adds the rest and closes the package the result opened.
 */
static size_t aml_device_open(struct out *o, const char *name, const char *hid, unsigned uid)
{
	size_t dev;

	aml_byte(o, 0x5b); /* ExtOpPrefix */
	aml_byte(o, 0x82); /* DeviceOp */
	dev = aml_pkg_open(o);
	aml_name(o, name);

	aml_byte(o, 0x08); /* NameOp */
	aml_name(o, "_HID");
	aml_eisa_id(o, hid);

	aml_name_int(o, "_UID", uid);
	return dev;
}

/*
 * Name (_CRS, ResourceTemplate () { res }): a Buffer ending with an End
 * Tag whose checksum 0 means "not checked".
 */
static void aml_crs(struct out *o, const uint8_t *res, size_t res_len)
{
	size_t crs;

	aml_byte(o, 0x08); /* NameOp */
	aml_name(o, "_CRS");
	aml_byte(o, 0x11); /* BufferOp */
	crs = aml_pkg_open(o);
	aml_int(o, res_len + 2);
	aml_bytes(o, res, res_len);
	aml_byte(o, 0x79); /* End Tag */
	aml_byte(o, 0x00);
	aml_pkg_close(o, crs);
}

/* Device (NAME) { Name (_HID, ...) Name (_UID, uid) Name (_CRS, ...) } */
static void aml_device(struct out *o, const char *name, const char *hid, unsigned uid,
		       const uint8_t *res, size_t res_len)
{
	size_t dev = aml_device_open(o, name, hid, uid);

	aml_crs(o, res, res_len);
	aml_pkg_close(o, dev);
}

/*
 * Name (_PRT, Package () { Package () { address, pin, source, index }, ... })
 * (§6.2.13): for pins INTA-INTD (0-3) of devices 1-31 on bus 0 (address
 * 0xDDDDFFFF: device DDDD, any function), the GSI that pci_intx_gsi()
 * names. Source 0 says the last field is that GSI itself, not an index
 * into a link device's resources: the routing is fixed, and the interrupt
 * level-triggered, active low. The host bridge at device 0 has no INTx.
 */
static void aml_prt(struct out *o)
{
	size_t prt, entry;

	aml_byte(o, 0x08); /* NameOp */
	aml_name(o, "_PRT");
	aml_byte(o, 0x12); /* PackageOp */
	prt = aml_pkg_open(o);
	aml_byte(o, (PCI_NR_DEVICES - 1) * PCI_INTX_PINS); /* NumElements */
	for (unsigned dev = 1; dev < PCI_NR_DEVICES; dev++) {
		for (unsigned pin = 0; pin < PCI_INTX_PINS; pin++) {
			aml_byte(o, 0x12); /* PackageOp */
			entry = aml_pkg_open(o);
			aml_byte(o, 4); /* NumElements */
			aml_int(o, (uint64_t)dev << 16 | 0xffff);
			aml_int(o, pin);
			aml_int(o, 0);
			aml_int(o, pci_intx_gsi(dev, pin));
			aml_pkg_close(o, entry);
		}
	}
	aml_pkg_close(o, prt);
}

/*
 * Device (PCI0): the host bridge of PCI bus 0 in the ACPI namespace, a
 * PNP0A03 root bridge as on a PC; without it Linux with ACPI on finds no
 * root bridge to scan and its PCI devices no _PRT. Segment 0 (_SEG,
 * §6.5.6), base bus 0 (_BBN, §6.5.5). It has no _ADR: a device has an
 * _HID or an _ADR, not both (§6.1), and a root bridge is found by its
 * _HID. No _CID PNP0A08 and no MCFG: configuration space is reached
 * through mechanism #1 only.
 *
 * _CRS lists what the bridge decodes. Bus numbers 0-0: pci.c answers
 * for bus 0 alone. The configuration ports 0xcf8-0xcff, which the bridge
 * itself consumes (Linux drops them from the windows it hands out), and
 * the I/O below and above them: 0x0000-0x0cf7 and 0x0d00-0xffff, the
 * legacy ports included as on a PC. One 32-bit memory window from the
 * configuration for the devices' BARs.
 */
static void aml_pci_root(struct out *o, const struct acpi_config *cfg)
{
	const uint16_t cfg_end = PCI_CONFIG_ADDRESS_PORT + PCI_CFG_PORTS;
	uint8_t res[16 + 8 + 2 * 16 + 26]; /* bus, ports, I/O and memory windows */
	size_t dev, n;

	dev = aml_device_open(o, "PCI0", "PNP0A03", 0);
	aml_name_int(o, "_SEG", 0);
	aml_name_int(o, "_BBN", 0);

	n = res_word_window(res, RES_TYPE_BUS, 0, 0, 0);
	n += res_io(res + n, PCI_CONFIG_ADDRESS_PORT, PCI_CFG_PORTS);
	n += res_word_window(res + n, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, 0,
			     PCI_CONFIG_ADDRESS_PORT - 1);
	n += res_word_window(res + n, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, cfg_end, 0xffff);
	n += res_dword_memory_window(res + n, cfg->pci_mmio_base,
				     cfg->pci_mmio_base + (cfg->pci_mmio_size - 1));
	aml_crs(o, res, n);

	aml_prt(o);
	aml_pkg_close(o, dev);
}

/* Name (NAME, Package (4) { SLP_TYPa, SLP_TYPb, 0, 0 }) (§7.4.2) */
static void aml_sleep_state(struct out *o, const char *name, uint8_t slp_typ)
{
	size_t pkg;

	aml_byte(o, 0x08); /* NameOp */
	aml_name(o, name);
	aml_byte(o, 0x12); /* PackageOp */
	pkg = aml_pkg_open(o);
	aml_byte(o, 4); /* NumElements */
	aml_int(o, slp_typ);
	aml_int(o, slp_typ);
	aml_int(o, 0);
	aml_int(o, 0);
	aml_pkg_close(o, pkg);
}

/*
 * The DSDT, whose terms sit in the root scope (so "_SB_" is \_SB_). The
 * ISA devices let Linux's PNP layer find them: without a PNP0303 the
 * i8042 driver falls back to probing the ports, and only because the FADT
 * sets the 8042 flag (drivers/input/serio/i8042-acpipnpio.h). No PS/2
 * mouse (PNP0F13) is listed, so the driver leaves the AUX port alone.
 * The legacy devices stay in \_SB rather than under the root bridge: there
 * is no PCI-to-ISA bridge function for them to sit behind. PCI0 follows
 * them.
 * \_S5 gives the SLP_TYP value that acpi_power_off() writes to PM1a_CNT
 * together with SLP_EN; \_S0 the value written back on the way out of a
 * sleep state, which ACPICA looks up when it leaves one.
 */
static void build_dsdt_body(struct out *o, const struct acpi_config *cfg)
{
	uint8_t res[32];
	size_t n, scope;

	aml_byte(o, 0x10); /* ScopeOp */
	scope = aml_pkg_open(o);
	aml_name(o, "_SB_");

	n = res_io(res, COM1_PORT, 8);
	n += res_irq(res + n, COM1_IRQ);
	aml_device(o, "COM1", "PNP0501", 1, res, n);

	n = res_io(res, I8042_DATA_PORT, 1);
	n += res_io(res + n, I8042_CMD_PORT, 1);
	n += res_irq(res + n, I8042_KBD_IRQ);
	aml_device(o, "KBD_", "PNP0303", 0, res, n);

	n = res_io(res, RTC_PORT, 2);
	n += res_irq(res + n, RTC_IRQ);
	aml_device(o, "RTC_", "PNP0B00", 0, res, n);

	aml_pci_root(o, cfg);

	aml_pkg_close(o, scope);

	aml_sleep_state(o, "_S0_", 0);
	aml_sleep_state(o, "_S5_", cfg->slp_typ_s5);
}

static uint8_t *build_dsdt(struct out *o, const struct acpi_config *cfg)
{
	uint8_t *t = reserve(o, SDT_HEADER_LEN, 16);
	size_t start;

	if (!t)
		return NULL;
	start = (size_t)(t - o->buf);
	build_dsdt_body(o, cfg);
	if (o->full)
		return NULL;
	/* Revision 2: AML integers are 64 bits wide. */
	sdt_header(t, "DSDT", 0, 2);
	sdt_finish(t, (uint32_t)(o->pos - start));
	return t;
}

/* FACS (§5.2.10): required with fixed hardware; no waking vector, no S4BIOS. */
static uint8_t *build_facs(struct out *o)
{
	uint8_t *t = reserve(o, FACS_LEN, 64);

	if (!t)
		return NULL;
	memcpy(t, "FACS", 4);
	put_le32(t + 4, FACS_LEN);
	t[32] = 2; /* version */
	return t;
}

/*
 * FADT (§5.2.9). Full fixed-hardware ACPI, not HW_REDUCED_ACPI: with that
 * flag Linux would ignore the PM1 blocks and the power-off path through
 * them. SMI_CMD = 0 says ACPI mode is always on, so the PM1 control
 * register must read back with SCI_EN set. The PM timer is optional (a
 * KVM guest keeps kvm-clock and the TSC without one); when present it is
 * 32 bits wide (TMR_VAL_EXT). No GPE blocks, no P_BLK: C2 and C3
 * latencies above their limits mean "not supported". The power button is
 * a fixed feature (PWR_BUTTON clear): setting PWRBTN_STS and raising the
 * SCI asks the guest to shut down cleanly. There is no sleep button, and
 * the RTC has no wake status bit in PM1 (FIX_RTC).
 */
static uint8_t *build_fadt(struct out *o, const struct acpi_config *cfg, uint64_t facs,
			   uint64_t dsdt)
{
	uint8_t *t = reserve(o, FADT_LEN, 16);

	if (!t)
		return NULL;
	sdt_header(t, "FACP", FADT_LEN, 6);
	/* FIRMWARE_CTRL or X_FIRMWARE_CTRL: only one may be non-zero. */
	if (facs <= UINT32_MAX)
		put_le32(t + 36, (uint32_t)facs);
	else
		put_le64(t + 132, facs);
	if (dsdt <= UINT32_MAX)
		put_le32(t + 40, (uint32_t)dsdt);
	put_le64(t + 140, dsdt);
	put_le16(t + 46, cfg->sci_irq);
	/* SMI_CMD, ACPI_ENABLE, ACPI_DISABLE: 0 */
	put_le32(t + 56, cfg->pm1a_evt_port);
	put_le32(t + 64, cfg->pm1a_cnt_port);
	put_le32(t + 76, cfg->pm_tmr_port);
	t[88] = 4; /* PM1_EVT_LEN */
	t[89] = 2; /* PM1_CNT_LEN */
	t[91] = cfg->pm_tmr_port ? 4 : 0; /* PM_TMR_LEN */
	put_le16(t + 96, 0x0fff);  /* P_LVL2_LAT */
	put_le16(t + 98, 0x0fff);  /* P_LVL3_LAT */
	put_le16(t + 109, IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT);
	put_le32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
				  FADT_RESET_REG_SUP | (cfg->pm_tmr_port ? FADT_TMR_VAL_EXT : 0));
	put_gas_io(t + 116, 1, GAS_ACCESS_BYTE, cfg->reset_port);
	t[128] = cfg->reset_value;
	t[131] = 3; /* minor version: ACPI 6.3 */
	put_gas_io(t + 148, 4, GAS_ACCESS_WORD, cfg->pm1a_evt_port);
	put_gas_io(t + 172, 2, GAS_ACCESS_WORD, cfg->pm1a_cnt_port);
	if (cfg->pm_tmr_port)
		put_gas_io(t + 208, 4, GAS_ACCESS_DWORD, cfg->pm_tmr_port);
	memcpy(t + 268, HYPERVISOR_ID, 8);
	sdt_finish(t, FADT_LEN);
	return t;
}

/*
 * MADT (§5.2.12).
 *
 * IOAPIC id 0: the value of the ID register of KVM's in-kernel IOAPIC
 * after reset (kvm_ioapic_reset()), and what QEMU, crosvm and Firecracker
 * describe. Local APIC and IOAPIC ids stopped sharing one name space with
 * the xAPIC, whose messages travel on the system bus instead of the serial
 * APIC bus, and 64-bit Linux only wants IOAPIC ids unique among IOAPICs
 * (io_apic_unique_id()): 0 may equal CPU 0's local APIC id. The "IOAPIC id
 * = CPUs + 1" of kvmtool's and Firecracker's MP tables follows the old MP
 * specification rule.
 *
 * Interrupt Source Overrides follow the routing that KVM_CREATE_IRQCHIP
 * installs (kvm_setup_default_irq_routing(), arch/x86/kvm/irq_comm.c): GSI n
 * drives 8259 input n and IOAPIC pin n for n < 16, and pin n alone up to
 * 23. The in-kernel PIT raises GSI 0 (arch/x86/kvm/i8254.c), so the timer
 * reaches IOAPIC pin 0 and ISA IRQ 0 is identity-mapped: no override,
 * as in Firecracker's MADT and its MP table ("per
 * kvm_setup_default_irq_routing()"), which use the same default routing.
 * QEMU and kvmtool do describe IRQ 0 -> GSI 2 as real chipsets do, but
 * only after replacing the routing with KVM_SET_GSI_ROUTING so that GSI 0
 * drives IOAPIC pin 2 (QEMU kvm_pc_setup_irq_routing(), kvmtool
 * x86/irq.c). Under the default routing that override would point the
 * kernel at a pin that never fires; whoever changes the routing must
 * change this table with it.
 *
 * The SCI gets an override to level-triggered, active-high: the VMM
 * raises the line with KVM_IRQ_LINE level 1 while an enabled PM1 status
 * bit is set. Without one, Linux would assume the SCI default, level
 * active-low (acpi_sci_ioapic_setup()).
 */
static uint8_t *build_madt(struct out *o, const struct acpi_config *cfg)
{
	size_t len = MADT_FIXED_LEN + 8 * cfg->nr_cpus + 12 + 10 + 6;
	uint8_t *t = reserve(o, len, 16);
	uint8_t *p;

	if (!t)
		return NULL;
	sdt_header(t, "APIC", (uint32_t)len, 5);
	put_le32(t + 36, ACPI_LAPIC_GPA);
	put_le32(t + 40, MADT_PCAT_COMPAT);
	p = t + MADT_FIXED_LEN;

	for (unsigned i = 0; i < cfg->nr_cpus; i++, p += 8) {
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = (uint8_t)i; /* ACPI processor UID */
		p[3] = (uint8_t)i; /* local APIC id */
		put_le32(p + 4, MADT_LAPIC_ENABLED);
	}

	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = 0; /* IOAPIC id */
	put_le32(p + 4, ACPI_IOAPIC_GPA);
	put_le32(p + 8, 0); /* GSI base */
	p += 12;

	p[0] = MADT_ISO;
	p[1] = 10;
	p[2] = 0; /* bus: ISA */
	p[3] = cfg->sci_irq;
	put_le32(p + 4, cfg->sci_irq);
	put_le16(p + 8, INTI_LEVEL | INTI_ACTIVE_HIGH);
	p += 10;

	/* LINT1 of every local APIC is the NMI input. */
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = ACPI_ALL_PROCESSORS;
	put_le16(p + 3, 0); /* flags: conforming */
	p[5] = 1;           /* LINT1 */

	sdt_finish(t, (uint32_t)len);
	return t;
}

static uint8_t *build_xsdt(struct out *o, const uint64_t *tables, unsigned n)
{
	uint32_t len = SDT_HEADER_LEN + 8 * n;
	uint8_t *t = reserve(o, len, 16);

	if (!t)
		return NULL;
	sdt_header(t, "XSDT", len, 1);
	for (unsigned i = 0; i < n; i++)
		put_le64(t + SDT_HEADER_LEN + 8 * i, tables[i]);
	sdt_finish(t, len);
	return t;
}

/* RSDP (§5.2.5.3), revision 2: XSDT only, so RsdtAddress stays 0. */
static void fill_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;
	put_le32(r + 20, RSDP_LEN);
	put_le64(r + 24, xsdt);
	r[8] = checksum(r, RSDP_V1_LEN);
	r[32] = checksum(r, RSDP_LEN);
}

struct port_range {
	unsigned start, len;
};

static bool overlaps(struct port_range a, struct port_range b)
{
	return a.start < b.start + b.len && b.start < a.start + a.len;
}

static int check_config(const struct acpi_config *cfg)
{
	/*
	 * The ACPI registers first (PM1 blocks and timer, then the reset
	 * register), then the legacy devices of the DSDT.
	 */
	const struct port_range r[] = {
		{ cfg->pm1a_evt_port, 4 },
		{ cfg->pm1a_cnt_port, 2 },
		{ cfg->pm_tmr_port, cfg->pm_tmr_port ? 4 : 0 },
		{ cfg->reset_port, 1 },
		{ COM1_PORT, 8 },
		{ I8042_DATA_PORT, 1 },
		{ I8042_CMD_PORT, 1 },
		{ RTC_PORT, 2 },
	};
	const struct port_range pci_cfg = { PCI_CONFIG_ADDRESS_PORT, PCI_CFG_PORTS };
	const unsigned isa_used = 1u << PIT_IRQ | 1u << CASCADE_IRQ | 1u << COM1_IRQ |
				  1u << I8042_KBD_IRQ | 1u << RTC_IRQ;
	const size_t n = sizeof(r) / sizeof(r[0]), pm_regs = 3, acpi_regs = 4;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->sci_irq >= 16 || (isa_used >> cfg->sci_irq) & 1)
		return -EINVAL;
	if (cfg->slp_typ_s5 > 7)
		return -EINVAL;
	/* The ACPI registers: not at port 0 (but for no timer), not past 0xffff. */
	for (size_t i = 0; i < acpi_regs; i++)
		if ((r[i].start == 0 && r[i].len) || r[i].start + r[i].len > 0x10000)
			return -EINVAL;
	for (size_t i = 0; i < acpi_regs; i++)
		for (size_t j = i + 1; j < n; j++)
			if (overlaps(r[i], r[j]))
				return -EINVAL;
	/* Not in the PCI ports; the reset register may be (0xcf9 on a PC). */
	for (size_t i = 0; i < pm_regs; i++)
		if (overlaps(r[i], pci_cfg))
			return -EINVAL;
	/* The PCI memory window: not empty, below the IOAPIC and local APICs. */
	if (cfg->pci_mmio_size == 0 ||
	    (uint64_t)cfg->pci_mmio_base + cfg->pci_mmio_size > ACPI_IOAPIC_GPA)
		return -EINVAL;
	return 0;
}

long acpi_build(uint8_t *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg,
		uint64_t *rsdp_gpa)
{
	struct out o = { .buf = buf, .size = size, .gpa = gpa };
	uint8_t *rsdp, *facs, *dsdt, *fadt, *madt, *xsdt;
	uint64_t tables[2];
	int err;

	if (!buf || !cfg || !rsdp_gpa || gpa % 16 || gpa > UINT64_MAX - size)
		return -EINVAL;
	err = check_config(cfg);
	if (err)
		return err;

	rsdp = reserve(&o, RSDP_LEN, 16);
	facs = build_facs(&o);
	dsdt = build_dsdt(&o, cfg);
	if (o.full)
		return -ENOSPC;
	fadt = build_fadt(&o, cfg, gpa_of(&o, facs), gpa_of(&o, dsdt));
	madt = build_madt(&o, cfg);
	if (o.full)
		return -ENOSPC;
	tables[0] = gpa_of(&o, fadt);
	tables[1] = gpa_of(&o, madt);
	xsdt = build_xsdt(&o, tables, 2);
	if (o.full)
		return -ENOSPC;
	fill_rsdp(rsdp, gpa_of(&o, xsdt));

	*rsdp_gpa = gpa_of(&o, rsdp);
	return (long)o.pos;
}
