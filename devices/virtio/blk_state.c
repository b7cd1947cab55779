/* virtio-blk's quiesce, resume, save and restore (blk_state.h). Quiesce,
 * save and resume on the thread saving the VM with the vCPUs parked,
 * except the flush, which runs on queue 0's worker thread (its io_uring);
 * the hand-over of the image (blk_inactivate, blk_activate) runs on the
 * saving thread with plain system calls while no worker runs; restore
 * on the main thread before any vCPU runs. The device core's
 * state is under vd->lock (virtio_state.c); nothing here of its own. */
#include "blk_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "block/driver.h"
#include "lib/log.h"
#include "virtio_state.h"

_Static_assert(sizeof(struct vblk_state) == 24, "stream layout");

struct flush_wait {
	struct blk_req req;
	int result;
	bool done;
};

static void flush_done(struct blk_req *req, int result)
{
	struct flush_wait *f = req->opaque;

	f->result = result;
	f->done = true;
}

/* On queue 0's worker, which is paused: nothing else uses its ring. */
static int flush_on_worker(void *arg)
{
	struct vblk_queue *q = arg;
	struct flush_wait f = { .req = { .op = BLK_OP_FLUSH,
					 .complete = flush_done } };
	int r;

	f.req.opaque = &f;
	r = blk_submit(&q->blk->node, &q->ctx, &f.req);
	if (r)
		return r;
	blk_ctx_kick(&q->ctx);
	while (!f.done)
		blk_ctx_reap(&q->ctx, true);
	return f.result;
}

/* Stops the queues, makes every completed write durable (a flush
 * through queue 0's ring: for an image format its cached tables written
 * back, then the file synced) and hands the image over (block.h
 * blk_inactivate, on this thread: what a close would write, so that the
 * destination of a migration, or a copy of the file, finds a complete,
 * clean image; from then on nothing is written to it, not even at
 * exit). */
int vblk_quiesce(struct vblk *b)
{
	int r = 0;

	virtio_quiesce(&b->vdev);
	if (!b->cfg.readonly)
		r = vq_worker_call(&b->queues[0].worker, flush_on_worker,
				   &b->queues[0]);
	if (r)
		log_error("disk vd%c: flushing %s: %s", 'a' + b->index,
			  b->cfg.path, strerror(-r));
	if (!r) {
		r = blk_inactivate(&b->node);
		if (r)
			log_error("disk vd%c: handing %s over: %s",
				  'a' + b->index, b->cfg.path, strerror(-r));
	}
	if (r)
		virtio_resume(&b->vdev);
	return r;
}

/* The image taken back: no other process wrote it (a snapshot was
 * taken, or the migration failed before the destination took over). */
void vblk_resume(struct vblk *b)
{
	blk_activate(&b->node);
	virtio_resume(&b->vdev);
}

static void state_of(const struct vblk *b, struct vblk_state *s)
{
	*s = (struct vblk_state){
		.magic = VBLK_STATE_MAGIC,
		.queues = b->cfg.queues,
		.capacity = b->limits.capacity,
		.block_size = b->node.block_size,
		.readonly = b->cfg.readonly,
	};
}

int vblk_save(struct vblk *b, struct stream_writer *w, unsigned index)
{
	struct vblk_state s;
	int r;

	state_of(b, &s);
	r = stream_put_section(w, STREAM_SEC_DEVICE, index, VBLK_STATE_VERSION,
			       &s, sizeof(s));
	return r ? r : virtio_state_save(&b->vdev, w, index);
}

int vblk_state_check(const struct vblk *b, const struct stream_section *s,
		     char *why, size_t why_len)
{
	struct vblk_state got, mine;

	if (s->version != VBLK_STATE_VERSION || s->len != sizeof(got)) {
		snprintf(why, why_len,
			 "version %u, %llu bytes; this vmm reads version %u, "
			 "%zu bytes",
			 s->version, (unsigned long long)s->len,
			 VBLK_STATE_VERSION, sizeof(got));
		return -EPROTO;
	}
	memcpy(&got, s->payload, sizeof(got));
	state_of(b, &mine);
	if (got.magic != mine.magic) {
		snprintf(why, why_len, "not a virtio-blk state");
		return -EPROTO;
	}
	if (memcmp(&got, &mine, sizeof(got))) {
		snprintf(why, why_len,
			 "the disk had %llu sectors of %u bytes, %u queues%s; "
			 "this one %llu of %u, %u queues%s",
			 (unsigned long long)got.capacity, got.block_size,
			 got.queues, got.readonly ? ", read-only" : "",
			 (unsigned long long)mine.capacity, mine.block_size,
			 mine.queues, mine.readonly ? ", read-only" : "");
		return -EPROTO;
	}
	return 0;
}

int vblk_restore(struct vblk *b, const struct stream_section *s)
{
	char why[256];
	int r;

	if (virtio_state_is(s))
		return virtio_state_restore(&b->vdev, s);
	r = vblk_state_check(b, s, why, sizeof(why));
	if (r)
		log_error("incoming state: disk vd%c: %s", 'a' + b->index, why);
	return r;
}
