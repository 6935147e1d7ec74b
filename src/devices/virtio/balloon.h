/*
 * virtio-balloon (virtio 1.2 §5.5), the memory balloon: the host sets a
 * target (num_pages, 4 KiB pages the guest should give back), the
 * driver inflates toward it by handing over page frame numbers, which
 * the device discards from guest RAM so that the host has the memory
 * back; it deflates by taking pages back, which are then zero-filled on
 * first touch. Also the statistics queue (VIRTIO_BALLOON_F_STATS_VQ)
 * and free page reporting (VIRTIO_BALLOON_F_PAGE_REPORTING): free ranges
 * the guest reports are discarded too. DEFLATE_ON_OOM and PAGE_REPORTING
 * are offered as the host asks; MUST_TELL_HOST and FREE_PAGE_HINT never.
 *
 * What the guest controls: every PFN and range it sends, each checked to
 * be guest RAM through the translator (one that is not sets NEEDS_RESET;
 * nothing outside guest RAM is ever discarded); the statistics it
 * reports, which are only numbers shown to the operator; and `actual`.
 */
#ifndef SHALE_DEVICES_VIRTIO_BALLOON_H
#define SHALE_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/queue.h"

struct vm;
struct pci_bus;
struct virtio_pci;

#define VIRTIO_BALLOON_QUEUE_SIZE 128u
#define VIRTIO_BALLOON_PAGE 4096u
/* PFNs in one inflate or deflate chain: Linux sends at most 256. More is refused. */
#define VIRTIO_BALLOON_MAX_PFNS 4096u
/* Statistics tags this device names (§5.5.6.3, and Linux's 10-15); others are ignored. */
#define VIRTIO_BALLOON_NR_STATS 16u
/* Entries in one statistics buffer: more is refused. */
#define VIRTIO_BALLOON_MAX_STAT_ENTRIES 64u

/* Feature bits (§5.5.3). */
#define VIRTIO_BALLOON_F_STATS_VQ (1ull << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ull << 2)
#define VIRTIO_BALLOON_F_PAGE_REPORTING (1ull << 5)

/* What a queue is for, by the features the driver took (queues shift down, §5.5.2). */
enum virtio_balloon_queue {
	VIRTIO_BALLOON_Q_INFLATE,
	VIRTIO_BALLOON_Q_DEFLATE,
	VIRTIO_BALLOON_Q_STATS,
	VIRTIO_BALLOON_Q_REPORTING,
	VIRTIO_BALLOON_Q_NONE,
};

/* A snapshot for the operator (the control socket's stats). */
struct virtio_balloon_info {
	uint64_t target_pages;   /* num_pages, set by the host */
	uint64_t actual_pages;   /* what the driver says it holds */
	uint64_t inflated_pages; /* PFNs discarded on inflation, so far */
	uint64_t deflated_pages; /* PFNs given back, so far */
	uint64_t reported_bytes; /* free memory reported and discarded, so far */
	uint64_t stats_updates;  /* statistics buffers received */
	uint64_t stat[VIRTIO_BALLOON_NR_STATS]; /* by tag; stat_valid says which were sent */
	uint32_t stat_valid;
};

struct virtio_balloon {
	struct virtio_pci *vp;
	struct vm *vm;
	/* Under vp->lock: */
	uint32_t num_pages, actual;
	uint64_t inflated, deflated, reported;
	uint64_t stats_updates;
	uint64_t stat[VIRTIO_BALLOON_NR_STATS];
	uint32_t stat_valid;
	bool stats_held; /* the driver's statistics buffer, kept until fresh ones are wanted */
	uint16_t stats_head;
	const char *why; /* why the last request was refused, a literal */
	/* I/O thread: */
	struct virtq_chain chain;
	uint32_t pfn[VIRTIO_BALLOON_MAX_PFNS];
};

/*
 * The device at 00:devnum.0 of `bus` (NULL: the request paths alone, for
 * the tests), offering STATS_VQ and of `features` DEFLATE_ON_OOM and
 * PAGE_REPORTING. 0 or -errno with a message; virtio_balloon_destroy()
 * also undoes a partial one.
 */
int virtio_balloon_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
			  uint64_t features, struct virtio_balloon **out);
int virtio_balloon_start(struct virtio_balloon *bal);
void virtio_balloon_destroy(struct virtio_balloon *bal);

/*
 * The request paths, each for one chain as virtq_pop() hands it over: 0,
 * or -EINVAL with bal->why when the driver broke the rules (then the
 * transport sets NEEDS_RESET). Inflate and deflate read an array of
 * 32-bit PFNs from the readable buffers (a whole number of them, at most
 * VIRTIO_BALLOON_MAX_PFNS, each a page of guest RAM); inflate discards
 * those pages. Statistics are 10-byte (tag, value) entries. A report's
 * buffers are free ranges of guest RAM: the whole 4 KiB pages inside
 * each are discarded.
 */
int virtio_balloon_inflate(struct virtio_balloon *bal, const struct virtq_chain *c);
int virtio_balloon_deflate(struct virtio_balloon *bal, const struct virtq_chain *c);
int virtio_balloon_stats(struct virtio_balloon *bal, const struct virtq_chain *c);
int virtio_balloon_report(struct virtio_balloon *bal, const struct virtq_chain *c);

/* Queue `q`'s job with the features in `features` (the negotiated ones). */
enum virtio_balloon_queue virtio_balloon_queue_role(uint64_t features, unsigned q);

/*
 * The host's target: `bytes` of guest RAM the guest should give back
 * (whole pages; 0 deflates all). Tells the driver (a configuration
 * change). -EINVAL when larger than guest RAM. Any thread.
 */
int virtio_balloon_set_target(struct virtio_balloon *bal, uint64_t bytes);

/*
 * What the device knows now into *out; and when it holds the driver's
 * statistics buffer, gives it back so that the next call sees fresh
 * statistics (§5.5.6.3). Any thread.
 */
void virtio_balloon_info(struct virtio_balloon *bal, struct virtio_balloon_info *out);

#endif
