/* A virtio device's core state to and from its stream section
 * (virtio_state.h). Quiesce, save and resume run on the thread saving the
 * VM with every vCPU parked, restore on the main thread before any vCPU
 * runs; all of them under vd->lock, which also serialises the commands
 * to the queue workers. No state of this file's own. */
#include "virtio_state.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "queue_worker.h"

_Static_assert(sizeof(struct virtio_queue_state) == 40, "stream layout");
_Static_assert(sizeof(struct virtio_core_state) == 32 + 40 * VIRTIO_MAX_QUEUES,
	       "stream layout");

void virtio_quiesce(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	for (unsigned i = 0; i < vd->num_queues; i++) {
		memset(&vd->paused[i], 0, sizeof(vd->paused[i]));
		vd->paused_serving[i] = false;
		if (vd->workers[i])
			vq_worker_pause(vd->workers[i], &vd->paused[i],
					&vd->paused_serving[i]);
	}
	vd->quiesced = true;
	pthread_mutex_unlock(&vd->lock);
}

void virtio_resume(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	for (unsigned i = 0; vd->quiesced && i < vd->num_queues; i++)
		if (vd->workers[i])
			vq_worker_resume(vd->workers[i]);
	vd->quiesced = false;
	pthread_mutex_unlock(&vd->lock);
}

static void save_queue(const struct virtio_dev *vd, unsigned i,
		       struct virtio_queue_state *s)
{
	const struct virtqueue *r = &vd->vqs[i], *w = &vd->paused[i];

	s->desc = r->desc;
	s->avail = r->avail;
	s->used = r->used;
	s->size = r->size;
	s->ready = r->ready;
	s->event_idx = r->event_idx;
	s->indirect = r->indirect;
	s->serving = vd->paused_serving[i];
	if (!s->serving)
		return;
	s->broken = w->broken;
	s->signalled_valid = w->signalled_valid;
	s->last_avail = w->last_avail;
	s->used_idx = w->used_idx;
	s->signalled_used = w->signalled_used;
}

int virtio_state_save(struct virtio_dev *vd, struct stream_writer *w,
		      unsigned index)
{
	uint8_t buf[sizeof(struct virtio_core_state) +
		    VIRTIO_TRANSPORT_STATE_MAX];
	struct virtio_core_state *c = (struct virtio_core_state *)buf;
	uint32_t tlen = vd->tstate ? vd->tstate->state_size : 0;

	if (!vd->tstate || tlen > VIRTIO_TRANSPORT_STATE_MAX) {
		log_error("virtio %s: its transport cannot be saved",
			  vd->ops->name);
		return -ENOTSUP;
	}
	memset(buf, 0, sizeof(buf));
	pthread_mutex_lock(&vd->lock);
	if (!vd->quiesced) {
		pthread_mutex_unlock(&vd->lock);
		log_error("virtio %s: saved without being quiesced",
			  vd->ops->name);
		return -EINVAL;
	}
	c->magic = VIRTIO_STATE_MAGIC;
	c->transport = vd->tstate->kind;
	c->transport_len = tlen;
	c->num_queues = vd->num_queues;
	c->guest_features = vd->guest_features;
	c->config_generation = vd->config_generation;
	c->status = __atomic_load_n(&vd->status, __ATOMIC_SEQ_CST);
	c->active = vd->active;
	for (unsigned i = 0; i < vd->num_queues; i++)
		save_queue(vd, i, &c->q[i]);
	vd->tstate->save(vd->transport, buf + sizeof(*c));
	pthread_mutex_unlock(&vd->lock);
	return stream_put_section(w, STREAM_SEC_DEVICE, index,
				  VIRTIO_STATE_VERSION, buf, sizeof(*c) + tlen);
}

bool virtio_state_is(const struct stream_section *s)
{
	uint32_t magic;

	if (s->len < sizeof(magic))
		return false;
	memcpy(&magic, s->payload, sizeof(magic));
	return magic == VIRTIO_STATE_MAGIC;
}

static int bad(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static bool is_bool(uint8_t v)
{
	return v <= 1;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* What virtio_set_queue_ready would have accepted: a ready queue's size
 * and rings were checked when the driver enabled it. A queue that is not
 * ready may hold any address and any size up to QueueNumMax (the
 * registers take them until the driver enables the queue). */
static int check_queue(const struct virtio_dev *vd,
		       const struct virtio_core_state *c, unsigned i, char *why,
		       size_t len)
{
	const struct virtio_queue_state *q = &c->q[i];
	struct virtqueue tmp = { .size = q->size,
				 .desc = q->desc,
				 .avail = q->avail,
				 .used = q->used };

	if (!is_bool(q->ready) || !is_bool(q->serving) || !is_bool(q->broken) ||
	    !is_bool(q->event_idx) || !is_bool(q->indirect) ||
	    !is_bool(q->signalled_valid) || q->reserved)
		return bad(why, len, "queue %u: a flag that is not 0 or 1", i);
	if (q->size > vd->queue_max)
		return bad(why, len, "queue %u: size %u above the maximum %u",
			   i, q->size, vd->queue_max);
	if (q->ready && vq_enable(&tmp, vd->mem, vd->queue_max))
		return bad(why, len,
			   "queue %u: enabled with size %u or rings "
			   "(%#llx, %#llx, %#llx) it cannot have",
			   i, q->size, (unsigned long long)q->desc,
			   (unsigned long long)q->avail,
			   (unsigned long long)q->used);
	if (q->serving && (!q->ready || !c->active || !vd->workers[i]))
		return bad(why, len,
			   "queue %u: served while not enabled or the "
			   "device not started",
			   i);
	if (!q->serving && (q->broken || q->signalled_valid || q->last_avail ||
			    q->used_idx || q->signalled_used))
		return bad(why, len, "queue %u: indices of a queue not served",
			   i);
	return 0;
}

int virtio_state_check(const struct virtio_dev *vd, const void *payload,
		       uint64_t len, uint32_t version, char *why,
		       size_t why_len)
{
	const struct virtio_transport_state_ops *t = vd->tstate;
	struct virtio_core_state c;
	uint8_t both = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	int r;

	if (version != VIRTIO_STATE_VERSION)
		return bad(why, why_len,
			   "version %u; this vmm reads version %u", version,
			   VIRTIO_STATE_VERSION);
	if (len < sizeof(c))
		return bad(why, why_len, "%llu bytes, too short",
			   (unsigned long long)len);
	memcpy(&c, payload, sizeof(c));
	if (c.magic != VIRTIO_STATE_MAGIC)
		return bad(why, why_len, "not a virtio state");
	if (!t || c.transport != t->kind || c.transport_len != t->state_size ||
	    len != sizeof(c) + (uint64_t)c.transport_len)
		return bad(why, why_len,
			   "transport %u with %u bytes in %llu; this device's "
			   "is %u with %u",
			   c.transport, c.transport_len,
			   (unsigned long long)len, t ? t->kind : 0,
			   t ? t->state_size : 0);
	if (c.num_queues != vd->num_queues)
		return bad(why, why_len, "%u queues, this device has %u",
			   c.num_queues, vd->num_queues);
	if (c.guest_features & ~vd->host_features)
		return bad(why, why_len,
			   "features %#llx that this device does not offer",
			   (unsigned long long)(c.guest_features &
						~vd->host_features));
	if (!is_bool(c.active) || c.reserved[0] || c.reserved[1])
		return bad(why, why_len, "bad flags");
	if (c.active && (c.status & both) != both)
		return bad(why, why_len, "started with status %#x", c.status);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (i >= vd->num_queues) {
			if (!all_zero(&c.q[i], sizeof(c.q[i])))
				return bad(why, why_len,
					   "state of queue %u, the device "
					   "has %u",
					   i, vd->num_queues);
			continue;
		}
		r = check_queue(vd, &c, i, why, why_len);
		if (r)
			return r;
	}
	return t->check(vd->transport, (const uint8_t *)payload + sizeof(c),
			why, why_len);
}

/* The driver had started the device: it starts again, each serving
 * queue's worker from the indices it had. */
static int restart(struct virtio_dev *vd, const struct virtio_core_state *c)
{
	int r = vd->ops->activate(vd->opaque);

	for (unsigned i = 0; !r && i < vd->num_queues; i++) {
		const struct virtio_queue_state *s = &c->q[i];
		struct virtqueue q = vd->vqs[i];

		if (!s->serving)
			continue;
		q.broken = s->broken;
		q.last_avail = s->last_avail;
		q.used_idx = s->used_idx;
		q.signalled_used = s->signalled_used;
		q.signalled_valid = s->signalled_valid;
		r = vq_worker_start(vd->workers[i], &q);
	}
	if (!r) {
		vd->active = true;
		/* The last completions' interrupts were sent by the source's
		 * quiesce through an irqfd, whose injection KVM may finish
		 * after the vCPUs' state was read: each serving queue
		 * interrupts once more (a driver finding nothing new takes it
		 * as spurious), so none is lost. */
		for (unsigned i = 0; i < vd->num_queues; i++)
			if (c->q[i].serving)
				virtio_queue_interrupt(vd, i);
		return 0;
	}
	for (unsigned i = 0; i < vd->num_queues; i++)
		if (vd->workers[i])
			vq_worker_stop(vd->workers[i]);
	vd->ops->deactivate(vd->opaque);
	return r;
}

int virtio_state_restore(struct virtio_dev *vd, const struct stream_section *s)
{
	struct virtio_core_state c;
	char why[256];
	int r = virtio_state_check(vd, s->payload, s->len, s->version, why,
				   sizeof(why));

	if (r) {
		log_error("incoming state: virtio %s: %s", vd->ops->name, why);
		return r;
	}
	memcpy(&c, s->payload, sizeof(c));
	pthread_mutex_lock(&vd->lock);
	if (vd->active || vd->status) {
		pthread_mutex_unlock(&vd->lock);
		log_error("incoming state: virtio %s: given twice",
			  vd->ops->name);
		return -EPROTO;
	}
	vd->guest_features = c.guest_features;
	vd->config_generation = c.config_generation;
	__atomic_store_n(&vd->status, c.status, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vd->num_queues; i++) {
		const struct virtio_queue_state *q = &c.q[i];
		vd->vqs[i] = (struct virtqueue){
			.size = q->size,
			.ready = q->ready,
			.event_idx = q->event_idx,
			.indirect = q->indirect,
			.desc = q->desc,
			.avail = q->avail,
			.used = q->used,
			.mem = vd->mem,
		};
	}
	vd->tstate->restore(vd->transport, s->payload + sizeof(c));
	r = c.active ? restart(vd, &c) : 0;
	pthread_mutex_unlock(&vd->lock);
	if (r)
		log_error("incoming state: virtio %s: cannot start: %s",
			  vd->ops->name, strerror(-r));
	return r;
}
