/* Small helpers shared by the whole VMM: messages, fatal bugs, parsing. */
#ifndef SHALE_UTIL_H
#define SHALE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* Exit statuses of `shale run` besides the guest's own (docs/abi.md). */
#define SHALE_EXIT_TIMEOUT 124
#define SHALE_EXIT_VMM_ERROR 125
#define SHALE_EXIT_GUEST_CRASH 126
#define SHALE_EXIT_SIGNAL_BASE 128
#define SHALE_EXIT_KILLED 137 /* the control socket's kill: as SIGKILL */

/* One line on stderr, prefixed with log_prefix and ": ". */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool log_verbose;
/* What messages start with: the program's name. */
extern const char *log_prefix;
/* The last line log_err() printed on this thread ("" if none), for reports. */
const char *log_last_error(void);

/* A broken host invariant: a bug in shale, never a guest's doing. */
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void die_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "64M", "1G", "4096", "2k": bytes. -EINVAL on junk, -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *out);
/* "5s", "250ms", "2m", "1.5s", "100us": nanoseconds. */
int parse_duration(const char *s, uint64_t *out_ns);

/*
 * Opens the directory that holds `path` (O_PATH) and points *name at the
 * last component, for openat()/renameat()/unlinkat() after the sandbox
 * (vmm/sandbox.h). The fd, or -errno; -EINVAL for a path ending in '/'.
 */
int path_open_parent(const char *path, const char **name);

/* "52:54:00:12:34:56": a unicast MAC address. -EINVAL otherwise. */
int parse_mac(const char *s, uint8_t mac[6]);

uint64_t clock_monotonic_ns(void);
uint64_t clock_wall_ns(void);

struct tm;
/*
 * UTC calendar fields <-> seconds since 1970, in the proleptic Gregorian
 * calendar, as timegm() and gmtime_r() do but without the C library's time
 * zone set-up, which reads /etc/localtime even for UTC. utc_to_sec()
 * normalises fields out of range (month 13, day 0, hour 30) as timegm()
 * does; sec_to_utc() also fills tm_wday and tm_yday.
 */
int64_t utc_to_sec(const struct tm *tm);
void sec_to_utc(int64_t sec, struct tm *tm);

#endif
