/*
 * The event loop (src/vmm/evloop.c): handlers run for ready fds only; a
 * handler that removes another fd ready in the same round keeps it from
 * running, also when its slot is reused at once; fds epoll refuses
 * (regular files) are always ready; events can be changed and removed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/evloop.h"

struct probe {
	struct evloop *el;
	int calls;
	uint32_t events;
	int victim; /* an fd to remove when called, or -1 */
	int reuse;  /* an fd to add in the victim's place, or -1 */
	struct probe *reuse_probe;
};

static void on_event(void *opaque, int fd, uint32_t events)
{
	struct probe *p = opaque;
	uint64_t v;

	p->calls++;
	p->events = events;
	/* An eventfd is reset; a regular file just reads (EOF). */
	if (events & EPOLLIN)
		assert_true(read(fd, &v, sizeof(v)) >= 0 || errno == EAGAIN);
	if (p->victim >= 0) {
		evloop_del(p->el, p->victim);
		p->victim = -1;
		if (p->reuse >= 0)
			assert_int_equal(evloop_add(p->el, p->reuse, EPOLLIN, on_event, p->reuse_probe), 0);
	}
}

static int efd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void test_ready_only(void **state)
{
	struct evloop el;
	int a = efd(), b = efd();
	struct probe pa = { &el, 0, 0, -1, -1, NULL }, pb = pa;

	assert_int_equal(evloop_init(&el), 0);
	assert_int_equal(evloop_add(&el, a, EPOLLIN, on_event, &pa), 0);
	assert_int_equal(evloop_add(&el, b, EPOLLIN, on_event, &pb), 0);
	assert_int_equal(evloop_add(&el, a, EPOLLIN, on_event, &pa), -EEXIST);
	assert_true(evloop_has(&el, a));
	assert_int_equal(evloop_run_once(&el, 0), 0);
	kick(b);
	assert_int_equal(evloop_run_once(&el, 1000), 1);
	assert_int_equal(pa.calls, 0);
	assert_int_equal(pb.calls, 1);
	assert_true(pb.events & EPOLLIN);
	/* Level-triggered: read, so quiet again. */
	assert_int_equal(evloop_run_once(&el, 0), 0);

	/* Watching for nothing: not run even when readable. */
	assert_int_equal(evloop_mod(&el, a, 0), 0);
	kick(a);
	assert_int_equal(evloop_run_once(&el, 0), 0);
	assert_int_equal(evloop_mod(&el, a, EPOLLIN), 0);
	assert_int_equal(evloop_run_once(&el, 0), 1);
	assert_int_equal(pa.calls, 1);

	evloop_del(&el, a);
	assert_false(evloop_has(&el, a));
	assert_int_equal(evloop_mod(&el, a, EPOLLIN), -ENOENT);
	evloop_del(&el, a); /* unknown: ignored */
	evloop_destroy(&el);
	close(a);
	close(b);
}

/* Whichever of the two runs first removes the other: the other never runs. */
static void test_removed_in_same_round(void **state)
{
	struct evloop el;
	int a = efd(), b = efd(), c = efd();
	struct probe pa = { &el, 0, 0, -1, -1, NULL }, pb = pa, pc = pa;

	assert_int_equal(evloop_init(&el), 0);
	pa.victim = b;
	pb.victim = a;
	/* The freed slot is taken at once by c, which is not ready. */
	pa.reuse = pb.reuse = c;
	pa.reuse_probe = pb.reuse_probe = &pc;
	assert_int_equal(evloop_add(&el, a, EPOLLIN, on_event, &pa), 0);
	assert_int_equal(evloop_add(&el, b, EPOLLIN, on_event, &pb), 0);
	kick(a);
	kick(b);
	assert_int_equal(evloop_run_once(&el, 1000), 1);
	assert_int_equal(pa.calls + pb.calls, 1);
	assert_int_equal(pc.calls, 0);
	assert_true(evloop_has(&el, c));
	evloop_destroy(&el);
	close(a);
	close(b);
	close(c);
}

/* A regular file: epoll refuses it, the loop treats it as always ready. */
static void test_always_ready(void **state)
{
	struct evloop el;
	FILE *f = tmpfile();
	struct probe p = { &el, 0, 0, -1, -1, NULL };
	int fd;

	assert_non_null(f);
	fd = fileno(f);
	assert_int_equal(evloop_init(&el), 0);
	assert_int_equal(evloop_add(&el, fd, EPOLLIN, on_event, &p), 0);
	/* Does not sleep: the timeout is ignored while such an fd is watched. */
	assert_int_equal(evloop_run_once(&el, 60000), 1);
	assert_int_equal(evloop_run_once(&el, 60000), 1);
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.events, EPOLLIN);
	assert_int_equal(evloop_mod(&el, fd, 0), 0);
	assert_int_equal(evloop_run_once(&el, 0), 0);
	evloop_del(&el, fd);
	assert_int_equal(evloop_run_once(&el, 10), 0);
	evloop_destroy(&el);
	fclose(f);
}

/* Many fds: the slot table grows while handles stay valid. */
static void test_many(void **state)
{
	enum { N = 100 };
	struct evloop el;
	int fd[N];
	struct probe p[N];

	assert_int_equal(evloop_init(&el), 0);
	for (int i = 0; i < N; i++) {
		fd[i] = efd();
		p[i] = (struct probe){ &el, 0, 0, -1, -1, NULL };
		assert_int_equal(evloop_add(&el, fd[i], EPOLLIN, on_event, &p[i]), 0);
	}
	kick(fd[0]);
	kick(fd[N - 1]);
	assert_int_equal(evloop_run_once(&el, 1000), 2);
	assert_int_equal(p[0].calls, 1);
	assert_int_equal(p[N - 1].calls, 1);
	assert_int_equal(p[N / 2].calls, 0);
	evloop_destroy(&el);
	for (int i = 0; i < N; i++)
		close(fd[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_only),
		cmocka_unit_test(test_removed_in_same_round),
		cmocka_unit_test(test_always_ready),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
