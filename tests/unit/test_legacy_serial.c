/*
 * The 16550A UART through the port I/O bus of a hand-made VM: Linux's
 * 8250 probe (autoconfig) must find a 16550A, its start-up tests must find
 * no bug, interrupt-driven and polled output must reach the host, and
 * host input must raise the interrupt and read back in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/serial.h"
#include "fake_vm.h"
#include "util/util.h"
#include "vmm/iobus.h"

#define BASE SERIAL_COM1_BASE
#define IRQ SERIAL_COM1_IRQ

/* Register names and bits as Linux's include/uapi/linux/serial_reg.h has them. */
#define UART_RX 0
#define UART_TX 0
#define UART_DLL 0
#define UART_DLM 1
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_EFR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08
#define UART_IER_UUE 0x40
#define UART_IIR_NO_INT 0x01
#define UART_IIR_ID 0x0e
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_RX_TIMEOUT 0x0c
#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_FCR_CLEAR_XMIT 0x04
#define UART_FCR7_64BYTE 0x20
#define UART_FCR_R_TRIG_10 0x80
#define UART_LCR_WLEN8 0x03
#define UART_LCR_DLAB 0x80
#define UART_LCR_CONF_MODE_A 0x80
#define UART_LCR_CONF_MODE_B 0xbf
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define BOTH_EMPTY (UART_LSR_TEMT | UART_LSR_THRE)
#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

enum port_type {
	PORT_UNKNOWN, PORT_8250, PORT_16450, PORT_16550, PORT_16550A, PORT_16650,
	PORT_16750, PORT_NS16550A, PORT_XSCALE, PORT_U6_16550A,
};

struct fixture {
	struct fake_vm fv;
	struct serial *s;
	int out[2]; /* the UART writes to out[1]; tests read out[0] */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, 0) || pipe2(f->out, O_CLOEXEC | O_NONBLOCK))
		return -1;
	if (serial_create(&f->fv.vm, BASE, IRQ, f->out[1], &f->s))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(f->s);
	close(f->out[0]);
	if (f->out[1] >= 0)
		close(f->out[1]);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
	fake_vm_out(&f->fv, (uint16_t)(BASE + reg), v, 1);
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	return (uint8_t)fake_vm_in(&f->fv, (uint16_t)(BASE + reg), 1);
}

/* What has reached the host so far. */
static size_t output(struct fixture *f, char *buf, size_t size)
{
	ssize_t n = read(f->out[0], buf, size);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static void expect_output(struct fixture *f, const char *want)
{
	char buf[512];
	size_t n = output(f, buf, sizeof(buf));

	if (n != strlen(want) || memcmp(buf, want, n))
		fail_msg("output \"%.*s\", want \"%s\"", (int)n, buf, want);
}

/* Linux 8250_port.c, serial_dl_read() and serial_dl_write(). */
static unsigned dl_read(struct fixture *f)
{
	return rd(f, UART_DLL) | rd(f, UART_DLM) << 8;
}

static void dl_write(struct fixture *f, unsigned dl)
{
	wr(f, UART_DLL, (uint8_t)dl);
	wr(f, UART_DLM, (uint8_t)(dl >> 8));
}

static void clear_fifos(struct fixture *f)
{
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	wr(f, UART_FCR, 0);
}

/* size_fifo(): fill the FIFO through loopback at the highest speed, count. */
static unsigned size_fifo(struct fixture *f)
{
	uint8_t old_lcr, old_fcr, old_mcr;
	unsigned old_dl, count;

	old_lcr = rd(f, UART_LCR);
	wr(f, UART_LCR, 0);
	old_fcr = rd(f, UART_FCR);
	old_mcr = rd(f, UART_MCR);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	wr(f, UART_MCR, UART_MCR_LOOP);
	wr(f, UART_LCR, UART_LCR_CONF_MODE_A);
	old_dl = dl_read(f);
	dl_write(f, 1);
	wr(f, UART_LCR, UART_LCR_WLEN8);
	for (count = 0; count < 256; count++)
		wr(f, UART_TX, (uint8_t)count);
	for (count = 0; (rd(f, UART_LSR) & UART_LSR_DR) && count < (256 << 2); count++)
		rd(f, UART_RX);
	wr(f, UART_FCR, old_fcr);
	wr(f, UART_MCR, old_mcr);
	wr(f, UART_LCR, UART_LCR_CONF_MODE_A);
	dl_write(f, old_dl);
	wr(f, UART_LCR, old_lcr);
	return count;
}

/* autoconfig_16550a(): tell the 16550A from its look-alikes. */
static enum port_type autoconfig_16550a(struct fixture *f)
{
	uint8_t status1, status2, iersave;

	wr(f, UART_LCR, UART_LCR_CONF_MODE_A);
	if (rd(f, UART_EFR) == 0)
		return PORT_16650; /* an EFR when DLAB is set: ST16C650V1 */
	wr(f, UART_LCR, UART_LCR_CONF_MODE_B);
	if (rd(f, UART_EFR) == 0)
		return PORT_16650; /* an EFR behind 0xbf: ST16C650V2 and others */

	wr(f, UART_LCR, 0);
	status1 = rd(f, UART_MCR);
	wr(f, UART_LCR, 0xe0);
	status2 = rd(f, 0x02); /* EXCR1 of a National SuperIO */
	if (!((status2 ^ status1) & UART_MCR_LOOP)) {
		wr(f, UART_LCR, 0);
		wr(f, UART_MCR, status1 ^ UART_MCR_LOOP);
		wr(f, UART_LCR, 0xe0);
		status2 = rd(f, 0x02);
		wr(f, UART_LCR, 0);
		wr(f, UART_MCR, status1);
		if ((status2 ^ status1) & UART_MCR_LOOP)
			return PORT_NS16550A;
	}

	wr(f, UART_LCR, 0);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	status1 = rd(f, UART_IIR) >> 5;
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_LCR, UART_LCR_CONF_MODE_A);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	status2 = rd(f, UART_IIR) >> 5;
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_LCR, 0);
	if (status1 == 6 && status2 == 7)
		return PORT_16750;

	iersave = rd(f, UART_IER);
	wr(f, UART_IER, iersave & ~UART_IER_UUE);
	if (!(rd(f, UART_IER) & UART_IER_UUE)) {
		wr(f, UART_IER, iersave | UART_IER_UUE);
		if (rd(f, UART_IER) & UART_IER_UUE)
			return PORT_XSCALE;
	}
	wr(f, UART_IER, iersave);

	if (size_fifo(f) == 64)
		return PORT_U6_16550A;
	return PORT_16550A;
}

/* autoconfig(), with the loopback test that UPF_SKIP_TEST may skip. */
static enum port_type linux_autoconfig(struct fixture *f)
{
	uint8_t scratch, scratch2, scratch3, status1, save_lcr, save_mcr;
	enum port_type type = PORT_UNKNOWN;

	scratch = rd(f, UART_IER);
	wr(f, UART_IER, 0);
	scratch2 = rd(f, UART_IER) & 0x0f;
	wr(f, UART_IER, 0x0f);
	scratch3 = rd(f, UART_IER) & 0x0f;
	wr(f, UART_IER, scratch);
	if (scratch2 != 0 || scratch3 != 0x0f)
		return PORT_UNKNOWN;

	save_mcr = rd(f, UART_MCR);
	save_lcr = rd(f, UART_LCR);
	wr(f, UART_MCR, UART_MCR_LOOP | 0x0a);
	status1 = rd(f, UART_MSR) & 0xf0;
	wr(f, UART_MCR, save_mcr);
	if (status1 != 0x90)
		return PORT_UNKNOWN;

	wr(f, UART_LCR, UART_LCR_CONF_MODE_B);
	wr(f, UART_EFR, 0);
	wr(f, UART_LCR, 0);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	switch (rd(f, UART_IIR) >> 6) {
	case 0:
		/* autoconfig_8250(): a scratch register makes it a 16450. */
		scratch = rd(f, UART_SCR);
		wr(f, UART_SCR, 0xa5);
		status1 = rd(f, UART_SCR);
		wr(f, UART_SCR, 0x5a);
		type = status1 == 0xa5 && rd(f, UART_SCR) == 0x5a ? PORT_16450 : PORT_8250;
		wr(f, UART_SCR, scratch);
		break;
	case 1:
		type = PORT_UNKNOWN;
		break;
	case 2:
		type = PORT_16550;
		break;
	case 3:
		type = autoconfig_16550a(f);
		break;
	}
	wr(f, UART_LCR, save_lcr);

	/* Reset the UART. */
	wr(f, UART_MCR, save_mcr);
	clear_fifos(f);
	rd(f, UART_RX);
	wr(f, UART_IER, 0);
	return type;
}

/*
 * serial8250_do_startup(): clear interrupts, the UART_BUG_THRE test, raise
 * OUT2, the UART_BUG_TXEN test; then set_termios() for 115200 8N1 with the
 * FIFO a 16550A gets.
 */
static void linux_startup(struct fixture *f, bool *bug_thre, bool *bug_txen)
{
	uint8_t iir1, iir, lsr;

	clear_fifos(f);
	rd(f, UART_LSR);
	rd(f, UART_RX);
	rd(f, UART_IIR);
	rd(f, UART_MSR);
	assert_int_not_equal(rd(f, UART_LSR), 0xff); /* "LSR safety check" */

	while (!(rd(f, UART_LSR) & UART_LSR_THRE))
		;
	wr(f, UART_IER, UART_IER_THRI);
	iir1 = rd(f, UART_IIR);
	wr(f, UART_IER, 0);
	wr(f, UART_IER, UART_IER_THRI);
	iir = rd(f, UART_IIR);
	wr(f, UART_IER, 0);
	*bug_thre = !(iir1 & UART_IIR_NO_INT) && (iir & UART_IIR_NO_INT);

	wr(f, UART_LCR, UART_LCR_WLEN8);
	wr(f, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);

	wr(f, UART_IER, UART_IER_THRI);
	lsr = rd(f, UART_LSR);
	iir = rd(f, UART_IIR);
	wr(f, UART_IER, 0);
	*bug_txen = (lsr & UART_LSR_TEMT) && (iir & UART_IIR_NO_INT);

	rd(f, UART_LSR);
	rd(f, UART_RX);
	rd(f, UART_IIR);
	rd(f, UART_MSR);

	/* set_termios() */
	wr(f, UART_IER, UART_IER_RLSI | UART_IER_RDI);
	wr(f, UART_LCR, UART_LCR_WLEN8 | UART_LCR_DLAB);
	dl_write(f, 1);
	wr(f, UART_LCR, UART_LCR_WLEN8);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10);
}

/*
 * serial8250_default_handle_irq() as the interrupt loop calls it until it
 * reports nothing to do; `tx` is the tty's transmit buffer.
 */
static void linux_irq(struct fixture *f, const char **tx, char *rx, size_t *rx_len)
{
	for (unsigned pass = 0; pass < 512; pass++) {
		uint8_t iir = rd(f, UART_IIR), lsr;

		if (iir & UART_IIR_NO_INT)
			return;
		lsr = rd(f, UART_LSR);
		if ((lsr & UART_LSR_DR) && (iir & UART_IIR_RDI)) {
			do {
				rx[(*rx_len)++] = (char)rd(f, UART_RX);
				lsr = rd(f, UART_LSR);
			} while (lsr & UART_LSR_DR);
		}
		rd(f, UART_MSR);
		if (lsr & UART_LSR_THRE) {
			/* serial8250_tx_chars(): up to tx_loadsz (16) bytes. */
			for (unsigned n = 0; n < 16 && **tx; n++)
				wr(f, UART_TX, (uint8_t)*(*tx)++);
			if (!**tx)
				wr(f, UART_IER, rd(f, UART_IER) & ~UART_IER_THRI); /* __stop_tx */
		}
	}
	fail_msg("the interrupt never stopped");
}

/* serial8250_console_write(): polled, with IER saved and restored. */
static void linux_console_write(struct fixture *f, const char *s)
{
	uint8_t ier = rd(f, UART_IER);

	wr(f, UART_IER, 0);
	for (; *s; s++) {
		if (*s == '\n') {
			while (!(rd(f, UART_LSR) & UART_LSR_THRE))
				;
			wr(f, UART_TX, '\r');
		}
		while (!(rd(f, UART_LSR) & UART_LSR_THRE))
			;
		wr(f, UART_TX, (uint8_t)*s);
	}
	while ((rd(f, UART_LSR) & BOTH_EMPTY) != BOTH_EMPTY)
		;
	wr(f, UART_IER, ier);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	struct serial *other;

	assert_int_equal(rd(f, UART_IER), 0);
	assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(rd(f, UART_LCR), 0);
	assert_int_equal(rd(f, UART_MCR), 0);
	assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	/* A terminal is connected: CTS, DSR and carrier, nothing changed. */
	assert_int_equal(rd(f, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	assert_int_equal(rd(f, UART_SCR), 0);
	assert_int_equal(f->fv.irq_changes[IRQ], 0);

	/* Registering the same ports again fails. */
	assert_int_equal(serial_create(&f->fv.vm, BASE + 4, IRQ, -1, &other), -EEXIST);
}

static void test_linux_detects_16550a(void **state)
{
	struct fixture *f = *state;
	bool bug_thre = true, bug_txen = true;

	wr(f, UART_SCR, 0x42);
	assert_int_equal(linux_autoconfig(f), PORT_16550A);
	/* The probe leaves the registers as it found them, and sent nothing. */
	assert_int_equal(rd(f, UART_SCR), 0x42);
	assert_int_equal(rd(f, UART_LCR), 0);
	assert_int_equal(rd(f, UART_MCR), 0);
	assert_int_equal(rd(f, UART_IER), 0);
	assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	expect_output(f, "");
	assert_int_equal(f->fv.irq_changes[IRQ], 0); /* no OUT2 yet: the line stays quiet */

	linux_startup(f, &bug_thre, &bug_txen);
	assert_false(bug_thre);
	assert_false(bug_txen);
	/* The TXEN test raised the line once OUT2 was on, and IIR dropped it. */
	assert_int_equal(f->fv.irq_changes[IRQ], 2);
	assert_false(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	assert_int_equal(rd(f, UART_LCR), UART_LCR_WLEN8);
	expect_output(f, "");
}

static void test_registers(void **state)
{
	struct fixture *f = *state;
	uint8_t two[2] = { 0 };

	/* Reserved bits read 0. */
	wr(f, UART_IER, 0xff);
	assert_int_equal(rd(f, UART_IER), 0x0f);
	wr(f, UART_MCR, 0xff);
	assert_int_equal(rd(f, UART_MCR), 0x1f);
	wr(f, UART_MCR, 0);
	wr(f, UART_IER, 0);
	/* LCR reads back whole. */
	wr(f, UART_LCR, 0x5b);
	assert_int_equal(rd(f, UART_LCR), 0x5b);

	/* DLAB swaps in the divisor latch without touching THR or IER. */
	wr(f, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	dl_write(f, 0x1234);
	assert_int_equal(dl_read(f), 0x1234);
	wr(f, UART_LCR, UART_LCR_WLEN8);
	assert_int_equal(rd(f, UART_IER), 0);
	wr(f, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(dl_read(f), 0x1234);
	wr(f, UART_LCR, 0);
	expect_output(f, "");

	/* FIFO bits in IIR follow FCR bit 0. */
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(rd(f, UART_IIR), 0xc1);
	wr(f, UART_FCR, 0);
	assert_int_equal(rd(f, UART_IIR), 0x01);

	/* Wider accesses reach consecutive registers: MCR then LSR. */
	wr(f, UART_MCR, UART_MCR_DTR);
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, BASE + UART_MCR, two, 2, false), 0);
	assert_int_equal(two[0], UART_MCR_DTR);
	assert_int_equal(two[1], UART_LSR_THRE | UART_LSR_TEMT);
	/* And nothing reaches past the eighth register. */
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, BASE + 6, two, 4, false), -ENOENT);
}

static void test_polled_output(void **state)
{
	struct fixture *f = *state;
	char big[300];

	/* Bytes wait for the end of the line... */
	wr(f, UART_LCR, UART_LCR_WLEN8);
	for (const char *p = "abc"; *p; p++) {
		assert_true(rd(f, UART_LSR) & UART_LSR_THRE);
		wr(f, UART_TX, (uint8_t)*p);
	}
	expect_output(f, "");
	wr(f, UART_TX, '\n');
	expect_output(f, "abc\n");

	/* ...or for the console to restore IER after a partial line. */
	linux_console_write(f, "login: ");
	expect_output(f, "login: ");
	linux_console_write(f, "two\nlines\n");
	expect_output(f, "two\r\nlines\r\n");

	/* A polling reader reads LSR twice in a row: that flushes too. */
	wr(f, UART_TX, '$');
	rd(f, UART_LSR);
	expect_output(f, "");
	rd(f, UART_LSR);
	expect_output(f, "$");

	/* A long line does not wait for its end. */
	memset(big, 'x', sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++)
		wr(f, UART_TX, (uint8_t)big[i]);
	assert_true(output(f, big, sizeof(big)) >= 128);
	serial_flush(f->s);
	assert_true(output(f, big, sizeof(big)) > 0);
	expect_output(f, "");
}

static void test_interrupt_output(void **state)
{
	struct fixture *f = *state;
	bool bug_thre, bug_txen;
	const char *text = "Debian GNU/Linux 12 shale ttyS0\n\nshale login: ";
	const char *tx = text;
	char rx[16];
	size_t rx_len = 0;
	char buf[128];
	size_t n;

	assert_int_equal(linux_autoconfig(f), PORT_16550A);
	linux_startup(f, &bug_thre, &bug_txen);
	f->fv.irq_changes[IRQ] = 0;

	/* start_tx(): enabling THRI with THR empty interrupts at once. */
	wr(f, UART_IER, rd(f, UART_IER) | UART_IER_THRI);
	assert_true(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_IIR) & 0x0f, UART_IIR_THRI);
	/* That read acknowledged it. */
	assert_false(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_IIR), 0xc1);
	/* THR is empty again after each write, which interrupts again. */
	wr(f, UART_TX, (uint8_t)*tx++);
	assert_true(f->fv.irq_level[IRQ]);
	linux_irq(f, &tx, rx, &rx_len);
	assert_int_equal(*tx, 0);
	assert_false(f->fv.irq_level[IRQ]);
	assert_int_equal(rx_len, 0);
	n = output(f, buf, sizeof(buf));
	assert_int_equal(n, strlen(text));
	assert_memory_equal(buf, text, n);
	/* A bounded number of edges: about one per 16 bytes, not per byte. */
	assert_true(f->fv.irq_changes[IRQ] <= 2 * (strlen(text) / 16 + 3));
}

static void test_input(void **state)
{
	struct fixture *f = *state;
	bool bug_thre, bug_txen;
	const char *tx = "";
	char rx[SERIAL_RX_SIZE + 8];
	size_t rx_len = 0;

	assert_int_equal(linux_autoconfig(f), PORT_16550A);
	linux_startup(f, &bug_thre, &bug_txen);
	assert_false(f->fv.irq_level[IRQ]);

	/* Fewer bytes than the trigger level (8): a receive timeout. */
	assert_int_equal(serial_input(f->s, "ls\n", 3), 3);
	assert_true(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	assert_true(rd(f, UART_LSR) & UART_LSR_DR);
	linux_irq(f, &tx, rx, &rx_len);
	assert_false(f->fv.irq_level[IRQ]);
	assert_int_equal(rx_len, 3);
	assert_memory_equal(rx, "ls\n", 3);
	assert_false(rd(f, UART_LSR) & UART_LSR_DR);

	/* At the trigger level: data available. */
	assert_int_equal(serial_input(f->s, "12345678", 8), 8);
	assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RDI);
	rx_len = 0;
	linux_irq(f, &tx, rx, &rx_len);
	assert_int_equal(rx_len, 8);
	assert_false(f->fv.irq_level[IRQ]);

	/* A full buffer takes no more; what was taken reads back in order. */
	char in[SERIAL_RX_SIZE + 44];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	assert_int_equal(serial_input(f->s, in, sizeof(in)), SERIAL_RX_SIZE);
	assert_int_equal(serial_input(f->s, in, 1), 0);
	rx_len = 0;
	linux_irq(f, &tx, rx, &rx_len);
	assert_int_equal(rx_len, SERIAL_RX_SIZE);
	assert_memory_equal(rx, in, SERIAL_RX_SIZE);
	assert_int_equal(serial_input(f->s, in, 1), 1);

	/* Clearing the receive FIFO drops what waits; the line drops with it. */
	assert_true(f->fv.irq_level[IRQ]);
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10 | UART_FCR_CLEAR_RCVR);
	assert_false(rd(f, UART_LSR) & UART_LSR_DR);
	assert_false(f->fv.irq_level[IRQ]);

	/* Without OUT2 the interrupt stays inside the chip. */
	wr(f, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	assert_int_equal(serial_input(f->s, "q", 1), 1);
	assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	assert_false(f->fv.irq_level[IRQ]);
	wr(f, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	assert_true(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_RX), 'q');
	assert_false(f->fv.irq_level[IRQ]);
	expect_output(f, "");
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_IER, UART_IER_RDI | UART_IER_RLSI | UART_IER_MSI);
	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	/* Modem outputs come back as inputs; the change shows as deltas. */
	assert_int_equal(rd(f, UART_MSR), UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDSR);
	assert_int_equal(rd(f, UART_MSR), UART_MSR_DCD);
	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_RTS | UART_MCR_DTR);
	assert_int_equal(rd(f, UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_RI |
					   UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	wr(f, UART_MCR, UART_MCR_LOOP);
	assert_int_equal(rd(f, UART_MSR), UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI);

	/* Host input is refused, transmitted bytes come back, none leave. */
	assert_int_equal(serial_input(f->s, "no", 2), 0);
	for (unsigned i = 0; i < 20; i++)
		wr(f, UART_TX, (uint8_t)('a' + i));
	/* The 16-byte FIFO overran: a line status interrupt, inside the chip. */
	assert_int_equal(rd(f, UART_IIR), 0xc0 | UART_IIR_RLSI);
	assert_false(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_LSR), UART_LSR_DR | UART_LSR_OE | BOTH_EMPTY);
	assert_int_equal(rd(f, UART_LSR), UART_LSR_DR | BOTH_EMPTY);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, UART_RX), 'a' + i);
	assert_false(rd(f, UART_LSR) & UART_LSR_DR);
	assert_int_equal(f->fv.irq_changes[IRQ], 0);

	/* Back to normal: the terminal's lines return, and output leaves. */
	wr(f, UART_MCR, 0);
	assert_int_equal(rd(f, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
	wr(f, UART_TX, 'z');
	wr(f, UART_TX, '\n');
	expect_output(f, "z\n");
	assert_int_equal(serial_input(f->s, "ok", 2), 0); /* RTS is low */
	wr(f, UART_MCR, UART_MCR_RTS);
	assert_int_equal(serial_input(f->s, "ok", 2), 2);
}

/* Whether the UART's input eventfd is readable; reading it resets it. */
static bool room_signalled(struct fixture *f)
{
	uint64_t count;

	return read(serial_input_fd(f->s), &count, sizeof(count)) == sizeof(count);
}

/*
 * A host whose input was refused is told when the guest has read half the
 * buffer, and only then; one that was never refused is not told at all.
 */
static void test_input_room(void **state)
{
	struct fixture *f = *state;
	char in[SERIAL_RX_SIZE + 10];

	memset(in, 'r', sizeof(in));
	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);

	/* Until the guest raises RTS, nothing is taken; then it is told. */
	assert_int_equal(serial_input(f->s, in, 10), 0);
	wr(f, UART_MCR, UART_MCR_DTR);
	assert_false(room_signalled(f));
	wr(f, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	assert_true(room_signalled(f));
	assert_int_equal(serial_input(f->s, in, 10), 10);
	assert_int_equal(rd(f, UART_RX), 'r');
	assert_false(room_signalled(f)); /* nothing was refused */
	clear_fifos(f);

	assert_int_equal(serial_input(f->s, in, sizeof(in)), SERIAL_RX_SIZE);
	assert_false(room_signalled(f));
	for (unsigned i = 0; i < SERIAL_RX_SIZE / 2 - 1; i++) {
		assert_int_equal(rd(f, UART_RX), 'r');
		assert_false(room_signalled(f));
	}
	assert_int_equal(rd(f, UART_RX), 'r'); /* half the buffer free */
	assert_true(room_signalled(f));
	assert_false(room_signalled(f)); /* read once, reset */
	rd(f, UART_RX);
	assert_false(room_signalled(f)); /* nothing refused since */
	assert_int_equal(serial_input(f->s, in, 10), 10);

	/* Refused in loopback: told when loopback ends, not before. */
	clear_fifos(f);
	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(serial_input(f->s, in, 1), 0);
	rd(f, UART_LSR);
	assert_false(room_signalled(f));
	wr(f, UART_MCR, UART_MCR_RTS);
	assert_true(room_signalled(f));
	assert_int_equal(serial_input(f->s, in, 1), 1);
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_IER, UART_IER_MSI);
	wr(f, UART_MCR, UART_MCR_OUT2);
	assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
	/* Entering loopback drops CTS and DSR: deltas, an interrupt (gated). */
	wr(f, UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
	assert_int_equal(rd(f, UART_IIR), 0x00);
	assert_false(f->fv.irq_level[IRQ]);
	wr(f, UART_MCR, UART_MCR_OUT2);
	assert_true(f->fv.irq_level[IRQ]);
	assert_int_equal(rd(f, UART_IIR), 0x00);
	rd(f, UART_MSR);
	assert_int_equal(rd(f, UART_IIR), UART_IIR_NO_INT);
	assert_false(f->fv.irq_level[IRQ]);
}

static void test_broken_output(void **state)
{
	struct fixture *f = *state;

	/* The reader went away: output is dropped (reported once), no crash. */
	close(f->out[0]);
	f->out[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(f->out[0] >= 0);
	for (int i = 0; i < 3; i++) {
		wr(f, UART_TX, 'x');
		wr(f, UART_TX, '\n');
	}
	assert_int_equal(rd(f, UART_LSR), BOTH_EMPTY);
}

struct seen {
	char buf[64];
	size_t len;
	unsigned calls;
};

static void watch(void *opaque, const uint8_t *buf, size_t len)
{
	struct seen *w = opaque;

	assert_true(len <= sizeof(w->buf) - w->len);
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	w->calls++;
}

static void test_tx_hook(void **state)
{
	struct fixture *f = *state;
	struct seen w = { .len = 0 };

	serial_set_tx_hook(f->s, watch, &w);
	for (const char *p = "panic\n"; *p; p++)
		wr(f, UART_TX, (uint8_t)*p);
	/* The watcher sees what the host sees, a buffer at a time. */
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.len, 6);
	assert_memory_equal(w.buf, "panic\n", 6);
	expect_output(f, "panic\n");
	/* Bytes that loop back never left. */
	wr(f, UART_MCR, UART_MCR_LOOP);
	wr(f, UART_TX, 'x');
	wr(f, UART_TX, '\n');
	wr(f, UART_MCR, 0);
	serial_flush(f->s);
	assert_int_equal(w.len, 6);
	serial_set_tx_hook(f->s, NULL, NULL);
	wr(f, UART_TX, '\n');
	assert_int_equal(w.calls, 1);
	expect_output(f, "\n");
}

/* Input from another thread while a vCPU drains it: nothing lost or reordered. */
#define STREAM_LEN 20000

static void *feeder(void *arg)
{
	struct fixture *f = arg;
	uint8_t chunk[37];
	size_t sent = 0;

	while (sent < STREAM_LEN) {
		size_t n = MIN(sizeof(chunk), STREAM_LEN - sent), done = 0;

		for (size_t i = 0; i < n; i++)
			chunk[i] = (uint8_t)((sent + i) * 7);
		while (done < n) {
			size_t k = serial_input(f->s, chunk + done, n - done);

			done += k;
			if (!k)
				usleep(50);
		}
		sent += n;
	}
	return NULL;
}

static void test_input_thread(void **state)
{
	struct fixture *f = *state;
	pthread_t t;
	size_t got = 0;

	wr(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	wr(f, UART_IER, UART_IER_RDI);
	wr(f, UART_MCR, UART_MCR_RTS | UART_MCR_OUT2);
	assert_int_equal(pthread_create(&t, NULL, feeder, f), 0);
	while (got < STREAM_LEN) {
		if (rd(f, UART_LSR) & UART_LSR_DR) {
			assert_int_equal(rd(f, UART_RX), (uint8_t)(got * 7));
			got++;
		}
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(rd(f, UART_LSR) & UART_LSR_DR);
	assert_false(f->fv.irq_level[IRQ]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_detects_16550a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_polled_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_thread, setup, teardown),
	};

	/* As the VMM does: a closed reader is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("legacy_serial", tests, NULL, NULL);
}
