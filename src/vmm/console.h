/*
 * The host side of a guest's serial console: shale's standard input, in raw
 * mode when it is a terminal, with an escape sequence to leave: Ctrl-A x
 * quits, Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
 */
#ifndef SHALE_VMM_CONSOLE_H
#define SHALE_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

typedef void (*console_input_fn)(void *opaque, const uint8_t *buf, size_t len);

struct console {
	int fd;
	bool tty;
	bool raw; /* the terminal is in raw mode and must be restored */
	struct termios saved;
	bool escape;
	console_input_fn input;
	void *opaque;
};

/* Takes over `fd` (raw mode if it is a terminal). */
void console_open(struct console *con, int fd, console_input_fn input, void *opaque);
/* Restores the terminal. Safe to call twice. */
void console_close(struct console *con);

enum console_event {
	CONSOLE_OK,
	CONSOLE_QUIT, /* the user typed Ctrl-A x */
	CONSOLE_EOF,  /* no more input: stop polling the fd */
};
/* Reads what is available and passes it to the guest. */
enum console_event console_read(struct console *con);

/* Pure escape handling, for tests: filters `in` into `out`, returns the event. */
enum console_event console_filter(struct console *con, const uint8_t *in, size_t n,
				  uint8_t *out, size_t *out_n);

#endif
