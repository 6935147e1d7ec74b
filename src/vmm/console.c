#include "vmm/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

static struct console *active;

void console_termios_raw(struct termios *t)
{
	t->c_iflag &= ~(unsigned)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t->c_lflag &= ~(unsigned)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(unsigned)(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

static void restore_at_exit(void)
{
	if (active)
		console_close(active);
}

void console_open(struct console *con, int fd, console_input_fn input, void *opaque,
		  int room_fd)
{
	static bool registered;
	struct termios raw;

	memset(con, 0, sizeof(*con));
	con->fd = fd;
	con->input = input;
	con->opaque = opaque;
	con->room_fd = room_fd;
	con->tty = isatty(fd);
	if (!con->tty || tcgetattr(fd, &con->saved))
		return;
	raw = con->saved;
	console_termios_raw(&raw);
	if (tcsetattr(fd, TCSANOW, &raw))
		return;
	con->raw = true;
	active = con;
	if (!registered) {
		atexit(restore_at_exit);
		registered = true;
	}
}

void console_close(struct console *con)
{
	if (con->raw)
		tcsetattr(con->fd, TCSANOW, &con->saved);
	con->raw = false;
	if (active == con)
		active = NULL;
}

enum console_event console_filter(struct console *con, const uint8_t *in, size_t n,
				  uint8_t *out, size_t *out_n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (con->escape) {
			con->escape = false;
			if (c == 'x' || c == 'X') {
				*out_n = o;
				return CONSOLE_QUIT;
			}
			if (c != CONSOLE_ESCAPE)
				out[o++] = CONSOLE_ESCAPE; /* not an escape: pass both on */
			out[o++] = c;
		} else if (c == CONSOLE_ESCAPE) {
			con->escape = true;
		} else {
			out[o++] = c;
		}
	}
	*out_n = o;
	return CONSOLE_OK;
}

/* Offers buf to the guest behind what already waits; keeps what it leaves. */
static void deliver(struct console *con, const uint8_t *buf, size_t len)
{
	size_t taken = 0, keep;

	if (!con->pending_len)
		taken = con->input(con->opaque, buf, len);
	keep = MIN(len - taken, sizeof(con->pending) - con->pending_len);
	memcpy(con->pending + con->pending_len, buf + taken, keep);
	con->pending_len += keep;
}

enum console_event console_read(struct console *con)
{
	uint8_t in[256], out[512];
	enum console_event ev = CONSOLE_OK;
	size_t n_out;
	ssize_t n;

	do
		n = read(con->fd, in, sizeof(in));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return CONSOLE_OK;
	if (n <= 0)
		return CONSOLE_EOF;
	/* The escape only works on a terminal: piped input is passed as is. */
	if (!con->tty) {
		deliver(con, in, (size_t)n);
		return CONSOLE_OK;
	}
	ev = console_filter(con, in, (size_t)n, out, &n_out);
	if (n_out)
		deliver(con, out, n_out);
	return ev;
}

void console_feed(struct console *con, const uint8_t *buf, size_t len)
{
	deliver(con, buf, len);
}

void console_attach(struct console *con, void *opaque, int room_fd)
{
	size_t taken;

	con->opaque = opaque;
	con->room_fd = room_fd;
	if (!con->pending_len)
		return;
	taken = con->input(con->opaque, con->pending, con->pending_len);
	memmove(con->pending, con->pending + taken, con->pending_len - taken);
	con->pending_len -= taken;
}

bool console_wants_read(const struct console *con)
{
	return con->tty || !con->pending_len;
}

bool console_pending(const struct console *con)
{
	return con->pending_len != 0;
}

void console_retry(struct console *con)
{
	uint64_t count;
	size_t taken;

	/* Reset the eventfd first: room made after this read signals again. */
	if (read(con->room_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	if (!con->pending_len)
		return;
	taken = con->input(con->opaque, con->pending, con->pending_len);
	memmove(con->pending, con->pending + taken, con->pending_len - taken);
	con->pending_len -= taken;
}
