/* Shared by the two kinds of `shale run`: para-virtual and Linux guests. */
#ifndef SHALE_CLI_RUN_H
#define SHALE_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/image.h"

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
