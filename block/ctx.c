/* A blk_ctx's ring set-up (restrictions, registered files), the nodes
 * attached to it and its pool of per-request driver state. Runs on the
 * thread that owns the ctx (init and destroy may run on another while no
 * request is in flight); no locks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "co.h"
#include "ctx.h"
#include "drivers.h"

/* One pooled per-request state area; the header keeps data aligned. */
struct blk_state {
	union {
		struct {
			struct blk_state *next;
			size_t size;
		};
		max_align_t align;
	};
	max_align_t data[];
};

#define MAX_RESTRICTIONS 32

/* liburing 2.3 (Debian 12) declares io_uring_register_restrictions and
 * io_uring_enable_rings but its shared library does not export them. */
static int ring_register(struct io_uring *ring, unsigned op, void *arg,
			 unsigned n)
{
	long r = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);

	return r < 0 ? -errno : 0;
}

/* Appends one restriction; past MAX_RESTRICTIONS counts on so that
 * restrict_ring refuses to set up a ring missing some of them. */
static void allow(struct io_uring_restriction *res, unsigned *n, uint16_t what,
		  uint8_t value)
{
	if (*n < MAX_RESTRICTIONS) {
		memset(&res[*n], 0, sizeof(res[*n]));
		res[*n].opcode = what;
		res[*n].sqe_op =
			value; /* one union: register_op, sqe_op, flags */
	}
	(*n)++;
}

/* What the ring may do once enabled: the drivers' opcodes and flags on
 * fixed files only, an eventfd for completions, attaching more files. */
static int restrict_ring(struct io_uring *ring)
{
	struct io_uring_restriction res[MAX_RESTRICTIONS];
	const struct blk_driver *d;
	uint8_t flags = 0;
	unsigned n = 0;

	for (unsigned i = 0; (d = blk_driver_at(i)); i++) {
		for (unsigned j = 0; j < d->nsqe_ops; j++)
			allow(res, &n, IORING_RESTRICTION_SQE_OP,
			      d->sqe_ops[j]);
		flags |= d->sqe_flags;
	}
	allow(res, &n, IORING_RESTRICTION_SQE_FLAGS_ALLOWED, flags);
	allow(res, &n, IORING_RESTRICTION_SQE_FLAGS_REQUIRED, IOSQE_FIXED_FILE);
	allow(res, &n, IORING_RESTRICTION_REGISTER_OP, IORING_REGISTER_EVENTFD);
	allow(res, &n, IORING_RESTRICTION_REGISTER_OP,
	      IORING_REGISTER_FILES_UPDATE);
	if (n > MAX_RESTRICTIONS)
		return -E2BIG;
	return ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, n);
}

int blk_ctx_rules(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter),
				0);
}

int blk_ctx_init(struct blk_ctx *ctx, unsigned depth)
{
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->co.event_fd = -1;
	r = io_uring_queue_init(depth, &ctx->ring, IORING_SETUP_R_DISABLED);
	if (r)
		return r;
	/* Registration is unrestricted until the ring is enabled. */
	r = io_uring_register_files_sparse(&ctx->ring, BLK_CTX_NODES);
	if (!r)
		r = restrict_ring(&ctx->ring);
	if (!r)
		r = ring_register(&ctx->ring, IORING_REGISTER_ENABLE_RINGS,
				  NULL, 0);
	if (r) {
		io_uring_queue_exit(&ctx->ring);
		return r;
	}
	pthread_mutex_init(&ctx->co.remote_mu, NULL);
	return 0;
}

int blk_ctx_set_event_fd(struct blk_ctx *ctx, int fd)
{
	int r = io_uring_register_eventfd(&ctx->ring, fd);

	if (!r)
		ctx->co.event_fd = fd;
	return r;
}

void blk_ctx_destroy(struct blk_ctx *ctx)
{
	struct blk_state *s;

	while ((s = ctx->free_states)) {
		ctx->free_states = s->next;
		free(s);
	}
	io_uring_queue_exit(&ctx->ring);
	blk_co_pool_free(ctx);
	pthread_mutex_destroy(&ctx->co.remote_mu);
}

static int find(const struct blk_ctx *ctx, const struct blk_node *node)
{
	for (unsigned i = 0; i < ctx->nnodes; i++)
		if (ctx->nodes[i].node == node)
			return (int)i;
	return -ENOENT;
}

int blk_ctx_file(const struct blk_ctx *ctx, const struct blk_node *node)
{
	int i = find(ctx, node);

	return i >= 0 && ctx->nodes[i].has_file ? i : -ENOENT;
}

/* A larger state size makes the free areas too small: drop them (areas
 * in flight are freed when they come back). */
static void grow_states(struct blk_ctx *ctx, size_t size)
{
	struct blk_state *s;

	if (size <= ctx->state_size)
		return;
	ctx->state_size = size;
	while ((s = ctx->free_states)) {
		ctx->free_states = s->next;
		free(s);
	}
}

/* Children first: a failure leaves node unattached, and the next
 * submission tries again. */
int blk_ctx_attach(struct blk_ctx *ctx, struct blk_node *node)
{
	struct blk_ctx_node *slot;
	int r;

	if (!node || find(ctx, node) >= 0)
		return 0;
	if ((r = blk_ctx_attach(ctx, node->file)) ||
	    (r = blk_ctx_attach(ctx, node->backing)))
		return r;
	if (ctx->nnodes == BLK_CTX_NODES)
		return -ENOSPC;
	slot = &ctx->nodes[ctx->nnodes];
	if (node->fd >= 0) {
		r = io_uring_register_files_update(&ctx->ring, ctx->nnodes,
						   &node->fd, 1);
		if (r < 0)
			return r;
		slot->has_file = true;
	}
	slot->node = node;
	ctx->nnodes++;
	grow_states(ctx, node->drv->req_state_size);
	return 0;
}

int blk_ctx_detach(struct blk_ctx *ctx)
{
	int r = 0;

	for (unsigned i = 0; i < ctx->nnodes; i++) {
		int none = -1;

		if (ctx->nodes[i].has_file && !r) {
			int n = io_uring_register_files_update(&ctx->ring, i,
							       &none, 1);
			r = n < 0 ? n : 0;
		}
		ctx->nodes[i] = (struct blk_ctx_node){ 0 };
	}
	ctx->nnodes = 0;
	return r;
}

int blk_state_get(struct blk_ctx *ctx, struct blk_req *req)
{
	struct blk_state *s = ctx->free_states;

	req->state = NULL;
	if (!ctx->state_size)
		return 0;
	if (s) {
		ctx->free_states = s->next;
	} else {
		s = malloc(sizeof(*s) + ctx->state_size);
		if (!s)
			return -ENOMEM;
		s->size = ctx->state_size;
	}
	memset(s->data, 0, s->size);
	req->state = s->data;
	return 0;
}

void blk_state_put(struct blk_ctx *ctx, struct blk_req *req)
{
	struct blk_state *s;

	if (!req->state)
		return;
	s = (struct blk_state *)((char *)req->state -
				 offsetof(struct blk_state, data));
	req->state = NULL;
	if (s->size < ctx->state_size) {
		free(s);
		return;
	}
	s->next = ctx->free_states;
	ctx->free_states = s;
}
