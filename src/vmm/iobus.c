#include "vmm/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void iobus_init(struct iobus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_rwlock_init(&bus->lock, NULL);
}

void iobus_destroy(struct iobus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

/* Index of the first range whose end lies above addr. */
static unsigned lower_bound(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct iobus_range *r = &bus->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, unsigned widths,
		   iobus_fn fn, void *opaque, const char *name)
{
	unsigned i;
	int ret = 0;

	if (!len || base + (len - 1) < base || !fn || !(widths & IOBUS_WANY) ||
	    (widths & ~IOBUS_WANY))
		return -EINVAL;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + (len - 1)) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct iobus_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct iobus_range){
		.base = base, .len = len, .widths = widths,
		.fn = fn, .opaque = opaque, .name = name,
	};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int iobus_unregister(struct iobus *bus, uint64_t base)
{
	unsigned i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int iobus_access(struct iobus *bus, struct vcpu *vcpu, uint64_t addr, uint8_t *data,
		 unsigned size, bool is_write)
{
	struct iobus_range r;
	unsigned i;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	if (addr + (size - 1) < addr)
		return -ENOENT;

	/*
	 * Copy the range out under the lock and call the handler without it,
	 * so a handler may block (a hypercall that polls) without stalling
	 * registrations; devices are only unregistered at teardown.
	 */
	pthread_rwlock_rdlock(&bus->lock);
	i = lower_bound(bus, addr);
	if (i == bus->nr || bus->ranges[i].base > addr ||
	    addr + (size - 1) > bus->ranges[i].base + (bus->ranges[i].len - 1)) {
		pthread_rwlock_unlock(&bus->lock);
		return -ENOENT;
	}
	r = bus->ranges[i];
	pthread_rwlock_unlock(&bus->lock);

	if (!(r.widths & size))
		return -EINVAL;
	return r.fn(r.opaque, vcpu, addr - r.base, data, size, is_write);
}
