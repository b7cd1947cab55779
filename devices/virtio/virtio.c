/* vCPU threads (register accesses, under vd->lock) and device threads
 * (notifications, lock-free); see virtio.h. */
#include "virtio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "lib/log.h"

#define CORE_FEATURES                                                        \
	(1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC | \
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
	vd->host_features = ops->features(opaque) | CORE_FEATURES;
	for (unsigned i = 0; i < num_queues; i++)
		vd->vqs[i].size = VIRTIO_QUEUE_SIZE;
	return 0;
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
	vd->guest_features = (vd->guest_features & ~mask) |
			     (((uint64_t)value << (32 * sel)) & vd->host_features);
}

static void reset(struct virtio_dev *vd)
{
	if (vd->active)
		vd->ops->deactivate(vd->opaque);
	vd->active = false;
	vd->status = 0;
	vd->guest_features = 0;
	for (unsigned i = 0; i < vd->num_queues; i++) {
		struct virtqueue *q = &vd->vqs[i];
		memset(q, 0, sizeof(*q));
		q->size = VIRTIO_QUEUE_SIZE;
	}
}

static void activate(struct virtio_dev *vd)
{
	int r = vd->ops->activate(vd->opaque);

	if (r) {
		log_error("virtio %s: cannot start: %s", vd->ops->name,
			  strerror(-r));
		vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		return;
	}
	vd->active = true;
}

void virtio_set_status(struct virtio_dev *vd, uint8_t status)
{
	uint8_t old = vd->status;

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
	vd->status = status | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    (vd->status & VIRTIO_CONFIG_S_FEATURES_OK))
		activate(vd);
}

void virtio_set_queue_ready(struct virtio_dev *vd, unsigned q, bool ready)
{
	struct virtqueue *vq;

	if (q >= vd->num_queues)
		return;
	vq = &vd->vqs[q];
	if (!ready) {
		vq->ready = false;
		return;
	}
	vq->event_idx = vd->guest_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = vd->guest_features &
		       (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (vq_enable(vq, vd->mem))
		virtio_mark_broken(vd);
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
		vd->tops->notify_queue(vd->transport, q);
}

void virtio_mark_broken(struct virtio_dev *vd)
{
	__atomic_or_fetch(&vd->status, VIRTIO_CONFIG_S_NEEDS_RESET,
			  __ATOMIC_SEQ_CST);
	if (vd->tops)
		vd->tops->notify_config(vd->transport);
}
