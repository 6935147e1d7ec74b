/* shale guest libc: <stdlib.h> apart from the allocator. */
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <shale/guest.h>

/* strtol and strtoul share the long long code, as on every LP64 target. */
_Static_assert(sizeof(long) == sizeof(long long), "LP64");

_Noreturn void exit(int status)
{
	fflush(stdout);
	shale_exit(status);
}

_Noreturn void abort(void)
{
	static const char msg[] = "abort()\n";

	fflush(stdout);
	shale_console_write(msg, sizeof(msg) - 1);
	shale_exit(134); /* 128 + SIGABRT, as a shell would report it */
}

_Noreturn void shale_assert_fail(const char *expr, const char *file, int line,
				 const char *func)
{
	fprintf(stderr, "%s:%d: %s: assertion '%s' failed\n", file, line, func,
		expr);
	abort();
}

static int digit_value(int c)
{
	if (isdigit(c))
		return c - '0';
	if (isalpha(c))
		return tolower(c) - 'a' + 10;
	return INT_MAX;
}

/*
 * The common part of the strto* family (C11 7.22.1.4): the magnitude, with
 * the sign and an overflow flag beside it.
 */
static unsigned long long parse(const char *s, char **end, int base,
				bool *neg, bool *overflow)
{
	const char *p = s, *digits;
	unsigned long long v = 0;

	*neg = false;
	*overflow = false;
	while (isspace(*p))
		p++;
	if (*p == '+' || *p == '-')
		*neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' &&
	    tolower(p[1]) == 'x' && isxdigit(p[2])) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	if (base < 2 || base > 36) {
		if (end)
			*end = (char *)s;
		return 0;
	}

	for (digits = p; digit_value(*p) < base; p++) {
		unsigned int d = digit_value(*p);

		if (v > (ULLONG_MAX - d) / base)
			*overflow = true;
		else
			v = v * base + d;
	}
	if (end)
		*end = (char *)(p == digits ? s : p);
	return v;
}

unsigned long long strtoull(const char *restrict s, char **restrict end,
			    int base)
{
	bool neg, overflow;
	unsigned long long v = parse(s, end, base, &neg, &overflow);

	if (overflow)
		return ULLONG_MAX;
	return neg ? -v : v;
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
	bool neg, overflow;
	unsigned long long v = parse(s, end, base, &neg, &overflow);

	if (neg) {
		if (overflow || v > (unsigned long long)LLONG_MAX + 1)
			return LLONG_MIN;
		return (long long)(0 - v);
	}
	if (overflow || v > LLONG_MAX)
		return LLONG_MAX;
	return v;
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	return strtoll(s, end, base);
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}
