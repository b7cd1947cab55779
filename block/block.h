/* The block layer: an asynchronous request API that devices use and image
 * formats implement (raw files and block devices here; qcow2, QED and
 * filters stack on the same interface later).
 *
 * A request is submitted on a struct blk_ctx, one per iothread, which owns
 * an io_uring. Submissions are batched until blk_ctx_kick; completions are
 * delivered by blk_ctx_reap on the same thread, through the request's
 * complete callback with 0 or -errno. No lock: a node may be used from
 * several contexts at once, each request on one context only. */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,	     /* durable: every write completed before it */
	BLK_OP_DISCARD,	     /* the range may read back as anything */
	BLK_OP_WRITE_ZEROES, /* the range reads back as zeroes */
};

struct blk_node;
struct blk_ctx;

struct blk_req {
	enum blk_op op;
	uint64_t offset;   /* bytes */
	uint64_t len;	   /* bytes: the iovecs' total for read and write */
	struct iovec *iov; /* read/write; advanced in place on short I/O */
	unsigned iovcnt;
	void (*complete)(struct blk_req *req, int result);
	void *opaque;
	/* Owned by the block layer while the request is in flight. */
	struct blk_node *node;
	uint32_t drv_state; /* the driver's, e.g. which method it tried */
};

/* A format driver: a const table. submit starts a request on ctx (its
 * range already checked); cqe handles one io_uring completion of it and
 * either completes the request or resubmits. */
struct blk_driver {
	const char *name;
	int (*submit)(struct blk_node *node, struct blk_ctx *ctx,
		      struct blk_req *req);
	void (*cqe)(struct blk_node *node, struct blk_ctx *ctx,
		    struct blk_req *req, int res);
	void (*close)(struct blk_node *node);
};

struct blk_node {
	const struct blk_driver *drv;
	uint64_t size;		/* bytes */
	uint32_t block_size;	/* logical block size the guest sees */
	bool readonly;
	bool can_discard;
	uint64_t errors;	/* requests completed with an error (atomic) */
	void *priv;
};

struct blk_ctx {
	struct io_uring ring;
	unsigned pending;  /* SQEs prepared but not yet submitted */
	unsigned inflight; /* requests started and not completed */
};

int blk_ctx_init(struct blk_ctx *ctx, unsigned depth);
void blk_ctx_destroy(struct blk_ctx *ctx);

/* Starts req on ctx. The range must lie within the node and writes,
 * discards and write-zeroes need a writable node: otherwise returns
 * -EINVAL / -EROFS / -EOPNOTSUPP at once and complete is not called. */
int blk_submit(struct blk_node *node, struct blk_ctx *ctx, struct blk_req *req);

/* Hands prepared requests to the kernel (one io_uring_submit). */
int blk_ctx_kick(struct blk_ctx *ctx);

/* Handles the io_uring completions that are ready (finishing requests or
 * resubmitting their rest); with wait, blocks for at least one when
 * requests are in flight. Returns the number of completions handled. */
int blk_ctx_reap(struct blk_ctx *ctx, bool wait);

/* For drivers: an SQE on ctx whose completion goes to node's cqe op. */
struct io_uring_sqe *blk_ctx_sqe(struct blk_ctx *ctx, struct blk_req *req);
/* For drivers: finishes req (counts errors, calls complete). */
void blk_req_done(struct blk_ctx *ctx, struct blk_req *req, int result);

void blk_close(struct blk_node *node);

#endif
