/*
 * shale para-virtual guest ABI, version 1.
 *
 * Shared by the VMM and by guests: self-contained C11, fixed-width fields,
 * explicit padding, sizes checked at compile time. docs/abi.md is the prose
 * version of this file; the two change together.
 *
 * A guest issues hypercall NR by writing the 32-bit guest physical address
 * of the hypercall's argument struct to I/O port SHALE_HC_PORT(NR):
 *
 *     outl %eax, %dx      ; eax = gpa of struct, dx = SHALE_HC_PORT(nr)
 *
 * The VMM reads the struct, does the work and writes results back into the
 * same struct before the guest resumes. Every struct must lie entirely
 * inside guest RAM (guest RAM is at most 4 GiB, so any RAM address fits in
 * 32 bits); every buffer it names is checked the same way. A bad address,
 * length or field is answered with SHALE_EFAULT or SHALE_EINVAL in `ret`
 * and the guest goes on. Only an argument struct that is itself outside
 * RAM, an unknown hypercall number, a read of a hypercall port or an access
 * narrower than 4 bytes stops the VM, as a crash: there is nowhere to put
 * an error. Calls that return a byte count transfer all bytes or fail.
 */
#ifndef SHALE_ABI_HYPERCALL_H
#define SHALE_ABI_HYPERCALL_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* Version 2 adds the I/O queues (queue.h); every version 1 call stays. */
#define SHALE_ABI_VERSION 2u

/* Hypercall I/O ports: SHALE_HC_PORT_BASE + nr, nr < SHALE_HC_MAX. */
#define SHALE_HC_PORT_BASE 0x0500
#define SHALE_HC_MAX 64
#define SHALE_HC_PORT(nr) ((uint16_t)(SHALE_HC_PORT_BASE + (nr)))

/* Hypercall numbers. */
#define SHALE_HC_NOP 0            /* no arguments (value ignored); round trip */
#define SHALE_HC_CONSOLE_WRITE 1  /* struct shale_hc_console_write */
#define SHALE_HC_EXIT 2           /* struct shale_hc_exit; does not return */
#define SHALE_HC_CLOCK 3          /* struct shale_hc_clock */
#define SHALE_HC_POLL 4           /* struct shale_hc_poll */
#define SHALE_HC_BLOCK_INFO 5     /* struct shale_hc_block_info */
#define SHALE_HC_BLOCK_READ 6     /* struct shale_hc_block_io */
#define SHALE_HC_BLOCK_WRITE 7    /* struct shale_hc_block_io */
#define SHALE_HC_BLOCK_FLUSH 8    /* struct shale_hc_status */
#define SHALE_HC_NET_INFO 9       /* struct shale_hc_net_info */
#define SHALE_HC_NET_READ 10      /* struct shale_hc_buffer */
#define SHALE_HC_NET_WRITE 11     /* struct shale_hc_buffer */
#define SHALE_HC_RANDOM 12        /* struct shale_hc_buffer */
#define SHALE_HC_ARGS 13          /* struct shale_hc_buffer */
/* Version 2: the I/O queues, described in queue.h. */
#define SHALE_HC_QUEUE_SETUP 14   /* struct shale_hc_queue_setup */
#define SHALE_HC_QUEUE_NOTIFY 15  /* no struct: the value written names the queue */
#define SHALE_HC_QUEUE_WAIT 16    /* struct shale_hc_queue_wait */
#define SHALE_HC_COUNT 17
/*
 * Used only by the exception stubs the VMM installs: the value written is
 * ignored; the VMM reads the exception frame from the supervisor stack. A
 * guest that writes it from ring 3 is reported as crashed.
 */
#define SHALE_HC_EXCEPTION 63

/* Values of `ret`: 0 or a byte count on success, one of these on failure. */
#define SHALE_OK 0
#define SHALE_EFAULT (-1)  /* an address or length is outside guest RAM */
#define SHALE_EINVAL (-2)  /* a field has a value the call does not accept */
#define SHALE_ENODEV (-3)  /* the device is not configured for this VM */
#define SHALE_EAGAIN (-4)  /* nothing to read now; poll and retry */
#define SHALE_EIO (-5)     /* the host backend failed */
#define SHALE_ENOSPC (-6)  /* offset/length past the end of the device */
#define SHALE_EROFS (-7)   /* write to a read-only device */

#ifndef __ASSEMBLER__

struct shale_hc_console_write {
	uint64_t data; /* in: gpa of the bytes */
	uint64_t len;  /* in: byte count, at most SHALE_CONSOLE_MAX */
	int64_t ret;   /* out: bytes written or error */
};
#define SHALE_CONSOLE_MAX (1u << 20)

struct shale_hc_exit {
	int32_t status; /* in: the VMM exits with status & 0xff */
	uint32_t _pad;
};

struct shale_hc_clock {
	uint64_t monotonic_ns; /* out: CLOCK_MONOTONIC of the host, in ns */
	uint64_t wall_ns;      /* out: nanoseconds since 1970-01-01 UTC */
};

/* Readiness bits of struct shale_hc_poll. */
#define SHALE_POLL_NET 0x1u
/*
 * Version 2: the VMM was asked to shut the VM down (`shale run --control`,
 * op "shutdown"); the guest should finish its work and exit. Once set it
 * stays ready. A VMM with no shutdown pending never sets it.
 */
#define SHALE_POLL_SHUTDOWN 0x2u

/*
 * Blocks until one of `events` is ready or the monotonic clock reaches
 * deadline_ns (a past deadline returns at once; UINT64_MAX waits for an
 * event only). Polling for a device the VM does not have just sleeps.
 * Unknown event bits: SHALE_EINVAL.
 */
struct shale_hc_poll {
	uint64_t deadline_ns; /* in: monotonic time at which to return */
	uint64_t events;      /* in: SHALE_POLL_* bits to wait for */
	uint64_t ready;       /* out: SHALE_POLL_* bits ready now (0: deadline) */
	int64_t ret;          /* out: SHALE_OK or error */
};

#define SHALE_BLOCK_SECTOR 512u
#define SHALE_BLOCK_IO_MAX (16u << 20) /* largest single read or write */
#define SHALE_BLOCK_F_READONLY 0x1u

struct shale_hc_block_info {
	uint64_t capacity;    /* out: device size in bytes (multiple of sector) */
	uint32_t sector_size; /* out: SHALE_BLOCK_SECTOR */
	uint32_t flags;       /* out: SHALE_BLOCK_F_* */
	uint64_t max_io;      /* out: largest single request in bytes */
	int64_t ret;          /* out: SHALE_OK, or SHALE_ENODEV with no disk */
};

/* offset and len are multiples of sector_size; offset+len <= capacity. */
struct shale_hc_block_io {
	uint64_t offset; /* in: byte offset on the device */
	uint64_t data;   /* in: gpa of the buffer */
	uint64_t len;    /* in: bytes, at most max_io */
	int64_t ret;     /* out: bytes transferred or error */
};

struct shale_hc_status {
	int64_t ret; /* out */
};

struct shale_hc_net_info {
	uint8_t mac[6]; /* out: the guest's MAC address */
	uint16_t _pad;
	uint32_t mtu;   /* out: largest frame payload (without Ethernet header) */
	uint32_t _pad2;
	int64_t ret;    /* out: SHALE_OK, or SHALE_ENODEV with no network */
};

/*
 * NET_READ: one Ethernet frame, or SHALE_EAGAIN when none is waiting (a
 * frame larger than len is truncated; ret is the bytes stored).
 * NET_WRITE: one Ethernet frame of len bytes.
 * RANDOM: fills len bytes (at most SHALE_RANDOM_MAX) from the host's CSPRNG.
 * ARGS: copies the guest's arguments as consecutive NUL-terminated strings,
 * argv[0] first; ret is the size of the whole block, also when it does not
 * fit in len (then nothing is copied): call with len 0 to learn the size.
 */
struct shale_hc_buffer {
	uint64_t data; /* in: gpa of the buffer */
	uint64_t len;  /* in: buffer size in bytes */
	int64_t ret;   /* out: bytes, or error */
};
#define SHALE_RANDOM_MAX 4096u

/*
 * Boot information: at SHALE_BOOT_INFO_GPA, read-only to the guest, its
 * address also in %rdi at entry. The guest starts at the ELF entry point
 * in 64-bit mode at CPL 3 with RFLAGS.IOPL = 0 and the TSS I/O bitmap
 * open for exactly the hypercall ports, %rsp = stack_top (16-byte
 * aligned), SSE enabled, interrupts off. Memory map (guest physical and
 * virtual addresses are equal):
 *
 *   0x000000 - 0x000fff  unmapped: null pointers fault
 *   0x001000 - 0x0fffff  VMM-owned (boot info, GDT/IDT/TSS, page tables,
 *                        exception stubs); only boot info is user-visible
 *   0x100000 - image end ELF PT_LOAD segments, with their permissions
 *   heap_start - heap_end   free memory for the guest (read/write, no exec)
 *   heap_end + 4 KiB        guard page, unmapped: a stack overflow faults
 *   stack_top - SHALE_STACK_SIZE - stack_top   the stack (read/write, no exec)
 *
 * Memory past mem_size is unmapped.
 */
#define SHALE_BOOT_INFO_GPA 0x1000u
#define SHALE_BOOT_MAGIC 0x656c6173u /* "sale" little-endian */
#define SHALE_IMAGE_BASE 0x100000u
#define SHALE_STACK_SIZE (1u << 20)

/*
 * The VMM's I/O thread polls the I/O queues on a CPU of its own before it
 * sleeps: a guest waiting for a completion does well to spin for a while.
 * Without it (a host with one CPU for the VM) spinning only delays the
 * thread that would complete the request.
 */
#define SHALE_BOOT_F_IO_POLL 0x1u

struct shale_boot_info {
	uint32_t magic;       /* SHALE_BOOT_MAGIC */
	uint32_t abi_version; /* SHALE_ABI_VERSION */
	uint64_t mem_size;    /* bytes of guest RAM */
	uint64_t heap_start;  /* page aligned */
	uint64_t heap_end;    /* page aligned; the guard page below the stack */
	uint64_t stack_top;
	uint64_t tsc_khz;     /* TSC frequency, 0 when the VMM does not know */
	uint32_t argc;        /* number of arguments, argv[0] included */
	uint32_t args_size;   /* bytes SHALE_HC_ARGS needs */
	uint32_t flags;       /* SHALE_BOOT_F_* (version 2) */
	uint32_t _pad;
	uint64_t _reserved[7];
};

#define SHALE_ABI_ASSERT_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), #type " size")
SHALE_ABI_ASSERT_SIZE(shale_hc_console_write, 24);
SHALE_ABI_ASSERT_SIZE(shale_hc_exit, 8);
SHALE_ABI_ASSERT_SIZE(shale_hc_clock, 16);
SHALE_ABI_ASSERT_SIZE(shale_hc_poll, 32);
SHALE_ABI_ASSERT_SIZE(shale_hc_block_info, 32);
SHALE_ABI_ASSERT_SIZE(shale_hc_block_io, 32);
SHALE_ABI_ASSERT_SIZE(shale_hc_status, 8);
SHALE_ABI_ASSERT_SIZE(shale_hc_net_info, 24);
SHALE_ABI_ASSERT_SIZE(shale_hc_buffer, 24);
SHALE_ABI_ASSERT_SIZE(shale_boot_info, 120);

#endif /* !__ASSEMBLER__ */

#endif /* SHALE_ABI_HYPERCALL_H */
