/*
 * Hypercall dispatch. The guest's argument struct is copied out of guest
 * memory once, handled on the copy and copied back, so the guest cannot
 * change a field between its check and its use. Buffers the struct names
 * go through gmem_ptr() and a bad one is answered with SHALE_EFAULT; only
 * an argument struct that is itself outside RAM, or an unknown hypercall,
 * stops the VM, because there is nowhere to put an error.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <shale/abi/hypercall.h>
#include <shale/abi/queue.h>

#include "arch/x86/pv.h"
#include "pv/pv.h"
#include "vmm/conout.h"
#include "util/util.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

union hc_arg {
	struct shale_hc_console_write console;
	struct shale_hc_exit exit;
	struct shale_hc_clock clock;
	struct shale_hc_poll poll;
	struct shale_hc_block_info block_info;
	struct shale_hc_block_io block_io;
	struct shale_hc_status status;
	struct shale_hc_net_info net_info;
	struct shale_hc_buffer buffer;
	struct shale_hc_queue_setup queue_setup;
	struct shale_hc_queue_wait queue_wait;
};

static void hc_console_write(struct pv_guest *pv, union hc_arg *a)
{
	struct shale_hc_console_write *c = &a->console;
	const uint8_t *p;

	if (c->len > SHALE_CONSOLE_MAX) {
		c->ret = SHALE_EINVAL;
		return;
	}
	p = pv_guest_ptr(pv, c->data, c->len, false);
	if (!p) {
		c->ret = SHALE_EFAULT;
		return;
	}
	/* A reader that stops reading holds the guest only until the VM stops. */
	c->ret = pv_console_write(pv, p, c->len) ? SHALE_EIO : (int64_t)c->len;
}

static void hc_exit(struct pv_guest *pv, union hc_arg *a)
{
	vm_stop(pv->vm, VM_STOP_EXIT, a->exit.status, NULL);
}

static void hc_clock(struct pv_guest *pv, union hc_arg *a)
{
	a->clock.monotonic_ns = clock_monotonic_ns();
	a->clock.wall_ns = clock_wall_ns();
}

static void hc_poll(struct pv_guest *pv, union hc_arg *a)
{
	struct shale_hc_poll *p = &a->poll;
	struct pollfd fds[1];
	nfds_t nfds = 0;

	p->ready = 0;
	if (p->events & ~(uint64_t)(SHALE_POLL_NET | SHALE_POLL_SHUTDOWN)) {
		p->ret = SHALE_EINVAL;
		return;
	}
	if ((p->events & SHALE_POLL_NET) && pv->net.fd >= 0) {
		fds[0] = (struct pollfd){ .fd = pv->net.fd, .events = POLLIN };
		nfds = 1;
	}
	for (;;) {
		uint64_t now = clock_monotonic_ns();
		uint64_t left = p->deadline_ns > now ? p->deadline_ns - now : 0;
		struct timespec ts = {
			.tv_sec = (time_t)MIN(left / 1000000000ull, (uint64_t)INT32_MAX),
			.tv_nsec = (long)(left % 1000000000ull),
		};
		int n;

		/* pv_request_shutdown() sets the flag, then kicks: no wake-up is lost. */
		if ((p->events & SHALE_POLL_SHUTDOWN) &&
		    atomic_load_explicit(&pv->shutdown_requested, memory_order_acquire))
			p->ready |= SHALE_POLL_SHUTDOWN;
		if (p->ready)
			break;
		n = vcpu_ppoll(fds, nfds, &ts);
		if (n > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)))
			p->ready |= SHALE_POLL_NET;
		/*
		 * Kicked by vm_stop(): return, the run loop sees the stop. A kick
		 * for a pause or a shutdown request waits on (after the pause).
		 */
		if (n > 0 || left == 0 || vm_stopping(pv->vm) || (n < 0 && errno != EINTR))
			break;
	}
	p->ret = SHALE_OK;
}

int pv_console_write(struct pv_guest *pv, const void *buf, size_t len)
{
	if (pv->console)
		return conout_write(pv->console, pv->vm, buf, len);
	return vm_write_all(pv->vm, pv->console_fd, buf, len);
}

void pv_request_shutdown(struct pv_guest *pv)
{
	atomic_store_explicit(&pv->shutdown_requested, true, memory_order_release);
	/* Out of a POLL it may be sleeping in; a vCPU in the guest just re-enters. */
	if (pv->vcpu)
		vcpu_kick(pv->vcpu);
}

static void hc_random(struct pv_guest *pv, union hc_arg *a)
{
	struct shale_hc_buffer *b = &a->buffer;
	uint8_t *p;
	uint64_t done = 0;

	if (b->len > SHALE_RANDOM_MAX) {
		b->ret = SHALE_EINVAL;
		return;
	}
	p = pv_guest_ptr(pv, b->data, b->len, true);
	if (!p) {
		b->ret = SHALE_EFAULT;
		return;
	}
	while (done < b->len) {
		ssize_t n = getrandom(p + done, b->len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			b->ret = SHALE_EIO;
			return;
		}
		done += (uint64_t)n;
	}
	b->ret = (int64_t)done;
}

static void hc_args(struct pv_guest *pv, union hc_arg *a)
{
	struct shale_hc_buffer *b = &a->buffer;
	uint8_t *p;

	b->ret = pv->args_size;
	if (b->len < pv->args_size)
		return; /* too small (or 0, asking for the size): copy nothing */
	p = pv_guest_ptr(pv, b->data, pv->args_size, true);
	if (p)
		memcpy(p, pv->args, pv->args_size);
	else
		b->ret = SHALE_EFAULT;
}

static void hc_block_info(struct pv_guest *pv, union hc_arg *a)
{
	pv_block_info(pv, &a->block_info);
}

static void hc_block_read(struct pv_guest *pv, union hc_arg *a)
{
	pv_block_rw(pv, &a->block_io, false);
}

static void hc_block_write(struct pv_guest *pv, union hc_arg *a)
{
	pv_block_rw(pv, &a->block_io, true);
}

static void hc_block_flush(struct pv_guest *pv, union hc_arg *a)
{
	pv_block_flush(pv, &a->status);
}

static void hc_net_info(struct pv_guest *pv, union hc_arg *a)
{
	pv_net_info(pv, &a->net_info);
}

static void hc_net_read(struct pv_guest *pv, union hc_arg *a)
{
	pv_net_read(pv, &a->buffer);
}

static void hc_net_write(struct pv_guest *pv, union hc_arg *a)
{
	pv_net_write(pv, &a->buffer);
}

static void hc_queue_setup(struct pv_guest *pv, union hc_arg *a)
{
	pv_queue_setup(pv, &a->queue_setup);
}

static void hc_queue_notify(struct pv_guest *pv, union hc_arg *a)
{
	pv_queue_notify(pv);
}

static void hc_queue_wait(struct pv_guest *pv, union hc_arg *a)
{
	pv_queue_wait(pv, &a->queue_wait);
}

static const struct {
	const char *name;
	size_t size; /* of the argument struct; 0: none (fn gets NULL) */
	void (*fn)(struct pv_guest *pv, union hc_arg *arg);
} hc_table[SHALE_HC_COUNT] = {
	[SHALE_HC_NOP] = { "nop", 0, NULL },
	[SHALE_HC_CONSOLE_WRITE] = { "console_write", sizeof(struct shale_hc_console_write), hc_console_write },
	[SHALE_HC_EXIT] = { "exit", sizeof(struct shale_hc_exit), hc_exit },
	[SHALE_HC_CLOCK] = { "clock", sizeof(struct shale_hc_clock), hc_clock },
	[SHALE_HC_POLL] = { "poll", sizeof(struct shale_hc_poll), hc_poll },
	[SHALE_HC_BLOCK_INFO] = { "block_info", sizeof(struct shale_hc_block_info), hc_block_info },
	[SHALE_HC_BLOCK_READ] = { "block_read", sizeof(struct shale_hc_block_io), hc_block_read },
	[SHALE_HC_BLOCK_WRITE] = { "block_write", sizeof(struct shale_hc_block_io), hc_block_write },
	[SHALE_HC_BLOCK_FLUSH] = { "block_flush", sizeof(struct shale_hc_status), hc_block_flush },
	[SHALE_HC_NET_INFO] = { "net_info", sizeof(struct shale_hc_net_info), hc_net_info },
	[SHALE_HC_NET_READ] = { "net_read", sizeof(struct shale_hc_buffer), hc_net_read },
	[SHALE_HC_NET_WRITE] = { "net_write", sizeof(struct shale_hc_buffer), hc_net_write },
	[SHALE_HC_RANDOM] = { "random", sizeof(struct shale_hc_buffer), hc_random },
	[SHALE_HC_ARGS] = { "args", sizeof(struct shale_hc_buffer), hc_args },
	[SHALE_HC_QUEUE_SETUP] = { "queue_setup", sizeof(struct shale_hc_queue_setup), hc_queue_setup },
	[SHALE_HC_QUEUE_NOTIFY] = { "queue_notify", 0, hc_queue_notify },
	[SHALE_HC_QUEUE_WAIT] = { "queue_wait", sizeof(struct shale_hc_queue_wait), hc_queue_wait },
};

void pv_hypercall(struct pv_guest *pv, struct vcpu *vcpu, unsigned nr, uint32_t gpa)
{
	union hc_arg arg;
	uint8_t *p;
	size_t size;

	if (nr == SHALE_HC_EXCEPTION) {
		x86_pv_exception(vcpu);
		return;
	}
	vcpu_note_hypercall(vcpu);
	if (nr >= SHALE_HC_COUNT) {
		vm_stop(pv->vm, VM_STOP_CRASH, 0, "guest crashed: unknown hypercall %u", nr);
		return;
	}
	size = hc_table[nr].size;
	if (!size) {
		if (hc_table[nr].fn)
			hc_table[nr].fn(pv, NULL);
		return;
	}
	/* The struct's ret field is written back: it must be writable memory. */
	p = pv_guest_ptr(pv, gpa, size, true);
	if (!p) {
		vm_stop(pv->vm, VM_STOP_CRASH, 0,
			"guest crashed: hypercall %s: argument struct at 0x%x is not in "
			"guest-writable memory",
			hc_table[nr].name, gpa);
		return;
	}
	memcpy(&arg, p, size);
	hc_table[nr].fn(pv, &arg);
	memcpy(p, &arg, size);
}
