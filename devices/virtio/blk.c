/* Configuration (features, config space, activate/deactivate) runs on vCPU
 * threads under the virtio_dev lock; each queue's requests run on that
 * queue's iothread "vdX-qN", which owns its io_uring and request slots. */
#include "blk.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "block/raw.h"
#include "lib/log.h"

#define RING_DEPTH 128
#define DISCARD_MAX_SECTORS (1u << 22) /* 2 GiB per request */

static uint64_t vblk_features(void *opaque)
{
	struct vblk *b = opaque;
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		     1ULL << VIRTIO_BLK_F_FLUSH;

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

/* Finishes a request: status byte, used element, and whether to notify. */
static void finish(struct vblk_queue *q, struct vblk_slot *s, uint8_t status)
{
	s->busy = false;
	*s->parsed.status = status;
	vq_push(&q->blk->vdev.vqs[q->index], s->head, s->written);
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

	s->req = (struct blk_req){
		.op = op_of(p->type), .offset = p->offset, .len = p->len,
		.iov = p->iov, .iovcnt = p->iovcnt, .complete = io_done,
		.opaque = s,
	};
	r = blk_submit(&q->blk->node, &q->ctx, &s->req);
	if (r)
		finish(q, s, r == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP :
						VIRTIO_BLK_S_IOERR);
}

static void merge_done(struct blk_req *req, int result)
{
	struct vblk_merge *m = req->opaque;

	for (unsigned i = 0; i < m->n; i++)
		finish(m->member[i]->q, m->member[i],
		       result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	m->busy = false;
}

static struct vblk_merge *free_merge(struct vblk_queue *q)
{
	for (unsigned i = 0; i < VBLK_MERGES; i++)
		if (!q->merges[i].busy)
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
	m->busy = true;
	m->req = (struct blk_req){
		.op = op_of(first->type), .offset = first->offset,
		.len = g->bytes, .iov = m->iov, .iovcnt = n,
		.complete = merge_done, .opaque = m,
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
			  p->type == VIRTIO_BLK_T_GET_ID ? (uint32_t)p->len : 0);
	if (p->type == VIRTIO_BLK_T_GET_ID) {
		for (unsigned i = 0, off = 0; i < p->iovcnt; off += p->iov[i++].iov_len)
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

/* Pops and starts everything available; false when the driver broke the
 * queue. */
static bool drain_queue(struct vblk_queue *q)
{
	struct virtqueue *vq = &q->blk->vdev.vqs[q->index];
	static __thread struct vq_chain chain;

	for (;;) {
		int r;
		vq_set_notification(vq, false);
		while ((r = vq_pop(vq, &chain)) == 1) {
			struct vblk_slot *s = &q->slots[chain.head];
			int st;
			if (s->busy)
				return false;
			st = vblk_parse(&chain, &q->blk->limits, &s->parsed);
			s->busy = true;
			s->q = q;
			s->head = chain.head;
			if (st < 0)
				return false;
			if (st != VIRTIO_BLK_S_OK) {
				s->written = 1;
				finish(q, s, (uint8_t)st);
			} else {
				start(q, s);
			}
		}
		if (r < 0)
			return false;
		/* While requests are in flight, their completions wake this
		 * thread, which looks at the ring again: the driver need not
		 * notify (a VM exit each) until the queue goes idle. */
		flush_group(q);
		if (q->ctx.inflight || !vq_set_notification(vq, true))
			break;
	}
	blk_ctx_kick(&q->ctx);
	return true;
}

static void clear_eventfd(int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was pending */
	}
}

static void *iothread(void *arg)
{
	struct vblk_queue *q = arg;
	struct virtio_dev *vd = &q->blk->vdev;
	char name[16];

	snprintf(name, sizeof(name), "vd%c-q%u", 'a' + q->blk->index, q->index);
	pthread_setname_np(pthread_self(), name);
	while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd fds[3] = { { q->kick_fd, POLLIN, 0 },
					 { q->done_fd, POLLIN, 0 },
					 { q->stop_fd, POLLIN, 0 } };
		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			clear_eventfd(q->done_fd);
		blk_ctx_reap(&q->ctx, false);
		if (fds[0].revents & POLLIN)
			clear_eventfd(q->kick_fd);
		if (fds[0].revents & POLLIN || fds[1].revents & POLLIN) {
			if (!drain_queue(q)) {
				virtio_mark_broken(vd);
				break;
			}
		}
		virtio_notify_queue(vd, q->index);
	}
	/* Requests in flight finish before the queue is given back. */
	while (q->ctx.inflight)
		blk_ctx_reap(&q->ctx, true);
	return NULL;
}

static int start_queue(struct vblk_queue *q)
{
	int r = blk_ctx_init(&q->ctx, RING_DEPTH);

	if (r)
		return r;
	/* A reset forgets what the driver had made available: requests of
	 * a broken batch never started, and their heads are free again. */
	for (unsigned i = 0; i < VIRTIO_QUEUE_SIZE; i++)
		q->slots[i].busy = false;
	for (unsigned i = 0; i < VBLK_MERGES; i++)
		q->merges[i].busy = false;
	q->group.n = 0;
	q->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->done_fd < 0 || q->stop_fd < 0 ||
	    io_uring_register_eventfd(&q->ctx.ring, q->done_fd))
		return -errno;
	q->stop = false;
	r = pthread_create(&q->thread, NULL, iothread, q);
	if (r)
		return -r;
	q->running = true;
	/* Buffers made available before DRIVER_OK are served too. */
	vblk_kick(q->blk, q->index);
	return 0;
}

static void stop_queue(struct vblk_queue *q)
{
	uint64_t one = 1;

	if (!q->running)
		return;
	__atomic_store_n(&q->stop, true, __ATOMIC_RELEASE);
	if (write(q->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for a fresh counter */
	}
	pthread_join(q->thread, NULL);
	q->running = false;
	blk_ctx_destroy(&q->ctx);
	close(q->done_fd);
	close(q->stop_fd);
}

static void vblk_deactivate(void *opaque)
{
	struct vblk *b = opaque;

	for (unsigned i = 0; i < b->cfg.queues; i++)
		stop_queue(&b->queues[i]);
}

static int vblk_activate(void *opaque)
{
	struct vblk *b = opaque;

	for (unsigned i = 0; i < b->cfg.queues; i++) {
		int r;
		if (!b->vdev.vqs[i].ready)
			continue;
		r = start_queue(&b->queues[i]);
		if (r) {
			vblk_deactivate(b);
			return r;
		}
	}
	return 0;
}

const struct virtio_device_ops vblk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = vblk_features,
	.config_read = vblk_config_read,
	.config_write = vblk_config_write,
	.config_size = sizeof(struct virtio_blk_config),
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
	uint64_t one = 1;

	if (queue < b->cfg.queues && write(b->queues[queue].kick_fd, &one, 8) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

int vblk_init(struct vblk *b, const struct vblk_config *cfg, unsigned index,
	      const struct guest_mem *mem)
{
	struct raw_opts ro = { .readonly = cfg->readonly, .direct = cfg->direct };
	int r;

	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->index = index;
	r = raw_open(&b->node, cfg->path, &ro);
	if (r)
		return r;
	b->limits = (struct vblk_limits){
		.capacity = b->node.size / VBLK_SECTOR,
		.readonly = cfg->readonly,
		.discard = !cfg->readonly,
		.write_zeroes = !cfg->readonly,
		.max_discard_sectors = DISCARD_MAX_SECTORS,
		.max_write_zeroes_sectors = DISCARD_MAX_SECTORS,
	};
	for (unsigned i = 0; i < cfg->queues; i++) {
		b->queues[i] = (struct vblk_queue){ .blk = b, .index = i };
		b->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (b->queues[i].kick_fd < 0)
			return -errno;
	}
	return virtio_dev_init(&b->vdev, &vblk_ops, b, cfg->queues, mem);
}

void vblk_destroy(struct vblk *b)
{
	vblk_deactivate(b);
	for (unsigned i = 0; i < b->cfg.queues; i++)
		if (b->queues[i].kick_fd > 0)
			close(b->queues[i].kick_fd);
	blk_close(&b->node);
}
