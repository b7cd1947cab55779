/* vCPU threads: BAR accesses (common and device configuration under
 * vd->lock; a status write that starts or resets the device waits there
 * for the queue workers) and configuration space hooks (under the PCI bus lock, which
 * is taken before vd->lock). Device threads: notify_queue and
 * notify_config, which touch only the ISR atomically and the MSI-X state
 * under its own lock. */
#include "pci.h"
#include "pci_state.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <string.h>

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_SUBSYS_ID 0x0040
#define COMMON_SIZE sizeof(struct virtio_pci_common_cfg)
#define DEVICE_CFG_SIZE 0x1000
#define ISR_QUEUE 1

static uint32_t class_code(uint32_t device_id)
{
	switch (device_id) {
	case 2: return 0x018000; /* block: mass storage, other */
	case 9: return 0x028000; /* 9p: network, other */
	default: return 0xff0000;
	}
}

static struct virtqueue *selected(struct virtio_pci *p)
{
	return p->queue_sel < p->vd->num_queues ? &p->vd->vqs[p->queue_sel]
						: NULL;
}

static uint16_t load16(const uint16_t *v)
{
	return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static void store16(uint16_t *v, uint16_t x)
{
	__atomic_store_n(v, x, __ATOMIC_RELEASE);
}

/* A vector the device can use, or NO_VECTOR, which the driver reads back
 * as the refusal (4.1.5.1.2). */
static uint16_t accept_vector(const struct virtio_pci *p, uint16_t v)
{
	return v < p->msix.nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

static void common_read(struct virtio_pci *p, uint64_t off, uint8_t *data,
			unsigned size)
{
	struct virtio_dev *vd = p->vd;
	struct virtqueue *q = selected(p);
	struct virtio_pci_common_cfg c = {
		.device_feature_select = p->device_features_sel,
		.device_feature =
			virtio_features_word(vd, p->device_features_sel),
		.guest_feature_select = p->driver_features_sel,
		.guest_feature =
			(uint32_t)(vd->guest_features >>
				   (p->driver_features_sel < 2
					    ? 32 * p->driver_features_sel
					    : 0)),
		.msix_config = load16(&p->config_vector),
		.num_queues = (uint16_t)vd->num_queues,
		.device_status = __atomic_load_n(&vd->status, __ATOMIC_SEQ_CST),
		.config_generation = (uint8_t)vd->config_generation,
		.queue_select = p->queue_sel,
	};

	if (p->driver_features_sel >= 2)
		c.guest_feature = 0;
	if (q) {
		c.queue_size = q->size;
		c.queue_msix_vector = load16(&p->queue_vector[p->queue_sel]);
		c.queue_enable = q->ready;
		c.queue_notify_off = p->queue_sel;
		c.queue_desc_lo = (uint32_t)q->desc;
		c.queue_desc_hi = (uint32_t)(q->desc >> 32);
		c.queue_avail_lo = (uint32_t)q->avail;
		c.queue_avail_hi = (uint32_t)(q->avail >> 32);
		c.queue_used_lo = (uint32_t)q->used;
		c.queue_used_hi = (uint32_t)(q->used >> 32);
	}
	memcpy(data, (uint8_t *)&c + off, size);
}

static void reset(struct virtio_pci *p)
{
	store16(&p->config_vector, VIRTIO_MSI_NO_VECTOR);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		store16(&p->queue_vector[i], VIRTIO_MSI_NO_VECTOR);
	__atomic_store_n(&p->isr, 0, __ATOMIC_SEQ_CST);
}

/* Queue address halves; the core ignores them once the queue is enabled
 * (4.1.4.3.2). */
static void write_queue_addr(struct virtio_pci *p, uint64_t off, uint64_t v,
			     unsigned size)
{
	uint64_t base = off & ~7ULL, mask = ~0ULL;
	enum virtio_ring ring;

	if (base == offsetof(struct virtio_pci_common_cfg, queue_desc_lo))
		ring = VIRTIO_RING_DESC;
	else if (base == offsetof(struct virtio_pci_common_cfg, queue_avail_lo))
		ring = VIRTIO_RING_AVAIL;
	else
		ring = VIRTIO_RING_USED;
	if (size == 4 && (off & 4)) {
		v <<= 32;
		mask = ~0xffffffffULL;
	} else if (size == 4) {
		mask = 0xffffffffULL;
	}
	virtio_set_queue_addr(p->vd, p->queue_sel, ring, v, mask);
}

static void common_write(struct virtio_pci *p, uint64_t off, uint64_t v,
			 unsigned size)
{
	struct virtio_dev *vd = p->vd;
	struct virtqueue *q = selected(p);

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		p->device_features_sel = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		p->driver_features_sel = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		virtio_set_guest_features_word(vd, p->driver_features_sel,
					       (uint32_t)v);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		store16(&p->config_vector, accept_vector(p, (uint16_t)v));
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_set_status(vd, (uint8_t)v);
		if (!v)
			reset(p);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT: p->queue_sel = (uint16_t)v; break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		virtio_set_queue_num(vd, p->queue_sel, (uint32_t)v);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q)
			store16(&p->queue_vector[p->queue_sel],
				accept_vector(p, (uint16_t)v));
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is not allowed (4.1.4.3.2); reset disables. */
		if (q && v == 1 && !q->ready)
			virtio_set_queue_ready(vd, p->queue_sel, true);
		break;
	default:
		if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < COMMON_SIZE)
			write_queue_addr(p, off, v, size);
		break;
	}
}

/* Register widths of the common configuration: a write of the wrong
 * size, or not at a register's start, is ignored. */
static bool common_access_ok(uint64_t off, unsigned size)
{
	if (off >= COMMON_SIZE || size > COMMON_SIZE - off ||
	    (off & (size - 1)))
		return false;
	if (off < VIRTIO_PCI_COMMON_MSIX)
		return size == 4;
	if (off == VIRTIO_PCI_COMMON_STATUS ||
	    off == VIRTIO_PCI_COMMON_CFGGENERATION)
		return size == 1;
	if (off < VIRTIO_PCI_COMMON_Q_DESCLO)
		return size == 2;
	return size == 4 || size == 8;
}

static void bar_access(struct virtio_pci *p, uint64_t off, uint8_t *data,
		       unsigned size, bool is_write)
{
	struct virtio_dev *vd = p->vd;
	uint64_t v = 0;

	if (off >= VPCI_MSIX_TABLE_OFF && off < VPCI_MSIX_PBA_OFF) {
		msix_table_access(&p->msix, off - VPCI_MSIX_TABLE_OFF, data,
				  size, is_write);
		return;
	}
	if (off >= VPCI_MSIX_PBA_OFF) {
		if (!is_write)
			msix_pba_read(&p->msix, off - VPCI_MSIX_PBA_OFF, data,
				      size);
		return;
	}
	if (off >= VPCI_NOTIFY_OFF) {
		uint64_t q = (off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULTIPLIER;
		if (is_write && q < vd->num_queues)
			p->hooks->notify(p->opaque, (unsigned)q);
		else if (!is_write)
			memset(data, 0, size);
		return;
	}
	if (off >= VPCI_DEVICE_OFF) {
		pthread_mutex_lock(&vd->lock);
		virtio_config_access(vd, (uint32_t)(off - VPCI_DEVICE_OFF),
				     data, size, is_write);
		pthread_mutex_unlock(&vd->lock);
		return;
	}
	if (off >= VPCI_ISR_OFF) {
		/* Reading the ISR acknowledges it (4.1.4.5). */
		memset(data, 0, size);
		if (!is_write && off == VPCI_ISR_OFF)
			data[0] = __atomic_exchange_n(&p->isr, 0,
						      __ATOMIC_SEQ_CST);
		return;
	}
	if (!common_access_ok(off, size)) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	if (is_write) {
		memcpy(&v, data, size);
		common_write(p, off, v, size);
	} else {
		common_read(p, off, data, size);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void bar_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	bar_access(opaque, off, data, size, false);
}

static void bar_write(void *opaque, uint64_t off, const uint8_t *data,
		      unsigned size)
{
	bar_access(opaque, off, (uint8_t *)data, size, true);
}

static const struct io_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* The PCI configuration access capability (4.1.4.7): a window onto BAR 0
 * through configuration space, for drivers that cannot map the BAR. */
static bool cfg_window(struct virtio_pci *p, unsigned off, unsigned len,
		       uint32_t *bar_off, unsigned *size)
{
	unsigned data =
		p->cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	const struct pci_device *d = &p->pci;

	if (!p->cfg_cap || off + len <= data || off >= data + 4)
		return false;
	*size = pci_cfg_get(d, p->cfg_cap + VIRTIO_PCI_CAP_LENGTH, 4);
	*bar_off = pci_cfg_get(d, p->cfg_cap + VIRTIO_PCI_CAP_OFFSET, 4);
	return d->cfg[p->cfg_cap + VIRTIO_PCI_CAP_BAR] == 0 &&
	       (*size == 1 || *size == 2 || *size == 4) &&
	       !(*bar_off & (*size - 1)) && *bar_off < VPCI_BAR_SIZE;
}

static void cfg_window_access(struct virtio_pci *p, unsigned off, unsigned len,
			      bool is_write)
{
	uint32_t bar_off;
	unsigned size;

	if (cfg_window(p, off, len, &bar_off, &size))
		bar_access(p, bar_off,
			   p->pci.cfg + p->cfg_cap +
				   offsetof(struct virtio_pci_cfg_cap,
					    pci_cfg_data),
			   size, is_write);
}

static void config_reading(void *opaque, unsigned off, unsigned len)
{
	cfg_window_access(opaque, off, len, false);
}

static void config_written(void *opaque, unsigned off, unsigned len)
{
	struct virtio_pci *p = opaque;

	msix_config_written(&p->msix, off, len);
	cfg_window_access(p, off, len, true);
}

static void bar_moved(void *opaque, unsigned bar, uint64_t gpa, bool mapped)
{
	struct virtio_pci *p = opaque;

	if (bar == 0)
		p->hooks->bar_moved(p->opaque, gpa, mapped);
}

static const struct pci_device_ops pci_ops = {
	.config_reading = config_reading,
	.config_written = config_written,
	.bar_moved = bar_moved,
};

static void notify_queue(void *transport, unsigned queue)
{
	struct virtio_pci *p = transport;

	__atomic_or_fetch(&p->isr, ISR_QUEUE, __ATOMIC_SEQ_CST);
	msix_notify(&p->msix, load16(&p->queue_vector[queue]));
}

static void notify_config(void *transport)
{
	struct virtio_pci *p = transport;

	__atomic_or_fetch(&p->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_SEQ_CST);
	msix_notify(&p->msix, load16(&p->config_vector));
}

static const struct virtio_transport_ops pci_transport_ops = {
	.notify_queue = notify_queue,
	.notify_config = notify_config,
};

static const struct virtio_transport_state_ops pci_state_ops = {
	.kind = VIRTIO_TRANSPORT_PCI,
	.state_size = sizeof(struct virtio_pci_state),
	.save = virtio_pci_save,
	.check = virtio_pci_check,
	.restore = virtio_pci_restore,
};

static int add_vendor_cap(struct virtio_pci *p, uint8_t type, uint32_t off,
			  uint32_t len, const void *extra, unsigned extra_len)
{
	uint8_t body[sizeof(struct virtio_pci_cfg_cap) + 4] = { 0 };
	unsigned cap_len = sizeof(struct virtio_pci_cap) + extra_len;
	uint8_t at;

	body[VIRTIO_PCI_CAP_LEN - 2] = (uint8_t)cap_len;
	body[VIRTIO_PCI_CAP_CFG_TYPE - 2] = type;
	body[VIRTIO_PCI_CAP_BAR - 2] = 0;
	pci_put_le(body + VIRTIO_PCI_CAP_OFFSET - 2, 4, off);
	pci_put_le(body + VIRTIO_PCI_CAP_LENGTH - 2, 4, len);
	if (extra_len)
		memcpy(body + sizeof(struct virtio_pci_cap) - 2, extra,
		       extra_len);
	at = pci_add_cap(&p->pci, PCI_CAP_ID_VNDR, body, cap_len);
	return at ? at : -ENOSPC;
}

int virtio_pci_init(struct virtio_pci *p, struct virtio_dev *vd,
		    const struct virtio_pci_hooks *hooks, void *opaque)
{
	uint32_t mult = VPCI_NOTIFY_MULTIPLIER, zero = 0;
	int r, cfg;

	memset(p, 0, sizeof(*p));
	p->vd = vd;
	p->hooks = hooks;
	p->opaque = opaque;
	reset(p);
	pci_device_init(&p->pci, VIRTIO_PCI_VENDOR,
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + vd->ops->device_id),
			class_code(vd->ops->device_id), VIRTIO_PCI_VENDOR,
			VIRTIO_PCI_SUBSYS_ID, &pci_ops, p);
	pci_device_add_bar(&p->pci, 0, VPCI_BAR_SIZE, &bar_ops);
	if ((r = add_vendor_cap(p, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF,
				COMMON_SIZE, NULL, 0)) < 0 ||
	    (r = add_vendor_cap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_NOTIFY_OFF,
				vd->num_queues * VPCI_NOTIFY_MULTIPLIER, &mult,
				4)) < 0 ||
	    (r = add_vendor_cap(p, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1,
				NULL, 0)) < 0 ||
	    (r = add_vendor_cap(p, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF,
				DEVICE_CFG_SIZE, NULL, 0)) < 0 ||
	    (cfg = add_vendor_cap(p, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, &zero, 4)) <
		    0)
		return -ENOSPC;
	p->cfg_cap = (uint8_t)cfg;
	p->pci.wmask[cfg + VIRTIO_PCI_CAP_BAR] = 0xff;
	pci_wmask_set(&p->pci, cfg + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
	pci_wmask_set(&p->pci, cfg + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
	pci_wmask_set(&p->pci, cfg + sizeof(struct virtio_pci_cap), 4,
		      0xffffffff);
	r = msix_init(&p->msix, &p->pci, vd->num_queues + 1, 0,
		      VPCI_MSIX_TABLE_OFF, VPCI_MSIX_PBA_OFF, &hooks->irq,
		      opaque);
	if (r)
		return r;
	virtio_dev_attach_transport(vd, &pci_transport_ops, p);
	virtio_dev_attach_transport_state(vd, &pci_state_ops);
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *p)
{
	msix_destroy(&p->msix);
}
