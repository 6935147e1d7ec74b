/*
 * ACPI tables for a PC-like guest (ACPI 6.3): RSDP, XSDT, FADT, FACS, MADT
 * and a DSDT written in AML by hand. They tell an unmodified kernel which
 * CPUs exist, how the in-kernel irqchip of KVM is wired, where the PM1
 * registers are (power-off through \_S5) and which legacy devices sit on
 * the ISA bus. A pure builder: it fills a buffer and touches nothing else.
 */
#ifndef SHALE_ARCH_X86_ACPI_H
#define SHALE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 64u
#define ACPI_LAPIC_GPA 0xfee00000u
#define ACPI_IOAPIC_GPA 0xfec00000u
#define ACPI_IOAPIC_PINS 24u
/* Enough room for the tables of any valid configuration. */
#define ACPI_TABLES_MAX 4096u

/* PM1 control register (ACPI 6.3 §4.8.3.2.1): what a power-off writes. */
#define ACPI_PM1_CNT_SCI_EN (1u << 0)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK (7u << 10)
#define ACPI_PM1_CNT_SLP_EN (1u << 13)
/* PM1 status and enable registers (§4.8.3.1): the fixed power button. */
#define ACPI_PM1_EVT_PWRBTN (1u << 8)

struct acpi_config {
	unsigned nr_cpus;       /* 1..ACPI_MAX_CPUS; LAPIC ids 0..nr_cpus-1 */
	uint16_t pm1a_evt_port; /* 4-byte PM1a event block: status, enable */
	uint16_t pm1a_cnt_port; /* 2-byte PM1a control block */
	uint16_t reset_port;    /* FADT reset register (system I/O, 8 bits) */
	uint8_t reset_value;    /* written there to reset the machine */
	uint8_t sci_irq;        /* ISA IRQ of the SCI, usually 9 */
	uint8_t slp_typ_s5;     /* SLP_TYP value for \_S5 (0..7) */
};

/*
 * Writes RSDP, FACS, DSDT, FADT, MADT and XSDT into buf, which the guest
 * will see at guest physical address gpa (16-byte aligned). The RSDP comes
 * first, so a legacy scan of 0xe0000-0xfffff finds it when gpa lies there;
 * *rsdp_gpa receives its address. Returns the number of bytes used,
 * -ENOSPC if buf is too small, or -EINVAL for a configuration that cannot
 * be described (no CPU or too many, overlapping or wrapping port ranges,
 * an SCI on an ISA IRQ that a legacy device already uses, ...).
 */
long acpi_build(uint8_t *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg,
		uint64_t *rsdp_gpa);

#endif
