/*
 * Split virtqueue, device side (virtio 1.2 §2.7). Guest memory is shared
 * with a driver that may change it at any moment: descriptors are copied
 * out before they are checked and used, the avail index is loaded once
 * per call (acquire: the ring entries it covers are read after it), and
 * the used index is stored with release after the element it publishes.
 */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <string.h>

#include "util/util.h"

/* The compiler may not re-read shared memory for what was copied out. */
#define COPIED() __asm__ volatile("" ::: "memory")

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

void virtq_reset(struct virtq *vq, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->size = max_size;
}

static bool fail(struct virtq *vq, const char *why)
{
	vq->broken = true;
	vq->why = why;
	return false;
}

bool virtq_enable(struct virtq *vq, const struct gmem *gm)
{
	unsigned n = vq->size;
	uint64_t ev = vq->event_idx ? VIRTQ_EVENT_BYTES : 0;

	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->broken = false;
	vq->why = NULL;
	if (!is_pow2(n) || n > VIRTQ_MAX_SIZE)
		return fail(vq, "queue size not a power of two up to 256");
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return fail(vq, "misaligned ring");
	vq->desc = gmem_ptr(gm, vq->desc_gpa, VIRTQ_DESC_BYTES(n));
	vq->avail = gmem_ptr(gm, vq->avail_gpa, VIRTQ_AVAIL_BYTES(n) + ev);
	vq->used = gmem_ptr(gm, vq->used_gpa, VIRTQ_USED_BYTES(n) + ev);
	if (!vq->desc || !vq->avail || !vq->used)
		return fail(vq, "ring outside guest RAM");
	vq->enabled = true;
	return true;
}

static void read_desc(const struct virtq_desc *src, struct virtq_desc *d)
{
	memcpy(d, src, sizeof(*d));
	COPIED();
}

/* Adds one translated buffer to the chain. */
static bool add_buf(struct virtq *vq, const struct gmem *gm, struct virtq_chain *c,
		    const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *host;

	if (!write && c->nr_in)
		return fail(vq, "readable descriptor after a writable one");
	if (!d->len)
		return true;
	host = gmem_ptr(gm, d->addr, d->len);
	if (!host)
		return fail(vq, "buffer outside guest RAM");
	/* At most vq->size descriptors reach here: the callers' bound. */
	c->iov[c->nr_out + c->nr_in] = (struct iovec){ host, d->len };
	if (write) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return true;
}

/*
 * An indirect table (§2.7.5.3): copied whole, then walked. It may not
 * hold indirect descriptors itself; its chain stays inside it.
 */
static bool walk_indirect(struct virtq *vq, const struct gmem *gm, struct virtq_chain *c,
			  const struct virtq_desc *ind)
{
	struct virtq_desc table[VIRTQ_MAX_SIZE];
	const void *src;
	unsigned n, i, count;

	if (!vq->indirect)
		return fail(vq, "indirect descriptor not negotiated");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return fail(vq, "indirect descriptor with NEXT");
	if (!ind->len || ind->len % sizeof(struct virtq_desc))
		return fail(vq, "indirect table not a whole number of descriptors");
	n = ind->len / sizeof(struct virtq_desc);
	if (n > vq->size)
		return fail(vq, "indirect table longer than the queue");
	src = gmem_ptr(gm, ind->addr, ind->len);
	if (!src)
		return fail(vq, "indirect table outside guest RAM");
	memcpy(table, src, ind->len);
	COPIED();
	for (i = 0, count = 0;; count++) {
		const struct virtq_desc *d = &table[i];

		if (count == n)
			return fail(vq, "loop in an indirect table");
		if (d->flags & VIRTQ_DESC_F_INDIRECT)
			return fail(vq, "nested indirect descriptor");
		if (!add_buf(vq, gm, c, d))
			return false;
		if (!(d->flags & VIRTQ_DESC_F_NEXT))
			return true;
		i = d->next;
		if (i >= n)
			return fail(vq, "next index outside the indirect table");
	}
}

int virtq_pop(struct virtq *vq, const struct gmem *gm, struct virtq_chain *c)
{
	uint16_t avail_idx, head, i;
	unsigned count;

	if (vq->broken)
		return -EIO;
	if (!vq->enabled)
		return 0;
	avail_idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail && vq->event_idx) {
		/* Notify me at the next chain; then look again (§2.7.10). */
		__atomic_store_n((uint16_t *)(vq->used + 4 + 8 * vq->size), vq->last_avail,
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	}
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		fail(vq, "avail index more than the queue size ahead");
		return -EIO;
	}
	if (avail_idx == vq->last_avail)
		return 0;
	head = __atomic_load_n(&vq->avail[2 + (vq->last_avail & (vq->size - 1))],
			       __ATOMIC_RELAXED);
	if (head >= vq->size) {
		fail(vq, "head index out of range");
		return -EIO;
	}
	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	/* Each descriptor at most once: a longer chain loops (§2.7.5.2). */
	for (i = head, count = 0;; count++) {
		struct virtq_desc d;

		if (count == vq->size) {
			fail(vq, "descriptor chain longer than the queue");
			return -EIO;
		}
		read_desc(&vq->desc[i], &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (count) {
				fail(vq, "indirect descriptor inside a chain");
				return -EIO;
			}
			if (!walk_indirect(vq, gm, c, &d))
				return -EIO;
			break;
		}
		if (!add_buf(vq, gm, c, &d))
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= vq->size) {
			fail(vq, "next index out of range");
			return -EIO;
		}
	}
	vq->last_avail++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem e = { head, len };

	memcpy(vq->used + 4 + 8 * (vq->used_idx & (vq->size - 1)), &e, sizeof(e));
	vq->used_idx++;
	__atomic_store_n((uint16_t *)(vq->used + 2), vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_need_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;

	/* The driver's fields are read after the used index is seen (§2.7.7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = now;
	if (!vq->event_idx)
		return old != now &&
		       !(__atomic_load_n(&vq->avail[0], __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* vring_need_event(): used_event lies in (old, now]. */
	event = __atomic_load_n(&vq->avail[2 + vq->size], __ATOMIC_RELAXED);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq_iov_read(const struct iovec *iov, unsigned nr, uint64_t off, void *dst,
		    uint64_t len)
{
	uint8_t *out = dst;

	for (unsigned i = 0; i < nr && len; i++) {
		uint64_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = MIN(iov[i].iov_len - off, len);
		memcpy(out, (const uint8_t *)iov[i].iov_base + off, n);
		out += n;
		len -= n;
		off = 0;
	}
	COPIED();
	return len == 0;
}

int virtq_iov_slice(const struct iovec *src, unsigned nr, uint64_t off, uint64_t len,
		    struct iovec *dst, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr && len; i++) {
		uint64_t take;

		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		if (n == max)
			return -1;
		take = MIN(src[i].iov_len - off, len);
		dst[n++] = (struct iovec){ (uint8_t *)src[i].iov_base + off, take };
		len -= take;
		off = 0;
	}
	return len ? -1 : (int)n;
}
