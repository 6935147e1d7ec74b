/*
 * The MC146818 clock and CMOS RAM through ports 0x70/0x71 of a hand-made
 * VM: the time is the host's (UTC) in BCD or binary, 24 or 12 hours;
 * Linux's read-out never waits for an update in progress; the time a
 * guest sets is kept and keeps running; the RAM keeps what it is given
 * and carries the memory sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/rtc.h"
#include "fake_vm.h"
#include "util/util.h"
#include "vmm/iobus.h"

/* As in Linux's include/linux/mc146818rtc.h. */
#define RTC_SECONDS 0
#define RTC_SECONDS_ALARM 1
#define RTC_MINUTES 2
#define RTC_MINUTES_ALARM 3
#define RTC_HOURS 4
#define RTC_HOURS_ALARM 5
#define RTC_DAY_OF_WEEK 6
#define RTC_DAY_OF_MONTH 7
#define RTC_MONTH 8
#define RTC_YEAR 9
#define RTC_FREQ_SELECT 10
#define RTC_CONTROL 11
#define RTC_INTR_FLAGS 12
#define RTC_VALID 13
#define RTC_UIP 0x80
#define RTC_DIV_RESET2 0x70
#define RTC_SET 0x80
#define RTC_PIE 0x40
#define RTC_AIE 0x20
#define RTC_UIE 0x10
#define RTC_DM_BINARY 0x04
#define RTC_24H 0x02
#define RTC_IRQF 0x80
#define RTC_PF 0x40
#define RTC_AF 0x20
#define RTC_UF 0x10
#define RTC_VRT 0x80

#define CENTURY RTC_CENTURY_INDEX
#define BELOW_4G (3 * GiB)
#define ABOVE_4G (5 * GiB)

struct fixture {
	struct fake_vm fv;
	struct rtc *rtc;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fake_vm_init(&f->fv, 0))
		return -1;
	if (rtc_create(&f->fv.vm, BELOW_4G, ABOVE_4G, &f->rtc))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* The clock never interrupts (documented). */
	assert_int_equal(f->fv.irq_changes[RTC_IRQ], 0);
	rtc_destroy(f->rtc);
	fake_vm_destroy(&f->fv);
	free(f);
	return 0;
}

static uint8_t cmos_read(struct fixture *f, uint8_t index)
{
	fake_vm_out(&f->fv, RTC_INDEX_PORT, index, 1);
	return (uint8_t)fake_vm_in(&f->fv, RTC_DATA_PORT, 1);
}

static void cmos_write(struct fixture *f, uint8_t index, uint8_t v)
{
	fake_vm_out(&f->fv, RTC_INDEX_PORT, index, 1);
	fake_vm_out(&f->fv, RTC_DATA_PORT, v, 1);
}

/* The host second, from the clock the device uses. */
static time_t host_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static time_t wait_next_second(void)
{
	time_t t = host_sec(), now;

	while ((now = host_sec()) == t)
		usleep(1000);
	return now;
}

static int bcd2bin(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t bin2bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

/*
 * mc146818_get_time() with the FADT naming the century byte: read the
 * seconds, retry while UIP is set or the seconds moved. Returns how many
 * attempts it took; *tm gets the time and *wday the day-of-week register.
 */
static unsigned linux_get_time(struct fixture *f, struct tm *tm, int *wday)
{
	uint8_t sec, min, hour, mday, mon, year, century, ctrl, dow;
	unsigned attempts = 0;
	bool retry;

	do {
		attempts++;
		assert_true(attempts < 5);
		sec = cmos_read(f, RTC_SECONDS);
		/* It would mdelay(1) and try again: it must never need to. */
		assert_false(cmos_read(f, RTC_FREQ_SELECT) & RTC_UIP);
		if (sec != cmos_read(f, RTC_SECONDS)) {
			retry = true;
			continue;
		}
		min = cmos_read(f, RTC_MINUTES);
		hour = cmos_read(f, RTC_HOURS);
		mday = cmos_read(f, RTC_DAY_OF_MONTH);
		mon = cmos_read(f, RTC_MONTH);
		year = cmos_read(f, RTC_YEAR);
		century = cmos_read(f, CENTURY);
		dow = cmos_read(f, RTC_DAY_OF_WEEK);
		ctrl = cmos_read(f, RTC_CONTROL);
		retry = cmos_read(f, RTC_FREQ_SELECT) & RTC_UIP;
		retry |= sec != cmos_read(f, RTC_SECONDS);
	} while (retry);

	assert_true(ctrl & RTC_24H);
	if (!(ctrl & RTC_DM_BINARY)) {
		sec = (uint8_t)bcd2bin(sec);
		min = (uint8_t)bcd2bin(min);
		hour = (uint8_t)bcd2bin(hour);
		mday = (uint8_t)bcd2bin(mday);
		mon = (uint8_t)bcd2bin(mon);
		year = (uint8_t)bcd2bin(year);
		century = (uint8_t)bcd2bin(century);
		dow = (uint8_t)bcd2bin(dow);
	}
	*tm = (struct tm){
		.tm_sec = sec, .tm_min = min, .tm_hour = hour, .tm_mday = mday,
		.tm_mon = mon - 1, .tm_year = century * 100 + year - 1900,
	};
	if (wday)
		*wday = dow;
	return attempts;
}

/* The clock agrees with the host within the seconds the read-out took. */
static void expect_host_time(struct fixture *f)
{
	time_t before = host_sec(), after, t;
	struct tm tm, host;
	int wday;

	linux_get_time(f, &tm, &wday);
	after = host_sec();
	t = timegm(&tm);
	assert_true(t >= before && t <= after);
	gmtime_r(&t, &host);
	assert_int_equal(wday, host.tm_wday + 1);
}

static uint8_t encode(struct fixture *f, int v)
{
	return (cmos_read(f, RTC_CONTROL) & RTC_DM_BINARY) ? (uint8_t)v : bin2bcd(v);
}

/* The field writes of mc146818_set_time(), for a year with its century. */
static void write_fields(struct fixture *f, int year, int mon, int mday, int hour, int min,
			 int sec)
{
	cmos_write(f, RTC_YEAR, encode(f, year % 100));
	cmos_write(f, RTC_MONTH, encode(f, mon));
	cmos_write(f, RTC_DAY_OF_MONTH, encode(f, mday));
	cmos_write(f, RTC_HOURS, encode(f, hour));
	cmos_write(f, RTC_MINUTES, encode(f, min));
	cmos_write(f, RTC_SECONDS, encode(f, sec));
	cmos_write(f, CENTURY, encode(f, year / 100));
}

/* mc146818_set_time(): SET and the divider held while the fields change. */
static void linux_set_time(struct fixture *f, int year, int mon, int mday, int hour, int min,
			   int sec)
{
	uint8_t ctrl = cmos_read(f, RTC_CONTROL), freq;

	cmos_write(f, RTC_CONTROL, ctrl | RTC_SET);
	freq = cmos_read(f, RTC_FREQ_SELECT);
	cmos_write(f, RTC_FREQ_SELECT, freq | RTC_DIV_RESET2);
	write_fields(f, year, mon, mday, hour, min, sec);
	cmos_write(f, RTC_CONTROL, ctrl);
	cmos_write(f, RTC_FREQ_SELECT, freq);
}

static void expect_time(struct fixture *f, int year, int mon, int mday, int hour, int min,
			int sec, int slack)
{
	struct tm want = {
		.tm_sec = sec, .tm_min = min, .tm_hour = hour, .tm_mday = mday,
		.tm_mon = mon - 1, .tm_year = year - 1900,
	}, tm;
	time_t w = timegm(&want), t;

	linux_get_time(f, &tm, NULL);
	t = timegm(&tm);
	if (t < w || t > w + slack)
		fail_msg("clock reads %04d-%02d-%02d %02d:%02d:%02d, want %04d-%02d-%02d "
			 "%02d:%02d:%02d (+%d s)", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, year, mon, mday, hour, min, sec, slack);
}

static void test_host_time_bcd(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, RTC_CONTROL), RTC_24H);
	assert_int_equal(cmos_read(f, RTC_FREQ_SELECT), 0x26);
	assert_int_equal(cmos_read(f, RTC_VALID), RTC_VRT);
	expect_host_time(f);
	/* The century byte is BCD 20 for a while yet. */
	assert_int_equal(cmos_read(f, CENTURY), 0x20);
}

static void test_host_time_binary_12h(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, RTC_CONTROL, RTC_DM_BINARY | RTC_24H);
	expect_host_time(f);

	cmos_write(f, RTC_CONTROL, RTC_DM_BINARY);
	for (int tries = 0; tries < 5; tries++) {
		time_t t = host_sec();
		uint8_t hour = cmos_read(f, RTC_HOURS);
		struct tm host;

		if (host_sec() != t)
			continue; /* straddled a second: look again */
		gmtime_r(&t, &host);
		assert_int_equal(hour & 0x7f, host.tm_hour % 12 ? host.tm_hour % 12 : 12);
		assert_int_equal(!!(hour & 0x80), host.tm_hour >= 12);
		return;
	}
	fail_msg("never read the hour within one second");
}

/* A second boundary is crossed: at most one retry, and never for UIP. */
static void test_uip_never_waits(void **state)
{
	struct fixture *f = *state;
	time_t start = host_sec();
	unsigned reads = 0;
	struct tm tm;

	while (host_sec() == start || reads < 100) {
		assert_true(linux_get_time(f, &tm, NULL) <= 2);
		assert_int_equal(cmos_read(f, RTC_FREQ_SELECT) & RTC_UIP, 0);
		reads++;
	}
	/* mc146818_does_rtc_work() and the probe: VRT set, register D bit 6 clear. */
	assert_int_equal(cmos_read(f, RTC_VALID), RTC_VRT);
}

static void test_set_time(void **state)
{
	struct fixture *f = *state;

	linux_set_time(f, 2001, 2, 3, 4, 5, 6);
	expect_time(f, 2001, 2, 3, 4, 5, 6, 2);
	assert_int_equal(cmos_read(f, RTC_DAY_OF_WEEK), 7); /* a Saturday */
	assert_int_equal(cmos_read(f, RTC_CONTROL), RTC_24H);
	assert_int_equal(cmos_read(f, RTC_FREQ_SELECT), 0x26);

	/* Binary mode; the fields stay as written while SET is held. */
	cmos_write(f, RTC_CONTROL, RTC_DM_BINARY | RTC_24H | RTC_SET);
	write_fields(f, 2099, 12, 31, 23, 59, 59);
	wait_next_second();
	assert_int_equal(cmos_read(f, RTC_SECONDS), 59);
	assert_int_equal(cmos_read(f, RTC_HOURS), 23);
	/* Released, it counts on from there: into the next century. */
	cmos_write(f, RTC_CONTROL, RTC_DM_BINARY | RTC_24H);
	wait_next_second();
	expect_time(f, 2100, 1, 1, 0, 0, 0, 1);
	assert_int_equal(cmos_read(f, CENTURY), 21);
	assert_int_equal(cmos_read(f, RTC_DAY_OF_WEEK), 6); /* 2100-01-01: a Friday */
}

/* Without SET, fields change one by one; an impossible date in between is not
 * normalised while the guest is still writing. */
static void test_set_fields_one_by_one(void **state)
{
	struct fixture *f = *state;

	for (int tries = 0; tries < 5; tries++) {
		time_t t = host_sec();

		cmos_write(f, CENTURY, 0x20);
		cmos_write(f, RTC_YEAR, 0x24);
		cmos_write(f, RTC_MONTH, 0x01);
		cmos_write(f, RTC_DAY_OF_MONTH, 0x31);
		cmos_write(f, RTC_HOURS, 0x12);
		cmos_write(f, RTC_MINUTES, 0x00);
		cmos_write(f, RTC_SECONDS, 0x00);
		cmos_write(f, RTC_MONTH, 0x02); /* 31 February, for a moment */
		cmos_write(f, RTC_DAY_OF_MONTH, 0x28);
		if (host_sec() != t)
			continue;
		expect_time(f, 2024, 2, 28, 12, 0, 0, 2);
		/* 12-hour BCD writes: 11 PM. */
		cmos_write(f, RTC_CONTROL, 0);
		cmos_write(f, RTC_HOURS, 0x80 | 0x11);
		assert_int_equal(cmos_read(f, RTC_HOURS), 0x80 | 0x11);
		cmos_write(f, RTC_CONTROL, RTC_24H);
		assert_int_equal(cmos_read(f, RTC_HOURS), 0x23);
		return;
	}
	fail_msg("never wrote the fields within one second");
}

static void test_registers(void **state)
{
	struct fixture *f = *state;
	uint64_t t0, t1, period = 500000000ull;
	uint8_t c;

	/* UIP is read-only (and 0); the rest of A is kept. */
	cmos_write(f, RTC_FREQ_SELECT, 0xff);
	assert_int_equal(cmos_read(f, RTC_FREQ_SELECT), 0x7f);
	/* C and D are read-only. */
	cmos_write(f, RTC_VALID, 0);
	assert_int_equal(cmos_read(f, RTC_VALID), RTC_VRT);
	cmos_write(f, RTC_INTR_FLAGS, 0xff);

	/* Periodic flag: 1024 Hz, and 2 ms later it has fired; with PIE, IRQF. */
	cmos_write(f, RTC_FREQ_SELECT, 0x26);
	cmos_write(f, RTC_CONTROL, RTC_24H | RTC_PIE);
	cmos_read(f, RTC_INTR_FLAGS);
	usleep(2000);
	c = cmos_read(f, RTC_INTR_FLAGS);
	assert_int_equal(c & (RTC_PF | RTC_IRQF), RTC_PF | RTC_IRQF);
	/* Read-clear: at 2 Hz a second read finds nothing new... */
	cmos_write(f, RTC_FREQ_SELECT, 0x2f);
	t0 = clock_monotonic_ns();
	cmos_read(f, RTC_INTR_FLAGS);
	c = cmos_read(f, RTC_INTR_FLAGS);
	t1 = clock_monotonic_ns();
	if (t0 / period == t1 / period)
		assert_int_equal(c & RTC_PF, 0);
	/* ...and with the rate at 0 never anything. */
	cmos_write(f, RTC_FREQ_SELECT, 0x20);
	usleep(2000);
	assert_int_equal(cmos_read(f, RTC_INTR_FLAGS) & RTC_PF, 0);

	/* Update-ended and (a don't-care) alarm: once per second. */
	cmos_write(f, RTC_SECONDS_ALARM, 0xc0);
	cmos_write(f, RTC_MINUTES_ALARM, 0xff);
	cmos_write(f, RTC_HOURS_ALARM, 0xc0);
	cmos_write(f, RTC_CONTROL, RTC_24H | RTC_UIE | RTC_AIE);
	cmos_read(f, RTC_INTR_FLAGS);
	wait_next_second();
	assert_int_equal(cmos_read(f, RTC_INTR_FLAGS), RTC_IRQF | RTC_AF | RTC_UF);
	/* Alarm registers read back; SET clears UIE. */
	assert_int_equal(cmos_read(f, RTC_MINUTES_ALARM), 0xff);
	cmos_write(f, RTC_CONTROL, RTC_24H | RTC_UIE | RTC_SET);
	assert_int_equal(cmos_read(f, RTC_CONTROL), RTC_24H | RTC_SET);
	cmos_write(f, RTC_CONTROL, RTC_24H);
}

static void test_nvram(void **state)
{
	struct fixture *f = *state;
	uint8_t v, w[4] = { 0x41, 0xa7 };

	for (unsigned i = 0x0e; i < 0x80; i++) {
		if (i != CENTURY)
			cmos_write(f, (uint8_t)i, (uint8_t)(i * 3 + 1));
	}
	for (unsigned i = 0x0e; i < 0x80; i++) {
		if (i != CENTURY)
			assert_int_equal(cmos_read(f, (uint8_t)i), (uint8_t)(i * 3 + 1));
	}
	/* Bit 7 of the index masks NMIs; it does not select another byte. */
	assert_int_equal(cmos_read(f, 0x80 | 0x40), 0x40 * 3 + 1);
	/* The index register is write-only. */
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, RTC_INDEX_PORT, &v, 1, false), 0);
	assert_int_equal(v, 0xff);
	/* A word write sets the index and then writes the data port. */
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, RTC_INDEX_PORT, w, 2, true), 0);
	assert_int_equal(cmos_read(f, 0x41), 0xa7);
	assert_int_equal(iobus_access(&f->fv.vm.pio, NULL, RTC_INDEX_PORT, w, 4, false), -ENOENT);
}

static void test_memory_size(void **state)
{
	struct fixture *f = *state;
	struct rtc *other;

	/* 3 GiB below 4 GiB, 5 GiB above. */
	assert_int_equal(cmos_read(f, 0x15) | cmos_read(f, 0x16) << 8, 640);
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 0xffff);
	assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 0xffff);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, (3 * 1024 - 16) * 16);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 | cmos_read(f, 0x5d) << 16,
			 5 * 1024 * 16);

	/* 64 MiB and nothing above 4 GiB. */
	rtc_destroy(f->rtc);
	assert_int_equal(rtc_create(&f->fv.vm, 64 * MiB, 0, &f->rtc), 0);
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 63 * 1024);
	assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 63 * 1024);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, 48 * 16);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) | cmos_read(f, 0x5d), 0);

	/* The ports are taken once. */
	assert_int_equal(rtc_create(&f->fv.vm, 0, 0, &other), -EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_time_bcd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_time_binary_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uip_never_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_fields_one_by_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nvram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_size, setup, teardown),
	};

	return cmocka_run_group_tests_name("legacy_rtc", tests, NULL, NULL);
}
