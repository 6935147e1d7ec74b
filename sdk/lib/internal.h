/* Interfaces between the files of the guest libc; not for guests. */
#ifndef SHALE_SDK_INTERNAL_H
#define SHALE_SDK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <shale/abi/hypercall.h>

/* Receives formatted output in runs of N bytes. */
typedef void shale_emit_fn(void *ctx, const char *s, size_t n);

/* The printf engine: returns the number of bytes passed to EMIT. */
int shale_vformat(shale_emit_fn *emit, void *ctx, const char *fmt,
		  va_list ap);

/* Hand [start, start + size) to malloc; any previous heap is forgotten. */
void shale_heap_init(void *start, size_t size);

/* Called by crt0 with %rdi as the VMM left it. */
_Noreturn void shale_start(const struct shale_boot_info *bi);

#endif /* SHALE_SDK_INTERNAL_H */
