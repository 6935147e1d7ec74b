/*
 * The split virtqueue (devices/virtio/queue.c) against a driver that
 * writes whatever it likes into guest RAM: descriptors, indirect tables,
 * the avail ring and index, the used ring. The input is
 *
 *   byte 0      bits 0-3: the queue has 1 << (n % 9) entries; bit 4:
 *               indirect descriptors negotiated; bit 5: the event index
 *   then        operations, each an opcode byte (bits 0-1: what, bits
 *               2-7: an argument `a`) and its operands:
 *
 *   0  guest    writes a + 1 bytes, which follow a two-byte little-endian
 *               offset into RAM (modulo its size; cut at its end)
 *   1  guest    writes descriptor (next byte) of the ring (a even) or of
 *               the indirect table area (a odd): the 16 bytes that follow
 *   2  guest    makes a % 8 + 1 chains available, heads from the next
 *               bytes, and publishes the avail index
 *   3  device   takes up to a + 1 chains and returns each at once
 *
 * After every device step the harness checks: the result is 1, 0 or
 * -EIO, and -EIO for good once seen; a chain has at most `size` buffers,
 * each inside one RAM region, and its lengths add up; the device wrote
 * no byte of RAM but the used ring (and avail_event after it), whose
 * index counts the chains returned; with the event index, avail_event
 * names the device's next avail entry whenever it found the ring empty.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "fuzz.h"
#include "util/util.h"

#define RAM 0x8000u
#define RAM2_GPA 0x10000u
#define RAM2 0x1000u
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define TABLE 0x5000u

enum { OP_WRITE, OP_DESC, OP_OFFER, OP_SERVE };

struct script {
	const uint8_t *p, *end;
};

static bool next(struct script *s, uint8_t *b)
{
	if (s->p == s->end)
		return false;
	*b = *s->p++;
	return true;
}

static bool next_n(struct script *s, void *out, size_t n)
{
	if ((size_t)(s->end - s->p) < n)
		return false;
	memcpy(out, s->p, n);
	s->p += n;
	return true;
}

static _Alignas(4096) uint8_t ram[RAM], ram2[RAM2], shadow[RAM], shadow2[RAM2];
static struct virtq vq;
static struct virtq_chain chain;

static bool inside(const struct iovec *v)
{
	const uint8_t *b = v->iov_base;

	return (b >= ram && v->iov_len <= RAM && b <= ram + RAM - v->iov_len) ||
	       (b >= ram2 && v->iov_len <= RAM2 && b <= ram2 + RAM2 - v->iov_len);
}

static void check_chain(void)
{
	uint64_t out = 0, in = 0;
	unsigned n = chain.nr_out + chain.nr_in;

	FUZZ_CHECK(chain.head < vq.size);
	FUZZ_CHECK(n <= vq.size);
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(chain.iov[i].iov_len > 0);
		FUZZ_CHECK(inside(&chain.iov[i]));
		if (i < chain.nr_out)
			out += chain.iov[i].iov_len;
		else
			in += chain.iov[i].iov_len;
	}
	FUZZ_CHECK(out == chain.out_len && in == chain.in_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, data + size };
	struct gmem gm = { 0 };
	uint16_t avail_idx = 0, pushed = 0;
	bool broken = false;
	unsigned now, used_end;
	uint8_t b, op;

	if (!next(&s, &b))
		return 0;
	memset(ram, 0, sizeof(ram));
	memset(ram2, 0, sizeof(ram2));
	if (gmem_add_region(&gm, 0, RAM, ram) || gmem_add_region(&gm, RAM2_GPA, RAM2, ram2))
		abort();
	virtq_reset(&vq, (uint16_t)(1u << (b % 16 % 9)));
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.indirect = b & 0x10;
	vq.event_idx = b & 0x20;
	used_end = USED + VIRTQ_USED_BYTES(vq.size) + (vq.event_idx ? 2 : 0);
	FUZZ_CHECK(virtq_enable(&vq, &gm));

	while (next(&s, &op)) {
		unsigned a = op >> 2;

		switch (op & 3) {
		case OP_WRITE: {
			uint16_t off;
			uint8_t buf[64];
			size_t n = a + 1;

			if (!next_n(&s, &off, 2) || !next_n(&s, buf, n))
				return 0;
			off %= RAM;
			memcpy(ram + off, buf, MIN(n, (size_t)(RAM - off)));
			break;
		}
		case OP_DESC: {
			uint8_t i;
			struct virtq_desc d;

			if (!next(&s, &i) || !next_n(&s, &d, sizeof(d)))
				return 0;
			memcpy(ram + ((a & 1) ? TABLE : DESC) + 16u * i, &d, sizeof(d));
			break;
		}
		case OP_OFFER:
			for (unsigned k = 0; k < a % 8 + 1; k++) {
				uint8_t head;

				if (!next(&s, &head))
					return 0;
				uint16_t h = head;

				memcpy(ram + AVAIL + 4 + 2 * (avail_idx % vq.size), &h, 2);
				avail_idx++;
			}
			memcpy(ram + AVAIL + 2, &avail_idx, 2);
			break;
		case OP_SERVE:
			memcpy(shadow, ram, RAM);
			memcpy(shadow2, ram2, RAM2);
			now = 0;
			for (unsigned k = 0; k <= a; k++) {
				int ret = virtq_pop(&vq, &gm, &chain);

				FUZZ_CHECK(ret == 1 || ret == 0 || ret == -EIO);
				FUZZ_CHECK(!broken || ret == -EIO);
				if (ret == -EIO) {
					broken = true;
					FUZZ_CHECK(vq.broken && vq.why);
				}
				if (ret == 0 && vq.event_idx) {
					uint16_t ev;

					memcpy(&ev, ram + USED + VIRTQ_USED_BYTES(vq.size), 2);
					FUZZ_CHECK(ev == vq.last_avail);
				}
				if (ret != 1)
					break;
				check_chain();
				virtq_push(&vq, chain.head, (uint32_t)chain.in_len);
				pushed++;
				now++;
			}
			if (now)
				virtq_need_interrupt(&vq);
			/* Nothing but the used ring changed. */
			FUZZ_CHECK(!memcmp(ram, shadow, USED));
			FUZZ_CHECK(!memcmp(ram + used_end, shadow + used_end, RAM - used_end));
			FUZZ_CHECK(!memcmp(ram2, shadow2, RAM2));
			{
				uint16_t used_idx;

				memcpy(&used_idx, ram + USED + 2, 2);
				FUZZ_CHECK(now ? used_idx == pushed
					       : !memcmp(ram + USED, shadow + USED, 4));
			}
			break;
		}
	}
	return 0;
}
