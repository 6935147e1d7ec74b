/*
 * shale guest libc: console output.
 *
 * Each console write is a VM exit of several microseconds, so output
 * collects in one buffer and leaves in one hypercall per newline-bearing
 * call (or when the buffer fills). stderr shares the buffer and flushes at
 * the end of every call, which keeps both streams in order.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <shale/guest.h>

#include "internal.h"

struct shale_file {
	bool unbuffered;
};

static struct shale_file out_file = { .unbuffered = false };
static struct shale_file err_file = { .unbuffered = true };
FILE *const stdout = &out_file;
FILE *const stderr = &err_file;

static char obuf[4096];
static size_t olen;

static void flush_out(void)
{
	size_t done = 0;

	/* On a console error the bytes are dropped: there is nowhere to
	 * report it. */
	while (done < olen) {
		int64_t r = shale_console_write(obuf + done, olen - done);

		if (r <= 0)
			break;
		done += r;
	}
	olen = 0;
}

/* The sink of every stream; CTX points to a "saw a newline" flag. */
static void out_emit(void *ctx, const char *s, size_t n)
{
	bool *newline = ctx;

	if (memchr(s, '\n', n))
		*newline = true;
	while (n) {
		size_t k = sizeof(obuf) - olen;

		if (!k) {
			flush_out();
			k = sizeof(obuf);
		}
		if (k > n)
			k = n;
		memcpy(obuf + olen, s, k);
		olen += k;
		s += k;
		n -= k;
	}
}

static void end_call(FILE *f, bool newline)
{
	if (newline || f->unbuffered)
		flush_out();
}

int fflush(FILE *f)
{
	flush_out();
	return 0;
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	bool newline = false;
	int n = shale_vformat(out_emit, &newline, fmt, ap);

	end_call(f, newline);
	return n;
}

int fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *restrict fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int printf(const char *restrict fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}

int fputs(const char *restrict s, FILE *restrict f)
{
	bool newline = false;

	out_emit(&newline, s, strlen(s));
	end_call(f, newline);
	return 0;
}

int puts(const char *s)
{
	bool newline = true;

	out_emit(&newline, s, strlen(s));
	out_emit(&newline, "\n", 1);
	end_call(stdout, newline);
	return 0;
}

int fputc(int c, FILE *f)
{
	char ch = (char)c;
	bool newline = false;

	out_emit(&newline, &ch, 1);
	end_call(f, newline);
	return (unsigned char)ch;
}

int putchar(int c)
{
	return fputc(c, stdout);
}
