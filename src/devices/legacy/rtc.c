/*
 * MC146818A real-time clock and 128 bytes of CMOS RAM (Motorola MC146818A
 * datasheet; the memory-size bytes follow the IBM PC/AT BIOS layout that
 * SeaBIOS and QEMU keep).
 *
 * The clock is a set of calendar fields valid at one host second; a read
 * first rolls them forward by the host seconds elapsed, through
 * utc_to_sec()/sec_to_utc(). A guest write changes a field in place, so a
 * sequence of writes that passes through an impossible date (31 February
 * on the way from January to March) is not normalised half-way; the next
 * roll-over, or the release of SET, normalises whatever the guest left.
 * The day of the week follows the date: normalising recomputes it.
 *
 * Update-in-progress (register A, UIP) never reads 1: there is no update
 * cycle during which the fields are unstable, and a guest that polls for
 * UIP to clear (Linux's mc146818_get_time(), firmware) reads the time at
 * once. Linux re-reads the seconds around its read-out and retries if they
 * changed, which covers a read that straddles a second.
 *
 * Interrupts are not implemented: IRQ 8 is never raised. Register C still
 * reports what happened since it was last read, computed when it is read:
 * PF if a period of the rate in register A elapsed, UF if a second began,
 * AF if a second began and the time now matches the alarm. So a guest
 * polling register C sees consistent flags; one waiting for IRQ 8 waits.
 * The divider bits of register A are stored and otherwise ignored.
 */
#include "devices/legacy/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/vm.h"

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d

#define A_UIP 0x80
#define A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define A_RATE 0x0f

#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define B_DEFAULT B_24H /* BCD, 24-hour: what PC firmware programs */

#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

#define D_VRT 0x80 /* RAM and time are valid (the battery is fine) */

#define HOUR_PM 0x80
#define ALARM_DONT_CARE 0xc0

/* Memory-size bytes, in the PC/AT CMOS layout. */
#define CMOS_BASE_MEM_LO 0x15 /* KiB below 1 MiB (640) */
#define CMOS_EXT_MEM_LO 0x17  /* KiB from 1 MiB, at most 0xffff */
#define CMOS_EXT_MEM2_LO 0x30 /* the same again, where POST puts it */
#define CMOS_MEM_16M_LO 0x34  /* 64 KiB units from 16 MiB up to 4 GiB */
#define CMOS_MEM_4G_LO 0x5b   /* 64 KiB units above 4 GiB, three bytes */

#define NSEC_PER_SEC 1000000000ull

struct rtc {
	struct vm *vm;

	pthread_mutex_t lock; /* everything below */
	uint8_t index;
	uint8_t cmos[128];  /* RAM and registers A-D; not the clock fields */
	struct tm tm;       /* the clock's fields, as of host second `synced` */
	int64_t synced;
	uint64_t c_read_ns; /* monotonic time of the last read of register C */
	int64_t c_read_sec; /* and the host second it fell in */
};

static int64_t host_sec(void)
{
	return (int64_t)(clock_wall_ns() / NSEC_PER_SEC);
}

/* Adds `seconds` to the fields and brings them back into range. */
static void normalise(struct rtc *r, int64_t seconds)
{
	struct tm tm = r->tm;
	sec_to_utc(utc_to_sec(&tm) + seconds, &tm);
	/* The chip counts years 0000-9999 (with the century byte): stay there. */
	if (tm.tm_year < -1900)
		tm.tm_year = -1900;
	if (tm.tm_year > 9999 - 1900)
		tm.tm_year = 9999 - 1900;
	r->tm = tm;
}

/* Rolls the fields forward to the current host second, unless SET holds them. */
static void advance(struct rtc *r)
{
	int64_t now = host_sec();

	if ((r->cmos[REG_B] & B_SET) || now == r->synced)
		return;
	normalise(r, now - r->synced);
	r->synced = now;
}

static uint8_t encode(const struct rtc *r, int v)
{
	unsigned u = (unsigned)v; /* fields are never negative: see normalise() */

	if (r->cmos[REG_B] & B_DM_BINARY)
		return (uint8_t)u;
	return (uint8_t)(((u / 10) % 10) << 4 | (u % 10));
}

static int decode(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hour(const struct rtc *r, int h)
{
	if (r->cmos[REG_B] & B_24H)
		return encode(r, h);
	return (uint8_t)(encode(r, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
	int h;

	if (r->cmos[REG_B] & B_24H)
		return decode(r, v);
	h = decode(r, v & (uint8_t)~HOUR_PM) % 12;
	return (v & HOUR_PM) ? h + 12 : h;
}

static int full_year(const struct rtc *r)
{
	return r->tm.tm_year + 1900;
}

static uint8_t read_clock(struct rtc *r, unsigned reg)
{
	advance(r);
	switch (reg) {
	case REG_SEC:
		return encode(r, r->tm.tm_sec);
	case REG_MIN:
		return encode(r, r->tm.tm_min);
	case REG_HOUR:
		return encode_hour(r, r->tm.tm_hour);
	case REG_WDAY:
		return encode(r, r->tm.tm_wday + 1); /* 1 is Sunday */
	case REG_MDAY:
		return encode(r, r->tm.tm_mday);
	case REG_MON:
		return encode(r, r->tm.tm_mon + 1);
	case REG_YEAR:
		return encode(r, full_year(r) % 100);
	default: /* RTC_CENTURY_INDEX */
		return encode(r, full_year(r) / 100);
	}
}

static void write_clock(struct rtc *r, unsigned reg, uint8_t v)
{
	advance(r);
	switch (reg) {
	case REG_SEC:
		r->tm.tm_sec = decode(r, v);
		break;
	case REG_MIN:
		r->tm.tm_min = decode(r, v);
		break;
	case REG_HOUR:
		r->tm.tm_hour = decode_hour(r, v);
		break;
	case REG_WDAY:
		r->tm.tm_wday = decode(r, v) - 1;
		break;
	case REG_MDAY:
		r->tm.tm_mday = decode(r, v);
		break;
	case REG_MON:
		r->tm.tm_mon = decode(r, v) - 1;
		break;
	case REG_YEAR:
		r->tm.tm_year = full_year(r) / 100 * 100 + decode(r, v) - 1900;
		break;
	default: /* RTC_CENTURY_INDEX */
		r->tm.tm_year = decode(r, v) * 100 + full_year(r) % 100 - 1900;
		break;
	}
}

static bool is_clock(unsigned reg)
{
	switch (reg) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MON:
	case REG_YEAR:
	case RTC_CENTURY_INDEX:
		return true;
	default:
		return false;
	}
}

static uint64_t periodic_ns(unsigned rate)
{
	/* Rates 1 and 2 give 256 and 128 Hz, as 8 and 9 do (MC146818A rate table). */
	unsigned hz = rate <= 2 ? 256u >> (rate - 1) : 32768u >> (rate - 1);

	return NSEC_PER_SEC / hz;
}

static bool alarm_field_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == now;
}

static bool alarm_matches(struct rtc *r)
{
	return alarm_field_matches(r->cmos[REG_SEC_ALARM], read_clock(r, REG_SEC)) &&
	       alarm_field_matches(r->cmos[REG_MIN_ALARM], read_clock(r, REG_MIN)) &&
	       alarm_field_matches(r->cmos[REG_HOUR_ALARM], read_clock(r, REG_HOUR));
}

/* Register C: the flags raised since the last read, which clears them. */
static uint8_t read_c(struct rtc *r)
{
	uint64_t now_ns = clock_monotonic_ns();
	int64_t now_sec = host_sec();
	unsigned rate = r->cmos[REG_A] & A_RATE;
	uint8_t c = 0;

	if (rate) {
		uint64_t period = periodic_ns(rate);

		if (now_ns / period != r->c_read_ns / period)
			c |= C_PF;
	}
	if (!(r->cmos[REG_B] & B_SET) && now_sec != r->c_read_sec) {
		c |= C_UF;
		if (alarm_matches(r))
			c |= C_AF;
	}
	/* PIE, AIE and UIE sit at the bit positions of PF, AF and UF. */
	if (c & r->cmos[REG_B] & (C_PF | C_AF | C_UF))
		c |= C_IRQF;
	r->c_read_ns = now_ns;
	r->c_read_sec = now_sec;
	return c;
}

static uint8_t read_reg(struct rtc *r, unsigned reg)
{
	if (is_clock(reg))
		return read_clock(r, reg);
	switch (reg) {
	case REG_A:
		return r->cmos[REG_A] & (uint8_t)~A_UIP;
	case REG_C:
		return read_c(r);
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[reg];
	}
}

static void write_b(struct rtc *r, uint8_t v)
{
	bool was_set = r->cmos[REG_B] & B_SET;

	if (v & B_SET) {
		advance(r); /* freeze the fields at the current time */
		v &= (uint8_t)~B_UIE; /* setting SET clears UIE (MC146818A, register B) */
	}
	r->cmos[REG_B] = v;
	/* The clock restarts from what the guest set, counting from now. */
	if (was_set && !(v & B_SET)) {
		normalise(r, 0);
		r->synced = host_sec();
	}
}

static void write_reg(struct rtc *r, unsigned reg, uint8_t v)
{
	if (is_clock(reg)) {
		write_clock(r, reg, v);
		return;
	}
	switch (reg) {
	case REG_A:
		r->cmos[REG_A] = v & (uint8_t)~A_UIP;
		break;
	case REG_B:
		write_b(r, v);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->cmos[reg] = v;
		break;
	}
}

static int rtc_io(void *opaque, struct vcpu *vcpu, uint64_t offset, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < size; i++) {
		if (offset + i == 0) {
			/* Bit 7 masks NMIs on a PC; there is no NMI source to mask. */
			if (is_write)
				r->index = data[i] & 0x7f;
			else
				data[i] = 0xff; /* the index register is write-only */
		} else if (is_write) {
			write_reg(r, r->index, data[i]);
		} else {
			data[i] = read_reg(r, r->index);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void put16(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void set_memory_size(struct rtc *r, uint64_t below_4g, uint64_t above_4g)
{
	uint64_t ext = below_4g > 1 * MiB ? (below_4g - 1 * MiB) / KiB : 0;
	uint64_t mem16 = below_4g > 16 * MiB ? (below_4g - 16 * MiB) / (64 * KiB) : 0;
	uint64_t high = above_4g / (64 * KiB);

	put16(&r->cmos[CMOS_BASE_MEM_LO], 640);
	put16(&r->cmos[CMOS_EXT_MEM_LO], MIN(ext, 0xffff));
	put16(&r->cmos[CMOS_EXT_MEM2_LO], MIN(ext, 0xffff));
	put16(&r->cmos[CMOS_MEM_16M_LO], MIN(mem16, 0xffff));
	high = MIN(high, 0xffffff);
	r->cmos[CMOS_MEM_4G_LO] = (uint8_t)high;
	r->cmos[CMOS_MEM_4G_LO + 1] = (uint8_t)(high >> 8);
	r->cmos[CMOS_MEM_4G_LO + 2] = (uint8_t)(high >> 16);
}

int rtc_create(struct vm *vm, uint64_t ram_below_4g, uint64_t ram_above_4g, struct rtc **out)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->vm = vm;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[REG_A] = A_DEFAULT;
	r->cmos[REG_B] = B_DEFAULT;
	set_memory_size(r, ram_below_4g, ram_above_4g);
	r->synced = host_sec();
	sec_to_utc(r->synced, &r->tm);
	r->c_read_ns = clock_monotonic_ns();
	r->c_read_sec = r->synced;

	ret = iobus_register(&vm->pio, RTC_INDEX_PORT, 2, IOBUS_W1 | IOBUS_W2, rtc_io, r, "rtc");
	if (ret) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	iobus_unregister(&r->vm->pio, RTC_INDEX_PORT);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
