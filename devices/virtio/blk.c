/* Configuration (features, config space) runs on vCPU threads under the
 * virtio_dev lock; each queue's requests run on that queue's worker thread
 * "vdX-qN" (queue_worker.c), which owns its io_uring and request slots;
 * vblk_init/vblk_destroy run on the main thread while no vCPU runs. */
#include "blk.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"

#define RING_DEPTH 128
#define DISCARD_MAX_SECTORS (1u << 22) /* 2 GiB per request */

static uint64_t vblk_features(void *opaque)
{
	struct vblk *b = opaque;
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (b->cfg.queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	if (b->cfg.readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD |
		     1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void fill_config(const struct vblk *b, struct virtio_blk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = b->limits.capacity;
	c->seg_max = VBLK_SEG_MAX;
	c->blk_size = b->node.block_size;
	c->num_queues = (uint16_t)b->cfg.queues;
	c->max_discard_sectors = b->limits.max_discard_sectors;
	c->max_discard_seg = 1;
	c->discard_sector_alignment = b->node.block_size / 512;
	c->max_write_zeroes_sectors = b->limits.max_write_zeroes_sectors;
	c->max_write_zeroes_seg = 1;
	c->write_zeroes_may_unmap = 1;
}

static void vblk_config_read(void *opaque, uint32_t off, uint8_t *data,
			     unsigned len)
{
	struct virtio_blk_config c;

	fill_config(opaque, &c);
	memcpy(data, (uint8_t *)&c + off, len);
}

static void vblk_config_write(void *opaque, uint32_t off, const uint8_t *data,
			      unsigned len)
{
	(void)opaque, (void)off, (void)data, (void)len; /* no writable field */
}

/* Finishes a request: what the device wrote into guest RAM is marked
 * dirty now that it is complete (read data, the ID, the status byte),
 * then the used element is pushed. */
static void finish(struct vblk_queue *q, struct vblk_slot *s, uint8_t status)
{
	const struct vblk_request *p = &s->parsed;
	const struct guest_mem *mem = q->blk->vdev.mem;

	q->busy[s->head] = false;
	if (p->type == VIRTIO_BLK_T_IN || p->type == VIRTIO_BLK_T_GET_ID)
		vq_mark_dirty(mem, p->iov, p->iovcnt, p->len);
	*p->status = status;
	mem_mark_dirty_host(mem, p->status, 1);
	vq_push(q->vq, s->head, s->written);
}

static void io_done(struct blk_req *req, int result)
{
	struct vblk_slot *s = req->opaque;

	finish(s->q, s, result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static enum blk_op op_of(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return BLK_OP_READ;
	case VIRTIO_BLK_T_OUT: return BLK_OP_WRITE;
	case VIRTIO_BLK_T_FLUSH: return BLK_OP_FLUSH;
	case VIRTIO_BLK_T_DISCARD: return BLK_OP_DISCARD;
	default: return BLK_OP_WRITE_ZEROES;
	}
}

static void submit_one(struct vblk_queue *q, struct vblk_slot *s)
{
	struct vblk_request *p = &s->parsed;
	int r;

	memcpy(s->io_iov, p->iov, p->iovcnt * sizeof(p->iov[0]));
	s->req = (struct blk_req){
		.op = op_of(p->type),
		.offset = p->offset,
		.len = p->len,
		.iov = s->io_iov,
		.iovcnt = p->iovcnt,
		.complete = io_done,
		.opaque = s,
	};
	r = blk_submit(&q->blk->node, &q->ctx, &s->req);
	if (r)
		finish(q, s,
		       r == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP
					: VIRTIO_BLK_S_IOERR);
}

static void merge_done(struct blk_req *req, int result)
{
	struct vblk_merge *m = req->opaque;
	struct vblk_queue *q = m->member[0]->q; /* a merge has 2 or more */

	for (unsigned i = 0; i < m->n; i++)
		finish(m->member[i]->q, m->member[i],
		       result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	q->merge_busy[m - q->merges] = false;
}

static struct vblk_merge *free_merge(struct vblk_queue *q)
{
	for (unsigned i = 0; i < VBLK_MERGES; i++)
		if (!q->merge_busy[i])
			return &q->merges[i];
	return NULL;
}

/* Submits the current group: one request for all its members when a
 * merge buffer is free, else each on its own. */
static void flush_group(struct vblk_queue *q)
{
	struct vblk_group *g = &q->group;
	struct vblk_merge *m = g->n > 1 ? free_merge(q) : NULL;
	const struct vblk_request *first;
	unsigned n = 0;
	int r;

	if (!m) {
		for (unsigned i = 0; i < g->n; i++)
			submit_one(q, g->member[i]);
		g->n = 0;
		return;
	}
	first = &g->member[0]->parsed;
	for (unsigned i = 0; i < g->n; i++) {
		const struct vblk_request *p = &g->member[i]->parsed;
		memcpy(m->iov + n, p->iov, p->iovcnt * sizeof(p->iov[0]));
		n += p->iovcnt;
		m->member[i] = g->member[i];
	}
	m->n = g->n;
	q->merge_busy[m - q->merges] = true;
	m->req = (struct blk_req){
		.op = op_of(first->type),
		.offset = first->offset,
		.len = g->bytes,
		.iov = m->iov,
		.iovcnt = n,
		.complete = merge_done,
		.opaque = m,
	};
	__atomic_add_fetch(&q->merged, g->n, __ATOMIC_RELAXED);
	g->n = 0;
	r = blk_submit(&q->blk->node, &q->ctx, &m->req);
	if (r)
		merge_done(&m->req, r);
}

/* Adds a read or write to the group, first submitting the group when the
 * request cannot extend it. */
static void group_add(struct vblk_queue *q, struct vblk_slot *s)
{
	struct vblk_group *g = &q->group;
	const struct vblk_request *p = &s->parsed;

	if (g->n && (p->type != g->member[0]->parsed.type ||
		     p->offset != g->end || g->n == VBLK_MERGE_MAX_REQS ||
		     g->iovcnt + p->iovcnt > VBLK_MERGE_MAX_IOV ||
		     g->bytes + p->len > VBLK_MERGE_MAX_BYTES))
		flush_group(q);
	if (!g->n) {
		g->iovcnt = 0;
		g->bytes = 0;
	}
	g->member[g->n++] = s;
	g->iovcnt += p->iovcnt;
	g->bytes += p->len;
	g->end = p->offset + p->len;
}

/* Starts the I/O of a parsed request; complete ones finish here. */
static void start(struct vblk_queue *q, struct vblk_slot *s)
{
	struct vblk_request *p = &s->parsed;

	s->written = 1 + (p->type == VIRTIO_BLK_T_IN ||
					  p->type == VIRTIO_BLK_T_GET_ID
				  ? (uint32_t)p->len
				  : 0);
	if (p->type == VIRTIO_BLK_T_GET_ID) {
		for (unsigned i = 0, off = 0; i < p->iovcnt;
		     off += p->iov[i++].iov_len)
			memcpy(p->iov[i].iov_base, q->blk->cfg.serial + off,
			       p->iov[i].iov_len);
		finish(q, s, VIRTIO_BLK_S_OK);
		return;
	}
	if (p->type == VIRTIO_BLK_T_IN || p->type == VIRTIO_BLK_T_OUT) {
		group_add(q, s);
		return;
	}
	flush_group(q);
	submit_one(q, s);
}

/* Takes one popped chain into the slot of its head (below
 * VBLK_QUEUE_SIZE: the core bounds the queue size by queue_max). -EINVAL
 * when the driver broke the queue. */
static int take(struct vblk_queue *q, const struct vq_chain *c)
{
	struct vblk_slot *s = &q->slots[c->head];
	int st;

	if (q->busy[c->head])
		return -EINVAL;
	st = vblk_parse(c, &q->blk->limits, &s->parsed);
	if (st < 0)
		return -EINVAL;
	q->busy[c->head] = true;
	s->q = q;
	s->head = c->head;
	if (st != VIRTIO_BLK_S_OK) {
		s->written = 1;
		finish(q, s, (uint8_t)st);
	} else {
		start(q, s);
	}
	return 0;
}

/* Worker ops: pops and starts everything available, then hands the batch
 * to the kernel in one submission. */
static int vblk_handle_avail(void *opaque, struct virtqueue *vq)
{
	struct vblk_queue *q = opaque;
	int r;

	while ((r = vq_pop(vq, &q->chain)) == 1)
		if (take(q, &q->chain)) {
			r = -EINVAL;
			break;
		}
	/* What was started before a broken chain still runs and completes. */
	flush_group(q);
	blk_ctx_kick(&q->ctx);
	return r < 0 ? -EINVAL : 0;
}

/* A start forgets the previous run: everything it started completed
 * before its worker stopped, and requests of a broken batch never
 * started, so every head is free again. */
static void vblk_start_queue(void *opaque, struct virtqueue *vq)
{
	struct vblk_queue *q = opaque;

	q->vq = vq;
	memset(q->busy, 0, sizeof(q->busy));
	memset(q->merge_busy, 0, sizeof(q->merge_busy));
	q->group.n = 0;
}

static void vblk_handle_completions(void *opaque, bool wait)
{
	struct vblk_queue *q = opaque;

	blk_ctx_reap(&q->ctx, wait);
}

static unsigned vblk_inflight(void *opaque)
{
	return ((struct vblk_queue *)opaque)->ctx.inflight;
}

static bool vblk_completions_ready(void *opaque)
{
	return blk_ctx_has_completions(&((struct vblk_queue *)opaque)->ctx);
}

static const struct vq_worker_ops vblk_worker_ops = {
	.start = vblk_start_queue,
	.handle_avail = vblk_handle_avail,
	.handle_completions = vblk_handle_completions,
	.inflight = vblk_inflight,
	.completions_ready = vblk_completions_ready,
};

/* The queues' workers are started and stopped by the core; the device
 * itself has nothing to do at DRIVER_OK or reset. */
static int vblk_activate(void *opaque)
{
	(void)opaque;
	return 0;
}

static void vblk_deactivate(void *opaque)
{
	(void)opaque;
}

const struct virtio_device_ops vblk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = vblk_features,
	.config_read = vblk_config_read,
	.config_write = vblk_config_write,
	.config_size = sizeof(struct virtio_blk_config),
	.queue_max = VBLK_QUEUE_SIZE,
	.activate = vblk_activate,
	.deactivate = vblk_deactivate,
};

uint64_t vblk_merged(const struct vblk *b)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < b->cfg.queues; i++)
		n += __atomic_load_n(&b->queues[i].merged, __ATOMIC_RELAXED);
	return n;
}

void vblk_kick(struct vblk *b, unsigned queue)
{
	if (queue < b->cfg.queues && b->queues[queue].have_worker)
		vq_worker_kick(&b->queues[queue].worker);
}

/* What a queue thread may do: the worker's eventfds and polls, and
 * io_uring_enter, through which every disk access goes. */
const struct sandbox_role vblk_queue_role = {
	.name = "virtio-blk queue",
	.rules = { vq_worker_rules, blk_ctx_rules },
};

/* The queue's io_uring, its completion eventfd and its worker, idle
 * until DRIVER_OK. */
static int setup_queue(struct vblk *b, unsigned i)
{
	struct vblk_queue *q = &b->queues[i];
	struct vq_worker_config wc = {
		.ops = &vblk_worker_ops,
		.opaque = q,
		.vd = &b->vdev,
		.index = i,
		.nfds = 1,
		.sandbox = &b->sandbox,
		.poll_max_ns = { [VQW_WAIT_DRIVER] = b->cfg.poll_max_ns,
				 [VQW_WAIT_HOST] = b->cfg.poll_host_max_ns },
	};
	char name[16];
	int r = blk_ctx_init(&q->ctx, RING_DEPTH);

	if (r) {
		log_error("disk %u: queue %u io_uring: %s", b->index, i,
			  strerror(-r));
		return r;
	}
	q->have_ctx = true;
	/* Registers the disk's files now, on the main thread, rather than in
	 * the first request. */
	r = blk_ctx_attach(&q->ctx, &b->node);
	if (r)
		return r;
	q->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->done_fd < 0)
		return -errno;
	r = blk_ctx_set_event_fd(&q->ctx, q->done_fd);
	if (r)
		return r;
	snprintf(name, sizeof(name), "vd%c-q%u", 'a' + b->index % 26, i);
	wc.name = name;
	wc.fds[0] = q->done_fd;
	q->have_worker = true;
	r = vq_worker_init(&q->worker, &wc);
	if (r)
		return r;
	q->kick_fd = q->worker.kick_fd;
	virtio_dev_set_worker(&b->vdev, i, &q->worker);
	return 0;
}

/* The disk's options (block/block.h) from --disk; read-only as well
 * when ro. */
static int disk_opts(const struct vblk_config *cfg, bool ro, struct blk_opts *o)
{
	if (blk_opts_add(o, "format", cfg->format ? cfg->format : "raw") ||
	    blk_opts_add(o, "path", cfg->path) ||
	    (ro && blk_opts_add(o, "readonly", NULL)) ||
	    (cfg->direct && blk_opts_add(o, "cache", "none")))
		return -EINVAL;
	return 0;
}

/* The disk's node stack. A migration's destination opens it read-only
 * and inactive (block.h blk_inactivate): the source still writes it, so
 * nothing is written here (no repair, no header bits, no file grown)
 * and nothing read now is used after the takeover (vblk_take_over); the
 * path, format and size are checked before the migration starts. */
static int open_disk(struct vblk *b, const struct vblk_config *cfg)
{
	struct blk_opts o = { 0 };
	int r = disk_opts(cfg, cfg->readonly || cfg->incoming, &o);

	if (!r)
		r = blk_open(&b->node, &o);
	if (!r && cfg->incoming)
		blk_mark_inactive(&b->node);
	return r;
}

static void set_limits(struct vblk *b)
{
	b->limits = (struct vblk_limits){
		.capacity = b->node.size / VBLK_SECTOR,
		.readonly = b->cfg.readonly,
		.discard = !b->cfg.readonly && b->node.can_discard,
		.write_zeroes = !b->cfg.readonly,
		.max_discard_sectors = DISCARD_MAX_SECTORS,
		.max_write_zeroes_sectors = DISCARD_MAX_SECTORS,
	};
}

int vblk_take_over(struct vblk *b)
{
	struct blk_opts o = { 0 };
	uint64_t size = b->node.size;
	uint32_t block = b->node.block_size;
	int r;

	if (!b->node.inactive)
		return 0;
	r = disk_opts(&b->cfg, b->cfg.readonly, &o);
	/* Detached first: a failed reopen leaves the old node, and the
	 * destination ends without running the guest. */
	for (unsigned i = 0; !r && i < b->cfg.queues; i++)
		r = blk_ctx_detach(&b->queues[i].ctx);
	if (r) {
		log_error("disk vd%c: taking over %s: %s", 'a' + b->index,
			  b->cfg.path, strerror(-r));
		return r;
	}
	r = blk_reopen(&b->node, &o);
	if (r) {
		log_error("disk vd%c: taking over %s from the source failed",
			  'a' + b->index, b->cfg.path);
		return r;
	}
	if (b->node.size != size || b->node.block_size != block) {
		log_error("disk vd%c: %s changed during the migration: %llu "
			  "bytes in %u byte blocks, now %llu in %u",
			  'a' + b->index, b->cfg.path, (unsigned long long)size,
			  block, (unsigned long long)b->node.size,
			  b->node.block_size);
		return -EIO;
	}
	set_limits(b);
	for (unsigned i = 0; !r && i < b->cfg.queues; i++)
		r = blk_ctx_attach(&b->queues[i].ctx, &b->node);
	if (r)
		log_error("disk vd%c: registering %s with queue io_urings: %s",
			  'a' + b->index, b->cfg.path, strerror(-r));
	return r;
}

/* Zeroed, each page allocated when first touched (calloc maps a block
 * this large on its own), and never as a huge page: one touched slot then
 * costs 4 KiB of RSS, not 2 MiB. On the heap rather than a mapping of
 * vmm's own, so that leak checkers see the pointers the queues hold. */
static struct vblk_queue *alloc_queues(unsigned n)
{
	size_t bytes = n * sizeof(struct vblk_queue);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = calloc(n, sizeof(struct vblk_queue));
	uintptr_t from, to;

	if (!p)
		return NULL;
	from = ((uintptr_t)p + page - 1) & ~(page - 1);
	to = ((uintptr_t)p + bytes) & ~(page - 1);
	/* Only a hint: a kernel without transparent huge pages refuses it
	 * and has none to avoid. */
	if (to > from)
		madvise((void *)from, to - from, MADV_NOHUGEPAGE);
	return (struct vblk_queue *)p;
}

int vblk_init(struct vblk *b, const struct vblk_config *cfg, unsigned index,
	      const struct guest_mem *mem)
{
	int r;

	if (!cfg->queues || cfg->queues > VBLK_MAX_QUEUES)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->queues = alloc_queues(cfg->queues);
	if (!b->queues)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->queues; i++) {
		struct vblk_queue *q = &b->queues[i];
		q->blk = b;
		q->index = i;
		q->kick_fd = q->done_fd = -1;
	}
	b->cfg = *cfg;
	b->index = index;
	r = open_disk(b, cfg);
	if (r) {
		free(b->queues);
		b->queues = NULL;
		return r;
	}
	set_limits(b);
	r = virtio_dev_init(&b->vdev, &vblk_ops, b, cfg->queues, mem);
	if (r) {
		blk_close(&b->node);
		free(b->queues);
		b->queues = NULL;
		return r;
	}
	r = sandbox_filter_build(&b->sandbox, &vblk_queue_role, cfg->seccomp);
	if (r)
		return r;
	for (unsigned i = 0; i < cfg->queues; i++) {
		r = setup_queue(b, i);
		if (r)
			return r;
	}
	return 0;
}

void vblk_destroy(struct vblk *b)
{
	for (unsigned i = 0; b->queues && i < b->cfg.queues; i++) {
		struct vblk_queue *q = &b->queues[i];
		/* The worker first: it drains what is in flight on the ring. */
		if (q->have_worker)
			vq_worker_destroy(&q->worker);
		if (q->done_fd >= 0)
			close(q->done_fd);
		if (q->have_ctx)
			blk_ctx_destroy(&q->ctx);
		q->have_worker = q->have_ctx = false;
		q->done_fd = q->kick_fd = -1;
	}
	sandbox_filter_free(&b->sandbox);
	blk_close(&b->node);
	free(b->queues);
	b->queues = NULL;
}
