/*
 * ACPI fixed hardware through the port I/O bus of a hand-made VM: the
 * power-off that ACPICA's S5 entry performs, SCI_EN always set, the power
 * button and its SCI, the PM timer's rate, and the reset register.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "devices/legacy/pm.h"
#include "fake_vm.h"
#include "util/util.h"
#include "vmm/iobus.h"

/* As in ACPICA's include/acpi/aclocal.h (ACPI_BITMASK_*). */
#define TIMER_STATUS 0x0001
#define POWER_BUTTON_STATUS 0x0100
#define WAKE_STATUS 0x8000
#define ALL_FIXED_STATUS 0xc731 /* ACPI_BITMASK_ALL_FIXED_STATUS with PCIEXP_WAKE */
#define POWER_BUTTON_ENABLE 0x0100
#define SCI_ENABLE 0x0001
#define SLEEP_TYPE 0x1c00
#define SLEEP_ENABLE 0x2000

struct fixture {
	struct fake_vm fv;
	struct pm *pm;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, 0))
		return -1;
	if (pm_create(&f->fv.vm, &f->pm))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pm_destroy(f->pm);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

/* Power-off and reset alike end `shale run` with status 0. */
static void assert_stopped(struct fixture *f, enum vm_stop_reason reason)
{
	int status = -1;

	assert_int_equal(fake_vm_stop_reason(&f->fv, &status), reason);
	assert_int_equal(status, 0);
}

/*
 * acpi_hw_legacy_sleep(S5) as ACPICA does it: clear the status bits,
 * then read-modify-write PM1 control twice, SLP_TYP alone, then with SLP_EN.
 */
static void acpica_enter_s5(struct fixture *f)
{
	uint16_t cnt;

	fake_vm_out(&f->fv, PM1A_EVT_PORT, ALL_FIXED_STATUS, 2);
	cnt = (uint16_t)fake_vm_in(&f->fv, PM1A_CNT_PORT, 2);
	cnt &= (uint16_t)~(SLEEP_TYPE | SLEEP_ENABLE);
	cnt |= PM_SLP_TYP_S5 << 10;
	fake_vm_out(&f->fv, PM1A_CNT_PORT, cnt, 2);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	fake_vm_out(&f->fv, PM1A_CNT_PORT, cnt | SLEEP_ENABLE, 2);
}

static void test_poweroff(void **state)
{
	struct fixture *f = *state;

	acpica_enter_s5(f);
	assert_stopped(f, VM_STOP_POWEROFF);
}

static void test_poweroff_byte_write(void **state)
{
	struct fixture *f = *state;

	/* SLP_TYP and SLP_EN share the high byte; a byte write there will do. */
	fake_vm_out(&f->fv, PM1A_CNT_PORT, 0x00, 1);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	fake_vm_out(&f->fv, PM1A_CNT_PORT + 1, (PM_SLP_TYP_S5 << 2) | (SLEEP_ENABLE >> 8), 1);
	assert_stopped(f, VM_STOP_POWEROFF);
}

static void test_control_register(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;

	/* ACPI mode from the start: SCI_EN set, and it stays set. */
	assert_int_equal(fake_vm_in(&f->fv, PM1A_CNT_PORT, 2), SCI_ENABLE);
	fake_vm_out(&f->fv, PM1A_CNT_PORT, 0, 2);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_CNT_PORT, 2), SCI_ENABLE);
	/* SLP_TYP reads back, SLP_EN (write-only) does not. */
	fake_vm_out(&f->fv, PM1A_CNT_PORT, 3 << 10, 2);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_CNT_PORT, 2), (3 << 10) | SCI_ENABLE);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_CNT_PORT + 1, 1), 3 << 2);
	/* Sleep states other than S5 do not exist: the guest carries on. */
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ != PM_SLP_TYP_S5)
			fake_vm_out(&f->fv, PM1A_CNT_PORT, (typ << 10) | SLEEP_ENABLE, 2);
	}
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_CNT_PORT, 2) & SLEEP_ENABLE, 0);
	/* Dword accesses are not for a 2-byte block. */
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, PM1A_CNT_PORT, (uint8_t *)&v, 4, true),
			 -ENOENT);
}

static void test_power_button(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT, 4), 0);
	/* Pressed before the guest listens: status only. */
	pm_power_button(f->pm);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT, 2), POWER_BUTTON_STATUS);
	assert_false(f->fv.irq_level[SCI_IRQ]);
	/* Enabling it raises the SCI; it stays up until the status is cleared. */
	fake_vm_out(&f->fv, PM1A_EVT_PORT + 2, POWER_BUTTON_ENABLE, 2);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT + 2, 2), POWER_BUTTON_ENABLE);
	assert_true(f->fv.irq_level[SCI_IRQ]);
	fake_vm_out(&f->fv, PM1A_EVT_PORT, TIMER_STATUS | WAKE_STATUS, 2); /* other bits: no effect */
	assert_true(f->fv.irq_level[SCI_IRQ]);
	fake_vm_out(&f->fv, PM1A_EVT_PORT, POWER_BUTTON_STATUS, 2);
	assert_false(f->fv.irq_level[SCI_IRQ]);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT, 2), 0);
	/* Pressed again while enabled; cleared by a dword write of the block. */
	pm_power_button(f->pm);
	assert_true(f->fv.irq_level[SCI_IRQ]);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT, 4),
			 POWER_BUTTON_ENABLE << 16 | POWER_BUTTON_STATUS);
	fake_vm_out(&f->fv, PM1A_EVT_PORT, POWER_BUTTON_ENABLE << 16 | POWER_BUTTON_STATUS, 4);
	assert_false(f->fv.irq_level[SCI_IRQ]);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT + 2, 2), POWER_BUTTON_ENABLE);
	/* Undefined enable bits read 0. */
	fake_vm_out(&f->fv, PM1A_EVT_PORT + 2, 0xffff, 2);
	assert_int_equal(fake_vm_in(&f->fv, PM1A_EVT_PORT + 2, 2), 0x4721);
	assert_int_equal(f->fv.irq_changes[SCI_IRQ], 4);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_timer(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	uint64_t t0, t1;
	uint32_t a, b;
	double want;

	t0 = clock_monotonic_ns();
	a = fake_vm_in(&f->fv, PM_TMR_PORT, 4);
	nanosleep(&ts, NULL);
	b = fake_vm_in(&f->fv, PM_TMR_PORT, 4);
	t1 = clock_monotonic_ns();
	/* At most the ticks of the whole interval, at least those of the sleep. */
	want = (double)(t1 - t0) * PM_TMR_HZ / 1e9;
	assert_true(b - a <= want + 1);
	assert_true(b - a >= 0.02 * PM_TMR_HZ - 1);
	/* Read-only; narrower reads see the same counter. */
	fake_vm_out(&f->fv, PM_TMR_PORT, 0, 4);
	assert_true(fake_vm_in(&f->fv, PM_TMR_PORT, 4) - b < PM_TMR_HZ);
	assert_true((uint16_t)(fake_vm_in(&f->fv, PM_TMR_PORT + 2, 2) - (b >> 16)) <=
		    1 + PM_TMR_HZ / 65536);
}

static void test_reset_control(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pm_reset_control_read(f->pm), 0);
	pm_reset_control_write(f->pm, 0x02);
	pm_reset_control_write(f->pm, 0x0a);
	assert_int_equal(pm_reset_control_read(f->pm), 0x0a);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	pm_reset_control_write(f->pm, RESET_VALUE);
	assert_stopped(f, VM_STOP_RESET);
	/* Later stop requests do not change the first reason. */
	fake_vm_out(&f->fv, PM1A_CNT_PORT, PM_SLP_TYP_S5 << 10 | SLEEP_ENABLE, 2);
	assert_int_equal(f->fv.vm.reason, VM_STOP_RESET);
}

static void test_ports_taken(void **state)
{
	struct fixture *f = *state;
	struct pm *other;

	assert_int_equal(pm_create(&f->fv.vm, &other), -EEXIST);
	assert_int_equal(f->fv.vm.pio.nr, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_poweroff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poweroff_byte_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_button, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_taken, setup, teardown),
	};

	return cmocka_run_group_tests_name("legacy_pm", tests, NULL, NULL);
}
