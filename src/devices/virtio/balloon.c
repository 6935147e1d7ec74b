/*
 * virtio-balloon (virtio 1.2 §5.5). Queues: 0 inflate, 1 deflate, then
 * statistics and free page reporting, each present only when its
 * feature was negotiated (a missing one shifts the next down, as Linux
 * numbers them). The configuration is num_pages (the host's) and actual
 * (the driver's), both little-endian 32-bit; free_page_hint_cmd_id and
 * poison_val read 0, their features not being offered.
 *
 * Guest RAM is private anonymous memory (vm_add_ram()): MADV_DONTNEED
 * frees a discarded page at once, and the next touch maps a zero page.
 */
#include "devices/virtio/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/pci.h"
#include "util/util.h"
#include "vmm/vm.h"

#define VIRTIO_ID_BALLOON 5
#define BALLOON_CLASS 0x050000 /* memory controller, RAM (what QEMU uses) */
#define BALLOON_CFG_SIZE 16   /* num_pages, actual, free_page_hint_cmd_id, poison_val */
#define BALLOON_NR_QUEUES 4
#define STAT_ENTRY 10 /* le16 tag, le64 value, packed */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Hands [p, p + len) back to the host; page-aligned host memory of guest RAM. */
static void discard(uint8_t *p, size_t len)
{
	static bool said;

	if (!len || !madvise(p, len, MADV_DONTNEED))
		return;
	/* The host's trouble, not the guest's: the memory stays, said once. */
	if (!said)
		log_err("virtio-balloon: madvise: %s", strerror(errno));
	said = true;
}

static int refuse(struct virtio_balloon *bal, const char *why)
{
	bal->why = why;
	return -EINVAL;
}

/*
 * The chain's PFNs into bal->pfn, each checked to be a page of guest RAM,
 * before anything is done with any of them: their number, or -EINVAL.
 */
static int read_pfns(struct virtio_balloon *bal, const struct virtq_chain *c)
{
	uint64_t n = c->out_len / 4;

	if (c->out_len % 4)
		return refuse(bal, "a PFN array that is not a whole number of PFNs");
	if (n > VIRTIO_BALLOON_MAX_PFNS)
		return refuse(bal, "too many PFNs in one buffer");
	if (!virtq_iov_read(c->iov, c->nr_out, 0, bal->pfn, n * 4))
		return refuse(bal, "a PFN array shorter than it says");
	for (uint64_t i = 0; i < n; i++)
		if (!gmem_ptr(&bal->vm->gmem, (gpa_t)bal->pfn[i] * VIRTIO_BALLOON_PAGE,
			      VIRTIO_BALLOON_PAGE))
			return refuse(bal, "a PFN outside guest RAM");
	return (int)n;
}

int virtio_balloon_inflate(struct virtio_balloon *bal, const struct virtq_chain *c)
{
	int n = read_pfns(bal, c);
	uint8_t *run = NULL;
	size_t run_len = 0;

	if (n < 0)
		return n;
	/* Neighbouring pages (Linux inflates in runs) go in one call. */
	for (int i = 0; i < n; i++) {
		uint8_t *p = gmem_ptr(&bal->vm->gmem, (gpa_t)bal->pfn[i] * VIRTIO_BALLOON_PAGE,
				      VIRTIO_BALLOON_PAGE);

		if (run && p == run + run_len) {
			run_len += VIRTIO_BALLOON_PAGE;
			continue;
		}
		discard(run, run_len);
		run = p;
		run_len = VIRTIO_BALLOON_PAGE;
	}
	discard(run, run_len);
	bal->inflated += (uint64_t)n;
	return 0;
}

int virtio_balloon_deflate(struct virtio_balloon *bal, const struct virtq_chain *c)
{
	int n = read_pfns(bal, c);

	/* Nothing to do: a page comes back, zero-filled, when the guest touches it. */
	if (n < 0)
		return n;
	bal->deflated += (uint64_t)n;
	return 0;
}

int virtio_balloon_stats(struct virtio_balloon *bal, const struct virtq_chain *c)
{
	uint8_t buf[VIRTIO_BALLOON_MAX_STAT_ENTRIES * STAT_ENTRY];

	if (c->out_len % STAT_ENTRY)
		return refuse(bal, "a statistics buffer that is not whole entries");
	if (c->out_len > sizeof(buf))
		return refuse(bal, "too many statistics entries");
	if (!virtq_iov_read(c->iov, c->nr_out, 0, buf, c->out_len))
		return refuse(bal, "a statistics buffer shorter than it says");
	for (uint64_t off = 0; off < c->out_len; off += STAT_ENTRY) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, buf + off, 2);
		memcpy(&val, buf + off + 2, 8);
		/* §5.5.6.3: tags the device does not know are ignored. */
		if (tag >= VIRTIO_BALLOON_NR_STATS)
			continue;
		bal->stat[tag] = val;
		bal->stat_valid |= 1u << tag;
	}
	bal->stats_updates++;
	return 0;
}

int virtio_balloon_report(struct virtio_balloon *bal, const struct virtq_chain *c)
{
	/* Already guest RAM: virtq_pop() translated every buffer, length included. */
	for (unsigned i = 0; i < c->nr_out + c->nr_in; i++) {
		uintptr_t start = (uintptr_t)c->iov[i].iov_base;
		uintptr_t end = start + c->iov[i].iov_len;
		uintptr_t a = ALIGN_UP(start, (uintptr_t)VIRTIO_BALLOON_PAGE);
		uintptr_t b = ALIGN_DOWN(end, (uintptr_t)VIRTIO_BALLOON_PAGE);

		if (b <= a)
			continue;
		discard((uint8_t *)a, b - a);
		bal->reported += b - a;
	}
	return 0;
}

enum virtio_balloon_queue virtio_balloon_queue_role(uint64_t features, unsigned q)
{
	bool stats = features & VIRTIO_BALLOON_F_STATS_VQ;
	bool reporting = features & VIRTIO_BALLOON_F_PAGE_REPORTING;

	if (q < 2)
		return q ? VIRTIO_BALLOON_Q_DEFLATE : VIRTIO_BALLOON_Q_INFLATE;
	if (q == 2 && stats)
		return VIRTIO_BALLOON_Q_STATS;
	if (q == 2u + stats && reporting)
		return VIRTIO_BALLOON_Q_REPORTING;
	return VIRTIO_BALLOON_Q_NONE;
}

/* A refusal names its own reason; virtio_pci_serve_chains()' is then not needed. */
static int64_t refused(struct virtio_balloon *bal)
{
	virtio_pci_needs_reset(bal->vp, bal->why);
	return -1;
}

static int64_t serve_inflate(void *opaque, const struct virtq_chain *c)
{
	return virtio_balloon_inflate(opaque, c) ? refused(opaque) : 0;
}

static int64_t serve_deflate(void *opaque, const struct virtq_chain *c)
{
	return virtio_balloon_deflate(opaque, c) ? refused(opaque) : 0;
}

static int64_t serve_report(void *opaque, const struct virtq_chain *c)
{
	return virtio_balloon_report(opaque, c) ? -1 : 0;
}

/* Gives the held statistics buffer back: the driver then sends fresh ones. */
static void release_stats(struct virtio_balloon *bal, unsigned q)
{
	struct virtq *vq = &bal->vp->vq[q];

	if (!bal->stats_held)
		return;
	bal->stats_held = false;
	virtq_push(vq, bal->stats_head, 0);
	if (virtq_need_interrupt(vq))
		virtio_pci_notify_queue(bal->vp, q);
}

/*
 * The statistics queue: its one buffer is read, then kept (not used)
 * until the host wants fresh numbers (§5.5.6.3). A driver that adds a
 * second gets the first back.
 */
static bool serve_stats(struct virtio_balloon *bal, unsigned q)
{
	struct virtq *vq = &bal->vp->vq[q];

	for (unsigned i = 0; i < vq->size; i++) {
		int ret = virtq_pop(vq, &bal->vm->gmem, &bal->chain);

		if (ret < 0) {
			virtio_pci_needs_reset(bal->vp, vq->why);
			return false;
		}
		if (!ret)
			return false;
		release_stats(bal, q);
		if (virtio_balloon_stats(bal, &bal->chain)) {
			virtio_pci_needs_reset(bal->vp, bal->why);
			return false;
		}
		bal->stats_held = true;
		bal->stats_head = bal->chain.head;
	}
	return true;
}

static bool balloon_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct virtio_balloon *bal = vp->opaque;

	switch (virtio_balloon_queue_role(virtio_pci_features(vp), q)) {
	case VIRTIO_BALLOON_Q_INFLATE:
		return virtio_pci_serve_chains(vp, q, &bal->chain, serve_inflate, bal,
					       "a bad inflate buffer");
	case VIRTIO_BALLOON_Q_DEFLATE:
		return virtio_pci_serve_chains(vp, q, &bal->chain, serve_deflate, bal,
					       "a bad deflate buffer");
	case VIRTIO_BALLOON_Q_STATS:
		return serve_stats(bal, q);
	case VIRTIO_BALLOON_Q_REPORTING:
		return virtio_pci_serve_chains(vp, q, &bal->chain, serve_report, bal, NULL);
	case VIRTIO_BALLOON_Q_NONE:
		break;
	}
	virtio_pci_needs_reset(vp, "a queue its features do not have");
	return false;
}

static void balloon_config_read(struct virtio_pci *vp, unsigned off, uint8_t *data,
				unsigned size)
{
	struct virtio_balloon *bal = vp->opaque;
	uint8_t cfg[BALLOON_CFG_SIZE] = { 0 };

	memcpy(cfg, &bal->num_pages, 4);
	memcpy(cfg + 4, &bal->actual, 4);
	memcpy(data, cfg + off, size); /* the transport keeps [off, off + size) inside */
}

/* The driver writes `actual` only; the rest is the device's. */
static void balloon_config_write(struct virtio_pci *vp, unsigned off, const uint8_t *data,
				 unsigned size)
{
	struct virtio_balloon *bal = vp->opaque;
	uint8_t cfg[BALLOON_CFG_SIZE] = { 0 };

	memcpy(cfg + 4, &bal->actual, 4);
	for (unsigned i = 0; i < size; i++)
		if (off + i >= 4 && off + i < 8)
			cfg[off + i] = data[i];
	bal->actual = get32(cfg + 4);
}

static void balloon_reset(struct virtio_pci *vp)
{
	struct virtio_balloon *bal = vp->opaque;

	/* The target stays the host's; a new driver starts with an empty balloon. */
	bal->actual = 0;
	bal->stats_held = false;
}

static const struct virtio_dev_ops balloon_ops = {
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};

int virtio_balloon_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
			  uint64_t features, struct virtio_balloon **out)
{
	struct virtio_balloon *bal = calloc(1, sizeof(*bal));
	struct virtio_pci_config cfg = {
		.name = "virtio-balloon",
		.device_type = VIRTIO_ID_BALLOON,
		.class_code = BALLOON_CLASS,
		.features = VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BALLOON_F_STATS_VQ |
			    (features & (VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
					 VIRTIO_BALLOON_F_PAGE_REPORTING)),
		.nr_queues = BALLOON_NR_QUEUES,
		.queue_size = VIRTIO_BALLOON_QUEUE_SIZE,
		.config_size = BALLOON_CFG_SIZE,
	};

	*out = bal;
	if (!bal)
		return -ENOMEM;
	bal->vm = vm;
	if (!bus)
		return 0;
	return virtio_pci_create(vm, bus, devnum, &cfg, &balloon_ops, bal, &bal->vp);
}

int virtio_balloon_start(struct virtio_balloon *bal)
{
	return bal->vp ? virtio_pci_start(bal->vp) : 0;
}

void virtio_balloon_destroy(struct virtio_balloon *bal)
{
	if (!bal)
		return;
	if (bal->vp)
		virtio_pci_destroy(bal->vp);
	free(bal);
}

int virtio_balloon_set_target(struct virtio_balloon *bal, uint64_t bytes)
{
	uint64_t pages = bytes / VIRTIO_BALLOON_PAGE;

	if (bytes > bal->vm->ram_size || pages > UINT32_MAX)
		return -EINVAL;
	if (bal->vp)
		pthread_mutex_lock(&bal->vp->lock);
	bal->num_pages = (uint32_t)pages;
	if (bal->vp) {
		virtio_pci_config_changed(bal->vp);
		pthread_mutex_unlock(&bal->vp->lock);
	}
	return 0;
}

void virtio_balloon_info(struct virtio_balloon *bal, struct virtio_balloon_info *out)
{
	struct virtio_pci *vp = bal->vp;

	if (vp)
		pthread_mutex_lock(&vp->lock);
	*out = (struct virtio_balloon_info){
		.target_pages = bal->num_pages,
		.actual_pages = bal->actual,
		.inflated_pages = bal->inflated,
		.deflated_pages = bal->deflated,
		.reported_bytes = bal->reported,
		.stats_updates = bal->stats_updates,
		.stat_valid = bal->stat_valid,
	};
	memcpy(out->stat, bal->stat, sizeof(out->stat));
	/* Only a device that may use its queues gives the buffer back. */
	if (vp && bal->stats_held && (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vp->status & VIRTIO_STATUS_NEEDS_RESET))
		for (unsigned q = 0; q < vp->cfg.nr_queues; q++)
			if (virtio_balloon_queue_role(virtio_pci_features(vp), q) ==
				    VIRTIO_BALLOON_Q_STATS && vp->vq[q].enabled)
				release_stats(bal, q);
	if (vp)
		pthread_mutex_unlock(&vp->lock);
}
