/*
 * One bus for port I/O and one for MMIO, both of this type. A device
 * registers an address range, the access widths it accepts and one handler;
 * the vCPU run loop dispatches every I/O exit through iobus_access().
 */
#ifndef SHALE_VMM_IOBUS_H
#define SHALE_VMM_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

/* Bits of iobus_range.widths: which access sizes the handler accepts. */
#define IOBUS_W1 0x1u
#define IOBUS_W2 0x2u
#define IOBUS_W4 0x4u
#define IOBUS_W8 0x8u
#define IOBUS_WANY (IOBUS_W1 | IOBUS_W2 | IOBUS_W4 | IOBUS_W8)

/*
 * Called with `offset` relative to the range's base. For reads the handler
 * fills data[0..size); for writes it consumes it. Returns 0, or a negative
 * errno that the run loop reports as a guest error.
 */
typedef int (*iobus_fn)(void *opaque, struct vcpu *vcpu, uint64_t offset,
			uint8_t *data, unsigned size, bool is_write);

struct iobus_range {
	uint64_t base;
	uint64_t len;
	unsigned widths;
	iobus_fn fn;
	void *opaque;
	const char *name;
};

struct iobus {
	struct iobus_range *ranges; /* sorted by base, never overlapping */
	unsigned nr, cap;
	pthread_rwlock_t lock;
};

void iobus_init(struct iobus *bus);
void iobus_destroy(struct iobus *bus);
/* -EEXIST when the range overlaps one already registered, -EINVAL, -ENOMEM. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, unsigned widths,
		   iobus_fn fn, void *opaque, const char *name);
int iobus_unregister(struct iobus *bus, uint64_t base);

/*
 * Dispatches one access. Returns -ENOENT when no range covers the whole
 * access, -EINVAL when the width is not accepted, else the handler's result.
 */
int iobus_access(struct iobus *bus, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
		 unsigned size, bool is_write);

#endif
