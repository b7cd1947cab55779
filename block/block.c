/* The request path: submission checks, SQE batching, completion dispatch
 * to the driver that issued each SQE. Runs on the thread that owns each
 * blk_ctx (an iothread); no locks. */
#include <errno.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "co.h"
#include "ctx.h"
#include "driver.h"
#include "lib/checked.h"

struct io_uring_sqe *blk_ctx_sqe(struct blk_ctx *ctx, struct blk_node *node,
				 struct blk_req *req)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);

	if (!sqe) {
		/* The ring is full: hand it over and take a fresh slot. */
		blk_ctx_kick(ctx);
		sqe = io_uring_get_sqe(&ctx->ring);
	}
	if (sqe) {
		io_uring_sqe_set_data(sqe, req);
		req->io_node = node;
		ctx->pending++;
	}
	return sqe;
}

static uint64_t iov_total(const struct iovec *iov, unsigned n)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static int check(const struct blk_node *node, const struct blk_req *req)
{
	bool rw = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;

	if (node->inactive)
		return -EIO; /* handed over, or not yet taken over */
	if (rw && req->len != iov_total(req->iov, req->iovcnt))
		return -EINVAL;
	if (req->op != BLK_OP_FLUSH &&
	    !range_within(req->offset, req->len,
			  node->growable ? UINT64_MAX : node->size))
		return -EINVAL;
	if (req->op != BLK_OP_READ && node->readonly)
		return -EROFS;
	if (req->op == BLK_OP_DISCARD && !node->can_discard)
		return -EOPNOTSUPP;
	return 0;
}

int blk_submit(struct blk_node *node, struct blk_ctx *ctx, struct blk_req *req)
{
	int r = check(node, req);

	if (!r)
		r = blk_ctx_attach(ctx, node);
	if (!r)
		r = blk_state_get(ctx, req);
	if (r)
		return r;
	req->node = node;
	r = node->drv->submit(node, ctx, req);
	if (r)
		blk_state_put(ctx, req);
	else
		ctx->inflight++;
	return r;
}

int blk_ctx_kick(struct blk_ctx *ctx)
{
	int r;

	if (!ctx->pending)
		return 0;
	do {
		r = io_uring_submit(&ctx->ring);
	} while (r == -EINTR);
	if (r >= 0)
		ctx->pending -=
			(unsigned)r < ctx->pending ? (unsigned)r : ctx->pending;
	return r < 0 ? r : 0;
}

void blk_req_done(struct blk_ctx *ctx, struct blk_req *req, int result)
{
	if (result < 0)
		__atomic_add_fetch(&req->node->errors, 1, __ATOMIC_RELAXED);
	blk_state_put(ctx, req);
	ctx->inflight--;
	req->complete(req, result);
}

/* The kernel wrote res bytes into a read's buffers through io_uring,
 * which valgrind's memcheck does not see: tell it, so that reads of that
 * data are not reported as uninitialised. Nothing when not under it. */
static void note_read_data(const struct blk_req *req, int res)
{
	size_t left = res > 0 ? (size_t)res : 0;

	if (req->op != BLK_OP_READ || !RUNNING_ON_VALGRIND)
		return;
	for (unsigned i = 0; i < req->iovcnt && left; i++) {
		size_t n =
			req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		VALGRIND_MAKE_MEM_DEFINED(req->iov[i].iov_base, n);
		left -= n;
	}
}

/* While coroutines wait for wakes from other threads, which are not
 * completions, look at them every millisecond. */
static int wait_cqe(struct blk_ctx *ctx, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ms = { .tv_nsec = 1000000 };

	if (!ctx->co.blocked)
		return io_uring_wait_cqe(&ctx->ring, cqe);
	return io_uring_wait_cqe_timeout(&ctx->ring, cqe, &ms);
}

int blk_ctx_reap(struct blk_ctx *ctx, bool wait)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	blk_co_remote_wakes(ctx);
	blk_ctx_kick(ctx);
	for (;;) {
		int r = (wait && !n && ctx->inflight)
				? wait_cqe(ctx, &cqe)
				: io_uring_peek_cqe(&ctx->ring, &cqe);
		if (r == -ETIME) {
			n += blk_co_remote_wakes(ctx);
			blk_ctx_kick(ctx);
			continue;
		}
		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		void *data = io_uring_cqe_get_data(cqe);
		struct blk_req *req = data;
		int res = cqe->res;
		io_uring_cqe_seen(&ctx->ring, cqe);
		n++;
		note_read_data(req, res);
		req->io_node->drv->cqe(req->io_node, ctx, req, res);
		blk_ctx_kick(ctx); /* resubmissions of short I/O */
	}
	return n;
}

bool blk_ctx_has_completions(const struct blk_ctx *ctx)
{
	return io_uring_cq_ready(&ctx->ring) > 0 ||
	       __atomic_load_n(&ctx->co.remote_pending, __ATOMIC_ACQUIRE);
}
