/*
 * The I/O queues of a para-virtual guest (ABI v2, include/shale/abi/queue.h)
 * and the thread that serves them.
 *
 * Threads: QUEUE_SETUP and QUEUE_WAIT run on the vCPU; everything else runs
 * on one I/O thread per VM, started by the first QUEUE_SETUP, except that
 * QUEUE_WAIT serves the rings itself first when the I/O thread is not
 * serving them (io->lock). The thread
 * takes requests, starts them (block requests in io_uring, so they complete
 * in any order; console and network requests at once, network receives
 * when a frame arrives), posts completions, and polls for PV_IO_POLL_NS
 * after its last piece of work before it sleeps. Only when it sleeps does
 * it ask the guest to notify (SHALE_QF_NEED_NOTIFY); the notify port is an
 * ioeventfd where KVM offers one, so even that exit stays in the kernel.
 *
 * Every buffer goes through pv_guest_ptr(); the ring itself was checked
 * once at set-up (guest RAM never moves). The request tables belong to
 * whichever thread holds io->lock.
 */
#include <errno.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "pv/pv.h"
#include "pv/queue.h"
#include "util/util.h"
#include "vmm/vcpu.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

/*
 * About one exit's cost on PVM: polling longer than a sleep and wake-up
 * costs buys nothing; polling shorter makes a busy guest notify. Only with
 * a CPU to poll on: on one CPU, polling takes it from the vCPU.
 */
#define PV_IO_POLL_NS 100000ull
#define PV_IO_URING_DEPTH 64u
#define ETH_HLEN 14

static const char *const queue_names[SHALE_QUEUE_COUNT] = {
	[SHALE_QUEUE_CONSOLE] = "console",
	[SHALE_QUEUE_BLOCK] = "block",
	[SHALE_QUEUE_NET] = "net",
};

/* A block request in io_uring; its index is the io_uring user_data. */
struct ioq_req {
	uint64_t user_data;
	uint8_t *buf;
	uint64_t offset;
	uint32_t len, done;
	uint16_t op;
	struct iovec iov;
};

/* A receive buffer waiting for a frame. */
struct ioq_rx {
	uint64_t user_data;
	uint8_t *buf;
	uint32_t len;
};

struct pv_io {
	struct pv_guest *pv;
	struct pv_queue q[SHALE_QUEUE_COUNT];
	atomic_bool active[SHALE_QUEUE_COUNT];
	/*
	 * Held by the thread that serves the rings: the I/O thread, or the
	 * vCPU in QUEUE_WAIT, which serves them itself when the I/O thread
	 * does not (on one CPU that saves the guest a notify). It covers the
	 * VMM's side of the rings, the io_uring, the request tables and rx.
	 */
	pthread_mutex_t lock;

	int notify_fd; /* eventfd: written by KVM (ioeventfd) or by pv_queue_notify() */
	int done_fd;   /* eventfd: completions arrived while the vCPU waits */
	atomic_bool waiting;
	int epoll_fd;
	pthread_t thread;
	bool started;

	/* io_uring for the block queue; without it, block requests run inline. */
	struct io_uring ring;
	bool have_ring;
	int ring_fd; /* eventfd io_uring signals on completions */
	unsigned to_submit; /* prepared, not submitted: 0 whenever io->lock is free */
	struct ioq_req *req; /* SHALE_QUEUE_MAX_ENTRIES of them */
	uint32_t *free_req;
	unsigned nr_free, nr_req; /* free ones, and all */

	struct ioq_rx *rx; /* a FIFO of SHALE_QUEUE_MAX_ENTRIES */
	unsigned rx_head, rx_count;
	bool tap_watched;
};

static uint64_t now_ns(void)
{
	return clock_monotonic_ns();
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		die("eventfd read: %s", strerror(errno));
}

static void kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		die("eventfd write: %s", strerror(errno));
}

static void complete(struct pv_io *io, unsigned n, uint64_t user_data, int64_t ret)
{
	pv_queue_complete(&io->q[n], user_data, ret);
	/* Pairs with pv_queue_wait(): waiting is set before it looks at cq_tail. */
	if (atomic_load(&io->waiting))
		kick(io->done_fd);
}

/* --- block ----------------------------------------------------------------- */

static void block_submit(struct pv_io *io, struct ioq_req *r, uint32_t idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

	/* At most PV_IO_URING_DEPTH requests are in flight; see block_start(). */
	if (!sqe)
		die("io_uring submission queue full");
	if (r->op == SHALE_OP_FLUSH) {
		io_uring_prep_fsync(sqe, io->pv->block.disk.fd, IORING_FSYNC_DATASYNC);
	} else {
		r->iov = (struct iovec){ r->buf + r->done, r->len - r->done };
		if (r->op == SHALE_OP_READ)
			io_uring_prep_readv(sqe, io->pv->block.disk.fd, &r->iov, 1, r->offset + r->done);
		else
			io_uring_prep_writev(sqe, io->pv->block.disk.fd, &r->iov, 1, r->offset + r->done);
	}
	io_uring_sqe_set_data64(sqe, idx);
	io->to_submit++;
}

static int64_t block_inline(struct pv_io *io, const struct ioq_req *r)
{
	const struct pv_block *blk = &io->pv->block;

	if (r->op == SHALE_OP_FLUSH)
		return disk_flush(&blk->disk) ? SHALE_EIO : SHALE_OK;
	return pv_block_transfer(blk, r->buf, r->offset, r->len, r->op == SHALE_OP_WRITE);
}

/* False when io_uring is full: the request stays in the ring for later. */
static bool block_start(struct pv_io *io, const struct shale_sqe *sqe, int64_t *ret)
{
	const struct pv_block *blk = &io->pv->block;
	struct ioq_req r = { .user_data = sqe->user_data, .op = sqe->op };

	switch (sqe->op) {
	case SHALE_OP_READ:
	case SHALE_OP_WRITE:
		*ret = pv_block_check(blk, sqe->offset, sqe->len, sqe->op == SHALE_OP_WRITE);
		if (*ret)
			return true;
		/* A read writes guest memory, a write reads it. */
		r.buf = pv_guest_ptr(io->pv, sqe->addr, sqe->len, sqe->op == SHALE_OP_READ);
		if (!r.buf) {
			*ret = SHALE_EFAULT;
			return true;
		}
		r.offset = sqe->offset;
		r.len = sqe->len;
		break;
	case SHALE_OP_FLUSH:
		if (blk->disk.readonly) {
			*ret = SHALE_OK;
			return true;
		}
		break;
	default:
		*ret = SHALE_EINVAL;
		return true;
	}
	pv_block_account(io->pv, r.op, r.len);
	if (!io->have_ring) {
		*ret = block_inline(io, &r);
		return true;
	}
	uint32_t idx = io->free_req[--io->nr_free];
	io->req[idx] = r;
	block_submit(io, &io->req[idx], idx);
	*ret = INT64_MIN; /* completes later */
	return true;
}

/*
 * Submits what block_submit() prepared, then posts what io_uring finished;
 * true if there was anything. A short transfer is prepared again from
 * where it stopped and submitted in the same call, so that nothing is left
 * prepared but unsubmitted when the caller lets go of io->lock: neither
 * thread would submit it then until some other request came. Each round
 * resubmits only transfers that moved forward, so the loop ends.
 */
static bool block_reap(struct pv_io *io)
{
	struct io_uring_cqe *cqe;
	bool any = false;

	if (!io->have_ring)
		return false;
	do {
		if (io->to_submit) {
			int r = io_uring_submit(&io->ring);

			if (r < 0)
				die("io_uring_submit: %s", strerror(-r));
			io->to_submit = 0;
		}
		while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
			uint32_t idx = (uint32_t)io_uring_cqe_get_data64(cqe);
			struct ioq_req *r = &io->req[idx];
			int res = cqe->res;

			io_uring_cqe_seen(&io->ring, cqe);
			any = true;
			if (res > 0 && r->op != SHALE_OP_FLUSH && r->done + (uint32_t)res < r->len) {
				r->done += (uint32_t)res; /* short transfer: go on from there */
				block_submit(io, r, idx);
				continue;
			}
			int64_t ret = res < 0 ? SHALE_EIO
				      : r->op == SHALE_OP_FLUSH ? SHALE_OK
				      : res == 0 ? SHALE_EIO /* the file shrank under us */
				      : (int64_t)r->len;
			io->free_req[io->nr_free++] = idx;
			complete(io, SHALE_QUEUE_BLOCK, r->user_data, ret);
		}
	} while (io->to_submit);
	return any;
}

/* --- console and network ----------------------------------------------------- */

static int64_t console_start(struct pv_io *io, const struct shale_sqe *sqe)
{
	const uint8_t *p;

	if (sqe->op != SHALE_OP_WRITE)
		return SHALE_EINVAL;
	if (sqe->len > SHALE_CONSOLE_MAX)
		return SHALE_EINVAL;
	p = pv_guest_ptr(io->pv, sqe->addr, sqe->len, false);
	if (!p)
		return SHALE_EFAULT;
	return pv_console_write(io->pv, p, sqe->len) ? SHALE_EIO : (int64_t)sqe->len;
}

static int64_t net_start(struct pv_io *io, const struct shale_sqe *sqe)
{
	const struct pv_net *net = &io->pv->net;
	uint32_t frame_max = net->mtu + ETH_HLEN;
	uint8_t *p;
	ssize_t n;

	switch (sqe->op) {
	case SHALE_OP_WRITE:
		if (sqe->len < ETH_HLEN || sqe->len > frame_max)
			return SHALE_EINVAL;
		p = pv_guest_ptr(io->pv, sqe->addr, sqe->len, false);
		if (!p)
			return SHALE_EFAULT;
		do
			n = write(net->fd, p, sqe->len);
		while (n < 0 && errno == EINTR);
		pv_net_account(io->pv, false, n);
		return n >= 0 ? n : errno == EAGAIN ? SHALE_EAGAIN : SHALE_EIO;
	case SHALE_OP_READ: {
		/* A receive never needs more than one frame's worth of buffer. */
		uint32_t len = MIN(sqe->len, frame_max);

		if (len < ETH_HLEN)
			return SHALE_EINVAL;
		p = pv_guest_ptr(io->pv, sqe->addr, len, true);
		if (!p)
			return SHALE_EFAULT;
		/* The queue holds at most `entries` requests, so the FIFO has room. */
		io->rx[(io->rx_head + io->rx_count++) % SHALE_QUEUE_MAX_ENTRIES] =
			(struct ioq_rx){ sqe->user_data, p, len };
		return INT64_MIN;
	}
	default:
		return SHALE_EINVAL;
	}
}

/* Fills waiting receive buffers with the frames the tap has; true if any. */
static bool net_receive(struct pv_io *io)
{
	bool any = false;

	while (io->rx_count) {
		struct ioq_rx *rx = &io->rx[io->rx_head];
		ssize_t n;

		do
			n = read(io->pv->net.fd, rx->buf, rx->len);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN)
			break;
		pv_net_account(io->pv, true, n);
		io->rx_head = (io->rx_head + 1) % SHALE_QUEUE_MAX_ENTRIES;
		io->rx_count--;
		complete(io, SHALE_QUEUE_NET, rx->user_data, n >= 0 ? n : SHALE_EIO);
		any = true;
	}
	return any;
}

/* --- the thread ------------------------------------------------------------- */

static bool start(struct pv_io *io, unsigned n, const struct shale_sqe *sqe)
{
	int64_t ret;

	if (sqe->flags)
		ret = SHALE_EINVAL;
	else if (sqe->op == SHALE_OP_NOP)
		ret = SHALE_OK;
	else if (n == SHALE_QUEUE_BLOCK)
		block_start(io, sqe, &ret);
	else if (n == SHALE_QUEUE_NET)
		ret = net_start(io, sqe);
	else
		ret = console_start(io, sqe);
	if (ret != INT64_MIN)
		complete(io, n, sqe->user_data, ret);
	return true;
}

/* Takes and starts what every queue has; true if there was anything. */
static bool serve(struct pv_io *io)
{
	bool any = false;

	for (unsigned n = 0; n < SHALE_QUEUE_COUNT; n++) {
		struct pv_queue *q = &io->q[n];
		struct shale_sqe sqe;
		int r = 0;

		if (!atomic_load_explicit(&io->active[n], memory_order_acquire))
			continue;
		/* Block requests wait in the guest's ring while io_uring is full. */
		while ((n != SHALE_QUEUE_BLOCK || !io->have_ring || io->nr_free) &&
		       (r = pv_queue_take(q, &sqe)) == 1) {
			any |= start(io, n, &sqe);
			/*
			 * io_uring runs a read from the page cache inside the
			 * submit: one at a time, so that its completion reaches
			 * the guest before the next copy, not after all of them.
			 */
			if (io->to_submit)
				block_reap(io);
		}
		if (r < 0) {
			vm_stop(io->pv->vm, VM_STOP_CRASH, 0, "guest crashed: %s queue: %s",
				queue_names[n], q->why);
			return false;
		}
	}
	/* What io-wq finished meanwhile. */
	any |= block_reap(io);
	if (io->rx_count)
		any |= net_receive(io);
	return any;
}

static void watch_tap(struct pv_io *io, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = io->pv->net.fd };

	if (on == io->tap_watched)
		return;
	if (epoll_ctl(io->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, io->pv->net.fd, &ev))
		die("epoll_ctl: %s", strerror(errno));
	io->tap_watched = on;
}

/* Sleeps until a notify, a completion, a frame for a waiting buffer or the stop. */
static void sleep_until_work(struct pv_io *io)
{
	struct epoll_event ev[4];
	bool idle = true;
	int n;

	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < SHALE_QUEUE_COUNT; i++)
		if (atomic_load(&io->active[i]) && !pv_queue_arm(&io->q[i]))
			idle = false;
	if (idle)
		watch_tap(io, io->rx_count > 0);
	pthread_mutex_unlock(&io->lock);
	if (idle) {
		n = epoll_wait(io->epoll_fd, ev, ARRAY_SIZE(ev), -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		drain(io->notify_fd);
		if (io->have_ring)
			drain(io->ring_fd);
	}
	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < SHALE_QUEUE_COUNT; i++)
		if (atomic_load(&io->active[i]))
			pv_queue_disarm(&io->q[i]);
	pthread_mutex_unlock(&io->lock);
}

static void *io_thread(void *opaque)
{
	struct pv_io *io = opaque;
	/* As the guest was told (SHALE_BOOT_F_IO_POLL). */
	uint64_t poll_ns = io->pv->io_polls ? PV_IO_POLL_NS : 0;
	uint64_t last = now_ns();

	sandbox_enter_thread(SANDBOX_IO);
	while (!vm_stopping(io->pv->vm)) {
		bool any;

		pthread_mutex_lock(&io->lock);
		any = serve(io);
		pthread_mutex_unlock(&io->lock);
		if (any) {
			last = now_ns();
		} else if (now_ns() - last < poll_ns) {
			/*
			 * Polling pays only on a CPU nobody else wants: where the
			 * vCPU or another VM's thread waits for this CPU, let it
			 * run (sched_yield returns at once otherwise).
			 */
			sched_yield();
		} else {
			sleep_until_work(io);
			last = now_ns();
		}
	}
	return NULL;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/*
 * io_uring_register_restrictions() and io_uring_enable_rings() by hand:
 * Debian's shared liburing 2.3 does not export them.
 */
static int restrict_ring(struct io_uring *ring, struct io_uring_restriction *res, unsigned n)
{
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res, n) ||
	    syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0))
		return -errno;
	return 0;
}

static void io_free(struct pv_io *io)
{
	if (io->have_ring)
		io_uring_queue_exit(&io->ring);
	if (io->ring_fd >= 0)
		close(io->ring_fd);
	if (io->notify_fd >= 0)
		close(io->notify_fd);
	if (io->done_fd >= 0)
		close(io->done_fd);
	if (io->epoll_fd >= 0)
		close(io->epoll_fd);
	free(io->req);
	free(io->free_req);
	free(io->rx);
	pthread_mutex_destroy(&io->lock);
	free(io);
}

/* The queues' shared state and its thread; -errno (logged) on a host failure. */
static int io_create(struct pv_guest *pv, struct pv_io **out)
{
	struct pv_io *io = calloc(1, sizeof(*io));
	struct vm *vm = pv->vm;
	int ret;

	if (!io)
		return -ENOMEM;
	io->pv = pv;
	pthread_mutex_init(&io->lock, NULL);
	io->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	io->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	io->ring_fd = -1;
	io->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	io->req = calloc(SHALE_QUEUE_MAX_ENTRIES, sizeof(*io->req));
	io->free_req = calloc(SHALE_QUEUE_MAX_ENTRIES, sizeof(*io->free_req));
	io->rx = calloc(SHALE_QUEUE_MAX_ENTRIES, sizeof(*io->rx));
	if (io->notify_fd < 0 || io->done_fd < 0 || io->epoll_fd < 0) {
		ret = -errno;
		log_err("I/O queues: %s", strerror(errno));
		goto fail;
	}
	if (!io->req || !io->free_req || !io->rx) {
		ret = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < SHALE_QUEUE_MAX_ENTRIES; i++)
		io->free_req[i] = i;

	if ((ret = epoll_add(io->epoll_fd, io->notify_fd)) ||
	    (ret = epoll_add(io->epoll_fd, vm->stop_fd))) {
		log_err("I/O queues: epoll: %s", strerror(-ret));
		goto fail;
	}

	/* The notify port in the kernel: the guest's write wakes this thread at once. */
	struct kvm_ioeventfd ioev = {
		.addr = SHALE_HC_PORT(SHALE_HC_QUEUE_NOTIFY),
		.len = 4,
		.fd = io->notify_fd,
		.flags = KVM_IOEVENTFD_FLAG_PIO,
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
		log_info("I/O queues: no ioeventfd (%s): notifies exit to the VMM",
			 strerror(errno));

	/*
	 * Created disabled, to be restricted before it takes a request: what
	 * goes through io_uring escapes seccomp (vmm/sandbox.h), so the ring
	 * takes only the three operations a disk needs, on no fixed files.
	 */
	ret = io_uring_queue_init(PV_IO_URING_DEPTH, &io->ring, IORING_SETUP_R_DISABLED);
	if (ret == 0) {
		struct io_uring_restriction allow[] = {
			{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
			{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
			{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		};

		io->have_ring = true;
		io->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		/*
		 * Only for completions that come later (io-wq): a read from the
		 * page cache completes inside the submit, and whoever submitted
		 * it reaps it, so waking the I/O thread for it would only cost a
		 * context switch.
		 */
		if (io->ring_fd < 0 || io_uring_register_eventfd_async(&io->ring, io->ring_fd) ||
		    restrict_ring(&io->ring, allow, ARRAY_SIZE(allow)) ||
		    epoll_add(io->epoll_fd, io->ring_fd)) {
			ret = -EIO;
			log_err("I/O queues: cannot watch io_uring completions");
			goto fail;
		}
		/* Never more requests in flight than io_uring takes. */
		io->nr_free = io->nr_req = PV_IO_URING_DEPTH;
	} else {
		log_info("I/O queues: no io_uring (%s): block requests run one at a time",
			 strerror(-ret));
	}

	ret = -pthread_create(&io->thread, NULL, io_thread, io);
	if (ret) {
		log_err("I/O queues: cannot start the I/O thread: %s", strerror(-ret));
		goto fail;
	}
	io->started = true;
	*out = io;
	return 0;
fail:
	io_free(io);
	return ret;
}

/* --- hypercalls (vCPU thread) ------------------------------------------------- */

static bool has_device(const struct pv_guest *pv, uint32_t n)
{
	switch (n) {
	case SHALE_QUEUE_CONSOLE:
		return true;
	case SHALE_QUEUE_BLOCK:
		return pv->block.disk.fd >= 0;
	default:
		return pv->net.fd >= 0;
	}
}

void pv_queue_setup(struct pv_guest *pv, struct shale_hc_queue_setup *a)
{
	void *mem;

	if (a->queue >= SHALE_QUEUE_COUNT || a->flags || !pv_queue_entries_ok(a->entries) ||
	    a->ring % 4096 || (pv->io && atomic_load(&pv->io->active[a->queue]))) {
		a->ret = SHALE_EINVAL;
		return;
	}
	if (!has_device(pv, a->queue)) {
		a->ret = SHALE_ENODEV;
		return;
	}
	mem = pv_guest_ptr(pv, a->ring, SHALE_QUEUE_RING_SIZE(a->entries), true);
	if (!mem) {
		a->ret = SHALE_EFAULT;
		return;
	}
	if (!pv->io && io_create(pv, &pv->io)) {
		a->ret = SHALE_EIO;
		return;
	}
	pv_queue_init(&pv->io->q[a->queue], mem, a->entries);
	atomic_store_explicit(&pv->io->active[a->queue], true, memory_order_release);
	kick(pv->io->notify_fd);
	a->ret = SHALE_OK;
}

void pv_queue_notify(struct pv_guest *pv)
{
	/* Without an ioeventfd the write exits to here; before any set-up it is a no-op. */
	if (pv->io)
		kick(pv->io->notify_fd);
}

void pv_queue_wait(struct pv_guest *pv, struct shale_hc_queue_wait *a)
{
	struct pv_io *io = pv->io;
	struct pv_queue *q;

	if (!io || a->queue >= SHALE_QUEUE_COUNT || !atomic_load(&io->active[a->queue])) {
		a->ret = SHALE_EINVAL;
		return;
	}
	q = &io->q[a->queue];
	if (!a->min || a->min > q->entries) {
		a->ret = SHALE_EINVAL;
		return;
	}
	for (;;) {
		/*
		 * Take and start what waits, unless the I/O thread is at it:
		 * a guest about to wait need not notify (docs/abi.md).
		 */
		if (!pthread_mutex_trylock(&io->lock)) {
			serve(io);
			/*
			 * Receive buffers posted here, while the I/O thread sleeps
			 * without watching the tap: wake it, or no frame ever
			 * completes them.
			 */
			bool wake = io->rx_count && !io->tap_watched;

			pthread_mutex_unlock(&io->lock);
			if (wake)
				kick(io->notify_fd);
		}
		/* The second look pairs with complete(): after it, no kick is lost. */
		int64_t have = pv_queue_unconsumed(q);
		uint64_t now = now_ns();

		if (have >= 0 && have < a->min) {
			atomic_store(&io->waiting, true);
			have = pv_queue_unconsumed(q);
		}
		if (have < 0 || have >= a->min || now >= a->deadline_ns || vm_stopping(pv->vm)) {
			atomic_store(&io->waiting, false);
			a->ret = have < 0 ? SHALE_EINVAL : have >= a->min ? SHALE_OK : SHALE_EAGAIN;
			return;
		}
		uint64_t left = a->deadline_ns - now;
		struct timespec ts = {
			.tv_sec = (time_t)MIN(left / 1000000000ull, (uint64_t)INT32_MAX),
			.tv_nsec = (long)(left % 1000000000ull),
		};
		struct pollfd pfd = { .fd = io->done_fd, .events = POLLIN };

		/* A kick from vm_stop() ends the wait; the loop above sees the stop. */
		if (vcpu_ppoll(&pfd, 1, &ts) > 0)
			drain(io->done_fd);
	}
}

void pv_stop(struct pv_guest *pv)
{
	struct pv_io *io = pv->io;

	if (!io)
		return;
	if (!vm_stopping(pv->vm))
		vm_stop(pv->vm, VM_STOP_ERROR, 0, NULL);
	if (io->started)
		pthread_join(io->thread, NULL);
	/*
	 * Nothing may still write guest RAM after this. With the vCPUs and
	 * the I/O thread gone, nobody else starts a request meanwhile.
	 */
	while (io->have_ring && io->nr_free < io->nr_req) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&io->ring, &cqe) < 0)
			die("io_uring_wait_cqe");
		io->free_req[io->nr_free++] = (uint32_t)io_uring_cqe_get_data64(cqe);
		io_uring_cqe_seen(&io->ring, cqe);
	}
	io_free(io);
	pv->io = NULL;
}
