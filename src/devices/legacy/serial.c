/*
 * 16550A UART, after the National Semiconductor / TI PC16550D datasheet
 * (register names and bits as in Linux's include/uapi/linux/serial_reg.h).
 *
 * Transmission takes no time: a byte written to THR is handed to the host
 * at once, so THR and the transmitter are always empty (LSR.THRE and
 * LSR.TEMT read 1) and the "THR empty" interrupt is pending again right
 * after every write, as on a real UART once the byte has left.
 *
 * Output is buffered and written when a line ends, when the buffer is
 * full, or when the guest does anything but feed THR: a guest writes one
 * byte per VM exit, and one write(2) per byte would double the cost of a
 * console. Linux's drivers always end a burst with such an access (the
 * console restores IER, the interrupt handler reads IIR, stop_tx writes
 * IER), and a polling writer that waits for input reads LSR twice in a
 * row, which also flushes.
 *
 * Reception is flow-controlled instead of overrunning: serial_input()
 * takes only what fits in a SERIAL_RX_SIZE buffer, larger than the chip's
 * 16-byte FIFO so a paste does not need 16 interrupts' worth of round
 * trips, and signals an eventfd when the guest has made room for what it
 * refused. It also takes nothing while the guest holds RTS low, as a
 * sender with hardware flow control would: until a guest opens the port,
 * bytes would only pile up and be lost when its driver starts the port
 * (Linux clears the FIFOs and drains the receiver first, and raises RTS
 * once the port is open). The receive-timeout interrupt is reported as
 * soon as fewer bytes than the trigger level wait (there is no character
 * timer).
 */
#include "devices/legacy/serial.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

/* Register offsets. DLL and DLM replace RBR/THR and IER while LCR.DLAB. */
#define REG_RBR 0 /* read: receive buffer; write: THR */
#define REG_IER 1
#define REG_IIR 2 /* read: interrupt identification; write: FCR */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IER_MASK 0x0f /* bits 4-7 read 0 on a 16550A; Linux probes that */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_RX_TIMEOUT 0x0c
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE_FIFO 0x01
#define FCR_CLEAR_RCVR 0x02
#define FCR_CLEAR_XMIT 0x04
#define FCR_DMA_SELECT 0x08
#define FCR_TRIGGER_MASK 0xc0
#define FCR_KEPT (FCR_ENABLE_FIFO | FCR_DMA_SELECT | FCR_TRIGGER_MASK)

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

#define HW_FIFO_SIZE 16 /* the chip's own FIFO, which loopback fills */
#define TX_BUF_SIZE 128

struct serial {
	struct vm *vm;
	uint16_t base;
	unsigned irq;
	int out_fd;
	serial_tx_hook tx_hook;
	void *tx_hook_opaque;
	int input_fd; /* eventfd: room for refused input */

	/* Everything below, under `lock`: vCPUs and the input thread race. */
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t lsr_errors;  /* LSR.OE until LSR is read */
	uint8_t msr_deltas;  /* MSR bits 0-3 until MSR is read */
	uint8_t msr_lines;   /* MSR bits 4-7 as last computed */
	bool thr_ipending;   /* the THRE interrupt, until IIR reports it */
	bool irq_level;      /* what the interrupt line was last set to */
	bool lsr_read_last;  /* the previous access was a read of LSR */
	bool out_broken;     /* output failed once; it was logged */
	bool input_waiting;  /* serial_input() refused bytes: signal input_fd */

	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_count;
	uint8_t tx[TX_BUF_SIZE];
	unsigned tx_len;
};

static void flush_locked(struct serial *s)
{
	int err;

	if (!s->tx_len)
		return;
	if (s->tx_hook)
		s->tx_hook(s->tx_hook_opaque, s->tx, s->tx_len);
	if (s->out_fd >= 0 && !s->out_broken) {
		err = vm_write_all(s->vm, s->out_fd, s->tx, s->tx_len);
		if (err == -ECANCELED) {
			s->out_broken = true; /* the VM stops; its reader does not read */
		} else if (err) {
			/* Once: a console that went away is not worth a line per byte. */
			s->out_broken = true;
			log_err("serial 0x%x: output lost: %s", s->base, strerror(-err));
		}
	}
	s->tx_len = 0;
}

static uint8_t modem_lines(const struct serial *s)
{
	uint8_t m = 0;

	/* Loopback wires the MCR outputs to the MSR inputs (PC16550D, MCR bit 4). */
	if (s->mcr & MCR_LOOP) {
		if (s->mcr & MCR_RTS)
			m |= MSR_CTS;
		if (s->mcr & MCR_DTR)
			m |= MSR_DSR;
		if (s->mcr & MCR_OUT1)
			m |= MSR_RI;
		if (s->mcr & MCR_OUT2)
			m |= MSR_DCD;
		return m;
	}
	/* Otherwise a terminal is attached and ready: clear to send, carrier. */
	return MSR_CTS | MSR_DSR | MSR_DCD;
}

static void update_modem_lines(struct serial *s)
{
	uint8_t now = modem_lines(s), changed = now ^ s->msr_lines;

	if (changed & MSR_CTS)
		s->msr_deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr_deltas |= MSR_DDCD;
	if ((s->msr_lines & MSR_RI) && !(now & MSR_RI))
		s->msr_deltas |= MSR_TERI; /* trailing edge of ring indicator */
	s->msr_lines = now;
}

static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };

	return level[(s->fcr & FCR_TRIGGER_MASK) >> 6];
}

/* The pending interrupt of highest priority (PC16550D, IIR table). */
static uint8_t interrupt_id(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_errors)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count) {
		if ((s->fcr & FCR_ENABLE_FIFO) && s->rx_count < rx_trigger(s))
			return IIR_RX_TIMEOUT;
		return IIR_RDI;
	}
	if ((s->ier & IER_THRI) && s->thr_ipending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_deltas)
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * On a PC the UART's interrupt output reaches the ISA bus through a
 * buffer enabled by OUT2, and loopback forces OUT2 inactive: Linux sets
 * OUT2 when it opens the port for that reason.
 */
static void update_irq(struct serial *s)
{
	bool level = interrupt_id(s) != IIR_NO_INT && (s->mcr & MCR_OUT2) &&
		     !(s->mcr & MCR_LOOP);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	/* Still under the lock, so two threads cannot reorder their edges. */
	vm_set_irq(s->vm, s->irq, level);
}

static void rx_clear(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

static void rx_push(struct serial *s, uint8_t byte)
{
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_SIZE] = byte;
	s->rx_count++;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
	s->rx_count--;
	return byte;
}

static void transmit(struct serial *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP) {
		/* The byte comes back through the chip's FIFO, or overruns it. */
		unsigned room = (s->fcr & FCR_ENABLE_FIFO) ? HW_FIFO_SIZE : 1;

		if (s->rx_count < room)
			rx_push(s, byte);
		else
			s->lsr_errors |= LSR_OE;
	} else {
		s->tx[s->tx_len++] = byte;
		if (byte == '\n' || s->tx_len == TX_BUF_SIZE)
			flush_locked(s);
	}
	s->thr_ipending = true;
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	uint8_t v, id;

	switch (reg) {
	case REG_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		return rx_pop(s);
	case REG_IER:
		if (s->lcr & LCR_DLAB)
			return s->dlm;
		return s->ier;
	case REG_IIR:
		id = interrupt_id(s);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if (id == IIR_THRI)
			s->thr_ipending = false;
		return id | ((s->fcr & FCR_ENABLE_FIFO) ? IIR_FIFO_ENABLED : 0);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_errors;
		if (s->rx_count)
			v |= LSR_DR;
		s->lsr_errors = 0;
		return v;
	case REG_MSR:
		v = s->msr_lines | s->msr_deltas;
		s->msr_deltas = 0;
		return v;
	default:
		return s->scr;
	}
}

static void write_reg(struct serial *s, unsigned reg, uint8_t v)
{
	uint8_t changed;

	switch (reg) {
	case REG_RBR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		changed = (s->ier ^ v) & IER_THRI;
		s->ier = v & IER_MASK;
		/*
		 * Enabling the THRE interrupt while THR is empty raises it
		 * again even after IIR acknowledged it: Linux's start-up tests
		 * (UART_BUG_THRE, UART_BUG_TXEN) expect that of a real 16550.
		 */
		if (changed)
			s->thr_ipending = (s->ier & IER_THRI) != 0;
		break;
	case REG_IIR: /* FCR */
		/* Changing the FIFO enable bit resets both FIFOs. */
		if ((v ^ s->fcr) & FCR_ENABLE_FIFO || (v & FCR_CLEAR_RCVR))
			rx_clear(s);
		/* The transmit FIFO is always empty: FCR_CLEAR_XMIT has no work. */
		s->fcr = v & FCR_KEPT;
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & MCR_MASK;
		update_modem_lines(s);
		break;
	case REG_LSR:
	case REG_MSR:
		break; /* factory test registers: writes do nothing useful */
	default:
		s->scr = v;
		break;
	}
}

/* Whether this access ends a burst of output (see the top of the file). */
static bool ends_burst(struct serial *s, unsigned reg, bool is_write)
{
	bool thr = is_write && reg == REG_RBR && !(s->lcr & LCR_DLAB);
	bool lsr = !is_write && reg == REG_LSR;
	bool flush = !thr && (!lsr || s->lsr_read_last);

	s->lsr_read_last = lsr;
	return flush;
}

/* Host input is taken while RTS is up and the chip is not looping back. */
static bool rx_ready(const struct serial *s)
{
	return (s->mcr & (MCR_RTS | MCR_LOOP)) == MCR_RTS;
}

/*
 * After a guest access: tell a host that had input refused when it can go
 * on: the receiver ready, with half the buffer free (not at every byte the
 * guest reads).
 */
static void signal_room(struct serial *s)
{
	uint64_t one = 1;

	if (!s->input_waiting || !rx_ready(s) || s->rx_count > SERIAL_RX_SIZE / 2)
		return;
	s->input_waiting = false;
	/* EAGAIN: the counter is saturated, so the fd is readable already. */
	if (write(s->input_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("serial: eventfd write: %s", strerror(errno));
}

/* Wider accesses reach consecutive registers, as the ISA bus splits them. */
static int serial_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		     unsigned size, bool is_write)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size; i++) {
		unsigned reg = (unsigned)(offset + i);

		if (ends_burst(s, reg, is_write))
			flush_locked(s);
		if (is_write)
			write_reg(s, reg, data[i]);
		else
			data[i] = read_reg(s, reg);
	}
	update_irq(s);
	signal_room(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int serial_create(struct vm *vm, uint16_t base, unsigned irq, int out_fd, struct serial **out)
{
	struct serial *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->base = base;
	s->irq = irq;
	s->out_fd = out_fd;
	pthread_mutex_init(&s->lock, NULL);
	s->msr_lines = modem_lines(s);
	s->thr_ipending = true;
	s->input_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->input_fd < 0) {
		ret = -errno;
		goto fail;
	}

	ret = iobus_register(&vm->pio, base, SERIAL_NR_REGS, IOBUS_W1 | IOBUS_W2 | IOBUS_W4,
			     serial_io, s, "serial");
	if (ret) {
		close(s->input_fd);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	iobus_unregister(&s->vm->pio, s->base);
	serial_flush(s);
	close(s->input_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t serial_input(struct serial *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver listens to the transmitter only. */
	if (rx_ready(s)) {
		while (n < len && s->rx_count < SERIAL_RX_SIZE)
			rx_push(s, p[n++]);
		update_irq(s);
	}
	if (n < len)
		s->input_waiting = true;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int serial_input_fd(const struct serial *s)
{
	return s->input_fd;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_set_tx_hook(struct serial *s, serial_tx_hook fn, void *opaque)
{
	pthread_mutex_lock(&s->lock);
	s->tx_hook = fn;
	s->tx_hook_opaque = opaque;
	pthread_mutex_unlock(&s->lock);
}
