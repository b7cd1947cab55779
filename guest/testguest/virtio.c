/* The test guest's virtio driver; see virtio.h. */
#include "virtio.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define MMIO_CONFIG 0x100

/* virtio_pci_common_cfg */
#define PCI_DFSELECT 0x00
#define PCI_DF 0x04
#define PCI_GFSELECT 0x08
#define PCI_GF 0x0c
#define PCI_MSIX_CONFIG 0x10
#define PCI_NUM_QUEUES 0x12
#define PCI_STATUS 0x14
#define PCI_Q_SELECT 0x16
#define PCI_Q_SIZE 0x18
#define PCI_Q_MSIX 0x1a
#define PCI_Q_ENABLE 0x1c
#define PCI_Q_NOTIFY_OFF 0x1e
#define PCI_Q_DESC 0x20
#define PCI_Q_DRIVER 0x28
#define PCI_Q_DEVICE 0x30

#define S_ACKNOWLEDGE 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8

#define VNDR_CAP 0x09
#define MSIX_CAP 0x11
#define NO_VECTOR 0xffff

int vdev_find_mmio(struct vdev *d, const char *spec, uint32_t device_id)
{
	const char *p = spec;

	memset(d, 0, sizeof(*d));
	while (*p && *p != '@')
		p++;
	if (*p != '@') {
		printf("guest: virtio-mmio: bad device '%s'\n", spec);
		return -1;
	}
	d->mmio = parse_u64(p + 1, &p);
	d->gsi = *p == ':' ? (unsigned)parse_u64(p + 1, 0) : 0;
	if (mmio_read32(d->mmio + MMIO_MAGIC) != 0x74726976 ||
	    mmio_read32(d->mmio + MMIO_VERSION) != 2 ||
	    mmio_read32(d->mmio + MMIO_DEVICE_ID) != device_id) {
		printf("guest: virtio-mmio: no version 2 device %u at %lx\n",
		       device_id, d->mmio);
		return -1;
	}
	return 0;
}

int vdev_find_pci(struct vdev *d, uint64_t ecam, uint32_t device_id)
{
	int dev = pci_find(ecam, 0x1af4, (uint16_t)(0x1040 + device_id));
	unsigned cap = 0;

	memset(d, 0, sizeof(*d));
	d->pci = true;
	if (dev < 0) {
		printf("guest: virtio-pci: no device 1af4:%x\n",
		       0x1040 + device_id);
		return -1;
	}
	/* Memory decode and bus mastering. */
	pci_write(ecam, (unsigned)dev, 4, pci_read(ecam, (unsigned)dev, 4) | 6);
	while ((cap = pci_next_cap(ecam, (unsigned)dev, cap, VNDR_CAP))) {
		uint32_t h = pci_read(ecam, (unsigned)dev, cap);
		uint32_t barno = pci_read(ecam, (unsigned)dev, cap + 4) & 0xff;
		uint64_t at = pci_bar(ecam, (unsigned)dev, barno) +
			      pci_read(ecam, (unsigned)dev, cap + 8);
		switch ((h >> 24) & 0xff) {
		case 1: d->common = at; break;
		case 2:
			d->notify = at;
			d->notify_mult =
				pci_read(ecam, (unsigned)dev, cap + 16);
			break;
		case 3: d->isr = at; break;
		case 4: d->device = at; break;
		}
	}
	cap = pci_next_cap(ecam, (unsigned)dev, 0, MSIX_CAP);
	if (cap) {
		uint32_t t = pci_read(ecam, (unsigned)dev, cap + 4);
		d->msix = pci_bar(ecam, (unsigned)dev, t & 7) + (t & ~7u);
		/* Enable MSI-X; vectors stay masked until a queue asks. */
		pci_write(ecam, (unsigned)dev, cap,
			  pci_read(ecam, (unsigned)dev, cap) | 1u << 31);
	}
	if (!d->common || !d->notify || !d->device) {
		printf("guest: virtio-pci: capabilities missing\n");
		return -1;
	}
	return 0;
}

void vdev_set_status(struct vdev *d, uint8_t s)
{
	if (d->pci)
		mmio_write8(d->common + PCI_STATUS, s);
	else
		mmio_write32(d->mmio + MMIO_STATUS, s);
}

uint8_t vdev_status(struct vdev *d)
{
	return d->pci ? mmio_read8(d->common + PCI_STATUS)
		      : (uint8_t)mmio_read32(d->mmio + MMIO_STATUS);
}

static uint32_t features_word(struct vdev *d, unsigned sel)
{
	if (d->pci) {
		mmio_write32(d->common + PCI_DFSELECT, sel);
		return mmio_read32(d->common + PCI_DF);
	}
	mmio_write32(d->mmio + MMIO_DEVICE_FEATURES_SEL, sel);
	return mmio_read32(d->mmio + MMIO_DEVICE_FEATURES);
}

static void set_features_word(struct vdev *d, unsigned sel, uint32_t v)
{
	if (d->pci) {
		mmio_write32(d->common + PCI_GFSELECT, sel);
		mmio_write32(d->common + PCI_GF, v);
	} else {
		mmio_write32(d->mmio + MMIO_DRIVER_FEATURES_SEL, sel);
		mmio_write32(d->mmio + MMIO_DRIVER_FEATURES, v);
	}
}

void vdev_write_features(struct vdev *d, uint64_t features)
{
	set_features_word(d, 0, (uint32_t)features);
	set_features_word(d, 1, (uint32_t)(features >> 32));
}

int vdev_negotiate(struct vdev *d, uint64_t wanted)
{
	uint64_t offered;

	vdev_set_status(d, 0);
	vdev_set_status(d, S_ACKNOWLEDGE);
	vdev_set_status(d, S_ACKNOWLEDGE | S_DRIVER);
	offered = features_word(d, 0) | (uint64_t)features_word(d, 1) << 32;
	d->features = offered & (wanted | 1ULL << VIRTIO_F_VERSION_1);
	vdev_write_features(d, d->features);
	vdev_set_status(d, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	if (!(vdev_status(d) & S_FEATURES_OK) ||
	    !(d->features & 1ULL << VIRTIO_F_VERSION_1)) {
		printf("guest: virtio: features %lx refused\n", d->features);
		return -1;
	}
	return (int)(uint32_t)d->features;
}

uint32_t vdev_num_queues(struct vdev *d)
{
	return d->pci ? mmio_read16(d->common + PCI_NUM_QUEUES) : VQ_MAX;
}

static void write64(uint64_t addr, uint64_t v)
{
	mmio_write32(addr, (uint32_t)v);
	mmio_write32(addr + 4, (uint32_t)(v >> 32));
}

/* Routes queue q's interrupt: an MSI-X table entry of its own on PCI (the
 * entry is index q + 1; 0 is left for configuration changes), the
 * device's IOAPIC line on MMIO. */
static int route_interrupts(struct vdev *d, unsigned q, unsigned slot)
{
	if (d->pci) {
		uint64_t e = d->msix + 16 * (q + 1);
		if (!d->msix)
			return -1;
		mmio_write32(e, 0xfee00000);
		mmio_write32(e + 4, 0);
		mmio_write32(e + 8, IRQ_FIRST_VECTOR + slot);
		mmio_write32(e + 12, 0);
		mmio_write16(d->common + PCI_Q_MSIX, (uint16_t)(q + 1));
		return mmio_read16(d->common + PCI_Q_MSIX) == q + 1 ? 0 : -1;
	}
	/* One line for the whole device: every queue counts on the slot
	 * of the first. */
	if (!q)
		ioapic_route(d->gsi, slot);
	return 0;
}

int vdev_setup_queue(struct vdev *d, unsigned q, uint16_t size, bool interrupts,
		     unsigned irq_slot)
{
	struct vq *vq = &d->vqs[q];
	uint16_t max;
	uint8_t *mem;

	if (q >= VQ_MAX)
		return -1;
	if (d->pci) {
		mmio_write16(d->common + PCI_Q_SELECT, (uint16_t)q);
		max = mmio_read16(d->common + PCI_Q_SIZE);
	} else {
		mmio_write32(d->mmio + MMIO_QUEUE_SEL, q);
		max = (uint16_t)mmio_read32(d->mmio + MMIO_QUEUE_NUM_MAX);
	}
	if (!max)
		return -1;
	size = size < max ? size : max;
	mem = page_alloc(3 * 4096 + 16 * (uint64_t)size +
			 16 * 4 * (uint64_t)size);
	if (!mem)
		return -1;
	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->index = (uint16_t)q;
	vq->desc = (struct vq_desc *)mem;
	vq->avail = (volatile uint16_t *)(mem + 16 * size);
	vq->used = (volatile uint16_t *)(((uint64_t)vq->avail + 6 + 2 * size +
					  4095) &
					 ~4095ULL);
	vq->indirect =
		(struct vq_desc *)(((uint64_t)vq->used + 6 + 8 * size + 4095) &
				   ~4095ULL);
	vq->event_idx = d->features & 1ULL << VIRTIO_F_EVENT_IDX;
	vq->use_indirect = d->features & 1ULL << VIRTIO_F_INDIRECT_DESC;
	vq->interrupts = interrupts;
	vq->irq_slot = d->pci || !q ? irq_slot : d->vqs[0].irq_slot;
	for (uint16_t i = 0; i < size; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	vq->num_free = size;
	if (!interrupts && !vq->event_idx)
		vq->avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	if (!interrupts && vq->event_idx)
		vq->avail[2 + size] = 0x8000; /* used_event: far away */
	if (interrupts && route_interrupts(d, q, irq_slot))
		return -1;
	if (d->pci) {
		mmio_write16(d->common + PCI_Q_SIZE, size);
		write64(d->common + PCI_Q_DESC, (uint64_t)vq->desc);
		write64(d->common + PCI_Q_DRIVER, (uint64_t)vq->avail);
		write64(d->common + PCI_Q_DEVICE, (uint64_t)vq->used);
		vq->notify_addr =
			d->notify +
			(uint64_t)d->notify_mult *
				mmio_read16(d->common + PCI_Q_NOTIFY_OFF);
		mmio_write16(d->common + PCI_Q_ENABLE, 1);
	} else {
		mmio_write32(d->mmio + MMIO_QUEUE_NUM, size);
		write64(d->mmio + MMIO_QUEUE_DESC, (uint64_t)vq->desc);
		write64(d->mmio + MMIO_QUEUE_DRIVER, (uint64_t)vq->avail);
		write64(d->mmio + MMIO_QUEUE_DEVICE, (uint64_t)vq->used);
		vq->notify_addr = d->mmio + MMIO_QUEUE_NOTIFY;
		mmio_write32(d->mmio + MMIO_QUEUE_READY, 1);
	}
	vq->notify_data = (uint16_t)q;
	d->nqueues = q + 1 > d->nqueues ? q + 1 : d->nqueues;
	return 0;
}

static void select_queue(struct vdev *d, unsigned q)
{
	if (d->pci)
		mmio_write16(d->common + PCI_Q_SELECT, (uint16_t)q);
	else
		mmio_write32(d->mmio + MMIO_QUEUE_SEL, q);
}

void vdev_queue_write(struct vdev *d, unsigned q, enum vq_reg r, uint64_t v)
{
	static const uint16_t pci_off[] = { PCI_Q_SIZE, PCI_Q_ENABLE,
					    PCI_Q_DESC, PCI_Q_DRIVER,
					    PCI_Q_DEVICE };
	static const uint16_t mmio_off[] = { MMIO_QUEUE_NUM, MMIO_QUEUE_READY,
					     MMIO_QUEUE_DESC, MMIO_QUEUE_DRIVER,
					     MMIO_QUEUE_DEVICE };

	select_queue(d, q);
	if (r >= VQ_REG_DESC)
		write64((d->pci ? d->common + pci_off[r]
				: d->mmio + mmio_off[r]),
			v);
	else if (d->pci)
		mmio_write16(d->common + pci_off[r], (uint16_t)v);
	else
		mmio_write32(d->mmio + mmio_off[r], (uint32_t)v);
}

uint32_t vdev_queue_read(struct vdev *d, unsigned q, enum vq_reg r)
{
	select_queue(d, q);
	if (d->pci)
		return mmio_read16(d->common + (r == VQ_REG_READY
							? PCI_Q_ENABLE
							: PCI_Q_SIZE));
	return mmio_read32(d->mmio + (r == VQ_REG_READY ? MMIO_QUEUE_READY
							: MMIO_QUEUE_NUM_MAX));
}

void vdev_queue_notify(struct vdev *d, unsigned q)
{
	select_queue(d, q);
	if (d->pci)
		mmio_write16(d->notify + (uint64_t)d->notify_mult *
						 mmio_read16(d->common +
							     PCI_Q_NOTIFY_OFF),
			     (uint16_t)q);
	else
		mmio_write32(d->mmio + MMIO_QUEUE_NOTIFY, q);
}

void vdev_driver_ok(struct vdev *d)
{
	vdev_set_status(d,
			S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

uint32_t vdev_config32(struct vdev *d, unsigned off)
{
	return mmio_read32((d->pci ? d->device : d->mmio + MMIO_CONFIG) + off);
}

uint8_t vdev_config8(struct vdev *d, unsigned off)
{
	return mmio_read8((d->pci ? d->device : d->mmio + MMIO_CONFIG) + off);
}

uint64_t vdev_config64(struct vdev *d, unsigned off)
{
	return vdev_config32(d, off) | (uint64_t)vdev_config32(d, off + 4)
					       << 32;
}

static void fill(struct vq_desc *desc, const struct vbuf *b, uint16_t next,
		 bool last)
{
	desc->addr = (uint64_t)b->addr;
	desc->len = b->len;
	desc->flags = (uint16_t)((b->device_writes ? VQ_DESC_F_WRITE : 0) |
				 (last ? 0 : VQ_DESC_F_NEXT));
	desc->next = next;
}

int vq_add(struct vq *q, const struct vbuf *bufs, unsigned n)
{
	bool indirect = q->use_indirect && n > 1 && n <= 4;
	unsigned need = indirect ? 1 : n;
	uint16_t head = q->free_head, i = head;

	if (!n || q->num_free < need)
		return -1;
	if (indirect) {
		struct vq_desc *t = q->indirect + 4 * head;
		for (unsigned k = 0; k < n; k++)
			fill(&t[k], &bufs[k], (uint16_t)(k + 1), k + 1 == n);
		q->desc[head].addr = (uint64_t)t;
		q->desc[head].len = 16 * n;
		q->desc[head].flags = VQ_DESC_F_INDIRECT;
		q->free_head = q->desc[head].next;
	} else {
		for (unsigned k = 0; k < n; k++) {
			uint16_t next = q->desc[i].next;
			fill(&q->desc[i], &bufs[k], next, k + 1 == n);
			if (k + 1 < n)
				i = next;
			else
				q->free_head = next;
		}
	}
	q->num_free = (uint16_t)(q->num_free - need);
	q->avail[2 + q->avail_idx % q->size] = head;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->avail[1] = ++q->avail_idx;
	return head;
}

void vq_kick(struct vdev *d, struct vq *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx;
	bool kick;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		uint16_t event = q->used[2 + 4 * q->size];
		kick = (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	} else {
		kick = !(q->used[0] & 1); /* VRING_USED_F_NO_NOTIFY */
	}
	q->kicked_idx = now;
	if (!kick)
		return;
	if (d->pci)
		mmio_write16(q->notify_addr, q->notify_data);
	else
		mmio_write32(q->notify_addr, q->notify_data);
}

int vq_get(struct vdev *d, struct vq *q, uint32_t *len)
{
	const volatile struct vq_used_elem *e;
	uint16_t head, i, n;
	uint32_t id;

	(void)d;
	if (q->used[1] == q->last_used)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	e = (const volatile struct vq_used_elem *)(q->used + 2) +
	    q->last_used % q->size;
	id = e->id;
	*len = e->len;
	q->last_used++;
	/* A device under attack may write nonsense: never follow it. */
	if (id >= q->size) {
		printf("guest: virtio: queue %u: used id %u out of range\n",
		       q->index, id);
		return -1;
	}
	head = (uint16_t)id;
	/* Interrupt after the next completion, or (polling) never. */
	if (q->event_idx)
		q->avail[2 + q->size] =
			(uint16_t)(q->last_used + (q->interrupts ? 0 : 0x8000));
	for (i = head, n = 0; q->desc[i].flags & VQ_DESC_F_NEXT && n < q->size;
	     i = q->desc[i].next, n++)
		q->num_free++;
	q->num_free++;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	return head;
}

int vq_wait(struct vdev *d, struct vq *q, uint32_t *len, uint64_t timeout_ms)
{
	uint64_t hz = tsc_hz() ? tsc_hz() : 3000000000ULL;
	uint64_t t0 = rdtsc(), limit = timeout_ms * (hz / 1000);
	int head;

	for (;;) {
		uint32_t seen = irq_counts[q->irq_slot];
		if ((head = vq_get(d, q, len)) >= 0)
			return head;
		if (rdtsc() - t0 > limit)
			return -1;
		if (!q->interrupts)
			continue;
		while (irq_counts[q->irq_slot] == seen && rdtsc() - t0 <= limit)
			cpu_relax();
		if (!d->pci)
			mmio_write32(
				d->mmio + MMIO_INTERRUPT_ACK,
				mmio_read32(d->mmio + MMIO_INTERRUPT_STATUS));
	}
}
