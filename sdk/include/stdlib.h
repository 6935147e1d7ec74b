/* shale guest libc: <stdlib.h>. */
#ifndef SHALE_STDLIB_H
#define SHALE_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/*
 * The heap is the boot info's heap_start..heap_end. Blocks are 16-byte
 * aligned; malloc(0) returns a unique pointer; failure returns NULL.
 */
void *malloc(size_t size) __attribute__((malloc, alloc_size(1)));
void *calloc(size_t n, size_t size) __attribute__((malloc, alloc_size(1, 2)));
void *realloc(void *ptr, size_t size) __attribute__((alloc_size(2)));
void free(void *ptr);

/* Flush stdout and end the VM with STATUS (0..255). */
_Noreturn void exit(int status);
/* Flush stdout, report the abort and end the VM with status 134. */
_Noreturn void abort(void);

/* No errno: out-of-range values saturate, as strtol(3) specifies. */
int atoi(const char *s);
long atol(const char *s);
long strtol(const char *restrict s, char **restrict end, int base);
unsigned long strtoul(const char *restrict s, char **restrict end, int base);
long long strtoll(const char *restrict s, char **restrict end, int base);
unsigned long long strtoull(const char *restrict s, char **restrict end,
			    int base);

static inline int abs(int v) { return v < 0 ? -v : v; }
static inline long labs(long v) { return v < 0 ? -v : v; }

#endif /* SHALE_STDLIB_H */
