/* vCPU threads (register accesses, under vd->lock, which also serialises
 * the commands to the queue workers) and device threads (notifications,
 * lock-free); see virtio.h. */
#include "virtio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "lib/log.h"
#include "queue_worker.h"

#define CORE_FEATURES                                                          \
	(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |    \
	 1ULL << VIRTIO_RING_F_EVENT_IDX)

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_device_ops *ops,
		    void *opaque, unsigned num_queues,
		    const struct guest_mem *mem)
{
	if (!ops->features || !ops->config_read || !ops->config_write ||
	    !ops->activate || !ops->deactivate || !num_queues ||
	    num_queues > VIRTIO_MAX_QUEUES) {
		log_error("virtio %s: incomplete device ops or %u queues",
			  ops->name, num_queues);
		return -EINVAL;
	}
	memset(vd, 0, sizeof(*vd));
	pthread_mutex_init(&vd->lock, NULL);
	vd->ops = ops;
	vd->opaque = opaque;
	vd->mem = mem;
	vd->num_queues = num_queues;
	vd->queue_max = ops->queue_max ? ops->queue_max : VIRTIO_QUEUE_SIZE;
	vd->host_features = ops->features(opaque) | CORE_FEATURES;
	for (unsigned i = 0; i < num_queues; i++)
		vd->vqs[i].size = vd->queue_max;
	return 0;
}

void virtio_dev_set_worker(struct virtio_dev *vd, unsigned q,
			   struct vq_worker *w)
{
	if (q < vd->num_queues)
		vd->workers[q] = w;
}

void virtio_dev_attach_transport_state(
	struct virtio_dev *vd, const struct virtio_transport_state_ops *ops)
{
	vd->tstate = ops;
}

void virtio_dev_attach_transport(struct virtio_dev *vd,
				 const struct virtio_transport_ops *tops,
				 void *transport)
{
	vd->tops = tops;
	vd->transport = transport;
}

uint32_t virtio_features_word(const struct virtio_dev *vd, unsigned sel)
{
	return sel < 2 ? (uint32_t)(vd->host_features >> (32 * sel)) : 0;
}

void virtio_set_guest_features_word(struct virtio_dev *vd, unsigned sel,
				    uint32_t value)
{
	uint64_t mask;

	/* Features are fixed once FEATURES_OK is set (3.1.1). */
	if (sel >= 2 || (vd->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	mask = 0xffffffffULL << (32 * sel);
	vd->guest_features =
		(vd->guest_features & ~mask) |
		(((uint64_t)value << (32 * sel)) & vd->host_features);
}

/* Returns when no worker uses a queue any more: each finished what it had
 * in flight (see vq_worker_stop). */
static void stop_workers(struct virtio_dev *vd)
{
	for (unsigned i = 0; i < vd->num_queues; i++)
		if (vd->workers[i])
			vq_worker_stop(vd->workers[i]);
}

/* Device reset (status 0): the workers stop first, so that once the
 * driver reads status 0 back the device no longer touches the rings
 * (2.1.2, 4.1.4.3.2); then the registers go back to their initial
 * values. */
static void reset(struct virtio_dev *vd)
{
	if (vd->active) {
		stop_workers(vd);
		vd->ops->deactivate(vd->opaque);
	}
	vd->active = false;
	__atomic_store_n(&vd->status, 0, __ATOMIC_SEQ_CST);
	vd->guest_features = 0;
	for (unsigned i = 0; i < vd->num_queues; i++) {
		struct virtqueue *q = &vd->vqs[i];
		memset(q, 0, sizeof(*q));
		q->size = vd->queue_max;
	}
}

static int start_workers(struct virtio_dev *vd)
{
	for (unsigned i = 0; i < vd->num_queues; i++) {
		int r;
		if (!vd->workers[i] || !vd->vqs[i].ready)
			continue;
		r = vq_worker_start(vd->workers[i], &vd->vqs[i]);
		if (r)
			return r;
	}
	return 0;
}

/* DRIVER_OK: the device, then its queues' workers, each handed a copy of
 * its queue's configuration. Nothing is created here: the workers exist
 * since the device was set up, so a vCPU thread only signals and waits. */
static void activate(struct virtio_dev *vd)
{
	int r = vd->ops->activate(vd->opaque);

	if (!r) {
		r = start_workers(vd);
		if (r) {
			stop_workers(vd);
			vd->ops->deactivate(vd->opaque);
		}
	}
	if (r) {
		log_guest(&vd->log, "virtio %s: cannot start: %s",
			  vd->ops->name, strerror(-r));
		vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		return;
	}
	vd->active = true;
}

void virtio_set_status(struct virtio_dev *vd, uint8_t status)
{
	uint8_t old = __atomic_load_n(&vd->status, __ATOMIC_SEQ_CST);

	if (!status) {
		reset(vd);
		return;
	}
	/* A modern driver must negotiate VERSION_1; refuse FEATURES_OK
	 * otherwise by leaving the bit clear (3.1.1 step 6). */
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vd->guest_features & (1ULL << VIRTIO_F_VERSION_1)))
		status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	/* The driver must not clear a status bit (2.1.2): only a reset
	 * does. A write that clears one (e.g. DRIVER_OK, to set it again
	 * and restart a running device) changes nothing for that bit. */
	if (old & ~status & ~VIRTIO_CONFIG_S_NEEDS_RESET)
		log_guest(&vd->log,
			  "virtio %s: status %#x over %#x: clearing "
			  "bits without a reset is ignored",
			  vd->ops->name, status, old);
	/* Atomic: a worker may set NEEDS_RESET meanwhile. */
	__atomic_or_fetch(&vd->status, status, __ATOMIC_SEQ_CST);
	/* Start once per reset; not on a device the driver already broke. */
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK) && !vd->active &&
	    (vd->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		activate(vd);
}

/* QueueReady=0 (virtio-mmio; the driver then reads it back as its
 * synchronisation, 4.2.2.2): the worker stops at a safe point before the
 * register reads 0 and the layout registers become writable again. */
static void disable_queue(struct virtio_dev *vd, unsigned q)
{
	if (vd->active && vd->workers[q])
		vq_worker_stop(vd->workers[q]);
	vd->vqs[q].ready = false;
}

void virtio_set_queue_ready(struct virtio_dev *vd, unsigned q, bool ready)
{
	struct virtqueue *vq;

	if (q >= vd->num_queues)
		return;
	vq = &vd->vqs[q];
	if (!ready) {
		disable_queue(vd, q);
		return;
	}
	if (vq->ready)
		return;
	/* Queues are set up before DRIVER_OK (3.1.1 steps 7-8); enabling
	 * one afterwards is defined only with VIRTIO_F_RING_RESET, which is
	 * not offered, so it is ignored (the register reads back 0) until
	 * the driver resets the device. */
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		log_guest(&vd->log,
			  "virtio %s: queue %u enabled after "
			  "DRIVER_OK: ignored",
			  vd->ops->name, q);
		return;
	}
	vq->event_idx = vd->guest_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect =
		vd->guest_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (vq_enable(vq, vd->mem, vd->queue_max)) {
		log_guest(&vd->log,
			  "virtio %s: queue %u: bad size %u or "
			  "rings",
			  vd->ops->name, q, vq->size);
		virtio_mark_broken(vd);
	}
}

void virtio_set_queue_num(struct virtio_dev *vd, unsigned q, uint32_t num)
{
	if (q >= vd->num_queues || vd->vqs[q].ready)
		return;
	vd->vqs[q].size = num > vd->queue_max ? 0 : (uint16_t)num;
}

void virtio_set_queue_addr(struct virtio_dev *vd, unsigned q,
			   enum virtio_ring ring, uint64_t value, uint64_t mask)
{
	struct virtqueue *vq;
	gpa_t *addr;

	if (q >= vd->num_queues || vd->vqs[q].ready)
		return;
	vq = &vd->vqs[q];
	addr = ring == VIRTIO_RING_DESC	   ? &vq->desc
	       : ring == VIRTIO_RING_AVAIL ? &vq->avail
					   : &vq->used;
	*addr = (*addr & ~mask) | (value & mask);
}

void virtio_config_access(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			  unsigned len, bool is_write)
{
	if (off > vd->ops->config_size || len > vd->ops->config_size - off) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		vd->ops->config_write(vd->opaque, off, data, len);
	else
		vd->ops->config_read(vd->opaque, off, data, len);
}

void virtio_notify_queue(struct virtio_dev *vd, unsigned q)
{
	if (vq_should_notify(&vd->vqs[q]))
		virtio_queue_interrupt(vd, q);
}

void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	if (vd->tops)
		vd->tops->notify_queue(vd->transport, q);
}

void virtio_mark_broken(struct virtio_dev *vd)
{
	__atomic_or_fetch(&vd->status, VIRTIO_CONFIG_S_NEEDS_RESET,
			  __ATOMIC_SEQ_CST);
	if (vd->tops)
		vd->tops->notify_config(vd->transport);
}
