/*
 * The host side of a guest's serial console: shale's standard input, in raw
 * mode when it is a terminal, with an escape sequence to leave: Ctrl-A x
 * quits, Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
 *
 * Input the guest does not take yet waits here. A pipe or file is read no
 * faster than the guest takes it, so none of it is lost however early it
 * comes; a terminal is read all the time, for the escape, and what the
 * guest leaves beyond CONSOLE_PENDING_MAX bytes is dropped, as a real line
 * drops what a stalled receiver does not take.
 */
#ifndef SHALE_VMM_CONSOLE_H
#define SHALE_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/*
 * Raw input: keys, Ctrl-C included, go through as bytes. Output processing
 * stays as it is (a guest's serial driver sends CR LF itself).
 */
void console_termios_raw(struct termios *t);

#define CONSOLE_PENDING_MAX 4096

/* Offers input to the guest; returns how many bytes it took. */
typedef size_t (*console_input_fn)(void *opaque, const uint8_t *buf, size_t len);

struct console {
	int fd;
	bool tty;
	bool raw; /* the terminal is in raw mode and must be restored */
	struct termios saved;
	bool escape;
	console_input_fn input;
	void *opaque;
	int room_fd; /* readable when the guest may take more (not owned) */
	size_t pending_len;
	uint8_t pending[CONSOLE_PENDING_MAX];
};

/*
 * Takes over `fd` (raw mode if it is a terminal). `input` offers bytes to
 * the guest; `room_fd` becomes readable once the guest may take more after
 * `input` took less than it was offered (see serial_input_fd()).
 */
void console_open(struct console *con, int fd, console_input_fn input, void *opaque,
		  int room_fd);
/*
 * Points the console at another guest device (a rebooted guest's): input
 * read earlier and not taken yet is offered to it first, and waits for its
 * room_fd if it is not taken.
 */
void console_attach(struct console *con, void *opaque, int room_fd);
/* Restores the terminal. Safe to call twice. */
void console_close(struct console *con);

enum console_event {
	CONSOLE_OK,
	CONSOLE_QUIT, /* the user typed Ctrl-A x */
	CONSOLE_EOF,  /* no more input: stop polling the fd */
};
/* Reads what is available and passes it to the guest. */
enum console_event console_read(struct console *con);
/*
 * Whether to poll con->fd for console_read(): not while earlier input from
 * a pipe or file still waits for the guest.
 */
bool console_wants_read(const struct console *con);
/* Whether input waits for the guest: poll room_fd, then console_retry(). */
bool console_pending(const struct console *con);
/*
 * Input from elsewhere (a control socket's console client), raw: no
 * escape. Waits with the rest for the guest; beyond CONSOLE_PENDING_MAX
 * it is dropped, as a terminal's is.
 */
void console_feed(struct console *con, const uint8_t *buf, size_t len);
/* Offers the waiting input again (after room_fd became readable). */
void console_retry(struct console *con);

/* Pure escape handling, for tests: filters `in` into `out`, returns the event. */
enum console_event console_filter(struct console *con, const uint8_t *in, size_t n,
				  uint8_t *out, size_t *out_n);

#endif
