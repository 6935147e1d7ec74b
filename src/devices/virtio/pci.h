/*
 * The virtio 1.x PCI transport, modern interface only (virtio 1.2 §4.1):
 * a PCI function on bus 0 whose BAR 0 holds the common, ISR, device and
 * notification configuration structures, named by vendor capabilities,
 * and an MSI-X table and PBA; INTA while MSI-X is off; and the window into
 * BAR 0 through configuration space (VIRTIO_PCI_CAP_PCI_CFG).
 *
 * Notifications reach the device without the VMM on the way: each
 * queue's notify address is an ioeventfd (a write there that KVM did not
 * catch, e.g. of another width, signals the same eventfd from the MMIO
 * handler). Interrupts leave it the same way: each MSI-X vector is an
 * irqfd on an MSI route, written by the device's I/O thread; INTA is an
 * irqfd with a resample eventfd on its IOAPIC pin (pci_intx_gsi()).
 *
 * Threads: the vCPUs run the configuration accesses; one I/O thread per
 * device waits on the queues' eventfds and calls the device's
 * queue_notify hook. One lock per device (vp->lock) covers the transport
 * state, the queues and the device model; every hook is called with it.
 * Two guest accesses do without it, so that a vCPU never waits for the
 * disk: a notification (an eventfd write) and the ISR (an atomic).
 */
#ifndef SHALE_DEVICES_VIRTIO_PCI_H
#define SHALE_DEVICES_VIRTIO_PCI_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/legacy/pci.h"
#include "devices/virtio/queue.h"

struct vm;
struct virtio_pci;

#define VIRTIO_PCI_MAX_QUEUES 8u
#define VIRTIO_NO_VECTOR 0xffffu
#define VIRTIO_PCI_MAX_REPORTS 8u
#define VIRTIO_PCI_MAX_HOST_FDS 64u

/* Feature bits every device may offer (§6). */
#define VIRTIO_F_RING_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* The device model's side. Every hook runs with vp->lock held. */
struct virtio_dev_ops {
	/* Bytes [off, off + size) of the device configuration (§4.1.4.6). */
	void (*config_read)(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned size);
	/* May be NULL: the configuration is read-only. */
	void (*config_write)(struct virtio_pci *vp, unsigned off, const uint8_t *data,
			     unsigned size);
	/*
	 * The driver notified queue `q`, which is enabled, with DRIVER_OK
	 * and without NEEDS_RESET. Serves at most one queue's worth of
	 * chains; returns true when more may be waiting (it is called
	 * again, after the lock was dropped so that resets can get in).
	 * I/O thread.
	 */
	bool (*queue_notify)(struct virtio_pci *vp, unsigned q);
	/* The driver reset the device (or the VM is built): forget requests. */
	void (*reset)(struct virtio_pci *vp);
	/*
	 * May be NULL: a host descriptor the device watches
	 * (virtio_pci_watch()) is ready with `revents`. I/O thread.
	 */
	void (*host_event)(struct virtio_pci *vp, int fd, short revents);
};

struct virtio_pci_config {
	const char *name;       /* "virtio-blk", for messages */
	uint16_t device_type;   /* virtio device ID (§5): 2 is a block device */
	uint32_t class_code;    /* PCI class, 0xccsspp */
	uint64_t features;      /* the device's own; VERSION_1 is added */
	unsigned nr_queues;     /* 1 to VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_size;    /* a power of two up to VIRTQ_MAX_SIZE */
	unsigned config_size;   /* bytes of device configuration, up to 4096 */
};

struct virtio_msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	bool pending;
	unsigned gsi;
	int fd; /* irqfd */
};

struct virtio_pci {
	struct pci_device pci;
	struct vm *vm;
	unsigned devnum;
	struct virtio_pci_config cfg;
	const struct virtio_dev_ops *ops;
	void *opaque; /* the device model's */

	pthread_mutex_t lock;
	/* Transport state the driver sets (common configuration). */
	uint64_t driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t config_vector, queue_select;
	uint8_t status, config_generation;
	uint8_t isr; /* atomic: read and cleared without the lock */
	unsigned reports; /* NEEDS_RESETs so far; the first few are logged */
	struct virtq vq[VIRTIO_PCI_MAX_QUEUES];
	uint16_t queue_vector[VIRTIO_PCI_MAX_QUEUES];
	int notify_fd[VIRTIO_PCI_MAX_QUEUES]; /* ioeventfds */

	/* MSI-X: one vector per queue and one for configuration changes. */
	unsigned nr_vectors;
	bool msix_enabled, msix_masked;
	struct virtio_msix_vector vec[VIRTIO_PCI_MAX_QUEUES + 1];

	/*
	 * INTA, while MSI-X is off: asserted by a write to intx_fd, released
	 * by KVM at the guest's EOI, which signals resample_fd; the I/O
	 * thread then asserts it again while the ISR is not 0.
	 */
	unsigned intx_gsi;
	int intx_fd, resample_fd;
	bool intx_disabled; /* COMMAND's Interrupt Disable */

	/* Where BAR 0 is mapped (0: nowhere). Under the PCI bus lock. */
	uint64_t bar_gpa;
	bool bar_failed; /* a mapping failed: said once */

	/*
	 * Host descriptors the I/O thread polls besides the queues (a tap,
	 * sockets), with the events the device wants now; wake_fd makes the
	 * thread take a change made elsewhere.
	 */
	struct pollfd host_fd[VIRTIO_PCI_MAX_HOST_FDS];
	unsigned nr_host_fds;
	int wake_fd;

	int stop_fd;
	bool thread_started;
	pthread_t thread;
};

/*
 * Creates the function at 00:devnum.0 of `bus`, its eventfds, irqfds and
 * MSI routes, and registers it. vp->opaque is the caller's to set.
 * 0 or -errno with a message; virtio_pci_destroy() undoes a partial one.
 */
int virtio_pci_create(struct vm *vm, struct pci_bus *bus, unsigned devnum,
		      const struct virtio_pci_config *cfg, const struct virtio_dev_ops *ops,
		      void *opaque, struct virtio_pci **out);
/* Starts the I/O thread (after the sandbox: it installs the I/O filter). */
int virtio_pci_start(struct virtio_pci *vp);
/*
 * Serves queue `q` while the device may (DRIVER_OK, no NEEDS_RESET, the
 * queue enabled), a queue's worth of chains at a time: the I/O thread's
 * work on a notification; the fuzz harness calls it directly.
 */
void virtio_pci_serve(struct virtio_pci *vp, unsigned q);
/* Stops the I/O thread and frees the device; its bus must be gone first. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* For the hooks (lock held): */
/* Interrupts the driver for queue `q` (its MSI-X vector). */
void virtio_pci_notify_queue(struct virtio_pci *vp, unsigned q);
/*
 * The driver broke the device's rules (`why`): sets NEEDS_RESET, logs
 * one line and sends a configuration-change interrupt (§2.1.2). The
 * device serves nothing until the driver resets it.
 */
void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why);
/*
 * The device changed its configuration on its own (a balloon's target):
 * a new configuration generation and a configuration-change interrupt
 * (§4.1.4.3, §4.1.5.3). Lock held, any thread.
 */
void virtio_pci_config_changed(struct virtio_pci *vp);
/*
 * The body of most queue_notify hooks: pops up to a queue's worth of
 * chains of queue `q` into `c` and hands each to `serve`, which returns the
 * used length, or -1 when the chain breaks the device's rules (`why`:
 * then NEEDS_RESET). One interrupt for the batch, if the driver wants it.
 * Returns what queue_notify returns: whether more may be waiting.
 */
bool virtio_pci_serve_chains(struct virtio_pci *vp, unsigned q, struct virtq_chain *c,
			     int64_t (*serve)(void *opaque, const struct virtq_chain *c),
			     void *opaque, const char *why);

/*
 * Watches host descriptor `fd` for `events` (POLLIN, POLLOUT) on the
 * I/O thread, which then calls ops->host_event; a second call changes
 * the events, events 0 stops watching (before the device closes fd).
 * -ENOSPC past VIRTIO_PCI_MAX_HOST_FDS. Any thread, lock held.
 */
int virtio_pci_watch(struct virtio_pci *vp, int fd, short events);

/* The negotiated features. */
static inline uint64_t virtio_pci_features(const struct virtio_pci *vp)
{
	return vp->driver_features;
}

/* BAR 0's layout, for the tests. */
#define VIRTIO_PCI_BAR_SIZE 0x8000u
#define VIRTIO_PCI_COMMON_OFF 0x0000u
#define VIRTIO_PCI_ISR_OFF 0x1000u
#define VIRTIO_PCI_DEVICE_OFF 0x2000u
#define VIRTIO_PCI_NOTIFY_OFF 0x3000u
#define VIRTIO_PCI_NOTIFY_MULT 4u
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000u
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000u

#endif
