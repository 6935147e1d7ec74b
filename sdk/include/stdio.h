/*
 * shale guest libc: <stdio.h>, output only.
 *
 * stdout and stderr both go to the console. stdout is line buffered: a
 * printf() whose output contains a newline ends in one console hypercall,
 * however many lines it holds; exit() flushes the rest. stderr flushes
 * after every call (stdout's pending bytes first, to keep the order).
 *
 * Conversions: d i u x X o c s p %, flags - 0 + space #, width, precision
 * (both also as *), length hh h l ll z j t. No floating point.
 */
#ifndef SHALE_STDIO_H
#define SHALE_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct shale_file FILE;
extern FILE *const stdout;
extern FILE *const stderr;

#define SHALE_PRINTF(f, a) __attribute__((format(printf, f, a)))

int printf(const char *restrict fmt, ...) SHALE_PRINTF(1, 2);
int vprintf(const char *restrict fmt, va_list ap) SHALE_PRINTF(1, 0);
int fprintf(FILE *restrict f, const char *restrict fmt, ...) SHALE_PRINTF(2, 3);
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
	SHALE_PRINTF(2, 0);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
	SHALE_PRINTF(3, 4);
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
	      va_list ap) SHALE_PRINTF(3, 0);

int putchar(int c);
int puts(const char *s);
int fputc(int c, FILE *f);
int fputs(const char *restrict s, FILE *restrict f);
int fflush(FILE *f);

#endif /* SHALE_STDIO_H */
