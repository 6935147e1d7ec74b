/*
 * Parsers for command-line sizes and durations: what they accept, what
 * they refuse, and where they stop before overflowing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "util/util.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int ret = parse_size(s, &v);

	if (ret)
		fail_msg("parse_size(\"%s\") = %d, want 0", s, ret);
	if (v != want)
		fail_msg("parse_size(\"%s\") gave %llu, want %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

/* A refused input leaves the output alone. */
static void size_bad(const char *s, int want)
{
	uint64_t v = SENTINEL;
	int ret = parse_size(s, &v);

	if (ret != want)
		fail_msg("parse_size(\"%s\") = %d (value %llu), want %d", s, ret,
			 (unsigned long long)v, want);
	assert_int_equal(v, SENTINEL);
}

static void duration_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;
	int ret = parse_duration(s, &v);

	if (ret)
		fail_msg("parse_duration(\"%s\") = %d, want 0", s, ret);
	if (v != want)
		fail_msg("parse_duration(\"%s\") gave %llu, want %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

static void duration_bad(const char *s, int want)
{
	uint64_t v = SENTINEL;
	int ret = parse_duration(s, &v);

	if (ret != want)
		fail_msg("parse_duration(\"%s\") = %d (value %llu), want %d", s, ret,
			 (unsigned long long)v, want);
	assert_int_equal(v, SENTINEL);
}

static void test_size_good(void **state)
{
	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("2k", 2048);
	size_ok("2K", 2048);
	size_ok("64M", 64 * MiB);
	size_ok("64m", 64 * MiB);
	size_ok("64MB", 64 * MiB);
	size_ok("64MiB", 64 * MiB);
	size_ok("64mib", 64 * MiB);
	size_ok("64Mi", 64 * MiB);
	size_ok("1G", GiB);
	size_ok("1gb", GiB);
	size_ok("3T", 3ull << 40);
	size_ok("0G", 0);
	size_ok("007k", 7 * KiB);
	size_ok("18446744073709551615", UINT64_MAX);
	size_ok("16777215T", 16777215ull << 40);
	size_ok("17179869183G", 17179869183ull << 30);
}

static void test_size_junk(void **state)
{
	static const char *const junk[] = {
		"", "k", "M", "-1", "+1", "-0", "1.5G", "1,5G", "0x10", "64X", "64MM", "64MiBB",
		"64 M", "64M ", "1B", "1iB", "1Bi", "64bM", "abc", "1e3", "inf",
	};

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		size_bad(junk[i], -EINVAL);
	size_bad(NULL, -EINVAL);
}

static void test_size_overflow(void **state)
{
	size_bad("18446744073709551616", -ERANGE);
	size_bad("99999999999999999999999", -ERANGE);
	size_bad("16777216T", -ERANGE);
	size_bad("17179869184G", -ERANGE);
	size_bad("17592186044416M", -ERANGE);
	size_bad("18014398509481984k", -ERANGE);
	size_bad("18446744073709551615k", -ERANGE);
}

/*
 * strtoull() skips leading white space and then accepts a sign, so a
 * check of the first character alone lets " -1" through as 2^64 - 1.
 */
static void test_size_negative_after_space(void **state)
{
	size_bad(" -1", -EINVAL);
	size_bad("\t-1", -EINVAL);
	size_bad("\n-64M", -EINVAL);
}

static void test_duration_good(void **state)
{
	duration_ok("0", 0);
	duration_ok("5", 5000000000ull);
	duration_ok("5s", 5000000000ull);
	duration_ok("250ms", 250000000ull);
	duration_ok("100us", 100000ull);
	duration_ok("7ns", 7);
	duration_ok("2m", 120000000000ull);
	duration_ok("1h", 3600000000000ull);
	duration_ok("1.5s", 1500000000ull);
	duration_ok("0.1s", 100000000ull);
	duration_ok(".5s", 500000000ull);
	duration_ok("1e3ms", 1000000000ull);
	duration_ok("0ms", 0);
	/* Near the top: 2^64 ns is about 584 years. */
	duration_ok("5000h", 5000ull * 3600000000000ull);
}

static void test_duration_junk(void **state)
{
	static const char *const junk[] = {
		"", "s", "ms", "-1s", "+1s", " 1s", "1S", "1 s", "1s ", "1sec", "1mss", "5x",
		"1.5.5s", "nan", "nans", "NaN", "abc", "1d",
	};

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		duration_bad(junk[i], -EINVAL);
	duration_bad(NULL, -EINVAL);
}

static void test_duration_overflow(void **state)
{
	uint64_t v = SENTINEL;
	int ret;

	duration_bad("2e10s", -ERANGE);
	duration_ok("1e10s", 10000000000000000000ull);
	duration_bad("18446744073709551616ns", -ERANGE);
	duration_bad("6000000h", -ERANGE);
	/* Not a number a duration starts with. */
	duration_bad("inf", -EINVAL);
	duration_bad("infs", -EINVAL);
	/* strtod() itself overflows here: either error will do. */
	ret = parse_duration("1e400", &v);
	assert_true(ret == -EINVAL || ret == -ERANGE);
	assert_int_equal(v, SENTINEL);
}

/*
 * strtod() skips any white space and reads the sign after it, and a
 * negative double converted to uint64_t is undefined behaviour: such input
 * must be refused.
 */
static void test_duration_negative_after_space(void **state)
{
	duration_bad("\t-1s", -EINVAL);
	duration_bad("\n-5", -EINVAL);
}

static void test_mac_good(void **state)
{
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0x0a, 0xbc, 0xde };
	uint8_t mac[6];

	assert_int_equal(parse_mac("52:54:00:0a:bc:de", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(parse_mac("52:54:0:A:BC:De", mac), 0);
	assert_memory_equal(mac, want, 6);
}

/* Found by fuzz_opts: sscanf's %2x took "-2" as 0xfe, and blanks too. */
static void test_mac_junk(void **state)
{
	static const char *const bad[] = {
		"-2:54:00:12:34:56", "+2:54:00:12:34:56", " 2:54:00:12:34:56",
		"52: 54:00:12:34:56", "52:54:00:12:34:5 ", "52:54:00:12:34:56:", "52:54:00:12:34",
		"52:54:00:12:34:567", "52:54:00:12::56", "52-54-00-12-34-56", "0x2:54:00:12:34:56",
		"01:00:5e:00:00:01" /* multicast */, "",
	};
	uint8_t mac[6] = { 1, 2, 3, 4, 5, 6 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_mac(bad[i], mac) != -EINVAL)
			fail_msg("parse_mac(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(mac[0], 1); /* left alone */
}

/* The C library's timegm()/gmtime_r() are the reference. */
static void utc_matches_libc(int64_t sec)
{
	struct tm want, got;
	time_t t = (time_t)sec;

	assert_non_null(gmtime_r(&t, &want));
	sec_to_utc(sec, &got);
	if (got.tm_year != want.tm_year || got.tm_mon != want.tm_mon ||
	    got.tm_mday != want.tm_mday || got.tm_hour != want.tm_hour ||
	    got.tm_min != want.tm_min || got.tm_sec != want.tm_sec ||
	    got.tm_wday != want.tm_wday || got.tm_yday != want.tm_yday)
		fail_msg("sec_to_utc(%lld): %d-%d-%d %d:%d:%d wday %d yday %d, want "
			 "%d-%d-%d %d:%d:%d wday %d yday %d", (long long)sec, got.tm_year,
			 got.tm_mon, got.tm_mday, got.tm_hour, got.tm_min, got.tm_sec,
			 got.tm_wday, got.tm_yday, want.tm_year, want.tm_mon, want.tm_mday,
			 want.tm_hour, want.tm_min, want.tm_sec, want.tm_wday, want.tm_yday);
	assert_int_equal(utc_to_sec(&got), sec);
}

static void test_utc_round_trip(void **state)
{
	/* Years 0000-9999, the range of the CMOS clock with its century byte. */
	const int64_t lo = -62167219200ll, hi = 253402300799ll;
	static const int64_t edges[] = {
		0, -1, 86399, 86400, 951782400 /* 2000-02-29 */, 4107456000ll /* 2100-02-28 */,
		4107542400ll /* 2100-03-01 */, -62167219200ll, 253402300799ll,
		-2203891200ll /* 1900-02-28 */, 1798761599 /* 2026-12-31 23:59:59 */,
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		utc_matches_libc(edges[i]);
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		utc_matches_libc(lo + (int64_t)(x % (uint64_t)(hi - lo + 1)));
	}
}

/* Fields out of range, as a guest can write them into the RTC. */
static void test_utc_normalises(void **state)
{
	static const int fields[][6] = {
		/* year-1900, mon, mday, hour, min, sec */
		{ 126, 1, 31, 0, 0, 0 },     /* 31 February */
		{ 126, 12, 1, 0, 0, 0 },     /* month 13 */
		{ 126, -1, 1, 0, 0, 0 },     /* month 0 */
		{ 126, 0, 0, 0, 0, 0 },      /* day 0 */
		{ 100, 1, 29, 23, 59, 60 },  /* a leap second's worth */
		{ 126, 164, 165, 165, 165, 165 }, /* BCD garbage decoded */
		{ -1900, 0, 1, 0, 0, 0 },    /* year 0 */
		{ 8099, 11, 31, 23, 59, 59 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct tm tm = {
			.tm_year = fields[i][0], .tm_mon = fields[i][1], .tm_mday = fields[i][2],
			.tm_hour = fields[i][3], .tm_min = fields[i][4], .tm_sec = fields[i][5],
		};
		struct tm copy = tm;

		assert_int_equal(utc_to_sec(&tm), (int64_t)timegm(&copy));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_junk),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_size_negative_after_space),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_junk),
		cmocka_unit_test(test_duration_overflow),
		cmocka_unit_test(test_duration_negative_after_space),
		cmocka_unit_test(test_mac_good),
		cmocka_unit_test(test_mac_junk),
		cmocka_unit_test(test_utc_round_trip),
		cmocka_unit_test(test_utc_normalises),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
