/*
 * ACPI fixed hardware (ACPI 6.3 §4.8.3): the PM1a event block (status and
 * enable), the PM1a control block, the PM timer, and the reset register,
 * for a system that is always in ACPI mode (no SMI_CMD handshake).
 *
 * Events: only the power button can happen (pm_power_button()); the SCI
 * is level-triggered and stays asserted while an enabled status bit is
 * set, until the guest writes 1 to clear it. The timer's overflow event
 * (TMR_STS) is not implemented: nothing depends on it once a guest has a
 * better clock.
 *
 * Sleep: only S5 exists (the DSDT declares \_S5 alone); other sleep types
 * written with SLP_EN are ignored and the guest carries on.
 */
#include "devices/legacy/pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

/* PM1 status and enable bits (ACPI 6.3 §4.8.3.1.1, §4.8.3.1.2). */
#define PM1_TMR 0x0001
#define PM1_GBL 0x0020
#define PM1_PWRBTN 0x0100
#define PM1_SLPBTN 0x0200
#define PM1_RTC 0x0400
#define PM1_STS_W1C 0xc731 /* the defined status bits, all write-1-to-clear */
#define PM1_EN_MASK 0x4721 /* the defined enable bits */
#define PM1_SCI_EVENTS (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

/* PM1 control bits (ACPI 6.3 §4.8.3.2.1). */
#define CNT_SCI_EN 0x0001
#define CNT_BM_RLD 0x0002
#define CNT_GBL_RLS 0x0004 /* write-only */
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP_MASK 0x1c00
#define CNT_SLP_EN 0x2000 /* write-only */
#define CNT_KEPT (CNT_BM_RLD | CNT_SLP_TYP_MASK | 0x0200) /* bit 9: preserved */

/* Reset control register bits, as the ICH's RST_CNT at 0xcf9. */
#define RST_SYS_RST 0x02
#define RST_CPU 0x04
#define RST_FULL_RST 0x08

struct pm {
	struct vm *vm;
	uint64_t tmr_base_ns;

	pthread_mutex_t lock; /* everything below */
	uint16_t sts, en, cnt;
	uint8_t rst_cnt;
	bool sci_level;
};

static void update_sci(struct pm *pm)
{
	bool level = (pm->sts & pm->en & PM1_SCI_EVENTS) != 0;

	if (level == pm->sci_level)
		return;
	pm->sci_level = level;
	vm_set_irq(pm->vm, SCI_IRQ, level);
}

/* One byte of the event block: status at offsets 0-1, enable at 2-3. */
static void evt_write(struct pm *pm, unsigned off, uint8_t v)
{
	unsigned shift = (off & 1) * 8;

	if (off < 2) {
		pm->sts &= (uint16_t)~((v << shift) & PM1_STS_W1C);
	} else {
		pm->en &= (uint16_t)~(0xff << shift);
		pm->en |= (uint16_t)((v << shift) & PM1_EN_MASK);
	}
}

static int evt_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++) {
		unsigned off = (unsigned)offset + i;

		if (is_write)
			evt_write(pm, off, data[i]);
		else
			data[i] = (uint8_t)((off < 2 ? pm->sts : pm->en) >> ((off & 1) * 8));
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static void cnt_write(struct pm *pm, uint16_t v)
{
	unsigned typ = (v & CNT_SLP_TYP_MASK) >> CNT_SLP_TYP_SHIFT;

	pm->cnt = v & CNT_KEPT;
	if (!(v & CNT_SLP_EN))
		return;
	if (typ == PM_SLP_TYP_S5)
		vm_stop(pm->vm, VM_STOP_POWEROFF, 0, NULL);
	/* Other sleep states do not exist here; the write is a no-op. */
}

static int cnt_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct pm *pm = opaque;
	uint16_t v;

	pthread_mutex_lock(&pm->lock);
	/* SCI_EN reads 1: the system is in ACPI mode from power-on. */
	v = pm->cnt | CNT_SCI_EN;
	if (is_write) {
		/* A byte write changes its byte; SLP_TYP and SLP_EN share byte 1. */
		for (unsigned i = 0; i < size; i++) {
			unsigned shift = ((unsigned)offset + i) * 8;

			v = (uint16_t)((v & ~(0xff << shift)) | (data[i] << shift));
		}
		cnt_write(pm, v);
	} else {
		for (unsigned i = 0; i < size; i++)
			data[i] = (uint8_t)(v >> (((unsigned)offset + i) * 8));
	}
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* Ticks of the 3.579545 MHz timer since creation, in 32 bits (TMR_VAL_EXT). */
static uint32_t tmr_value(const struct pm *pm)
{
	uint64_t ns = clock_monotonic_ns() - pm->tmr_base_ns;
	uint64_t sec = ns / 1000000000u, rem = ns % 1000000000u;

	return (uint32_t)(sec * PM_TMR_HZ + rem * PM_TMR_HZ / 1000000000u);
}

static int tmr_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct pm *pm = opaque;
	uint32_t v;

	if (is_write)
		return 0; /* read-only */
	v = tmr_value(pm);
	for (unsigned i = 0; i < size; i++)
		data[i] = (uint8_t)(v >> (((unsigned)offset + i) * 8));
	return 0;
}

uint8_t pm_reset_control_read(struct pm *pm)
{
	uint8_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->rst_cnt;
	pthread_mutex_unlock(&pm->lock);
	return v;
}

/*
 * RST_CPU initiates a reset, hard or soft after SYS_RST and FULL_RST
 * (Intel ICH9 datasheet, RST_CNT); here every kind stops the VM with
 * VM_STOP_RESET. Linux writes SYS_RST first and then SYS_RST | RST_CPU;
 * ACPI reset writes RESET_VALUE in one go.
 */
void pm_reset_control_write(struct pm *pm, uint8_t value)
{
	pthread_mutex_lock(&pm->lock);
	pm->rst_cnt = value & (RST_SYS_RST | RST_FULL_RST);
	pthread_mutex_unlock(&pm->lock);
	if (value & RST_CPU)
		vm_stop(pm->vm, VM_STOP_RESET, 0, NULL);
}

void pm_power_button(struct pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

int pm_create(struct vm *vm, struct pm **out)
{
	struct pm *pm = calloc(1, sizeof(*pm));
	unsigned widths = IOBUS_W1 | IOBUS_W2 | IOBUS_W4;
	int ret;

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	pm->tmr_base_ns = clock_monotonic_ns();
	pthread_mutex_init(&pm->lock, NULL);

	ret = iobus_register(&vm->pio, PM1A_EVT_PORT, PM1A_EVT_LEN, widths, evt_io, pm,
			     "pm1a event");
	if (ret)
		goto err;
	ret = iobus_register(&vm->pio, PM1A_CNT_PORT, PM1A_CNT_LEN, IOBUS_W1 | IOBUS_W2, cnt_io,
			     pm, "pm1a control");
	if (ret)
		goto err_evt;
	ret = iobus_register(&vm->pio, PM_TMR_PORT, PM_TMR_LEN, widths, tmr_io, pm, "pm timer");
	if (ret)
		goto err_cnt;
	*out = pm;
	return 0;

err_cnt:
	iobus_unregister(&vm->pio, PM1A_CNT_PORT);
err_evt:
	iobus_unregister(&vm->pio, PM1A_EVT_PORT);
err:
	pthread_mutex_destroy(&pm->lock);
	free(pm);
	return ret;
}

void pm_destroy(struct pm *pm)
{
	if (!pm)
		return;
	iobus_unregister(&pm->vm->pio, PM_TMR_PORT);
	iobus_unregister(&pm->vm->pio, PM1A_CNT_PORT);
	iobus_unregister(&pm->vm->pio, PM1A_EVT_PORT);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
