/*
 * The MC146818 real-time clock and CMOS RAM of a PC at ports 0x70/0x71.
 * The clock runs on the host's wall clock (UTC) plus whatever offset the
 * guest sets; the RAM carries the memory sizes firmware would record.
 */
#ifndef SHALE_DEVICES_LEGACY_RTC_H
#define SHALE_DEVICES_LEGACY_RTC_H

#include <stdint.h>

struct vm;
struct rtc;

#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT 0x71
/* The line an ACPI table or MP table names; this clock never raises it. */
#define RTC_IRQ 8
/* CMOS byte holding the century: the FADT's CENTURY field should say so. */
#define RTC_CENTURY_INDEX 0x32

/*
 * Registers the clock on vm->pio. `ram_below_4g` and `ram_above_4g` are
 * the guest RAM sizes in bytes written to the CMOS memory-size bytes.
 * -errno on failure.
 */
int rtc_create(struct vm *vm, uint64_t ram_below_4g, uint64_t ram_above_4g, struct rtc **out);
/* Unregisters and frees. The vCPUs must be stopped. */
void rtc_destroy(struct rtc *rtc);

#endif
