/*
 * ACPI tables for a PC-like guest (ACPI 6.3): RSDP, XSDT, FADT, FACS, MADT
 * and a DSDT written in AML by hand. They tell an unmodified kernel which
 * CPUs exist, how the in-kernel irqchip of KVM is wired, where the PM1
 * registers are (power-off through \_S5), which legacy devices sit on
 * the ISA bus, and where PCI bus 0 is: its root bridge, the address
 * windows it forwards and how its INTx lines reach the IOAPIC. A pure
 * builder: it fills a buffer and touches nothing else.
 */
#ifndef SHALE_ARCH_X86_ACPI_H
#define SHALE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 64u
#define ACPI_LAPIC_GPA 0xfee00000u
#define ACPI_IOAPIC_GPA 0xfec00000u
/* Enough room for the tables of any valid configuration. */
#define ACPI_TABLES_MAX 4096u

/*
 * What the tables promise the devices and the irqchip set-up:
 * - ACPI mode is always on (no SMI_CMD): PM1 control reads back SCI_EN;
 * - writing SLP_TYP = slp_typ_s5 with SLP_EN to PM1 control powers off;
 * - the power button is a fixed feature (PWRBTN_STS/PWRBTN_EN in PM1);
 * - the SCI is level-triggered, active high, on ISA IRQ sci_irq;
 * - the reset register takes reset_value in one byte write;
 * - ISA IRQ 0 (the PIT) reaches IOAPIC pin 0: KVM's default GSI routing,
 *   left as KVM_CREATE_IRQCHIP installs it (see build_madt() in acpi.c);
 * - PCI bus 0, and no other, answers configuration mechanism #1 at
 *   0xcf8-0xcff; its devices' INTx pins raise the GSIs pci_intx_gsi()
 *   gives (src/devices/legacy/pci.h); memory BARs go in the window
 *   [pci_mmio_base, pci_mmio_base + pci_mmio_size), which nothing else
 *   uses and which ends at or below the IOAPIC; I/O BARs anywhere in
 *   0x0000-0xffff but 0xcf8-0xcff.
 */
struct acpi_config {
	unsigned nr_cpus;       /* 1..ACPI_MAX_CPUS; LAPIC ids 0..nr_cpus-1 */
	uint16_t pm1a_evt_port; /* 4-byte PM1a event block: status, enable */
	uint16_t pm1a_cnt_port; /* 2-byte PM1a control block */
	uint16_t pm_tmr_port;   /* 4-byte PM timer, 32 bits wide; 0: none */
	uint16_t reset_port;    /* FADT reset register (system I/O, 8 bits) */
	uint8_t reset_value;    /* written there to reset the machine */
	uint8_t sci_irq;        /* ISA IRQ of the SCI, usually 9 */
	uint8_t slp_typ_s5;     /* SLP_TYP value for \_S5 (0..7) */
	uint32_t pci_mmio_base; /* 32-bit memory window of PCI bus 0 */
	uint32_t pci_mmio_size; /* not 0; ends at or below ACPI_IOAPIC_GPA */
};

/*
 * Writes RSDP, FACS, DSDT, FADT, MADT and XSDT into buf, which the guest
 * will see at guest physical address gpa (16-byte aligned). The RSDP comes
 * first, so a legacy scan of 0xe0000-0xfffff finds it when gpa lies there;
 * *rsdp_gpa receives its address. Returns the number of bytes used,
 * -ENOSPC if buf is too small, or -EINVAL for a configuration that cannot
 * be described (no CPU or too many, overlapping or wrapping port ranges,
 * an SCI on an ISA IRQ that a legacy device already uses, a PCI window
 * that is empty or reaches the IOAPIC, ...).
 */
long acpi_build(uint8_t *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg,
		uint64_t *rsdp_gpa);

#endif
