/*
 * virtio over PCI, modern interface (virtio 1.2 §4.1). BAR 0, 32 KiB of
 * memory space:
 *
 *   0x0000  common configuration (§4.1.4.3)
 *   0x1000  ISR status (§4.1.4.5)
 *   0x2000  device configuration (§4.1.4.6)
 *   0x3000  notifications: queue q at 0x3000 + 4 * q (§4.1.4.4)
 *   0x4000  MSI-X table (PCI 3.0 §6.8.2), one vector per queue + config
 *   0x5000  MSI-X pending bits
 */
#include "devices/virtio/pci.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/util.h"
#include "vmm/iobus.h"
#include "vmm/irq.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + device type: modern only */

/* Vendor capability types (§4.1.4). */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

/* Where the capabilities sit in configuration space. */
#define CAP_COMMON_AT 0x40
#define CAP_NOTIFY_AT 0x50
#define CAP_ISR_AT 0x64
#define CAP_DEVICE_AT 0x74
#define CAP_MSIX_AT 0x84
#define CAP_PCI_CFG_AT 0x90
#define PCI_CFG_WIN_BAR (CAP_PCI_CFG_AT + 4)
#define PCI_CFG_WIN_OFF (CAP_PCI_CFG_AT + 8)
#define PCI_CFG_WIN_LEN (CAP_PCI_CFG_AT + 12)
#define PCI_CFG_WIN_DATA (CAP_PCI_CFG_AT + 16)
#define MSIX_CTRL_AT (CAP_MSIX_AT + 2)
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_CTRL_MASK 0x4000u
#define MSIX_ENTRY_MASKED 1u

/* Common configuration fields (§4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_CFG_GENERATION 0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_AVAIL 0x28
#define CC_Q_USED 0x30
#define CC_SIZE 0x38

#define ISR_QUEUE 1u
#define ISR_CONFIG 2u

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get_le(const uint8_t *data, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, data, size);
	return v;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	/* A full counter (2^64 - 2 signals unread) is still a signal. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("eventfd write: %s", strerror(errno));
}

/* ---- MSI-X -------------------------------------------------------------- */

static bool vector_live(const struct virtio_pci *vp, const struct virtio_msix_vector *v)
{
	return vp->msix_enabled && !vp->msix_masked && !(v->ctrl & MSIX_ENTRY_MASKED);
}

/*
 * A vector that can deliver gets its message into its route (vCPU
 * thread: the I/O thread may not call KVM), then what waited on it.
 */
static void msix_update(struct virtio_pci *vp, unsigned n)
{
	struct virtio_msix_vector *v = &vp->vec[n];

	if (!vector_live(vp, v))
		return;
	if (irq_msi_set(vp->vm, v->gsi, (uint64_t)v->addr_hi << 32 | v->addr_lo, v->data))
		return;
	if (v->pending) {
		v->pending = false;
		signal_fd(v->fd);
	}
}

static void msix_update_all(struct virtio_pci *vp)
{
	for (unsigned n = 0; n < vp->nr_vectors; n++)
		msix_update(vp, n);
}

/* An interrupt: vector n with MSI-X (§4.1.5.1.2), else INTA with the ISR. */
static void interrupt(struct virtio_pci *vp, uint16_t n, uint8_t isr)
{
	struct virtio_msix_vector *v;

	__atomic_fetch_or(&vp->isr, isr, __ATOMIC_SEQ_CST);
	if (!vp->msix_enabled) {
		if (!vp->intx_disabled)
			signal_fd(vp->intx_fd);
		return;
	}
	if (n >= vp->nr_vectors)
		return;
	v = &vp->vec[n];
	if (!vector_live(vp, v))
		v->pending = true;
	else
		signal_fd(v->fd);
}

static void msix_table_access(struct virtio_pci *vp, uint64_t off, uint8_t *data,
			      unsigned size, bool is_write)
{
	unsigned n = (unsigned)(off / 16), field = (unsigned)(off % 16);
	struct virtio_msix_vector *v;
	uint32_t *word;

	/* Dword accesses, and qwords of two dwords (PCI 3.0 §6.8.2). */
	if (n >= vp->nr_vectors || (size != 4 && size != 8) || field % size) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	v = &vp->vec[n];
	for (unsigned i = 0; i < size; i += 4, field += 4) {
		word = field == 0 ? &v->addr_lo : field == 4 ? &v->addr_hi
			: field == 8 ? &v->data : &v->ctrl;
		if (!is_write) {
			put32(data + i, *word);
			continue;
		}
		*word = (uint32_t)get_le(data + i, 4);
		if (field == 12)
			v->ctrl &= MSIX_ENTRY_MASKED;
	}
	if (is_write)
		msix_update(vp, n);
}

/* ---- common configuration ---------------------------------------------- */

static uint64_t device_features(const struct virtio_pci *vp)
{
	return vp->cfg.features | VIRTIO_F_VERSION_1;
}

static void reset(struct virtio_pci *vp)
{
	vp->driver_features = 0;
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->config_vector = VIRTIO_NO_VECTOR;
	vp->queue_select = 0;
	vp->status = 0;
	__atomic_store_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
	for (unsigned q = 0; q < vp->cfg.nr_queues; q++) {
		virtq_reset(&vp->vq[q], vp->cfg.queue_size);
		vp->queue_vector[q] = VIRTIO_NO_VECTOR;
	}
	if (vp->ops->reset)
		vp->ops->reset(vp);
}

void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why)
{
	if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* A guest that breaks and resets the device in a loop floods no log. */
	if (vp->reports < VIRTIO_PCI_MAX_REPORTS)
		log_err("%s at 00:%02x.0: the guest driver broke the device (%s): "
			"it needs a reset%s", vp->cfg.name, vp->devnum, why,
			vp->reports + 1 == VIRTIO_PCI_MAX_REPORTS ? " (said for the last time)" : "");
	vp->reports++;
	vp->config_generation++;
	interrupt(vp, vp->config_vector, ISR_CONFIG);
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	vp->config_generation++;
	interrupt(vp, vp->config_vector, ISR_CONFIG);
}

void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned q)
{
	interrupt(vp, vp->queue_vector[q], ISR_QUEUE);
}

/* The guest's EOI released INTA: asserted again while the ISR says so. */
static void intx_resample(struct virtio_pci *vp)
{
	uint64_t count;

	if (read(vp->resample_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		die("%s: eventfd read: %s", vp->cfg.name, strerror(errno));
	pthread_mutex_lock(&vp->lock);
	if (__atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST) && !vp->msix_enabled &&
	    !vp->intx_disabled)
		signal_fd(vp->intx_fd);
	pthread_mutex_unlock(&vp->lock);
}

static void write_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status;

	if (!v) {
		reset(vp);
		return;
	}
	vp->status = (uint8_t)(v | (old & VIRTIO_STATUS_NEEDS_RESET));
	/* §2.2.2: features the device did not offer, or no VERSION_1: refused. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    ((vp->driver_features & ~device_features(vp)) ||
	     !(vp->driver_features & VIRTIO_F_VERSION_1)))
		vp->status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	/* Buffers made available before DRIVER_OK are served now. */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned q = 0; q < vp->cfg.nr_queues; q++)
			if (vp->vq[q].enabled)
				signal_fd(vp->notify_fd[q]);
}

static struct virtq *selected_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->cfg.nr_queues ? &vp->vq[vp->queue_select] : NULL;
}

static void common_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned size)
{
	uint8_t cc[CC_SIZE] = { 0 };
	struct virtq *vq = selected_queue(vp);
	uint64_t f = device_features(vp);

	put32(cc + CC_DFSELECT, vp->device_feature_select);
	if (vp->device_feature_select < 2)
		put32(cc + CC_DF, (uint32_t)(f >> (32 * vp->device_feature_select)));
	put32(cc + CC_GFSELECT, vp->driver_feature_select);
	if (vp->driver_feature_select < 2)
		put32(cc + CC_GF, (uint32_t)(vp->driver_features >>
					     (32 * vp->driver_feature_select)));
	put16(cc + CC_MSIX_CONFIG, vp->config_vector);
	put16(cc + CC_NUM_QUEUES, (uint16_t)vp->cfg.nr_queues);
	cc[CC_STATUS] = vp->status;
	cc[CC_CFG_GENERATION] = vp->config_generation;
	put16(cc + CC_Q_SELECT, vp->queue_select);
	if (vq) {
		put16(cc + CC_Q_SIZE, vq->size);
		put16(cc + CC_Q_MSIX, vp->queue_vector[vp->queue_select]);
		put16(cc + CC_Q_ENABLE, vq->enabled);
		put16(cc + CC_Q_NOFF, vp->queue_select);
		put64(cc + CC_Q_DESC, vq->desc_gpa);
		put64(cc + CC_Q_AVAIL, vq->avail_gpa);
		put64(cc + CC_Q_USED, vq->used_gpa);
	}
	if (off + size <= CC_SIZE)
		memcpy(data, cc + off, size);
	else
		memset(data, 0, size);
}

/* Sets the 32-bit half at `off` of the 64-bit field at `field`. */
static bool set_half(uint64_t *dst, uint64_t field, uint64_t off, unsigned size, uint64_t v)
{
	if (off == field && size == 8) {
		*dst = v;
	} else if (size == 4 && (off == field || off == field + 4)) {
		unsigned shift = off == field ? 0 : 32;

		*dst = (*dst & ~(0xffffffffull << shift)) | v << shift;
	} else {
		return false;
	}
	return true;
}

static void common_write(struct virtio_pci *vp, uint64_t off, const uint8_t *data,
			 unsigned size)
{
	uint64_t v = get_le(data, size);
	struct virtq *vq = selected_queue(vp);
	unsigned q = vp->queue_select;

	switch (off | (uint64_t)size << 8) {
	case CC_DFSELECT | 4 << 8:
		vp->device_feature_select = (uint32_t)v;
		return;
	case CC_GFSELECT | 4 << 8:
		vp->driver_feature_select = (uint32_t)v;
		return;
	case CC_GF | 4 << 8:
		/* Features are fixed once FEATURES_OK is set (§3.1.1). */
		if (vp->driver_feature_select < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned shift = 32 * vp->driver_feature_select;

			vp->driver_features = (vp->driver_features & ~(0xffffffffull << shift)) |
					      v << shift;
		}
		return;
	case CC_MSIX_CONFIG | 2 << 8:
		vp->config_vector = v < vp->nr_vectors ? (uint16_t)v : VIRTIO_NO_VECTOR;
		return;
	case CC_STATUS | 1 << 8:
		write_status(vp, (uint8_t)v);
		return;
	case CC_Q_SELECT | 2 << 8:
		vp->queue_select = (uint16_t)v;
		return;
	}
	if (!vq || vq->enabled)
		return; /* a queue's settings change only while it is off */
	switch (off | (uint64_t)size << 8) {
	case CC_Q_SIZE | 2 << 8:
		vq->size = (uint16_t)v;
		return;
	case CC_Q_MSIX | 2 << 8:
		vp->queue_vector[q] = v < vp->nr_vectors ? (uint16_t)v : VIRTIO_NO_VECTOR;
		return;
	case CC_Q_ENABLE | 2 << 8:
		if (v != 1)
			return;
		vq->indirect = vp->driver_features & VIRTIO_F_RING_INDIRECT_DESC;
		vq->event_idx = vp->driver_features & VIRTIO_F_EVENT_IDX;
		if (!virtq_enable(vq, &vp->vm->gmem))
			virtio_pci_needs_reset(vp, vq->why);
		return;
	}
	if (!set_half(&vq->desc_gpa, CC_Q_DESC, off, size, v) &&
	    !set_half(&vq->avail_gpa, CC_Q_AVAIL, off, size, v))
		set_half(&vq->used_gpa, CC_Q_USED, off, size, v);
}

/* ---- BAR 0 --------------------------------------------------------------- */

static int bar_io(void *opaque, struct vcpu *vcpu, uint64_t off, uint8_t *data,
		  unsigned size, bool is_write)
{
	struct virtio_pci *vp = opaque;

	/*
	 * A notification KVM's ioeventfd did not take (another width, or no
	 * ioeventfd): without the lock, which the I/O thread holds while it
	 * serves, so that the vCPU does not wait for the disk.
	 */
	if (off >= VIRTIO_PCI_NOTIFY_OFF && off < VIRTIO_PCI_MSIX_TABLE_OFF) {
		uint64_t q = (off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;

		if (!is_write)
			memset(data, 0, size);
		else if (q < vp->cfg.nr_queues)
			signal_fd(vp->notify_fd[q]);
		return 0;
	}
	/* The ISR too: an INTA handler reads it at every interrupt. */
	if (off >= VIRTIO_PCI_ISR_OFF && off < VIRTIO_PCI_DEVICE_OFF) {
		/* Reading the ISR clears it (§4.1.4.5.1). */
		if (!is_write) {
			memset(data, 0, size);
			if (off == VIRTIO_PCI_ISR_OFF)
				data[0] = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
		}
		return 0;
	}
	pthread_mutex_lock(&vp->lock);
	if (off < VIRTIO_PCI_ISR_OFF) {
		if (is_write)
			common_write(vp, off, data, size);
		else
			common_read(vp, off, data, size);
	} else if (off < VIRTIO_PCI_NOTIFY_OFF) {
		unsigned doff = (unsigned)(off - VIRTIO_PCI_DEVICE_OFF);

		if (doff + size > vp->cfg.config_size) {
			if (!is_write)
				memset(data, 0, size);
		} else if (!is_write) {
			vp->ops->config_read(vp, doff, data, size);
		} else if (vp->ops->config_write) {
			vp->ops->config_write(vp, doff, data, size);
		}
	} else if (off < VIRTIO_PCI_MSIX_PBA_OFF) {
		msix_table_access(vp, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, size, is_write);
	} else if (!is_write) {
		uint64_t pba = 0;

		for (unsigned n = 0; n < vp->nr_vectors; n++)
			pba |= (uint64_t)vp->vec[n].pending << n;
		memset(data, 0, size);
		if (off == VIRTIO_PCI_MSIX_PBA_OFF && (size == 4 || size == 8))
			memcpy(data, &pba, size);
	}
	pthread_mutex_unlock(&vp->lock);
	return 0;
}

static void unmap_bar(struct virtio_pci *vp)
{
	if (!vp->bar_gpa)
		return;
	for (unsigned q = 0; q < vp->cfg.nr_queues; q++)
		irq_ioeventfd(vp->vm, vp->notify_fd[q], vp->bar_gpa + VIRTIO_PCI_NOTIFY_OFF +
			      VIRTIO_PCI_NOTIFY_MULT * q, 2, false);
	iobus_unregister(&vp->vm->mmio, vp->bar_gpa);
	vp->bar_gpa = 0;
}

/* BAR 0 decodes where the guest put it, while memory decoding is on. */
static void update_bar(struct virtio_pci *vp)
{
	uint16_t cmd;
	uint64_t gpa = pci_device_bar_address(&vp->pci, 0);

	memcpy(&cmd, &vp->pci.config[PCI_CFG_COMMAND], 2);
	if (!(cmd & PCI_CMD_MEM) || gpa == 0 || gpa > UINT32_MAX - VIRTIO_PCI_BAR_SIZE)
		gpa = 0;
	if (gpa == vp->bar_gpa)
		return;
	unmap_bar(vp);
	if (!gpa)
		return;
	if (iobus_register(&vp->vm->mmio, gpa, VIRTIO_PCI_BAR_SIZE, IOBUS_WANY, bar_io, vp,
			   vp->cfg.name)) {
		if (!vp->bar_failed)
			log_err("%s at 00:%02x.0: BAR 0 at 0x%llx overlaps another device; "
				"not mapped", vp->cfg.name, vp->devnum, (unsigned long long)gpa);
		vp->bar_failed = true;
		return;
	}
	vp->bar_gpa = gpa;
	/* Without an ioeventfd a notification still arrives, through bar_io(). */
	for (unsigned q = 0; q < vp->cfg.nr_queues; q++)
		irq_ioeventfd(vp->vm, vp->notify_fd[q], gpa + VIRTIO_PCI_NOTIFY_OFF +
			      VIRTIO_PCI_NOTIFY_MULT * q, 2, true);
}

static bool touches(unsigned off, unsigned size, unsigned reg, unsigned len)
{
	return off < reg + len && reg < off + size;
}

/*
 * The PCI configuration access capability (§4.1.4.9): a window into BAR 0
 * through configuration space, `length` (1, 2 or 4, aligned) bytes at
 * `offset`. Anything else reads as what was last written there.
 */
static void cfg_window(struct virtio_pci *vp, bool is_write)
{
	uint8_t *c = vp->pci.config;
	uint32_t off, len;

	memcpy(&off, c + PCI_CFG_WIN_OFF, 4);
	memcpy(&len, c + PCI_CFG_WIN_LEN, 4);
	if (c[PCI_CFG_WIN_BAR] != 0 || (len != 1 && len != 2 && len != 4) || off % len ||
	    off >= VIRTIO_PCI_BAR_SIZE)
		return;
	bar_io(vp, NULL, off, c + PCI_CFG_WIN_DATA, len, is_write);
}

static void config_reading(struct pci_device *dev, unsigned off, unsigned size)
{
	if (touches(off, size, PCI_CFG_WIN_DATA, 4))
		cfg_window(dev->opaque, false);
}

/* Configuration space writes (bus lock held): BAR placement, MSI-X control, the window. */
static void config_written(struct pci_device *dev, unsigned off, unsigned size)
{
	struct virtio_pci *vp = dev->opaque;

	if (touches(off, size, PCI_CFG_WIN_DATA, 4))
		cfg_window(vp, true);

	if (touches(off, size, PCI_CFG_COMMAND, 2) || touches(off, size, PCI_CFG_BAR0, 4))
		update_bar(vp);
	if (touches(off, size, PCI_CFG_COMMAND, 2)) {
		pthread_mutex_lock(&vp->lock);
		vp->intx_disabled = dev->config[PCI_CFG_COMMAND + 1] & (PCI_CMD_INTX_DISABLE >> 8);
		pthread_mutex_unlock(&vp->lock);
	}
	if (touches(off, size, MSIX_CTRL_AT, 2)) {
		uint16_t ctrl;

		memcpy(&ctrl, &dev->config[MSIX_CTRL_AT], 2);
		pthread_mutex_lock(&vp->lock);
		vp->msix_enabled = ctrl & MSIX_CTRL_ENABLE;
		vp->msix_masked = ctrl & MSIX_CTRL_MASK;
		msix_update_all(vp);
		pthread_mutex_unlock(&vp->lock);
	}
}

/* ---- set-up -------------------------------------------------------------- */

static void vendor_cap(uint8_t *c, unsigned at, unsigned next, unsigned len, unsigned type,
		       uint32_t offset, uint32_t length)
{
	c[at] = PCI_CAP_VENDOR;
	c[at + 1] = (uint8_t)next;
	c[at + 2] = (uint8_t)len;
	c[at + 3] = (uint8_t)type;
	c[at + 4] = 0; /* BAR 0 */
	put32(c + at + 8, offset);
	put32(c + at + 12, length);
}

static void build_config_space(struct virtio_pci *vp)
{
	struct pci_device *dev = &vp->pci;
	uint8_t *c = dev->config;

	pci_device_init(dev, VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + vp->cfg.device_type),
			vp->cfg.class_code, 1);
	put16(c + PCI_CFG_SUBSYS_VENDOR_ID, VIRTIO_PCI_VENDOR);
	put16(c + PCI_CFG_SUBSYS_ID, vp->cfg.device_type);
	if (pci_device_set_bar(dev, 0, VIRTIO_PCI_BAR_SIZE, 0))
		die("virtio BAR 0");
	put16(c + PCI_CFG_STATUS, PCI_STATUS_CAP_LIST);
	c[PCI_CFG_INT_PIN] = 1; /* INTA */
	c[PCI_CFG_INT_LINE] = (uint8_t)vp->intx_gsi;
	c[PCI_CFG_CAP_PTR] = CAP_COMMON_AT;
	vendor_cap(c, CAP_COMMON_AT, CAP_NOTIFY_AT, 16, CAP_COMMON, VIRTIO_PCI_COMMON_OFF,
		   CC_SIZE);
	vendor_cap(c, CAP_NOTIFY_AT, CAP_ISR_AT, 20, CAP_NOTIFY, VIRTIO_PCI_NOTIFY_OFF,
		   VIRTIO_PCI_NOTIFY_MULT * vp->cfg.nr_queues);
	put32(c + CAP_NOTIFY_AT + 16, VIRTIO_PCI_NOTIFY_MULT);
	/* Only a device with a configuration has its capability (§4.1.4.6). */
	vendor_cap(c, CAP_ISR_AT, vp->cfg.config_size ? CAP_DEVICE_AT : CAP_MSIX_AT, 16, CAP_ISR,
		   VIRTIO_PCI_ISR_OFF, 4);
	if (vp->cfg.config_size)
		vendor_cap(c, CAP_DEVICE_AT, CAP_MSIX_AT, 16, CAP_DEVICE, VIRTIO_PCI_DEVICE_OFF,
			   vp->cfg.config_size);
	c[CAP_MSIX_AT] = PCI_CAP_MSIX;
	c[CAP_MSIX_AT + 1] = CAP_PCI_CFG_AT;
	put16(c + MSIX_CTRL_AT, (uint16_t)(vp->nr_vectors - 1));
	put32(c + CAP_MSIX_AT + 4, VIRTIO_PCI_MSIX_TABLE_OFF); /* BIR 0 */
	put32(c + CAP_MSIX_AT + 8, VIRTIO_PCI_MSIX_PBA_OFF);
	put16(dev->wmask + MSIX_CTRL_AT, MSIX_CTRL_ENABLE | MSIX_CTRL_MASK);
	vendor_cap(c, CAP_PCI_CFG_AT, 0, 20, CAP_PCI_CFG, 0, 0);
	dev->wmask[PCI_CFG_WIN_BAR] = 0xff;
	put32(dev->wmask + PCI_CFG_WIN_OFF, 0xffffffff);
	put32(dev->wmask + PCI_CFG_WIN_LEN, 0xffffffff);
	put32(dev->wmask + PCI_CFG_WIN_DATA, 0xffffffff);
	dev->config_read = config_reading;
	dev->config_write = config_written;
	dev->opaque = vp;
}

int virtio_pci_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
		      const struct virtio_pci_config *cfg, const struct virtio_dev_ops *ops,
		      void *opaque, struct virtio_pci **out)
{
	struct virtio_pci *vp;
	int ret = 0;

	if (!cfg->nr_queues || cfg->nr_queues > VIRTIO_PCI_MAX_QUEUES ||
	    cfg->config_size > VIRTIO_PCI_NOTIFY_OFF - VIRTIO_PCI_DEVICE_OFF ||
	    cfg->queue_size > VIRTQ_MAX_SIZE || !cfg->queue_size ||
	    (cfg->queue_size & (cfg->queue_size - 1)))
		die("%s: bad virtio device configuration", cfg->name);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->vm = vm;
	vp->devnum = devnum;
	vp->cfg = *cfg;
	vp->ops = ops;
	vp->opaque = opaque;
	vp->nr_vectors = cfg->nr_queues + 1;
	vp->stop_fd = vp->wake_fd = vp->intx_fd = vp->resample_fd = -1;
	vp->intx_gsi = pci_intx_gsi(devnum, 0);
	pthread_mutex_init(&vp->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++)
		vp->notify_fd[q] = -1;
	for (unsigned n = 0; n < VIRTIO_PCI_MAX_QUEUES + 1; n++)
		vp->vec[n] = (struct virtio_msix_vector){ .ctrl = MSIX_ENTRY_MASKED, .fd = -1 };
	*out = vp;

	vp->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->stop_fd < 0 || vp->wake_fd < 0 || vp->intx_fd < 0 || vp->resample_fd < 0)
		goto errno_out;
	ret = irq_irqfd(vm, vp->intx_fd, vp->resample_fd, vp->intx_gsi, true);
	if (ret)
		return ret;
	for (unsigned q = 0; q < cfg->nr_queues; q++) {
		vp->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->notify_fd[q] < 0)
			goto errno_out;
	}
	for (unsigned n = 0; n < vp->nr_vectors; n++) {
		vp->vec[n].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->vec[n].fd < 0)
			goto errno_out;
		ret = irq_msi_alloc(vm, &vp->vec[n].gsi);
		if (!ret)
			ret = irq_irqfd(vm, vp->vec[n].fd, -1, vp->vec[n].gsi, true);
		if (ret)
			return ret;
	}
	pthread_mutex_lock(&vp->lock);
	reset(vp);
	pthread_mutex_unlock(&vp->lock);
	build_config_space(vp);
	ret = pci_register_device(bus, devnum, &vp->pci);
	if (ret)
		log_err("%s: PCI slot %u: %s", cfg->name, devnum, strerror(-ret));
	return ret;
errno_out:
	ret = -errno;
	log_err("%s: eventfd: %s", cfg->name, strerror(errno));
	return ret;
}

bool virtio_pci_serve_chains(struct virtio_pci *vp, unsigned q, struct virtq_chain *c,
			     int64_t (*serve)(void *opaque, const struct virtq_chain *c),
			     void *opaque, const char *why)
{
	struct virtq *vq = &vp->vq[q];
	bool more = true;

	for (unsigned i = 0; i < vq->size; i++) {
		int ret;
		int64_t used;

		/*
		 * A stopping VM's device takes no more: its stop waits for this
		 * thread, and a full queue of long requests (a whole-disk
		 * WRITE_ZEROES each) would hold it for as long as they take.
		 */
		if (vm_stopping(vp->vm))
			return false;
		ret = virtq_pop(vq, &vp->vm->gmem, c);

		if (ret < 0) {
			virtio_pci_needs_reset(vp, vq->why);
			return false;
		}
		if (!ret) {
			more = false;
			break;
		}
		used = serve(opaque, c);
		if (used < 0) {
			virtio_pci_needs_reset(vp, why);
			return false;
		}
		virtq_push(vq, c->head, (uint32_t)used);
	}
	if (virtq_need_interrupt(vq))
		virtio_pci_notify_queue(vp, q);
	return more;
}

void virtio_pci_serve(struct virtio_pci *vp, unsigned q)
{
	for (;;) {
		bool more = false;

		pthread_mutex_lock(&vp->lock);
		if ((vp->status & VIRTIO_STATUS_DRIVER_OK) &&
		    !(vp->status & VIRTIO_STATUS_NEEDS_RESET) && vp->vq[q].enabled)
			more = vp->ops->queue_notify(vp, q);
		pthread_mutex_unlock(&vp->lock);
		if (!more || vm_stopping(vp->vm))
			return;
	}
}

int virtio_pci_watch(struct virtio_pci *vp, int fd, short events)
{
	unsigned i;

	for (i = 0; i < vp->nr_host_fds && vp->host_fd[i].fd != fd; i++)
		;
	if (i == vp->nr_host_fds) {
		if (!events)
			return 0;
		if (i == VIRTIO_PCI_MAX_HOST_FDS)
			return -ENOSPC;
		vp->nr_host_fds++;
	}
	if (events)
		vp->host_fd[i] = (struct pollfd){ .fd = fd, .events = events };
	else
		vp->host_fd[i] = vp->host_fd[--vp->nr_host_fds];
	/* The I/O thread builds its set anew when woken. */
	signal_fd(vp->wake_fd);
	return 0;
}

enum { PFD_STOP, PFD_WAKE, PFD_RESAMPLE, PFD_QUEUE };

static void *io_thread(void *opaque)
{
	struct virtio_pci *vp = opaque;
	struct pollfd pfd[PFD_QUEUE + VIRTIO_PCI_MAX_QUEUES + VIRTIO_PCI_MAX_HOST_FDS];
	unsigned n = vp->cfg.nr_queues;

	sandbox_enter_thread(SANDBOX_IO);
	pfd[PFD_STOP] = (struct pollfd){ .fd = vp->stop_fd, .events = POLLIN };
	pfd[PFD_WAKE] = (struct pollfd){ .fd = vp->wake_fd, .events = POLLIN };
	pfd[PFD_RESAMPLE] = (struct pollfd){ .fd = vp->resample_fd, .events = POLLIN };
	for (unsigned q = 0; q < n; q++)
		pfd[PFD_QUEUE + q] = (struct pollfd){ .fd = vp->notify_fd[q], .events = POLLIN };
	for (;;) {
		struct pollfd *host = &pfd[PFD_QUEUE + n];
		unsigned nr_host;
		uint64_t count;

		pthread_mutex_lock(&vp->lock);
		nr_host = vp->nr_host_fds;
		memcpy(host, vp->host_fd, nr_host * sizeof(*host));
		pthread_mutex_unlock(&vp->lock);
		if (poll(pfd, PFD_QUEUE + n + nr_host, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("%s: poll: %s", vp->cfg.name, strerror(errno));
		}
		if (pfd[PFD_STOP].revents)
			return NULL;
		if (pfd[PFD_WAKE].revents && read(vp->wake_fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			die("%s: eventfd read: %s", vp->cfg.name, strerror(errno));
		if (pfd[PFD_RESAMPLE].revents)
			intx_resample(vp);
		for (unsigned q = 0; q < n; q++) {
			if (!pfd[PFD_QUEUE + q].revents)
				continue;
			/* Read before serving: a notification after this one is seen. */
			if (read(vp->notify_fd[q], &count, sizeof(count)) < 0 && errno != EAGAIN)
				die("%s: eventfd read: %s", vp->cfg.name, strerror(errno));
			virtio_pci_serve(vp, q);
		}
		for (unsigned i = 0; i < nr_host; i++) {
			if (!host[i].revents)
				continue;
			pthread_mutex_lock(&vp->lock);
			/* Still watched with these events: a hook may have changed it. */
			for (unsigned j = 0; j < vp->nr_host_fds; j++)
				if (vp->host_fd[j].fd == host[i].fd &&
				    (vp->host_fd[j].events & host[i].events)) {
					vp->ops->host_event(vp, host[i].fd, host[i].revents);
					break;
				}
			pthread_mutex_unlock(&vp->lock);
		}
	}
}

int virtio_pci_start(struct virtio_pci *vp)
{
	int ret = pthread_create(&vp->thread, NULL, io_thread, vp);

	if (ret) {
		log_err("%s: I/O thread: %s", vp->cfg.name, strerror(ret));
		return -ret;
	}
	vp->thread_started = true;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp)
		return;
	if (vp->thread_started) {
		signal_fd(vp->stop_fd);
		pthread_join(vp->thread, NULL);
	}
	unmap_bar(vp);
	for (unsigned n = 0; n < VIRTIO_PCI_MAX_QUEUES + 1; n++) {
		if (vp->vec[n].fd < 0)
			continue;
		if (vp->vec[n].gsi)
			irq_irqfd(vp->vm, vp->vec[n].fd, -1, vp->vec[n].gsi, false);
		close(vp->vec[n].fd);
	}
	for (unsigned q = 0; q < VIRTIO_PCI_MAX_QUEUES; q++)
		if (vp->notify_fd[q] >= 0)
			close(vp->notify_fd[q]);
	if (vp->intx_fd >= 0) {
		irq_irqfd(vp->vm, vp->intx_fd, -1, vp->intx_gsi, false);
		close(vp->intx_fd);
	}
	if (vp->resample_fd >= 0)
		close(vp->resample_fd);
	if (vp->stop_fd >= 0)
		close(vp->stop_fd);
	if (vp->wake_fd >= 0)
		close(vp->wake_fd);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
