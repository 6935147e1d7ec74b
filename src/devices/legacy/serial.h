/*
 * A 16550A UART on port I/O, as the COM ports of a PC: eight registers at
 * `base`, one ISA interrupt line, transmit to a host file descriptor and
 * receive from whatever thread calls serial_input().
 */
#ifndef SHALE_DEVICES_LEGACY_SERIAL_H
#define SHALE_DEVICES_LEGACY_SERIAL_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_COM2_BASE 0x2f8
#define SERIAL_COM2_IRQ 3
#define SERIAL_NR_REGS 8

/* Host input the UART holds before serial_input() starts refusing bytes. */
#define SERIAL_RX_SIZE 256

/*
 * Registers the UART at [base, base + 8) on vm->pio. Transmitted bytes go
 * to `out_fd` (not owned; -1 discards them); the interrupt is GSI `irq`.
 * -errno on failure (-EEXIST when the ports are taken).
 */
int serial_create(struct vm *vm, uint16_t base, unsigned irq, int out_fd, struct serial **out);
/* Flushes pending output and unregisters. The vCPUs must be stopped. */
void serial_destroy(struct serial *s);

/*
 * Queues host input for the guest; safe from any thread. Returns how many
 * bytes were taken: fewer than `len` when the receive buffer is full (the
 * guest is not reading), 0 while the guest holds RTS low (the port is not
 * open) or the UART in loopback mode. The caller keeps the rest and offers
 * it again later, once serial_input_fd() is readable.
 */
size_t serial_input(struct serial *s, const void *buf, size_t len);

/*
 * An eventfd (owned by the UART) that becomes readable after serial_input()
 * refused bytes, once the guest is ready for more: RTS up, not in
 * loopback, half the buffer free. The caller reads it to reset it.
 */
int serial_input_fd(const struct serial *s);

/*
 * Also shows transmitted bytes to `fn` (before they are written out), with
 * the UART's lock held: fn must not call back into this UART.
 */
typedef void (*serial_tx_hook)(void *opaque, const uint8_t *buf, size_t len);
void serial_set_tx_hook(struct serial *s, serial_tx_hook fn, void *opaque);

/* Writes out transmitted bytes still buffered; safe from any thread. */
void serial_flush(struct serial *s);

#endif
