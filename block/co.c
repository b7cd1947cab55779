/* Coroutine-served requests (block/co.h): the ctx's pool of coroutines,
 * entering them, child I/O, wait queues and wakes across threads. Runs
 * on the thread that owns each ctx; the only state another thread
 * touches is a ctx's remote list, under its remote_mu, and a waiter's
 * woken flag (atomic). */
#include "co.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"
#include "lib/coro.h"

/* Room for a format driver's frames and zlib's inflate. */
#define CO_STACK (64 * 1024)

static struct blk_co *co_get(struct blk_ctx *ctx)
{
	struct blk_co *co = ctx->co.free;

	if (co) {
		ctx->co.free = co->next;
		return co;
	}
	co = calloc(1, sizeof(*co));
	if (!co)
		return NULL;
	co->coro = coro_create(CO_STACK);
	if (!co->coro) {
		free(co);
		return NULL;
	}
	co->ctx = ctx;
	co->all_next = ctx->co.all;
	ctx->co.all = co;
	return co;
}

static void co_main(struct coro *self, void *arg)
{
	struct blk_co *co = arg;

	(void)self;
	co->result = co->fn(co);
}

/* Enters co (the thread is in no coroutine); when its function has
 * returned, completes its request and returns it to the pool. */
static void co_enter(struct blk_co *co)
{
	struct blk_ctx *ctx = co->ctx;
	bool finished;

	ctx->co.running = co;
	co->running = true;
	finished = coro_enter(co->coro);
	co->running = false;
	ctx->co.running = NULL;
	if (finished) {
		struct blk_req *req = co->req;

		co->busy = false;
		co->req = NULL;
		co->next = ctx->co.free;
		ctx->co.free = co;
		blk_req_done(ctx, req, co->result);
	}
}

/* Runs co later, on the way out of the current top-level entry. */
static void make_ready(struct blk_co *co)
{
	struct blk_ctx *ctx = co->ctx;

	if (!co->busy || co->queued || co->running)
		return; /* free (a stale wake), already due, or awake */
	co->queued = true;
	co->next = NULL;
	if (ctx->co.ready_tail)
		ctx->co.ready_tail->next = co;
	else
		ctx->co.ready = co;
	ctx->co.ready_tail = co;
}

static void drain_ready(struct blk_ctx *ctx)
{
	struct blk_co *co;

	while ((co = ctx->co.ready)) {
		ctx->co.ready = co->next;
		if (!ctx->co.ready)
			ctx->co.ready_tail = NULL;
		co->queued = false;
		if (co->busy && !co->running)
			co_enter(co);
	}
}

/* From co's own thread: now when no coroutine runs, else after it. */
static void run(struct blk_co *co)
{
	if (co->ctx->co.running) {
		make_ready(co);
		return;
	}
	co_enter(co);
	drain_ready(co->ctx);
}

int blk_co_submit(struct blk_node *node, struct blk_ctx *ctx,
		  struct blk_req *req, blk_co_fn fn)
{
	struct blk_co *co = co_get(ctx);

	if (!co)
		return -ENOMEM;
	co->node = node;
	co->req = req;
	co->fn = fn;
	co->result = 0;
	co->busy = true;
	coro_start(co->coro, co_main, co);
	run(co);
	return 0;
}

struct io_wait {
	struct blk_co *co;
	int result;
	bool done;
};

static void io_done(struct blk_req *child, int result)
{
	struct io_wait *w = child->opaque;

	w->result = result;
	w->done = true;
	run(w->co); /* nothing when it completed inside its own submit */
}

static uint64_t iov_bytes(const struct iovec *iov, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Submits req (op, range, iovecs set) on co's ctx and waits for it. */
static int submit_wait(struct blk_co *co, struct blk_node *child,
		       struct blk_req *req)
{
	struct io_wait w = { .co = co };
	int r;

	req->complete = io_done;
	req->opaque = &w;
	r = blk_submit(child, co->ctx, req);
	if (r)
		return r;
	while (!w.done)
		coro_yield(co->coro);
	return w.result;
}

int blk_co_rwv(struct blk_co *co, struct blk_node *child, enum blk_op op,
	       uint64_t offset, struct iovec *iov, unsigned iovcnt)
{
	struct blk_req req = { .op = op,
			       .offset = offset,
			       .len = iov_bytes(iov, iovcnt),
			       .iov = iov,
			       .iovcnt = iovcnt };

	return submit_wait(co, child, &req);
}

int blk_co_pread(struct blk_co *co, struct blk_node *child, uint64_t offset,
		 void *buf, uint64_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return blk_co_rwv(co, child, BLK_OP_READ, offset, &iov, 1);
}

int blk_co_pwrite(struct blk_co *co, struct blk_node *child, uint64_t offset,
		  const void *buf, uint64_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return blk_co_rwv(co, child, BLK_OP_WRITE, offset, &iov, 1);
}

int blk_co_range(struct blk_co *co, struct blk_node *child, enum blk_op op,
		 uint64_t offset, uint64_t len)
{
	struct blk_req req = { .op = op, .offset = offset, .len = len };

	return submit_wait(co, child, &req);
}

void blk_co_wait(struct blk_co *co, struct blk_waitq *q, pthread_mutex_t *mu)
{
	struct blk_waiter w = { .co = co, .next = q->head };
	struct blk_ctx *ctx = co->ctx;

	q->head = &w;
	pthread_mutex_unlock(mu);
	ctx->co.blocked++;
	while (!__atomic_load_n(&w.woken, __ATOMIC_ACQUIRE))
		coro_yield(co->coro);
	ctx->co.blocked--;
	pthread_mutex_lock(mu);
}

static void wake_remote(struct blk_co *co)
{
	struct blk_ctx *home = co->ctx;
	uint64_t one = 1;

	pthread_mutex_lock(&home->co.remote_mu);
	if (!co->remote_queued) {
		co->remote_queued = true;
		co->remote_next = home->co.remote;
		home->co.remote = co;
	}
	__atomic_store_n(&home->co.remote_pending, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&home->co.remote_mu);
	/* Cannot fail: an eventfd write only blocks or fails when the
	 * count would pass 2^64 - 2, and the owner reads it on each wake.
	 * Without an eventfd the owner is waiting in blk_ctx_reap, which
	 * looks at the list every millisecond while coroutines wait. */
	if (home->co.event_fd >= 0) {
		ssize_t n = write(home->co.event_fd, &one, sizeof(one));
		(void)n;
	}
}

void blk_co_wake_all(struct blk_co *self, struct blk_waitq *q)
{
	struct blk_waiter *w = q->head;

	q->head = NULL;
	while (w) {
		/* Once woken is set the waiter may return and its record,
		 * on its stack, be gone: read it first. */
		struct blk_waiter *next = w->next;
		struct blk_co *co = w->co;

		__atomic_store_n(&w->woken, true, __ATOMIC_RELEASE);
		if (co->ctx == self->ctx)
			make_ready(co);
		else
			wake_remote(co);
		w = next;
	}
}

void blk_co_wake_all_remote(struct blk_waitq *q)
{
	struct blk_waiter *w = q->head;

	q->head = NULL;
	while (w) {
		struct blk_waiter *next = w->next;
		struct blk_co *co = w->co;

		__atomic_store_n(&w->woken, true, __ATOMIC_RELEASE);
		wake_remote(co);
		w = next;
	}
}

int blk_co_remote_wakes(struct blk_ctx *ctx)
{
	struct blk_co *list, *co;
	int n = 0;

	if (!__atomic_load_n(&ctx->co.remote_pending, __ATOMIC_ACQUIRE))
		return 0;
	/* Under the lock: once remote_queued is clear, a waker on another
	 * thread may link co again. */
	pthread_mutex_lock(&ctx->co.remote_mu);
	list = ctx->co.remote;
	ctx->co.remote = NULL;
	__atomic_store_n(&ctx->co.remote_pending, false, __ATOMIC_RELAXED);
	while ((co = list)) {
		list = co->remote_next;
		co->remote_queued = false;
		make_ready(co);
		n++;
	}
	pthread_mutex_unlock(&ctx->co.remote_mu);
	drain_ready(ctx);
	return n;
}

void blk_co_pool_free(struct blk_ctx *ctx)
{
	struct blk_co *co;

	while ((co = ctx->co.all)) {
		ctx->co.all = co->all_next;
		coro_destroy(co->coro);
		free(co);
	}
	ctx->co.free = NULL;
}
