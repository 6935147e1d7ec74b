/*
 * shale guest libc: malloc and friends on the boot info's heap.
 *
 * A first-fit allocator with boundary tags. Every block starts with a
 * 16-byte header holding its own size and its lower neighbour's, so free()
 * can merge with both neighbours in constant time; a free block also links
 * itself into the free list through its payload. Block sizes are multiples
 * of 16 and the heap starts 16-aligned, so every payload is 16-aligned. A
 * zero-size "used" block closes the heap and stops merging at the top.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shale/guest.h>

#include "internal.h"

struct blk {
	size_t prev_size; /* size of the block just below; 0 for the first */
	size_t size;      /* of this block with its header, | BLK_USED */
	/* Free blocks only, in what is otherwise the payload: */
	struct blk *next;
	struct blk *prev;
};

#define BLK_USED ((size_t)1)
#define HDR offsetof(struct blk, next)
#define MIN_BLOCK sizeof(struct blk)
#define ALIGN 16

_Static_assert(HDR == ALIGN && MIN_BLOCK % ALIGN == 0, "block layout");

static struct blk *free_list;
static uintptr_t heap_lo, heap_hi;

static size_t blk_size(const struct blk *b)
{
	return b->size & ~BLK_USED;
}

static bool blk_used(const struct blk *b)
{
	return b->size & BLK_USED;
}

static struct blk *blk_next(struct blk *b)
{
	return (struct blk *)((char *)b + blk_size(b));
}

static void list_insert(struct blk *b)
{
	b->prev = NULL;
	b->next = free_list;
	if (free_list)
		free_list->prev = b;
	free_list = b;
}

static void list_remove(struct blk *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		free_list = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

/* Merges free block B, not yet listed, with free neighbours; lists it. */
static void release(struct blk *b)
{
	struct blk *n = blk_next(b);

	if (!blk_used(n)) {
		list_remove(n);
		b->size += n->size;
	}
	if (b->prev_size) {
		struct blk *p = (struct blk *)((char *)b - b->prev_size);

		if (!blk_used(p)) {
			list_remove(p);
			p->size += b->size;
			b = p;
		}
	}
	blk_next(b)->prev_size = b->size;
	list_insert(b);
}

/* Cuts B, not listed, to NEED bytes and releases the rest if big enough. */
static void split(struct blk *b, size_t need)
{
	size_t size = blk_size(b);
	struct blk *rest;

	if (size - need < MIN_BLOCK)
		return;
	rest = (struct blk *)((char *)b + need);
	rest->prev_size = need;
	rest->size = size - need;
	blk_next(rest)->prev_size = rest->size;
	b->size = need | (b->size & BLK_USED);
	release(rest);
}

/* Block size for a request of N bytes, or 0 when N is absurd. */
static size_t block_size(size_t n)
{
	if (n > SIZE_MAX / 2)
		return 0;
	n = (n + HDR + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	return n < MIN_BLOCK ? MIN_BLOCK : n;
}

/* The used block of payload P; a pointer malloc never returned aborts. */
static struct blk *checked_block(void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct blk *b = (struct blk *)(a - HDR);

	if (a % ALIGN || a < heap_lo + HDR || a >= heap_hi || !blk_used(b) ||
	    blk_size(b) < MIN_BLOCK) {
		static const char msg[] = "free(): invalid pointer\n";

		shale_console_write(msg, sizeof(msg) - 1);
		abort();
	}
	return b;
}

void shale_heap_init(void *start, size_t size)
{
	uintptr_t lo = ((uintptr_t)start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
	uintptr_t hi = ((uintptr_t)start + size) & ~(uintptr_t)(ALIGN - 1);
	struct blk *b = (struct blk *)lo, *end;

	free_list = NULL;
	heap_lo = heap_hi = 0;
	if (hi < lo || hi - lo < MIN_BLOCK + HDR)
		return;
	heap_lo = lo;
	heap_hi = hi;
	b->prev_size = 0;
	b->size = hi - lo - HDR;
	end = blk_next(b);
	end->prev_size = b->size;
	end->size = 0 | BLK_USED;
	list_insert(b);
}

void *malloc(size_t n)
{
	size_t need = block_size(n);
	struct blk *b;

	if (!need)
		return NULL;
	for (b = free_list; b; b = b->next) {
		if (b->size >= need) {
			list_remove(b);
			b->size |= BLK_USED;
			split(b, need);
			return (char *)b + HDR;
		}
	}
	return NULL;
}

void free(void *p)
{
	struct blk *b;

	if (!p)
		return;
	b = checked_block(p);
	b->size &= ~BLK_USED;
	release(b);
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	size_t need = block_size(n);
	struct blk *b, *next;
	void *q;

	if (!p)
		return malloc(n);
	if (!n) {
		free(p);
		return NULL;
	}
	b = checked_block(p);
	if (!need)
		return NULL;
	/* In place: shrink, or grow into a free upper neighbour. */
	next = blk_next(b);
	if (need > blk_size(b) && !blk_used(next) &&
	    blk_size(b) + next->size >= need) {
		list_remove(next);
		b->size += next->size;
		blk_next(b)->prev_size = blk_size(b);
	}
	if (need <= blk_size(b)) {
		split(b, need);
		return p;
	}
	q = malloc(n);
	if (q) {
		memcpy(q, p, blk_size(b) - HDR);
		free(p);
	}
	return q;
}

void shale_heap_stats(size_t *free_bytes, size_t *largest)
{
	size_t total = 0, max = 0;
	struct blk *b;

	for (b = free_list; b; b = b->next) {
		total += b->size - HDR;
		if (b->size - HDR > max)
			max = b->size - HDR;
	}
	if (free_bytes)
		*free_bytes = total;
	if (largest)
		*largest = max;
}
