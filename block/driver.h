/* What a block driver implements and may call. A driver is one .c file
 * defining a const struct blk_driver, plus one row in block/drivers.c.
 *
 * Formats (raw; qcow2 and QED later) interpret an image and do their I/O
 * through child nodes: open calls blk_open_child for node->file (a
 * protocol) and, for an image with one, node->backing (any format).
 * Protocols (file) own a host fd in node->fd, which every blk_ctx
 * registers, and issue the SQEs.
 *
 * Per-request state: a driver declares req_state_size; every request in
 * flight on a ctx has req->state, at least as large as the largest
 * driver's in the stacks attached to that ctx, from the ctx's pool. A
 * driver that hands the request itself down (blk_forward, as raw does)
 * hands its state area down with it; one that needs state of its own and
 * I/O below (qcow2) submits child requests, kept in its state, with
 * blk_submit on its children: each child then has a state of its own. */
#ifndef BLOCK_DRIVER_H
#define BLOCK_DRIVER_H

#include "block.h"

enum blk_drv_kind {
	BLK_DRV_FORMAT,	  /* chosen by format= */
	BLK_DRV_PROTOCOL, /* opened by formats as their file child */
};

#define BLK_DRV_MAX_SQE_OPS 8

struct blk_driver {
	const char *name;
	enum blk_drv_kind kind;
	/* A protocol that hands every request to its own file child (the
	 * blkdebug filter): no SQEs, no cqe op. */
	bool filter;
	size_t req_state_size;
	/* The io_uring opcodes and SQE flags (beyond IOSQE_FIXED_FILE, which
	 * every SQE carries) this driver's SQEs use; every ring allows the
	 * union over the driver table and nothing else. */
	uint8_t sqe_ops[BLK_DRV_MAX_SQE_OPS];
	unsigned nsqe_ops;
	uint8_t sqe_flags;
	/* Reads its options with blk_opt, opens its children, fills node's
	 * size, block_size, readonly, can_discard (and fd for protocols).
	 * Returns 0 or the -errno of blk_open_fail. On failure blk_open
	 * calls close and closes the children opened so far. */
	int (*open)(struct blk_node *node, struct blk_opts *opts);
	/* Starts a request on ctx (its range already checked). */
	int (*submit)(struct blk_node *node, struct blk_ctx *ctx,
		      struct blk_req *req);
	/* One io_uring completion of an SQE this node issued: completes the
	 * request (blk_req_done) or resubmits. NULL for drivers that issue
	 * no SQEs. */
	void (*cqe)(struct blk_node *node, struct blk_ctx *ctx,
		    struct blk_req *req, int res);
	/* Frees priv and closes fd; children are closed by blk_close. A
	 * node->inactive node's close writes nothing. */
	void (*close)(struct blk_node *node);
	/* Optional (block.h blk_inactivate, blk_activate): with no request
	 * in flight, the writes close would make, leaving the open usable
	 * (0 or -errno); and the same open taken back. Plain system calls
	 * on the calling thread. */
	int (*inactivate)(struct blk_node *node);
	void (*activate)(struct blk_node *node);
};

/* --- Opening (main thread) --- */

/* The value of key (marking it used): NULL when absent, "" for a bare key
 * (use *present to tell absent from bare). */
const char *blk_opt(struct blk_opts *o, const char *key, bool *present);
/* key as on|off (bare = on, absent = def); -EINVAL otherwise. */
int blk_opt_bool(struct blk_opts *o, const char *key, bool def, bool *out);

/* Records the first failure as "disk PATH: <fmt>" in o->why and returns
 * err (a -errno). */
__attribute__((format(printf, 3, 4))) int
blk_open_fail(struct blk_opts *o, int err, const char *fmt, ...);

/* Opens a child into *slot (heap, freed by blk_close of the parent):
 * with the protocol driver named, or by format= when protocol is NULL
 * (a backing image). Same options; children read the keys they know. */
int blk_open_child(struct blk_node **slot, const char *protocol,
		   struct blk_opts *opts);

/* Opens a format's file child: the file protocol, or the blkdebug
 * filter over it when opts carry inject= (block/blkdebug.h). */
int blk_open_file_child(struct blk_node *node, struct blk_opts *opts);

/* The steps of a format's metadata updates, named for fault injection
 * (block/blkdebug.h); BLK_EVENT_NAMES lists them in this order. */
enum blk_event {
	BLK_EV_L1_UPDATE,	/* an L1 entry written */
	BLK_EV_L2_LOAD,		/* an L2 table read into the cache */
	BLK_EV_L2_ALLOC,	/* a new L2 table written */
	BLK_EV_L2_UPDATE,	/* an L2 entry written */
	BLK_EV_REFBLOCK_ALLOC,	/* a new refcount block written */
	BLK_EV_REFCOUNT_UPDATE, /* refcounts written */
	BLK_EV_REFTABLE_GROW,	/* a larger refcount table written */
	BLK_EV_CLUSTER_ALLOC,	/* clusters reserved */
	BLK_EV_COW_READ,	/* old contents read for a partial cluster */
	BLK_EV_COW_WRITE,	/* a newly allocated cluster written */
	BLK_EV_WRITE,		/* data written in place */
	BLK_EV_READ,		/* data read */
	BLK_EV_FLUSH,		/* the file flushed */
	BLK_EV_HEADER_UPDATE,	/* the header written */
	BLK_EV_COUNT
};
#define BLK_EVENT_NAMES                                                        \
	"l1_update", "l2_load", "l2_alloc", "l2_update", "refblock_alloc",     \
		"refcount_update", "reftable_grow", "cluster_alloc",           \
		"cow_read", "cow_write", "write", "read", "flush",             \
		"header_update"

struct blk_co;
/* From a request coroutine, just before the step's I/O on file (the
 * format's file child): 0 to go on, or the -errno a rule injects; may
 * suspend at a breakpoint or end the process. Nothing (and no cost but
 * a compare) when file is not a blkdebug node. */
int blk_co_event(struct blk_co *co, struct blk_node *file, enum blk_event ev);

/* --- Requests (the ctx's thread) --- */

/* Hands req on to child with a function call: same request, same state
 * area, completion straight from the child's SQEs. */
static inline int blk_forward(struct blk_node *child, struct blk_ctx *ctx,
			      struct blk_req *req)
{
	return child->drv->submit(child, ctx, req);
}

/* An SQE on ctx whose completion goes to node's cqe op; NULL when the
 * ring stays full. */
struct io_uring_sqe *blk_ctx_sqe(struct blk_ctx *ctx, struct blk_node *node,
				 struct blk_req *req);
/* node's registered file index on ctx (for IOSQE_FIXED_FILE), or -ENOENT
 * when node is not attached. */
int blk_ctx_file(const struct blk_ctx *ctx, const struct blk_node *node);
/* Finishes req (counts an error on req->node, frees its state, calls
 * complete). */
void blk_req_done(struct blk_ctx *ctx, struct blk_req *req, int result);

#endif
