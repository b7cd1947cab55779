/* Register accesses run on vCPU threads under vd->lock (a write that
 * stops or starts a queue waits there for the queue's worker); interrupt
 * signalling runs on device threads and only touches interrupt_status
 * atomically. */
#include "mmio.h"
#include "mmio_state.h"

#include <linux/virtio_mmio.h>
#include <string.h>

#define MMIO_MAGIC 0x74726976 /* "virt" */
#define MMIO_VERSION 2

static void notify_queue(void *transport, unsigned queue)
{
	struct virtio_mmio *m = transport;

	(void)queue;
	__atomic_or_fetch(&m->interrupt_status, VIRTIO_MMIO_INT_VRING,
			  __ATOMIC_SEQ_CST);
	m->irq(m->opaque);
}

static void notify_config(void *transport)
{
	struct virtio_mmio *m = transport;

	__atomic_or_fetch(&m->interrupt_status, VIRTIO_MMIO_INT_CONFIG,
			  __ATOMIC_SEQ_CST);
	m->irq(m->opaque);
}

static const struct virtio_transport_ops mmio_transport_ops = {
	.notify_queue = notify_queue,
	.notify_config = notify_config,
};

static const struct virtio_transport_state_ops mmio_state_ops = {
	.kind = VIRTIO_TRANSPORT_MMIO,
	.state_size = sizeof(struct virtio_mmio_state),
	.save = virtio_mmio_save,
	.check = virtio_mmio_check,
	.restore = virtio_mmio_restore,
};

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vd,
		      void (*irq)(void *opaque),
		      void (*notify)(void *opaque, unsigned queue),
		      void *opaque)
{
	memset(m, 0, sizeof(*m));
	m->vd = vd;
	m->irq = irq;
	m->notify = notify;
	m->opaque = opaque;
	virtio_dev_attach_transport(vd, &mmio_transport_ops, m);
	virtio_dev_attach_transport_state(vd, &mmio_state_ops);
}

static struct virtqueue *selected(struct virtio_mmio *m)
{
	return m->queue_sel < m->vd->num_queues ? &m->vd->vqs[m->queue_sel]
						: NULL;
}

static uint32_t read_reg(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *vd = m->vd;
	struct virtqueue *q = selected(m);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return vd->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_features_word(vd, m->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? vd->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q && q->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&m->interrupt_status, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return __atomic_load_n(&vd->status, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_CONFIG_GENERATION: return vd->config_generation;
	default: return 0;
	}
}

/* The queue layout registers; the core ignores them while the queue is
 * ready (4.2.2.2). */
static void write_queue_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	bool high = off & 4;
	enum virtio_ring ring;

	switch (off & ~7ULL) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW: ring = VIRTIO_RING_DESC; break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: ring = VIRTIO_RING_AVAIL; break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: ring = VIRTIO_RING_USED; break;
	default:
		if (off == VIRTIO_MMIO_QUEUE_NUM)
			virtio_set_queue_num(m->vd, m->queue_sel, v);
		return;
	}
	virtio_set_queue_addr(m->vd, m->queue_sel, ring,
			      high ? (uint64_t)v << 32 : v,
			      high ? ~0xffffffffULL : 0xffffffffULL);
}

static void write_reg(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *vd = m->vd;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_set_guest_features_word(vd, m->driver_features_sel, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = v; break;
	case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_READY:
		virtio_set_queue_ready(vd, m->queue_sel, v & 1);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v < vd->num_queues && m->notify)
			m->notify(m->opaque, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_and_fetch(&m->interrupt_status, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS:
		virtio_set_status(vd, (uint8_t)v);
		if (!v)
			__atomic_store_n(&m->interrupt_status, 0,
					 __ATOMIC_SEQ_CST);
		break;
	default: write_queue_reg(m, off, v); break;
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct virtio_mmio *m = opaque;
	uint32_t v;

	memset(data, 0, size);
	pthread_mutex_lock(&m->vd->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		virtio_config_access(m->vd,
				     (uint32_t)(off - VIRTIO_MMIO_CONFIG), data,
				     size, false);
	} else if (size == 4 && !(off & 3)) {
		v = read_reg(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->vd->lock);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned size)
{
	struct virtio_mmio *m = opaque;
	uint32_t v;

	pthread_mutex_lock(&m->vd->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		virtio_config_access(m->vd,
				     (uint32_t)(off - VIRTIO_MMIO_CONFIG),
				     (uint8_t *)data, size, true);
	} else if (size == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		write_reg(m, off, v);
	}
	pthread_mutex_unlock(&m->vd->lock);
}

const struct io_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};
