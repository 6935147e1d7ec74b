/*
 * Para-virtual guests: the ELF image, its boot info and arguments, and the
 * hypercall devices (console, clock, block, network, random). All hypercall
 * arguments are guest-controlled and checked here before use.
 */
#ifndef SHALE_PV_PV_H
#define SHALE_PV_PV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/disk.h"

struct vm;
struct vcpu;
struct pv_io;
struct conout;

struct pv_block {
	struct disk disk; /* disk.fd -1: no disk */
};

struct pv_net {
	int fd; /* -1: no network */
	uint8_t mac[6];
	uint32_t mtu;
};

/* Guest memory the guest itself may read (and, if writable, write). */
struct pv_range {
	uint64_t start, end;
	bool writable;
};
#define PV_MAX_RANGES 16

struct pv_guest {
	struct vm *vm;
	struct vcpu *vcpu;
	struct conout *console; /* where console output goes; NULL: console_fd */
	int console_fd;
	atomic_bool shutdown_requested; /* SHALE_POLL_SHUTDOWN is ready */
	char *args; /* argv[0] NUL argv[1] NUL ... */
	uint32_t args_size;
	uint32_t argc;
	struct pv_block block;
	struct pv_net net;
	/*
	 * What the guest's page tables let it access: boot info, its
	 * segments, heap and stack. Hypercalls may name nothing else, so the
	 * VMM never writes, on a guest's request, where the guest could not:
	 * its page tables, GDT, IDT and stubs, or its own code.
	 */
	struct pv_range range[PV_MAX_RANGES];
	unsigned nr_ranges;
	/*
	 * Whether the I/O thread polls (this process may run on two CPUs or
	 * more): decided once by pv_setup(), which tells the guest
	 * (SHALE_BOOT_F_IO_POLL), and followed by the I/O thread.
	 */
	bool io_polls;
	struct pv_io *io; /* the I/O queues and their thread, once the guest sets one up */
};

/*
 * The host address of [gpa, gpa + len) when the guest may read it all (and
 * write it all, with `write`); NULL otherwise. Every hypercall buffer and
 * argument struct goes through here.
 */
void *pv_guest_ptr(const struct pv_guest *pv, uint64_t gpa, uint64_t len, bool write);

/* Where the guest image and its arguments come from. */
struct pv_config {
	const char *name; /* the guest's argv[0] */
	const uint8_t *image;
	size_t image_size;
	const struct elf_image *elf; /* image, checked by pv_check_image() */
	int argc; /* arguments after argv[0] */
	char *const *argv;
};

struct elf_image;

/*
 * Checks that `image` is a guest that fits in `mem_size` bytes of RAM;
 * logs why not. Needs no KVM, so bad input is refused before any set-up.
 */
int pv_check_image(const char *name, const uint8_t *image, size_t size, uint64_t mem_size,
		   struct elf_image *elf);

/*
 * Loads the checked image, writes boot info and the x86 set-up and
 * registers the hypercall ports. The VM has RAM and one vCPU already;
 * pv->block and pv->net are set up by the caller.
 */
int pv_setup(struct pv_guest *pv, struct vm *vm, struct vcpu *vcpu,
	     const struct pv_config *cfg);
/*
 * Stops the VM if it still runs, joins the I/O thread and waits for the
 * requests still in flight: call it after the vCPU threads are joined and
 * before the VM's memory goes away.
 */
void pv_stop(struct pv_guest *pv);
void pv_destroy(struct pv_guest *pv);

/*
 * Guest console output, from the vCPU or the I/O thread: to pv->console,
 * or with vm_write_all() to console_fd. 0 or -errno.
 */
int pv_console_write(struct pv_guest *pv, const void *buf, size_t len);
/*
 * Asks the guest to shut down: SHALE_POLL_SHUTDOWN is ready from now on.
 * Safe from any thread.
 */
void pv_request_shutdown(struct pv_guest *pv);

/* Handles the hypercall `nr` whose argument struct is at `gpa`. */
void pv_hypercall(struct pv_guest *pv, struct vcpu *vcpu, unsigned nr, uint32_t gpa);

/* Block device: open `path` (read-only if asked). -errno with a message. */
int pv_block_open(struct pv_block *blk, const char *path, bool readonly);
void pv_block_close(struct pv_block *blk);
/* Network: attach to the existing tap device `name`. */
int pv_net_open(struct pv_net *net, const char *name, const uint8_t *mac);
/*
 * The device on `fd`, which carries one Ethernet frame per read and write
 * (non-blocking); `mac` NULL: a random one. The device owns fd.
 */
void pv_net_attach(struct pv_net *net, int fd, const uint8_t *mac);
void pv_net_close(struct pv_net *net);

/* Hypercall bodies, one per device; `arg` is the guest's struct, copied. */
struct shale_hc_block_info;
struct shale_hc_block_io;
struct shale_hc_status;
struct shale_hc_net_info;
struct shale_hc_buffer;
void pv_block_info(struct pv_guest *pv, struct shale_hc_block_info *arg);
/* SHALE_OK when a request of `len` bytes at `offset` is valid, else SHALE_E*. */
int64_t pv_block_check(const struct pv_block *blk, uint64_t offset, uint64_t len, bool is_write);
/* Moves a checked request between the disk and buf: len, or SHALE_EIO. */
int64_t pv_block_transfer(const struct pv_block *blk, uint8_t *buf, uint64_t offset,
			  uint64_t len, bool is_write);
void pv_block_rw(struct pv_guest *pv, struct shale_hc_block_io *arg, bool is_write);
void pv_block_flush(struct pv_guest *pv, struct shale_hc_status *arg);
/* Counts a block request (SHALE_OP_READ, _WRITE, _FLUSH) of len bytes in vm->stats. */
void pv_block_account(struct pv_guest *pv, unsigned op, uint64_t len);
/* Counts a frame received or sent; n < 0 (a failure) is not counted. */
void pv_net_account(struct pv_guest *pv, bool rx, int64_t n);
void pv_net_info(struct pv_guest *pv, struct shale_hc_net_info *arg);
void pv_net_read(struct pv_guest *pv, struct shale_hc_buffer *arg);
void pv_net_write(struct pv_guest *pv, struct shale_hc_buffer *arg);

/* The I/O queue calls (pv/ioq.c). */
struct shale_hc_queue_setup;
struct shale_hc_queue_wait;
void pv_queue_setup(struct pv_guest *pv, struct shale_hc_queue_setup *arg);
void pv_queue_notify(struct pv_guest *pv);
void pv_queue_wait(struct pv_guest *pv, struct shale_hc_queue_wait *arg);

#endif
