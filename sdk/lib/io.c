/*
 * shale guest SDK: the blocking block-device calls, over an I/O queue of
 * their own. Where the VMM has no queue for the disk (no disk, or a VMM of
 * ABI version 1) they fall back to one hypercall per request.
 */
#include <shale/guest.h>
#include <shale/queue.h>

#define BLOCK_QUEUE_ENTRIES 16

static struct shale_queue block_queue;
static enum { UNTRIED, OPEN, UNAVAILABLE } block_state;

static struct shale_queue *block(void)
{
	if (block_state == UNTRIED)
		block_state = shale_queue_open(&block_queue, SHALE_QUEUE_BLOCK,
					       BLOCK_QUEUE_ENTRIES) == SHALE_OK ? OPEN : UNAVAILABLE;
	return block_state == OPEN ? &block_queue : NULL;
}

/* The queue's length field is 32 bits; the ABI's largest request fits. */
static int64_t block_call(uint16_t op, unsigned int nr, uint64_t offset, const void *buf,
			  uint64_t len)
{
	struct shale_queue *q = block();

	if (!q)
		return shale_hc_block_rw(nr, offset, buf, len);
	if (len > SHALE_BLOCK_IO_MAX)
		return SHALE_EINVAL;
	return shale_queue_call(q, op, buf, (uint32_t)len, offset);
}

int64_t shale_block_read(uint64_t offset, void *buf, uint64_t len)
{
	return block_call(SHALE_OP_READ, SHALE_HC_BLOCK_READ, offset, buf, len);
}

int64_t shale_block_write(uint64_t offset, const void *buf, uint64_t len)
{
	return block_call(SHALE_OP_WRITE, SHALE_HC_BLOCK_WRITE, offset, buf, len);
}

int64_t shale_block_flush(void)
{
	struct shale_queue *q = block();

	return q ? shale_queue_call(q, SHALE_OP_FLUSH, 0, 0, 0) : shale_hc_block_flush();
}
