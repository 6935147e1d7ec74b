/*
 * ACPI tables: every pointer followed from the RSDP must land inside the
 * buffer on a table with the right signature, length and checksum; the
 * MADT must list each CPU once; the FADT must name the PM1 and reset
 * registers; the DSDT's AML must parse down to \_S5, through the PCI root
 * bridge with its windows and its 124 INTx routes. A buffer one byte
 * short of the need gives -ENOSPC without a write past its end.
 *
 * With `--dump DIR [NR_CPUS]` the binary writes the tables to DIR as
 * rsdp.dat, xsdt.dat, facp.dat, apic.dat, dsdt.dat and facs.dat instead,
 * for tests/unit/acpi-iasl.sh to disassemble with iasl.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"

#define GPA 0xe0000ull
#define BUF_SIZE 0x20000u
#define CANARY 0xa5

static uint8_t buf[BUF_SIZE];

static const struct acpi_config base_cfg = {
	.nr_cpus = 1,
	.pm1a_evt_port = 0x600,
	.pm1a_cnt_port = 0x604,
	.pm_tmr_port = 0x608,
	.reset_port = 0xcf9,
	.reset_value = 0x06,
	.sci_irq = 9,
	.slp_typ_s5 = 5,
	.pci_mmio_base = 0xc0000000u,
	.pci_mmio_size = 0x3ec00000u, /* to 0xfebfffff */
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* What the tables look like from the guest. */
struct view {
	const uint8_t *base;
	uint64_t gpa;
	size_t len; /* bytes acpi_build() used */
};

/* The host pointer for [gpa, gpa+len) if it lies inside what was built. */
static const uint8_t *at(const struct view *v, uint64_t gpa, size_t len)
{
	if (gpa < v->gpa || gpa - v->gpa > v->len || len > v->len - (gpa - v->gpa))
		fail_msg("address 0x%llx+%zu lies outside the tables", (unsigned long long)gpa, len);
	return v->base + (gpa - v->gpa);
}

/* A system description table: signature, length inside the buffer, checksum. */
static const uint8_t *table(const struct view *v, uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(v, gpa, 36);
	uint32_t len = le32(t + 4);

	if (memcmp(t, sig, 4))
		fail_msg("table at 0x%llx is '%.4s', want '%s'", (unsigned long long)gpa, t, sig);
	assert_true(len >= 36);
	t = at(v, gpa, len);
	if (sum(t, len))
		fail_msg("%s checksum is off by %u", sig, sum(t, len));
	assert_memory_equal(t + 10, "SHALE ", 6);
	assert_memory_equal(t + 16, "SHALEVM ", 8);
	assert_int_not_equal(le32(t + 32), 0); /* creator revision */
	for (int i = 28; i < 32; i++)
		assert_true(t[i] >= 'A' && t[i] <= 'Z'); /* creator id */
	return t;
}

static long build(const struct acpi_config *cfg, uint64_t gpa, struct view *v)
{
	uint64_t rsdp = 0;
	long n;

	memset(buf, CANARY, sizeof(buf));
	n = acpi_build(buf, sizeof(buf), gpa, cfg, &rsdp);
	if (n < 0)
		fail_msg("acpi_build() = %ld", n);
	assert_true(n <= (long)ACPI_TABLES_MAX);
	assert_int_equal(rsdp, gpa);
	for (size_t i = (size_t)n; i < sizeof(buf); i++)
		if (buf[i] != CANARY)
			fail_msg("byte %zu past the %ld used was written", i, n);
	v->base = buf;
	v->gpa = gpa;
	v->len = (size_t)n;
	return n;
}

/* RSDP → XSDT; returns the XSDT. */
static const uint8_t *check_rsdp(const struct view *v)
{
	const uint8_t *r = at(v, v->gpa, 36);

	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(le32(r + 20), 36);
	assert_memory_equal(r + 9, "SHALE ", 6);
	assert_int_equal(le32(r + 16), 0); /* no RSDT */
	assert_int_equal(v->gpa % 16, 0);
	return table(v, le64(r + 24), "XSDT");
}

/* The XSDT entry with signature sig, which must appear exactly once. */
static const uint8_t *xsdt_find(const struct view *v, const uint8_t *xsdt, const char *sig)
{
	uint32_t n = (le32(xsdt + 4) - 36) / 8;
	const uint8_t *found = NULL;

	assert_int_equal((le32(xsdt + 4) - 36) % 8, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = le64(xsdt + 36 + 8 * i);
		const uint8_t *t = at(v, gpa, 36);

		if (memcmp(t, sig, 4))
			continue;
		assert_null(found);
		found = table(v, gpa, sig);
	}
	if (!found)
		fail_msg("XSDT lists no %s", sig);
	return found;
}

static void check_gas_io(const uint8_t *g, unsigned bits, uint64_t port)
{
	assert_int_equal(g[0], 1); /* system I/O */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(le64(g + 4), port);
}

/* FADT → DSDT; returns the DSDT. */
static const uint8_t *check_fadt(const struct view *v, const uint8_t *f,
				 const struct acpi_config *cfg)
{
	uint64_t facs_gpa = le32(f + 36) ? le32(f + 36) : le64(f + 132);
	uint64_t dsdt_gpa = le64(f + 140);
	uint32_t flags = le32(f + 112);
	const uint8_t *facs;

	assert_int_equal(le32(f + 4), 276);
	assert_int_equal(f[8], 6);
	/* Exactly one of FIRMWARE_CTRL and X_FIRMWARE_CTRL. */
	assert_true(!le32(f + 36) != !le64(f + 132));
	facs = at(v, facs_gpa, 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(le32(facs + 4), 64);
	assert_int_equal(facs_gpa % 64, 0);
	assert_int_equal(facs[32], 2);

	if (dsdt_gpa <= UINT32_MAX)
		assert_int_equal(le32(f + 40), dsdt_gpa);
	else
		assert_int_equal(le32(f + 40), 0);

	assert_int_equal(le16(f + 46), cfg->sci_irq);
	assert_int_equal(le32(f + 48), 0); /* SMI_CMD: always in ACPI mode */
	assert_int_equal(le32(f + 56), cfg->pm1a_evt_port);
	assert_int_equal(le32(f + 64), cfg->pm1a_cnt_port);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[92], 0); /* no GPE0 */
	check_gas_io(f + 148, 32, cfg->pm1a_evt_port);
	check_gas_io(f + 172, 16, cfg->pm1a_cnt_port);
	assert_int_equal(le32(f + 76), cfg->pm_tmr_port);
	if (cfg->pm_tmr_port) {
		assert_int_equal(f[91], 4);
		check_gas_io(f + 208, 32, cfg->pm_tmr_port);
		assert_true(flags & (1u << 8)); /* TMR_VAL_EXT: 32 bits */
	} else {
		assert_int_equal(f[91], 0);
		for (int i = 208; i < 220; i++)
			assert_int_equal(f[i], 0); /* X_PM_TMR_BLK */
		assert_int_equal(flags & (1u << 8), 0);
	}

	/* IA-PC boot flags: legacy devices, 8042, no VGA; a CMOS RTC. */
	assert_int_equal(le16(f + 109) & 0x7, 0x7);
	assert_int_equal(le16(f + 109) & (1u << 5), 0);
	assert_true(flags & (1u << 0));          /* WBINVD */
	assert_true(flags & (1u << 10));         /* RESET_REG_SUP */
	assert_int_equal(flags & (1u << 20), 0); /* not HW_REDUCED_ACPI */
	check_gas_io(f + 116, 8, cfg->reset_port);
	assert_int_equal(f[128], cfg->reset_value);
	return table(v, dsdt_gpa, "DSDT");
}

static void check_madt(const uint8_t *m, const struct acpi_config *cfg)
{
	uint32_t len = le32(m + 4);
	unsigned lapics = 0, ioapics = 0, sci_isos = 0;
	uint64_t seen = 0;

	assert_int_equal(le32(m + 36), 0xfee00000u);
	assert_int_equal(le32(m + 40) & 1, 1); /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;

		assert_true(len - off >= 2);
		assert_true(e[1] >= 2 && e[1] <= len - off);
		switch (e[0]) {
		case 0: /* Processor Local APIC */
			assert_int_equal(e[1], 8);
			assert_true(e[3] < cfg->nr_cpus);
			assert_false(seen >> e[3] & 1);
			seen |= 1ull << e[3];
			assert_int_equal(e[2], e[3]);
			assert_int_equal(le32(e + 4), 1); /* enabled */
			lapics++;
			break;
		case 1: /* I/O APIC */
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], 0);
			assert_int_equal(le32(e + 4), 0xfec00000u);
			assert_int_equal(le32(e + 8), 0);
			ioapics++;
			break;
		case 2: /* Interrupt Source Override */
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			/* IRQ 0 stays on pin 0 under KVM's default routing. */
			assert_int_not_equal(e[3], 0);
			if (e[3] == cfg->sci_irq) {
				assert_int_equal(le32(e + 4), cfg->sci_irq);
				assert_int_equal(le16(e + 8), 0x000d);
				sci_isos++;
			}
			break;
		case 4: /* Local APIC NMI */
			assert_int_equal(e[1], 6);
			assert_int_equal(e[5], 1);
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics, cfg->nr_cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(sci_isos, 1);
}

/* PkgLength (ACPI 6.3 §20.2.4), decoded independently of the builder. */
static size_t pkg_length(const uint8_t *p, size_t *bytes)
{
	size_t n = (size_t)(p[0] >> 6) + 1, len;

	if (n == 1) {
		*bytes = 1;
		return p[0] & 0x3f;
	}
	assert_int_equal(p[0] & 0x30, 0);
	len = p[0] & 0x0f;
	for (size_t i = 1; i < n; i++)
		len |= (size_t)p[i] << (4 + 8 * (i - 1));
	*bytes = n;
	return len;
}

static uint64_t aml_integer(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	uint64_t v;

	switch (p[0]) {
	case 0x00:
	case 0x01:
		*pp = p + 1;
		return p[0];
	case 0x0a:
		*pp = p + 2;
		return p[1];
	case 0x0b:
		v = le16(p + 1);
		*pp = p + 3;
		return v;
	case 0x0c:
		v = le32(p + 1);
		*pp = p + 5;
		return v;
	}
	fail_msg("not an AML integer: opcode 0x%02x", p[0]);
	return 0;
}

/* Name (NAME, Package (4) { typ, typ, 0, 0 }) at *pp, ending by end. */
static void check_sleep_state(const uint8_t **pp, const uint8_t *end, const char *name,
			      uint8_t typ)
{
	const uint8_t *p = *pp, *pkg_end;
	size_t nb, plen;

	assert_int_equal(*p++, 0x08); /* NameOp */
	assert_memory_equal(p, name, 4);
	p += 4;
	assert_int_equal(*p++, 0x12); /* PackageOp */
	plen = pkg_length(p, &nb);
	pkg_end = p + plen;
	assert_true(pkg_end <= end);
	p += nb;
	assert_int_equal(*p++, 4);
	assert_int_equal(aml_integer(&p), typ);
	assert_int_equal(aml_integer(&p), typ);
	assert_int_equal(aml_integer(&p), 0);
	assert_int_equal(aml_integer(&p), 0);
	assert_ptr_equal(p, pkg_end);
	*pp = p;
}

struct dsdt_device {
	const char *name;
	uint8_t eisa_id[4];
	unsigned uid;
	uint8_t res[24]; /* the template, End Tag included */
	size_t res_len;
};

static const struct dsdt_device devices[] = {
	{ "COM1", { 0x41, 0xd0, 0x05, 0x01 }, 1,
	  { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO 0x3f8, 8 */
	    0x22, 0x10, 0x00,                               /* IRQ 4 */
	    0x79, 0x00 },
	  13 },
	{ "KBD_", { 0x41, 0xd0, 0x03, 0x03 }, 0,
	  { 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, /* IO 0x60, 1 */
	    0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, /* IO 0x64, 1 */
	    0x22, 0x02, 0x00,                               /* IRQ 1 */
	    0x79, 0x00 },
	  21 },
	{ "RTC_", { 0x41, 0xd0, 0x0b, 0x00 }, 0,
	  { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, /* IO 0x70, 2 */
	    0x22, 0x00, 0x01,                               /* IRQ 8 */
	    0x79, 0x00 },
	  13 },
};

static uint64_t check_name_int(const uint8_t **pp, const char *name)
{
	const uint8_t *p = *pp;
	uint64_t v;

	assert_int_equal(*p++, 0x08);
	assert_memory_equal(p, name, 4);
	p += 4;
	v = aml_integer(&p);
	*pp = p;
	return v;
}

/* Name (_CRS, Buffer (n) {...}) at *pp: n; *pp moves to the buffer's bytes. */
static size_t open_crs(const uint8_t **pp, const uint8_t **buf_end)
{
	const uint8_t *p = *pp;
	size_t nb, len;

	assert_int_equal(*p++, 0x08);
	assert_memory_equal(p, "_CRS", 4);
	p += 4;
	assert_int_equal(*p++, 0x11); /* BufferOp */
	*buf_end = p + pkg_length(p, &nb);
	p += nb;
	len = (size_t)aml_integer(&p); /* BufferSize */
	assert_int_equal(*buf_end - p, len);
	*pp = p;
	return len;
}

/*
 * Device (NAME) { Name (_HID, EisaId (...)) Name (_UID, n)
 *                 Name (_CRS, Buffer (n) { ... }) }, ending by end.
 */
static const uint8_t *check_device(const uint8_t *p, const uint8_t *end,
				   const struct dsdt_device *want)
{
	const uint8_t *dev_end, *buf_end;
	size_t nb, plen;

	assert_int_equal(*p++, 0x5b);
	assert_int_equal(*p++, 0x82); /* DeviceOp */
	plen = pkg_length(p, &nb);
	assert_int_equal(nb, 1); /* the short form is exercised */
	dev_end = p + plen;
	assert_true(dev_end <= end);
	p += nb;
	assert_memory_equal(p, want->name, 4);
	p += 4;

	assert_int_equal(*p++, 0x08);
	assert_memory_equal(p, "_HID", 4);
	p += 4;
	assert_int_equal(*p++, 0x0c); /* DWordPrefix */
	assert_memory_equal(p, want->eisa_id, 4);
	p += 4;

	assert_int_equal(check_name_int(&p, "_UID"), want->uid);

	assert_int_equal(open_crs(&p, &buf_end), want->res_len);
	assert_ptr_equal(buf_end, dev_end);
	assert_memory_equal(p, want->res, want->res_len);
	return dev_end;
}

/* Name (NAME, integer) at *pp. */
/* Name (NAME, Package (n) {...}) at *pp: n, and *pp moves inside. */
static size_t open_name_package(const uint8_t **pp, const char *name, const uint8_t **pkg_end)
{
	const uint8_t *p = *pp;
	size_t nb, plen;

	if (name) {
		assert_int_equal(*p++, 0x08);
		assert_memory_equal(p, name, 4);
		p += 4;
	}
	assert_int_equal(*p++, 0x12); /* PackageOp */
	plen = pkg_length(p, &nb);
	*pkg_end = p + plen;
	p += nb;
	*pp = p + 1;
	return p[0];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/*
 * The resource template of PCI0, byte by byte: WordBusNumber 0-0,
 * IO (Decode16, 0xcf8, 0xcf8, 1, 8), WordIO 0-0xcf7 and 0xd00-0xffff,
 * DWordMemory over the configured window; every window a producer with
 * fixed minimum and maximum.
 */
static size_t pci_root_crs(uint8_t *r, const struct acpi_config *cfg)
{
	static const uint8_t fixed[] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x00, 0, 0, 0x01, 0x00,
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c,
		0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3,
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
	};
	uint8_t *p = r + sizeof(fixed);

	memcpy(r, fixed, sizeof(fixed));
	put32(p, 0); /* granularity */
	put32(p + 4, cfg->pci_mmio_base);
	put32(p + 8, cfg->pci_mmio_base + cfg->pci_mmio_size - 1);
	put32(p + 12, 0); /* translation */
	put32(p + 16, cfg->pci_mmio_size);
	p[20] = 0x79; /* End Tag */
	p[21] = 0x00;
	return sizeof(fixed) + 22;
}

/*
 * Device (PCI0) { _HID PNP0A03, _UID 0, _SEG 0, _BBN 0, _CRS, _PRT }, no
 * _ADR. _PRT: for each device 1-31 and pin 0-3 in turn,
 * Package (4) { 0xDDDDFFFF, pin, 0, 16 + (device + pin) % 8 }.
 */
static const uint8_t *check_pci_root(const uint8_t *p, const uint8_t *end,
				     const struct acpi_config *cfg)
{
	static const uint8_t pnp0a03[] = { 0x41, 0xd0, 0x0a, 0x03 };
	uint8_t want[128];
	const uint8_t *dev_end, *buf_end, *prt_end, *e_end;
	size_t nb, plen, want_len;
	unsigned routes[8] = { 0 };

	assert_int_equal(*p++, 0x5b);
	assert_int_equal(*p++, 0x82); /* DeviceOp */
	plen = pkg_length(p, &nb);
	assert_int_equal(nb, 2);
	dev_end = p + plen;
	assert_ptr_equal(dev_end, end);
	p += nb;
	assert_memory_equal(p, "PCI0", 4);
	p += 4;

	assert_int_equal(*p++, 0x08);
	assert_memory_equal(p, "_HID", 4);
	p += 4;
	assert_int_equal(*p++, 0x0c); /* DWordPrefix */
	assert_memory_equal(p, pnp0a03, 4);
	p += 4;
	assert_int_equal(check_name_int(&p, "_UID"), 0);
	assert_int_equal(check_name_int(&p, "_SEG"), 0);
	assert_int_equal(check_name_int(&p, "_BBN"), 0);

	want_len = pci_root_crs(want, cfg);
	assert_int_equal(open_crs(&p, &buf_end), want_len);
	assert_memory_equal(p, want, want_len);
	p = buf_end;

	assert_int_equal(open_name_package(&p, "_PRT", &prt_end), 124);
	assert_ptr_equal(prt_end, dev_end);
	for (unsigned d = 1; d < 32; d++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			uint64_t gsi;

			assert_int_equal(open_name_package(&p, NULL, &e_end), 4);
			assert_int_equal(aml_integer(&p), (uint64_t)d << 16 | 0xffff);
			assert_int_equal(aml_integer(&p), pin);
			assert_int_equal(aml_integer(&p), 0); /* a GSI, no link device */
			gsi = aml_integer(&p);
			assert_int_equal(gsi, 16 + (d + pin) % 8);
			routes[gsi - 16]++;
			assert_ptr_equal(p, e_end);
		}
	}
	assert_ptr_equal(p, dev_end);
	/* 124 routes over the 8 GSIs: 15 or 16 on each. */
	for (unsigned i = 0; i < 8; i++)
		assert_true(routes[i] == 15 || routes[i] == 16);
	return dev_end;
}

/*
 * The DSDT's term list is exactly: Scope (_SB) { the three legacy devices,
 * PCI0 }, Name (_S0, ...) and Name (_S5, ...), each PkgLength ending where
 * the next term begins.
 */
static void check_dsdt(const uint8_t *d, const struct acpi_config *cfg)
{
	const uint8_t *p = d + 36, *end = d + le32(d + 4), *scope_end;
	size_t nb, plen;

	assert_int_equal(d[8], 2);
	assert_int_equal(*p++, 0x10); /* ScopeOp */
	plen = pkg_length(p, &nb);
	assert_int_equal(nb, 2); /* the long form is exercised */
	scope_end = p + plen;
	assert_true(scope_end < end);
	p += nb;
	assert_memory_equal(p, "_SB_", 4);
	p += 4;
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		p = check_device(p, scope_end, &devices[i]);
	p = check_pci_root(p, scope_end, cfg);
	assert_ptr_equal(p, scope_end);

	check_sleep_state(&p, end, "_S0_", 0);
	check_sleep_state(&p, end, "_S5_", cfg->slp_typ_s5);
	assert_ptr_equal(p, end);
}

static void check_all(const struct acpi_config *cfg, uint64_t gpa)
{
	struct view v;
	const uint8_t *xsdt, *fadt, *madt, *dsdt;

	build(cfg, gpa, &v);
	xsdt = check_rsdp(&v);
	assert_int_equal(xsdt[8], 1);
	fadt = xsdt_find(&v, xsdt, "FACP");
	madt = xsdt_find(&v, xsdt, "APIC");
	dsdt = check_fadt(&v, fadt, cfg);
	check_madt(madt, cfg);
	check_dsdt(dsdt, cfg);
}

static void test_cpus(void **state)
{
	const unsigned counts[] = { 1, 2, 4, 64 };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct acpi_config cfg = base_cfg;

		cfg.nr_cpus = counts[i];
		check_all(&cfg, GPA);
	}
}

static void test_slp_typ(void **state)
{
	for (unsigned t = 0; t <= 7; t++) {
		struct acpi_config cfg = base_cfg;

		cfg.slp_typ_s5 = (uint8_t)t;
		check_all(&cfg, GPA);
	}
}

/* Other ports, another SCI, a reset value and a PCI window all reach the tables. */
static void test_other_config(void **state)
{
	struct acpi_config cfg = {
		.nr_cpus = 3,
		.pm1a_evt_port = 0xb000,
		.pm1a_cnt_port = 0xb004,
		.reset_port = 0x0092,
		.reset_value = 0x01,
		.sci_irq = 11,
		.slp_typ_s5 = 0,
		.pci_mmio_base = 0x80000000u,
		.pci_mmio_size = 0x10000000u,
	};

	check_all(&cfg, GPA);
	/* The smallest window, and one that ends right at the IOAPIC. */
	cfg.pci_mmio_size = 1;
	check_all(&cfg, GPA);
	cfg.pci_mmio_base = 0x00100000u;
	cfg.pci_mmio_size = 0xfec00000u - 0x00100000u;
	check_all(&cfg, GPA);
	/* Back to back up to the last port: timer, event and control blocks. */
	cfg.pm_tmr_port = 0xfff6;
	cfg.pm1a_evt_port = 0xfffa;
	cfg.pm1a_cnt_port = 0xfffe;
	check_all(&cfg, GPA);
}

/* Above 4 GiB only the 64-bit pointers are usable. */
static void test_high_gpa(void **state)
{
	struct acpi_config cfg = base_cfg;
	const uint64_t gpa = 0x100000000ull + 0x40;
	struct view v;
	const uint8_t *fadt;

	cfg.nr_cpus = 4;
	check_all(&cfg, gpa);
	build(&cfg, gpa, &v);
	fadt = xsdt_find(&v, check_rsdp(&v), "FACP");
	assert_int_equal(le32(fadt + 36), 0);
	assert_int_equal(le32(fadt + 40), 0);
	assert_true(le64(fadt + 132) > UINT32_MAX);
	assert_true(le64(fadt + 140) > UINT32_MAX);
}

/* The FACS is 64-byte aligned whatever 16-byte aligned gpa is given. */
static void test_alignment(void **state)
{
	for (uint64_t gpa = GPA; gpa < GPA + 64; gpa += 16)
		check_all(&base_cfg, gpa);
}

static void test_deterministic(void **state)
{
	static uint8_t first[ACPI_TABLES_MAX];
	struct acpi_config cfg = base_cfg;
	struct view v;
	long n;

	cfg.nr_cpus = 8;
	n = build(&cfg, GPA, &v);
	memcpy(first, buf, (size_t)n);
	assert_int_equal(build(&cfg, GPA, &v), n);
	assert_memory_equal(first, buf, (size_t)n);
}

/* Every size short of the need fails cleanly and writes nothing past it. */
static void test_nospc(void **state)
{
	struct acpi_config cfg = base_cfg;
	uint64_t rsdp = 0x1234;
	struct view v;
	long need;

	cfg.nr_cpus = 64;
	need = build(&cfg, GPA, &v);
	for (size_t size = 0; size < (size_t)need; size++) {
		long n;

		memset(buf, CANARY, sizeof(buf));
		n = acpi_build(buf, size, GPA, &cfg, &rsdp);
		if (n != -ENOSPC)
			fail_msg("size %zu of %ld: got %ld, want -ENOSPC", size, need, n);
		for (size_t i = size; i < (size_t)need; i++)
			if (buf[i] != CANARY)
				fail_msg("size %zu: byte %zu was written", size, i);
	}
	assert_int_equal(rsdp, 0x1234);
	assert_int_equal(acpi_build(buf, (size_t)need, GPA, &cfg, &rsdp), need);
}

static void test_einval(void **state)
{
	struct acpi_config cfg;
	uint64_t rsdp = 0x1234;

#define BAD(field, value)                                                               \
	do {                                                                            \
		cfg = base_cfg;                                                         \
		cfg.field = value;                                                      \
		if (acpi_build(buf, sizeof(buf), GPA, &cfg, &rsdp) != -EINVAL)          \
			fail_msg("%s = %s was accepted", #field, #value);               \
	} while (0)

	BAD(nr_cpus, 0);
	BAD(nr_cpus, ACPI_MAX_CPUS + 1);
	BAD(sci_irq, 0);  /* PIT */
	BAD(sci_irq, 1);  /* keyboard */
	BAD(sci_irq, 2);  /* cascade */
	BAD(sci_irq, 4);  /* COM1 */
	BAD(sci_irq, 8);  /* RTC */
	BAD(sci_irq, 16); /* not an ISA IRQ */
	BAD(slp_typ_s5, 8);
	BAD(pm1a_evt_port, 0);
	BAD(pm1a_cnt_port, 0);
	BAD(reset_port, 0);
	BAD(pm1a_evt_port, 0xfffd);     /* wraps past 0xffff */
	BAD(pm1a_cnt_port, 0xffff);     /* wraps past 0xffff */
	BAD(pm1a_cnt_port, 0x602);      /* inside the event block */
	BAD(pm1a_evt_port, 0x603);      /* overlaps the control block */
	BAD(reset_port, 0x605);         /* inside the control block */
	BAD(pm_tmr_port, 0x5fe);        /* overlaps the event block */
	BAD(pm_tmr_port, 0x605);        /* overlaps the control block */
	BAD(reset_port, 0x60b);         /* inside the timer */
	BAD(pm_tmr_port, 0xfffd);       /* wraps past 0xffff */
	BAD(pm_tmr_port, 0x3f6);        /* overlaps COM1 */
	BAD(reset_port, 0x3fc);         /* inside COM1 */
	BAD(pm1a_evt_port, 0x5e);       /* overlaps the i8042 data port */
	BAD(pm1a_cnt_port, 0x71);       /* overlaps the RTC */
	BAD(pm1a_evt_port, 0xcf6);      /* overlaps the PCI configuration ports */
	BAD(pm1a_cnt_port, 0xcfe);      /* inside them */
	BAD(pm_tmr_port, 0xcfc);        /* inside them */
	BAD(pci_mmio_size, 0);          /* an empty window */
	BAD(pci_mmio_size, 0x3ec00001); /* reaches the IOAPIC */
	BAD(pci_mmio_base, 0xfec00000); /* at the IOAPIC */
	BAD(pci_mmio_base, 0xfee00000); /* at the local APIC */
	BAD(pci_mmio_base, 0xffffffff); /* past 4 GiB */
#undef BAD

	assert_int_equal(acpi_build(buf, sizeof(buf), GPA + 8, &base_cfg, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), UINT64_MAX - 15, &base_cfg, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(NULL, sizeof(buf), GPA, &base_cfg, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, NULL, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &base_cfg, NULL), -EINVAL);
	assert_int_equal(rsdp, 0x1234);

	/* The edges that are fine. */
	cfg = base_cfg;
	cfg.nr_cpus = ACPI_MAX_CPUS;
	cfg.sci_irq = 15;
	cfg.slp_typ_s5 = 7;
	cfg.reset_port = 0x606;   /* right after the control block */
	cfg.pm_tmr_port = 0x60c;  /* and then the timer */
	assert_true(acpi_build(buf, sizeof(buf), GPA, &cfg, &rsdp) > 0);
	cfg = base_cfg;
	cfg.pm1a_evt_port = 0xcf4; /* right below the PCI configuration ports */
	cfg.pm_tmr_port = 0xd00;   /* right above them */
	assert_true(acpi_build(buf, sizeof(buf), GPA, &cfg, &rsdp) > 0);
}

/* --dump DIR [NR_CPUS]: the tables as files, one per table. */
static int write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return -1;
	}
	ok = fwrite(p, 1, len, f) == len;
	if (fclose(f) || !ok) {
		perror(path);
		return -1;
	}
	return 0;
}

static int dump(const char *dir, unsigned nr_cpus)
{
	struct acpi_config cfg = base_cfg;
	uint64_t rsdp;
	long n;
	const uint8_t *r, *x, *f = NULL, *t;
	int err = 0;

	cfg.nr_cpus = nr_cpus;
	n = acpi_build(buf, sizeof(buf), GPA, &cfg, &rsdp);
	if (n < 0) {
		fprintf(stderr, "acpi_build: %s\n", strerror((int)-n));
		return 1;
	}
	/* acpi_build() places everything within the n bytes at GPA. */
	r = buf + (rsdp - GPA);
	x = buf + (le64(r + 24) - GPA);
	err |= write_file(dir, "rsdp.dat", r, 36);
	err |= write_file(dir, "xsdt.dat", x, le32(x + 4));
	for (uint32_t i = 0; i < (le32(x + 4) - 36) / 8; i++) {
		char name[16];

		t = buf + (le64(x + 36 + 8 * i) - GPA);
		snprintf(name, sizeof(name), "%c%c%c%c.dat", t[0] | 0x20, t[1] | 0x20,
			 t[2] | 0x20, t[3] | 0x20);
		err |= write_file(dir, name, t, le32(t + 4));
		if (!memcmp(t, "FACP", 4))
			f = t;
	}
	if (!f) {
		fprintf(stderr, "no FADT in the XSDT\n");
		return 1;
	}
	t = buf + (le64(f + 140) - GPA);
	err |= write_file(dir, "dsdt.dat", t, le32(t + 4));
	t = buf + (le32(f + 36) - GPA);
	err |= write_file(dir, "facs.dat", t, le32(t + 4));
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_slp_typ),
		cmocka_unit_test(test_other_config),
		cmocka_unit_test(test_high_gpa),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_nospc),
		cmocka_unit_test(test_einval),
	};

	if (argc >= 3 && !strcmp(argv[1], "--dump")) {
		unsigned long cpus = argc > 3 ? strtoul(argv[3], NULL, 0) : 4;

		return dump(argv[2], (unsigned)cpus);
	}
	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
