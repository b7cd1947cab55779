/* Coroutine-served requests, for format drivers whose requests wait for
 * metadata I/O (qcow2, QED). A driver's submit calls blk_co_submit with
 * its request function; that function runs on a coroutine of the ctx's
 * pool, on the ctx's thread, and reads as straight-line code: blk_co_rw
 * and friends submit a child request and yield until it completes.
 *
 * Waiting for another request (a table being loaded, an allocation in
 * flight) uses a blk_waitq kept in the driver's shared state under the
 * driver's own mutex. The waker may run on another ctx's thread: a
 * coroutine is only ever resumed by its own ctx's thread, which the
 * waker signals through the ctx's event fd (blk_ctx_set_event_fd).
 *
 * Every wait is a loop on its condition: a coroutine may be resumed
 * without cause, and must then wait again. */
#ifndef BLOCK_CO_H
#define BLOCK_CO_H

#include <pthread.h>

#include "block.h"

struct blk_co;

/* Serves co's request; returns its result (0 or -errno). */
typedef int (*blk_co_fn)(struct blk_co *co);

struct blk_co {
	struct coro *coro;
	struct blk_ctx *ctx; /* home: the only thread that enters it */
	struct blk_node *node;
	struct blk_req *req;
	blk_co_fn fn;
	int result;
	bool busy;    /* serving a request (else in the ctx's free pool) */
	bool running; /* inside coro_enter now */
	bool queued;  /* on ctx's ready list */
	bool remote_queued;	    /* on ctx's remote list (ctx's remote_mu) */
	struct blk_co *next;	    /* free or ready list */
	struct blk_co *remote_next; /* remote list */
	struct blk_co *all_next;    /* every coroutine of the ctx */
};

/* Serves req with fn on a coroutine: runs it now up to its first wait
 * (or queues it when called from inside another coroutine of ctx).
 * 0, or -ENOMEM (complete is then not called). */
int blk_co_submit(struct blk_node *node, struct blk_ctx *ctx,
		  struct blk_req *req, blk_co_fn fn);

/* From inside a coroutine: a child request on co's ctx, waited for.
 * The child may advance iov in place (short I/O). 0 or -errno. */
int blk_co_rwv(struct blk_co *co, struct blk_node *child, enum blk_op op,
	       uint64_t offset, struct iovec *iov, unsigned iovcnt);
int blk_co_pread(struct blk_co *co, struct blk_node *child, uint64_t offset,
		 void *buf, uint64_t len);
int blk_co_pwrite(struct blk_co *co, struct blk_node *child, uint64_t offset,
		  const void *buf, uint64_t len);
/* Flush (offset and len 0), discard or write-zeroes. */
int blk_co_range(struct blk_co *co, struct blk_node *child, enum blk_op op,
		 uint64_t offset, uint64_t len);

/* A list of coroutines waiting for an event of a driver's state; the
 * driver's mutex (the one passed to blk_co_wait) protects it. */
struct blk_waiter {
	struct blk_co *co;
	bool woken; /* atomic */
	struct blk_waiter *next;
};
struct blk_waitq {
	struct blk_waiter *head;
};

/* With mu held: joins q, releases mu, waits to be woken, retakes mu. */
void blk_co_wait(struct blk_co *co, struct blk_waitq *q, pthread_mutex_t *mu);
/* From inside coroutine self, with the mutex of q held: wakes everyone
 * waiting on q. They run once self yields or ends, or on their own
 * ctx's thread. */
void blk_co_wake_all(struct blk_co *self, struct blk_waitq *q);

/* The same from outside any coroutine (a test's thread): the woken run
 * on their ctx's next blk_ctx_reap. */
void blk_co_wake_all_remote(struct blk_waitq *q);

/* For blk_ctx_reap: runs the coroutines woken from other threads; frees
 * the pool at destroy. */
int blk_co_remote_wakes(struct blk_ctx *ctx); /* how many */
void blk_co_pool_free(struct blk_ctx *ctx);

#endif
