/*
 * ACPI fixed-hardware power management: the PM1a event and control
 * blocks, the PM timer, the SCI, and the reset register, at the port
 * numbers the FADT must name. The FADT and DSDT are built from these
 * definitions, so they are the contract between this device and the
 * tables.
 */
#ifndef SHALE_DEVICES_LEGACY_PM_H
#define SHALE_DEVICES_LEGACY_PM_H

#include <stdint.h>

struct vm;
struct pm;

/* FADT PM1a_EVT_BLK / PM1_EVT_LEN: PM1 status (2 bytes) then enable (2). */
#define PM1A_EVT_PORT 0x600
#define PM1A_EVT_LEN 4
/* FADT PM1a_CNT_BLK / PM1_CNT_LEN. */
#define PM1A_CNT_PORT 0x604
#define PM1A_CNT_LEN 2
/* FADT PM_TMR_BLK / PM_TMR_LEN: a 32-bit timer, so FADT flag TMR_VAL_EXT. */
#define PM_TMR_PORT 0x608
#define PM_TMR_LEN 4
#define PM_TMR_HZ 3579545

/*
 * FADT RESET_REG (system I/O, 8 bits wide) and RESET_VALUE, with flag
 * RESET_REG_SUP. The port lies inside the PCI configuration address
 * register's dword; pci.c decodes byte accesses to it and calls
 * pm_reset_control_read() and pm_reset_control_write() below.
 */
#define RESET_PORT 0xcf9
#define RESET_VALUE 0x06

/* FADT SCI_INT: an ISA IRQ, level-triggered, active high (MADT override). */
#define SCI_IRQ 9

/* SLP_TYPa of the DSDT's \_S5 package: writing it with SLP_EN powers off. */
#define PM_SLP_TYP_S5 5

/*
 * Registers the PM1a blocks and the PM timer on vm->pio. SMI_CMD is not
 * needed in the FADT: ACPI mode is always on (SCI_EN reads 1).
 */
int pm_create(struct vm *vm, struct pm **out);
void pm_destroy(struct pm *pm);

/*
 * Presses the power button: sets PWRBTN_STS and raises the SCI if the guest
 * enabled it, so an ACPI guest shuts down cleanly. Safe from any thread
 * (it takes a mutex: not from a signal handler).
 */
void pm_power_button(struct pm *pm);

/* The reset control register at RESET_PORT (for pci.c). */
uint8_t pm_reset_control_read(struct pm *pm);
void pm_reset_control_write(struct pm *pm, uint8_t value);

#endif
