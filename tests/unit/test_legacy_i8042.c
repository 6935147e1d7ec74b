/*
 * The 8042 keyboard controller through the port I/O bus of a hand-made
 * VM: Linux's i8042 probe (self-test, CTR, AUX loop and IRQ 12 test, MUX
 * test) and atkbd's keyboard probe get their answers at once, every byte
 * comes with its own interrupt edge, and the reset commands stop the VM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/legacy/i8042.h"
#include "fake_vm.h"
#include "vmm/iobus.h"

/* As in Linux's drivers/input/serio/i8042.h. */
#define I8042_STR_PARITY 0x80
#define I8042_STR_TIMEOUT 0x40
#define I8042_STR_AUXDATA 0x20
#define I8042_STR_KEYLOCK 0x10
#define I8042_STR_CMDDAT 0x08
#define I8042_STR_SYSFLAG 0x04
#define I8042_STR_IBF 0x02
#define I8042_STR_OBF 0x01
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_SYSFLAG 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE 0x40
#define I8042_CMD_CTL_RCTR 0x0120
#define I8042_CMD_CTL_WCTR 0x1060
#define I8042_CMD_CTL_TEST 0x01aa
#define I8042_CMD_KBD_TEST 0x01ab
#define I8042_CMD_AUX_DISABLE 0x00a7
#define I8042_CMD_AUX_ENABLE 0x00a8
#define I8042_CMD_AUX_TEST 0x01a9
#define I8042_CMD_AUX_SEND 0x10d4
#define I8042_CMD_AUX_LOOP 0x11d3
#define I8042_RET_CTL_TEST 0x55

#define DATA I8042_DATA_PORT
#define CMD I8042_CMD_PORT
#define KBD_IRQ I8042_KBD_IRQ
#define AUX_IRQ I8042_AUX_IRQ

struct fixture {
	struct fake_vm fv;
	struct i8042 *k;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, 0))
		return -1;
	if (i8042_create(&f->fv.vm, &f->k))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	i8042_destroy(f->k);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

/* Every port of the controller is a byte wide. */
static void out8(struct fixture *f, uint16_t port, uint8_t v)
{
	fake_vm_out(&f->fv, port, v, 1);
}

static uint8_t in8(struct fixture *f, uint16_t port)
{
	return (uint8_t)fake_vm_in(&f->fv, port, 1);
}

/*
 * i8042_wait_read() / i8042_wait_write(): Linux polls up to 10000 times
 * 50 us. Everything here answers at once, so one look must do.
 */
static int wait_read(struct fixture *f)
{
	return (in8(f, CMD) & I8042_STR_OBF) ? 0 : -ETIMEDOUT;
}

static int wait_write(struct fixture *f)
{
	return (in8(f, CMD) & I8042_STR_IBF) ? -ETIMEDOUT : 0;
}

/* __i8042_command(): the command encodes how many bytes go and come back. */
static int i8042_command(struct fixture *f, uint8_t *param, unsigned command)
{
	if (wait_write(f))
		return -1;
	out8(f, CMD, (uint8_t)command);
	for (unsigned i = 0; i < ((command >> 12) & 0xf); i++) {
		if (wait_write(f))
			return -1;
		out8(f, DATA, param[i]);
	}
	for (unsigned i = 0; i < ((command >> 8) & 0xf); i++) {
		if (wait_read(f))
			return -1;
		if (command == I8042_CMD_AUX_LOOP && !(in8(f, CMD) & I8042_STR_AUXDATA))
			return -1;
		param[i] = in8(f, DATA);
	}
	return 0;
}

static unsigned i8042_flush(struct fixture *f)
{
	unsigned n = 0;

	while ((in8(f, CMD) & I8042_STR_OBF) && n < 16) {
		in8(f, DATA);
		n++;
	}
	return n;
}

/* i8042_toggle_aux(): command, then the CTR must show it. */
static int toggle_aux(struct fixture *f, bool on)
{
	uint8_t param;

	if (i8042_command(f, &param, on ? I8042_CMD_AUX_ENABLE : I8042_CMD_AUX_DISABLE))
		return -1;
	if (i8042_command(f, &param, I8042_CMD_CTL_RCTR))
		return -1;
	return !(param & I8042_CTR_AUXDIS) == on ? 0 : -1;
}

/* i8042_set_mux_mode(true): a plain controller echoes the third byte too. */
static bool has_mux(struct fixture *f)
{
	uint8_t param = 0xf0;

	if (i8042_command(f, &param, I8042_CMD_AUX_LOOP) || param != 0xf0)
		return false;
	param = 0x56;
	if (i8042_command(f, &param, I8042_CMD_AUX_LOOP) || param != 0x56)
		return false;
	param = 0xa4;
	if (i8042_command(f, &param, I8042_CMD_AUX_LOOP) || param == 0xa4)
		return false;
	return true;
}

/*
 * The interrupt handler (i8042_interrupt()) for every new edge on `irq`:
 * one status read, one data read. Returns how many bytes it took.
 */
static unsigned handle_irqs(struct fixture *f, unsigned irq, unsigned *handled, uint8_t *buf,
			    uint8_t *status)
{
	unsigned n = 0;

	while (*handled < f->fv.irq_rises[irq]) {
		uint8_t str = in8(f, CMD);

		(*handled)++;
		if (!(str & I8042_STR_OBF))
			continue;
		if (status)
			status[n] = str;
		buf[n++] = in8(f, DATA);
	}
	return n;
}

static void test_initial_state(void **state)
{
	struct fixture *f = *state;
	uint16_t w;
	uint8_t ctr;

	assert_int_equal(in8(f, CMD), I8042_STR_KEYLOCK | I8042_STR_SYSFLAG);
	assert_int_equal(i8042_command(f, &ctr, I8042_CMD_CTL_RCTR), 0);
	/* Firmware left the keyboard on with translation, the mouse port off. */
	assert_int_equal(ctr, I8042_CTR_KBDINT | I8042_CTR_SYSFLAG | I8042_CTR_AUXDIS |
				      I8042_CTR_XLATE);
	/* The command byte's reply came with IRQ 1 (KBDINT), as on hardware. */
	assert_int_equal(f->fv.irq_rises[KBD_IRQ], 1);
	assert_false(f->fv.irq_level[KBD_IRQ]);
	assert_int_equal(in8(f, CMD), I8042_STR_KEYLOCK | I8042_STR_SYSFLAG | I8042_STR_CMDDAT);
	/* Ports next door are not ours; a word at 0x60 spans 0x61. */
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, DATA, (uint8_t *)&w, 2, false), -ENOENT);
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, 0x61, (uint8_t *)&w, 1, false), -ENOENT);
}

static void test_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr[2], param, c;
	unsigned n = 0, handled;

	/* i8042_controller_check() */
	assert_int_equal(i8042_flush(f), 0);

	/* i8042_controller_selftest() */
	assert_int_equal(i8042_command(f, &param, I8042_CMD_CTL_TEST), 0);
	assert_int_equal(param, I8042_RET_CTL_TEST);
	assert_int_equal(i8042_command(f, &param, I8042_CMD_KBD_TEST), 0);
	assert_int_equal(param, 0x00);

	/* i8042_controller_init(): two equal CTR reads, then write it back. */
	do {
		assert_true(n < 10);
		assert_int_equal(i8042_command(f, &ctr[n++ % 2], I8042_CMD_CTL_RCTR), 0);
	} while (n < 2 || ctr[0] != ctr[1]);
	assert_int_equal(n, 2);
	c = (uint8_t)((ctr[0] | I8042_CTR_KBDDIS) & ~I8042_CTR_KBDINT);
	assert_true(in8(f, CMD) & I8042_STR_KEYLOCK);
	assert_true(c & I8042_CTR_XLATE);
	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	assert_int_equal(i8042_flush(f), 0);
	assert_int_equal(i8042_command(f, &param, I8042_CMD_CTL_RCTR), 0);
	assert_int_equal(param, c);

	/* i8042_check_aux(): the loop command echoes through the AUX port. */
	param = 0x5a;
	assert_int_equal(i8042_command(f, &param, I8042_CMD_AUX_LOOP), 0);
	assert_int_equal(param, 0x5a);
	assert_int_equal(toggle_aux(f, false), 0);
	assert_int_equal(toggle_aux(f, true), 0);

	/* The AUX IRQ test: IRQ 12 must come for a byte looped with AUXINT. */
	c = (uint8_t)((c & ~I8042_CTR_AUXDIS) | I8042_CTR_AUXINT);
	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	handled = f->fv.irq_rises[AUX_IRQ];
	param = 0xa5;
	assert_int_equal(i8042_command(f, &param, I8042_CMD_AUX_LOOP & 0xf0ff), 0);
	assert_int_equal(f->fv.irq_rises[AUX_IRQ], handled + 1);
	assert_int_equal(in8(f, CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA),
			 I8042_STR_OBF | I8042_STR_AUXDATA);
	assert_int_equal(in8(f, DATA), 0xa5);
	assert_false(f->fv.irq_level[AUX_IRQ]);

	/* i8042_check_mux(): not an active multiplexer. */
	assert_false(has_mux(f));
	assert_int_equal(i8042_flush(f), 0);

	/* i8042_enable_kbd_port() */
	c = (uint8_t)((c & ~I8042_CTR_KBDDIS) | I8042_CTR_KBDINT);
	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	assert_false(f->fv.irq_level[KBD_IRQ]);
	assert_false(f->fv.irq_level[AUX_IRQ]);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_keyboard(void **state)
{
	struct fixture *f = *state;
	unsigned handled = f->fv.irq_rises[KBD_IRQ];
	uint8_t buf[16], c;

	/* atkbd_probe(): GETID through translation answers ab 41. */
	out8(f, DATA, 0xf2);
	assert_int_equal(handle_irqs(f, KBD_IRQ, &handled, buf, NULL), 3);
	assert_memory_equal(buf, "\xfa\xab\x41", 3);
	assert_false(f->fv.irq_level[KBD_IRQ]);

	/* Reset: ACK, then the self-test result, each on its own edge. */
	out8(f, DATA, 0xff);
	assert_true(f->fv.irq_level[KBD_IRQ]);
	assert_int_equal(handle_irqs(f, KBD_IRQ, &handled, buf, NULL), 2);
	assert_memory_equal(buf, "\xfa\xaa", 2);

	/* Commands with a parameter ACK twice; echo; scan code set query. */
	out8(f, DATA, 0xed);
	out8(f, DATA, 0x07);
	out8(f, DATA, 0xf3);
	out8(f, DATA, 0x20);
	out8(f, DATA, 0xee);
	out8(f, DATA, 0xf0);
	out8(f, DATA, 0x00);
	out8(f, DATA, 0xf4);
	out8(f, DATA, 0x42); /* not a keyboard command */
	assert_int_equal(handle_irqs(f, KBD_IRQ, &handled, buf, NULL), 10);
	assert_memory_equal(buf, "\xfa\xfa\xfa\xfa\xee\xfa\xfa\x02\xfa\xfe", 10);

	/* Without translation the ID is the keyboard's own. */
	c = 0x05;
	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	out8(f, DATA, 0xf2);
	assert_int_equal(handle_irqs(f, KBD_IRQ, &handled, buf, NULL), 3);
	assert_memory_equal(buf, "\xfa\xab\x83", 3);

	/* With KBDINT off the bytes wait, without interrupts. */
	c = 0x04;
	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	out8(f, DATA, 0xee);
	assert_false(f->fv.irq_level[KBD_IRQ]);
	assert_int_equal(in8(f, CMD) & I8042_STR_OBF, I8042_STR_OBF);
	assert_int_equal(in8(f, DATA), 0xee);
	/* An empty buffer reads the last byte again. */
	assert_int_equal(in8(f, CMD) & I8042_STR_OBF, 0);
	assert_int_equal(in8(f, DATA), 0xee);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

static void test_no_mouse(void **state)
{
	struct fixture *f = *state;
	uint8_t c = 0x47 & ~I8042_CTR_AUXDIS, param, buf[4], st[4];
	unsigned handled;

	assert_int_equal(i8042_command(f, &c, I8042_CMD_CTL_WCTR), 0);
	handled = f->fv.irq_rises[AUX_IRQ];
	/* psmouse_probe(): GETID to the mouse times out at once, on IRQ 12. */
	param = 0xf2;
	assert_int_equal(i8042_command(f, &param, I8042_CMD_AUX_SEND), 0);
	assert_int_equal(handle_irqs(f, AUX_IRQ, &handled, buf, st), 1);
	assert_int_equal(buf[0], 0xfe);
	assert_int_equal(st[0] & (I8042_STR_AUXDATA | I8042_STR_TIMEOUT),
			 I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
	/* The interface itself tests fine. */
	assert_int_equal(i8042_command(f, &param, I8042_CMD_AUX_TEST), 0);
	assert_int_equal(param, 0x00);
	assert_int_equal(in8(f, CMD) & (I8042_STR_TIMEOUT | I8042_STR_OBF), 0);
}

static void test_reset_pulse(void **state)
{
	struct fixture *f = *state;

	/* What Linux's BOOT_KBD reboot does. */
	out8(f, CMD, 0xfe);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_RESET);
}

static void test_reset_output_port(void **state)
{
	struct fixture *f = *state;
	uint8_t outp;

	/* Reading and writing the output port with the reset line high: no reset. */
	out8(f, CMD, 0xd0);
	outp = in8(f, DATA);
	assert_int_equal(outp & 0x03, 0x03);
	out8(f, CMD, 0xd1);
	out8(f, DATA, 0xdf);
	out8(f, CMD, 0xff); /* pulses nothing */
	out8(f, CMD, 0xdd); /* A20 off: recorded */
	out8(f, CMD, 0xd0);
	assert_int_equal(in8(f, DATA) & 0x03, 0x01);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	/* Bit 0 low is the CPU reset line. */
	out8(f, CMD, 0xd1);
	out8(f, DATA, 0xde);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_STOP_RESET);
}

static void test_other_commands(void **state)
{
	struct fixture *f = *state;
	uint8_t param;

	/* Controller RAM beyond the command byte keeps what it is given. */
	out8(f, CMD, 0x75);
	out8(f, DATA, 0x9c);
	out8(f, CMD, 0x35);
	assert_int_equal(in8(f, DATA), 0x9c);
	/* Keyboard and AUX output buffers, written by the guest itself. */
	out8(f, CMD, 0xd2);
	out8(f, DATA, 0x1c);
	assert_int_equal(in8(f, CMD) & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF);
	assert_int_equal(in8(f, DATA), 0x1c);
	/* No password; keyboard disable and enable show in the CTR. */
	out8(f, CMD, 0xa4);
	assert_int_equal(in8(f, DATA), 0xf1);
	out8(f, CMD, 0xad);
	assert_int_equal(i8042_command(f, &param, I8042_CMD_CTL_RCTR), 0);
	assert_true(param & I8042_CTR_KBDDIS);
	out8(f, CMD, 0xae);
	assert_int_equal(i8042_command(f, &param, I8042_CMD_CTL_RCTR), 0);
	assert_false(param & I8042_CTR_KBDDIS);
	/* A command that waits for data is abandoned by the next command. */
	out8(f, CMD, 0xd1);
	out8(f, CMD, 0xa7);
	out8(f, DATA, 0x00); /* a keyboard byte now, not the output port */
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
	/* Unknown commands are ignored. */
	out8(f, CMD, 0x01);
	out8(f, CMD, 0xc8);
	i8042_flush(f);
	assert_int_equal(in8(f, CMD) & I8042_STR_OBF, 0);
	assert_int_equal(fake_vm_stop_reason(&f->fv, NULL), VM_RUNNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_mouse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_pulse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
	};

	return cmocka_run_group_tests_name("legacy_i8042", tests, NULL, NULL);
}
