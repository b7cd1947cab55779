/* The block layer: an asynchronous request API that devices use and block
 * drivers implement. A node is one driver instance; nodes stack: a format
 * node (raw today; qcow2 and QED later) reads and writes through its file
 * child, a protocol node (file: host files and block devices), and an
 * image's backing file is one more node of any format. Drivers are listed
 * in block/drivers.c and written against block/driver.h.
 *
 * A request is submitted on a struct blk_ctx, one per iothread, which owns
 * an io_uring restricted to the operations block drivers use, with the
 * host files registered (fixed files). Submissions are batched until
 * blk_ctx_kick; completions are delivered by blk_ctx_reap on the same
 * thread, through the request's complete callback with 0 or -errno. No
 * lock: a node may be used from several contexts at once, each request on
 * one context only. */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include <liburing.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,	     /* durable: every write completed before it */
	BLK_OP_DISCARD,	     /* the range may read back as anything */
	BLK_OP_WRITE_ZEROES, /* the range reads back as zeroes */
	/* Protocol nodes: the range allocated in the file (reading as
	 * zeroes where nothing was written; data already there is kept)
	 * and the file grown to cover it, so that later writes there do not
	 * extend it (fallocate mode 0). Formats use it on their file. */
	BLK_OP_PREALLOCATE,
};

struct blk_node;
struct blk_ctx;
struct blk_driver;
struct blk_state;

struct blk_req {
	enum blk_op op;
	uint64_t offset;   /* bytes */
	uint64_t len;	   /* bytes: the iovecs' total for read and write */
	struct iovec *iov; /* read/write; advanced in place on short I/O */
	unsigned iovcnt;
	void (*complete)(struct blk_req *req, int result);
	void *opaque;
	/* Owned by the block layer while the request is in flight. */
	struct blk_node *node;	  /* submitted to; its errors count */
	struct blk_node *io_node; /* whose SQE is in flight (its cqe op) */
	void *state;		  /* drivers' per-request state, ctx pool */
};

struct blk_node {
	const struct blk_driver *drv;
	uint64_t size;	     /* bytes */
	uint32_t block_size; /* logical block size the guest sees */
	bool readonly;
	bool can_discard;
	/* Writes past size extend it (an image format's file child). */
	bool growable;
	/* Handed over (blk_inactivate), or opened read-only until another
	 * process hands the image over: requests are refused and close
	 * writes nothing. */
	bool inactive;
	uint64_t errors;       /* requests completed with an error (atomic) */
	void *priv;	       /* the driver's */
	int fd;		       /* protocol nodes: the host file; else -1 */
	struct blk_node *file; /* a format's protocol child, or NULL */
	struct blk_node *backing; /* a backing image (any format), or NULL */
};

/* Options for blk_open, "key=value" pairs as on --disk; each driver in
 * the stack reads the keys it knows (blk_opt in block/driver.h) and
 * blk_open refuses any key no driver read. Keys today: format (raw, the
 * default), path, readonly (on|off, no value = on), cache (none, meaning
 * O_DIRECT, or writeback). */
#define BLK_OPTS_MAX 16

struct blk_opts {
	struct {
		const char *key, *val; /* val NULL: the bare key */
	} kv[BLK_OPTS_MAX];
	unsigned n;
	uint32_t used; /* bit i: kv[i] was read by a driver */
	char why[192]; /* out: the failure blk_open logged */
	/* A backing chain being opened: this image's depth below the top
	 * and the files above it (and itself), to refuse a loop. */
	unsigned depth;
	struct {
		dev_t dev;
		ino_t ino;
	} chain[16];
};

/* Appends key=val (the strings must outlive blk_open). -E2BIG when full,
 * -EINVAL for an empty or repeated key. */
int blk_opts_add(struct blk_opts *o, const char *key, const char *val);

/* Opens the node stack that opts describe into node (the top node; the
 * caller owns its memory, the block layer the children's). Returns 0, or
 * -errno after one log line, the same text as opts->why; node is then
 * closed. */
int blk_open(struct blk_node *node, struct blk_opts *opts);

/* The format format=auto opens path with: qcow2 or qed by their magic,
 * else raw. Asked for only (QEMU's lesson: a raw disk whose guest writes
 * a qcow2 header must not become a qcow2 disk at the next start). */
const char *blk_probe_format(const char *path);

/* Live migration on shared storage, as QEMU's BDRV_O_INACTIVE: one
 * process at a time owns an image's file.
 *
 * blk_inactivate hands node's stack over: with no request in flight, it
 * writes what a close would (a format's cached metadata, reserved
 * clusters given back, a preallocated tail trimmed, the dirty or
 * need-check bit cleared) and syncs the file, so that another process
 * that opens the image now finds it complete and clean; then the stack
 * is inactive: requests are refused with -EIO, blk_close writes nothing
 * and leaves the file exactly as it is. Plain system calls on the
 * calling thread (blk_close_rules). 0, or -errno (the stack stays
 * active; what was written is consistent).
 *
 * blk_activate takes the same open back when no other process wrote the
 * image meanwhile (a snapshot taken, a migration that failed): cached
 * refcounts that the hand-over changed on disk are dropped; nothing is
 * written (qcow2 with lazy refcounts goes on without them rather than
 * set the dirty bit again), so the file stays as the hand-over left it
 * until the guest writes. No system call.
 *
 * blk_reopen takes over an image another process wrote (a migration's
 * destination, node opened read-only and inactive at start-up): it
 * opens opts into a new stack (its metadata read afresh) and, on
 * success, closes node (writing nothing when inactive) and puts the new
 * stack at node's address. The caller has detached node from every ctx
 * (blk_ctx_detach) and attaches the new stack. 0, or -errno after one
 * log line (opts->why) with node untouched. Main thread. */
int blk_inactivate(struct blk_node *node);
void blk_activate(struct blk_node *node);
int blk_reopen(struct blk_node *node, struct blk_opts *opts);
/* Marks node's stack inactive without writing anything (a read-only
 * open that waits for a hand-over). */
void blk_mark_inactive(struct blk_node *node);

/* Closes node and its children. Every blk_ctx it was used on must be
 * destroyed first (the rings hold its registered files). A format may
 * write to its image on the way (qcow2 gives back the clusters it had
 * reserved), with plain system calls on the closing thread; an inactive
 * stack writes nothing. */
void blk_close(struct blk_node *node);
/* The system calls blk_close and blk_inactivate need, for the sandbox
 * role of the thread that closes or hands over nodes: pread64,
 * pwrite64, fdatasync, ftruncate. */
int blk_close_rules(scmp_filter_ctx ctx);

/* The files of up to BLK_CTX_NODES nodes (whole stacks) per context. */
#define BLK_CTX_NODES 16

struct blk_ctx_node {
	const struct blk_node *node;
	bool has_file; /* its fd is registered at this slot's index */
};

/* A ctx's coroutines (block/co.c). */
struct blk_ctx_co {
	struct blk_co *all, *free;
	struct blk_co *ready, *ready_tail; /* due to run, in order */
	struct blk_co *running;		   /* entered now, or NULL */
	unsigned blocked;		   /* in a blk_co_wait */
	/* Wakes from other threads: the list (remote_mu), a flag for a
	 * polling owner (atomic), and the owner's completion eventfd. */
	pthread_mutex_t remote_mu;
	struct blk_co *remote;
	bool remote_pending;
	int event_fd; /* -1: none (one ctx per node, e.g. vmm img) */
};

struct blk_ctx {
	struct io_uring ring;
	unsigned pending;  /* SQEs prepared but not yet submitted */
	unsigned inflight; /* requests started and not completed */
	struct blk_ctx_node nodes[BLK_CTX_NODES]; /* index = fixed file */
	unsigned nnodes;
	size_t state_size; /* largest per-request state attached */
	struct blk_state *free_states;
	struct blk_ctx_co co;
};

/* Creates the ring: disabled, a sparse table of BLK_CTX_NODES registered
 * files, restricted to the SQE opcodes and flags block drivers declare
 * (fixed files required) and to the register operations
 * IORING_REGISTER_EVENTFD (blk_ctx_set_event_fd) and
 * IORING_REGISTER_FILES_UPDATE (attaching nodes), then enabled. */
int blk_ctx_init(struct blk_ctx *ctx, unsigned depth);
/* Signals fd (an eventfd the owner thread polls, then calls
 * blk_ctx_reap) on each completion and on each wake of one of ctx's
 * coroutines from another thread. Needed when a node is used from
 * several contexts. 0 or -errno. */
int blk_ctx_set_event_fd(struct blk_ctx *ctx, int fd);
/* Requests must have been reaped (inflight == 0). */
void blk_ctx_destroy(struct blk_ctx *ctx);
/* The system calls of a thread that submits and reaps a ring's requests,
 * for its sandbox role: io_uring_enter on the ring. */
int blk_ctx_rules(scmp_filter_ctx ctx);

/* Registers node's stack on ctx: its host files in the ring's file table,
 * its per-request state size in ctx's pool. blk_submit does this on first
 * use; calling it earlier keeps the system call out of the first request.
 * 0, or -ENOSPC past BLK_CTX_NODES nodes, or the kernel's -errno. */
int blk_ctx_attach(struct blk_ctx *ctx, struct blk_node *node);

/* Forgets every node attached to ctx, their files unregistered from
 * the ring (before the nodes are reopened). No request in flight. 0 or
 * the kernel's -errno. */
int blk_ctx_detach(struct blk_ctx *ctx);

/* Starts req on ctx. The range must lie within the node and writes,
 * discards and write-zeroes need a writable node: otherwise returns
 * -EINVAL / -EROFS / -EOPNOTSUPP at once and complete is not called
 * (also -ENOMEM, -ENOSPC from attaching). */
int blk_submit(struct blk_node *node, struct blk_ctx *ctx, struct blk_req *req);

/* Hands prepared requests to the kernel (one io_uring_submit). */
int blk_ctx_kick(struct blk_ctx *ctx);

/* Handles the io_uring completions that are ready (finishing requests or
 * resubmitting their rest); with wait, blocks for at least one when
 * requests are in flight. Returns the number of completions handled. */
int blk_ctx_reap(struct blk_ctx *ctx, bool wait);

/* True when completions (or wakes) wait to be reaped: a read of the
 * completion ring's tail, no system call, for a thread polling it. */
bool blk_ctx_has_completions(const struct blk_ctx *ctx);

#endif
