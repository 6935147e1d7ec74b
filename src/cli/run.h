/* Shared by the two kinds of `shale run`: para-virtual and Linux guests. */
#ifndef SHALE_CLI_RUN_H
#define SHALE_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct console;

struct run_opts {
	uint64_t memory;
	uint64_t timeout_ns;
	const char *guest;
	const char *disk;
	bool disk_readonly;
	const char *tap;
	uint8_t mac[6];
	bool has_mac;
	bool stats;
	/* Full virtualization: */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	bool reboot_exit;
	int argc;
	char **argv;
};

struct image {
	const uint8_t *data;
	size_t size;
	void *map; /* non-NULL when mapped from a file */
};

/* Maps a whole file read-only; `what` names it in messages. */
int map_image(const char *path, const char *what, size_t max, struct image *img);
void unmap_image(struct image *img);
/* Drops the mapped pages from memory; they come back from the file on use. */
void release_image(const struct image *img);

/*
 * Waits until the VM stops; turns signals, the timeout and the console's
 * quit sequence into stops, and feeds console input to the guest.
 */
void wait_for_stop(struct vm *vm, int sig_fd, uint64_t timeout_ns, struct console *con);
void print_stats(const struct vm *vm, uint64_t start_ns);

/*
 * `shale run --kernel ...`: returns the exit status or -errno. It calls
 * setup_signals() once its input is checked, before it builds the VM.
 */
int run_linux(const struct run_opts *o, int (*setup_signals)(void), uint64_t start_ns);

#endif
