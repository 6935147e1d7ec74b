/*
 * shale guest libc: the printf engine and the string printers.
 *
 * Follows C11 7.21.6.1 for the conversions <stdio.h> lists. Output goes to
 * a sink in runs, so printf() can fill the console buffer directly and
 * snprintf() a caller's array, with no intermediate copy.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum {
	F_LEFT = 1 << 0,  /* '-' */
	F_ZERO = 1 << 1,  /* '0' */
	F_PLUS = 1 << 2,  /* '+' */
	F_SPACE = 1 << 3, /* ' ' */
	F_ALT = 1 << 4,   /* '#' */
};

enum length { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_SIZE, L_MAX, L_PTRDIFF };

struct spec {
	unsigned int flags;
	int width;
	int prec; /* -1: none given */
};

struct out {
	shale_emit_fn *emit;
	void *ctx;
	size_t count;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n) {
		o->emit(o->ctx, s, n);
		o->count += n;
	}
}

static void pad(struct out *o, char c, int n)
{
	char run[16];

	memset(run, c, sizeof(run));
	for (; n > 0; n -= (int)sizeof(run))
		put(o, run, n < (int)sizeof(run) ? (size_t)n : sizeof(run));
}

/* Puts S, N bytes, padded to the field width. */
static void put_field(struct out *o, const struct spec *sp, const char *s,
		      size_t n)
{
	int fill = sp->width > (int)n ? sp->width - (int)n : 0;

	if (!(sp->flags & F_LEFT))
		pad(o, ' ', fill);
	put(o, s, n);
	if (sp->flags & F_LEFT)
		pad(o, ' ', fill);
}

static void put_int(struct out *o, const struct spec *sp, uint64_t v,
		    bool neg, unsigned int base, bool upper, bool is_signed)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char digits[24], prefix[2];
	int nd = 0, np = 0, zeros, len;
	int prec = sp->prec < 0 ? 1 : sp->prec;

	/* Least significant digit first. */
	for (; v; v /= base)
		digits[nd++] = set[v % base];

	if (neg)
		prefix[np++] = '-';
	else if (is_signed && (sp->flags & F_PLUS))
		prefix[np++] = '+';
	else if (is_signed && (sp->flags & F_SPACE))
		prefix[np++] = ' ';
	if ((sp->flags & F_ALT) && base == 16 && nd) {
		prefix[np++] = '0';
		prefix[np++] = upper ? 'X' : 'x';
	}
	/* '#' with %o: the first digit is a zero. */
	if ((sp->flags & F_ALT) && base == 8 && prec <= nd &&
	    (nd == 0 || digits[nd - 1] != '0'))
		prec = nd + 1;

	zeros = prec > nd ? prec - nd : 0;
	len = np + zeros + nd;
	/* '0' pads with zeros after the sign, unless a precision is given. */
	if ((sp->flags & (F_ZERO | F_LEFT)) == F_ZERO && sp->prec < 0 &&
	    sp->width > len) {
		zeros += sp->width - len;
		len = sp->width;
	}

	if (!(sp->flags & F_LEFT))
		pad(o, ' ', sp->width - len);
	put(o, prefix, np);
	pad(o, '0', zeros);
	while (nd)
		put(o, &digits[--nd], 1);
	if (sp->flags & F_LEFT)
		pad(o, ' ', sp->width - len);
}

static int64_t get_signed(enum length len, va_list *ap)
{
	switch (len) {
	case L_CHAR:
		return (signed char)va_arg(*ap, int);
	case L_SHORT:
		return (short)va_arg(*ap, int);
	case L_LONG:
		return va_arg(*ap, long);
	case L_LLONG:
		return va_arg(*ap, long long);
	case L_SIZE:
	case L_PTRDIFF:
		return va_arg(*ap, ptrdiff_t);
	case L_MAX:
		return va_arg(*ap, intmax_t);
	default:
		return va_arg(*ap, int);
	}
}

static uint64_t get_unsigned(enum length len, va_list *ap)
{
	switch (len) {
	case L_CHAR:
		return (unsigned char)va_arg(*ap, unsigned int);
	case L_SHORT:
		return (unsigned short)va_arg(*ap, unsigned int);
	case L_LONG:
		return va_arg(*ap, unsigned long);
	case L_LLONG:
		return va_arg(*ap, unsigned long long);
	case L_SIZE:
	case L_PTRDIFF:
		return va_arg(*ap, size_t);
	case L_MAX:
		return va_arg(*ap, uintmax_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

/* Parses a decimal field width or precision, saturating far above use. */
static int get_num(const char **p)
{
	int n = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++)
		if (n < 1000000)
			n = n * 10 + (**p - '0');
	return n;
}

static const char *parse_spec(const char *p, struct spec *sp,
			      enum length *len, va_list *ap)
{
	sp->flags = 0;
	for (;; p++) {
		if (*p == '-')
			sp->flags |= F_LEFT;
		else if (*p == '0')
			sp->flags |= F_ZERO;
		else if (*p == '+')
			sp->flags |= F_PLUS;
		else if (*p == ' ')
			sp->flags |= F_SPACE;
		else if (*p == '#')
			sp->flags |= F_ALT;
		else
			break;
	}

	if (*p == '*') {
		p++;
		sp->width = va_arg(*ap, int);
		/* A negative width argument is a '-' flag (7.21.6.1p5). */
		if (sp->width < 0) {
			sp->flags |= F_LEFT;
			sp->width = sp->width == INT32_MIN ? 0 : -sp->width;
		}
	} else {
		sp->width = get_num(&p);
	}

	sp->prec = -1;
	if (*p == '.') {
		p++;
		if (*p == '*') {
			p++;
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->prec = -1;
		} else {
			sp->prec = get_num(&p);
		}
	}

	*len = L_INT;
	switch (*p) {
	case 'h':
		*len = p[1] == 'h' ? L_CHAR : L_SHORT;
		p += *len == L_CHAR ? 2 : 1;
		break;
	case 'l':
		*len = p[1] == 'l' ? L_LLONG : L_LONG;
		p += *len == L_LLONG ? 2 : 1;
		break;
	case 'z':
		*len = L_SIZE;
		p++;
		break;
	case 'j':
		*len = L_MAX;
		p++;
		break;
	case 't':
		*len = L_PTRDIFF;
		p++;
		break;
	}
	return p;
}

int shale_vformat(shale_emit_fn *emit, void *ctx, const char *fmt,
		  va_list ap_in)
{
	struct out o = { .emit = emit, .ctx = ctx };
	struct spec sp;
	enum length len;
	va_list ap;

	/* A copy, whose address the parsers can take whatever va_list is. */
	va_copy(ap, ap_in);
	for (;;) {
		const char *p = fmt, *pct, *s;
		int64_t sv;
		char c;

		while (*p && *p != '%')
			p++;
		put(&o, fmt, p - fmt);
		if (!*p)
			break;

		pct = p;
		p = parse_spec(p + 1, &sp, &len, &ap);
		switch (*p) {
		case 'd':
		case 'i':
			sv = get_signed(len, &ap);
			put_int(&o, &sp, sv < 0 ? -(uint64_t)sv : (uint64_t)sv,
				sv < 0, 10, false, true);
			break;
		case 'u':
			put_int(&o, &sp, get_unsigned(len, &ap), false, 10,
				false, false);
			break;
		case 'x':
		case 'X':
			put_int(&o, &sp, get_unsigned(len, &ap), false, 16,
				*p == 'X', false);
			break;
		case 'o':
			put_int(&o, &sp, get_unsigned(len, &ap), false, 8,
				false, false);
			break;
		case 'p':
			s = va_arg(ap, const char *);
			if (!s) {
				put_field(&o, &sp, "(nil)", 5);
				break;
			}
			sp.flags |= F_ALT;
			put_int(&o, &sp, (uintptr_t)s, false, 16, false, false);
			break;
		case 'c':
			c = (char)va_arg(ap, int);
			put_field(&o, &sp, &c, 1);
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put_field(&o, &sp, s,
				  sp.prec < 0 ? strlen(s) : strnlen(s, sp.prec));
			break;
		case '%':
			put(&o, "%", 1);
			break;
		default:
			/* Unknown: print it as written, so the mistake shows. */
			if (!*p) {
				put(&o, pct, p - pct);
				fmt = p;
				continue;
			}
			put(&o, pct, p + 1 - pct);
			break;
		}
		fmt = p + 1;
	}
	va_end(ap);
	return o.count > INT32_MAX ? INT32_MAX : (int)o.count;
}

struct sbuf {
	char *buf;
	size_t size; /* room for bytes, the NUL excluded */
	size_t len;
};

static void sbuf_emit(void *ctx, const char *s, size_t n)
{
	struct sbuf *b = ctx;
	size_t room = b->size - b->len;

	if (n > room)
		n = room;
	if (n) {
		memcpy(b->buf + b->len, s, n);
		b->len += n;
	}
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
	      va_list ap)
{
	struct sbuf b = { .buf = buf, .size = size ? size - 1 : 0 };
	int n = shale_vformat(sbuf_emit, &b, fmt, ap);

	if (size)
		buf[b.len] = '\0';
	return n;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
