/*
 * shale guest SDK: from the VMM's hand-off to main() and back out.
 *
 * The boot info comes from the VMM and is trusted as far as the VMM is;
 * the argument block is still bounded by what ARGS returned, not by argc,
 * so a mismatch between the two cannot send us past the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

#include "internal.h"

int main(int argc, char **argv);

static const struct shale_boot_info *boot;

const struct shale_boot_info *shale_boot_info(void)
{
	return boot;
}

static _Noreturn void fail(const char *msg)
{
	shale_console_write(msg, strlen(msg));
	shale_exit(127);
}

/* Builds a NULL-terminated argv on the heap; returns argc. */
static int get_args(const struct shale_boot_info *bi, char ***argvp)
{
	size_t size = bi->args_size, max = bi->argc, i, len = 0;
	char *buf, **argv;
	int argc = 0;
	int64_t r;

	/* Every argument takes at least its NUL. */
	if (max > size)
		max = size;
	buf = malloc(size + 1);
	argv = malloc((max + 1) * sizeof(*argv));
	if (!buf || !argv)
		fail("shale: no heap for the arguments\n");
	if (size) {
		r = shale_args(buf, size);
		if (r > 0 && (uint64_t)r <= size)
			len = r;
	}
	buf[len] = '\0';
	for (i = 0; i < len && (size_t)argc < max; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	*argvp = argv;
	return argc;
}

_Noreturn void shale_start(const struct shale_boot_info *bi)
{
	char **argv;
	int argc;

	if (bi->magic != SHALE_BOOT_MAGIC ||
	    bi->abi_version != SHALE_ABI_VERSION)
		fail("shale: boot info has a bad magic or ABI version\n");
	if (bi->heap_end < bi->heap_start)
		fail("shale: boot info has a bad heap\n");
	boot = bi;
	shale_heap_init((void *)(uintptr_t)bi->heap_start,
			bi->heap_end - bi->heap_start);
	argc = get_args(bi, &argv);
	exit(main(argc, argv));
}
