/* Hostile attacks on the queue registers (see hostile.c): a queue
 * disabled and shrunk to nothing under reads in flight, a queue enabled
 * again on other rings, rings outside RAM, queue sizes the device cannot
 * have. CPU 0, CPL3, polling. */
#include "hostile.h"

#define CANARY 0xa5
#define RING_ROOM (2ULL << 20) /* rings of up to 65535 entries */

/* Reads in flight, then (a varying few microseconds later) queue_enable
 * or QueueReady 0 and the size 0, the doorbell rung, the reads left to
 * complete; then a reset. loops times. */
int hostile_queue_zero_inflight(struct hostile *h)
{
	struct vdev *d = &h->b.dev;

	for (uint64_t i = 0; i < h->loops; i++) {
		if (i && blk_start(&h->b, 1))
			return 1;
		hostile_start_reads(h, BIG_READS);
		delay_us(i % 10 * 30);
		vdev_queue_write(d, 0, VQ_REG_READY, 0);
		vdev_queue_write(d, 0, VQ_REG_SIZE, 0);
		vdev_queue_notify(d, 0);
		delay_us(SETTLE_US);
		hostile_watch(h);
	}
	printf("guest: hostile-%s: queue disabled and sized 0 under %lu "
	       "batches of reads\n",
	       h->name, h->loops);
	return hostile_finish(h);
}

static bool all(const volatile uint8_t *p, uint8_t v, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The old rings, buffer and status byte still hold what was left there. */
/* What the left read's buffer and status held when the reset or disable
 * returned: the device may have served that read before (it was
 * available, and a busy device looks at the ring without a doorbell), so
 * only a change after that point is a write to the old queue. */
struct left_read {
	uint8_t data[4096];
	uint8_t status;
};

static void note_left_read(struct hostile *h, struct left_read *seen,
			   const uint8_t *buf, const struct blk_slot *slot)
{
	memcpy(seen->data, buf, sizeof(seen->data));
	seen->status = slot->status;
	if (seen->status != BLK_S_PENDING || !all(buf, CANARY, 4096))
		printf("guest: hostile-%s: the left read was served before "
		       "the queue stopped (allowed)\n",
		       h->name);
}

static void check_old(struct hostile *h, const struct vq *old,
		      const uint8_t *buf, const struct blk_slot *slot,
		      const struct left_read *seen)
{
	if (!all((const volatile uint8_t *)old->used, CANARY,
		 6 + 8ULL * old->size) ||
	    memcmp(buf, seen->data, sizeof(seen->data)) ||
	    slot->status != seen->status) {
		printf("guest: hostile-%s: the device wrote to the old rings "
		       "or their buffers\n",
		       h->name);
		h->failed = true;
	}
}

/* After checked I/O, a read made available on the ring but not notified;
 * then the queue disabled (how=disable; virtio-mmio QueueReady 0) or the
 * device reset (how=reset), the old used ring filled with a canary, and
 * the queue enabled again on new rings at other addresses. I/O on the new
 * rings must work after a reset; once the reset or disable has returned,
 * nothing may be written to the old rings or the old read's buffer. */
int hostile_queue_reenable(struct hostile *h)
{
	char how[16] = "reset";
	struct blk *b = &h->b;
	uint8_t *canary = page_alloc(4096);
	struct left_read *seen = page_alloc(sizeof(struct left_read));
	struct blk_slot *slot;
	struct vq old;
	bool disable;
	int head;

	arg("how", how, sizeof(how));
	disable = !strncmp(how, "disable", 8);
	if (!canary || !seen || hostile_read_check(h, "before", 64, 8))
		return 1;
	memset(canary, CANARY, 4096);
	head = blk_submit(b, 0, BLK_T_IN, 128, canary, 4096);
	if (head < 0)
		return 1;
	old = b->dev.vqs[0];
	slot = &b->slots[0][head];
	if (disable) {
		vdev_queue_write(&b->dev, 0, VQ_REG_READY, 0);
		note_left_read(h, seen, canary, slot);
		memset((void *)old.used, CANARY, 6 + 8ULL * old.size);
		b->slots[0] = page_alloc(sizeof(struct blk_slot) * 256);
		b->inflight[0] = 0;
		if (!b->slots[0] || vdev_setup_queue(&b->dev, 0, 128, false, 0))
			return 1;
	} else {
		vdev_set_status(&b->dev, 0);
		note_left_read(h, seen, canary, slot);
		memset((void *)old.used, CANARY, 6 + 8ULL * old.size);
		if (blk_start(b, 1))
			return 1;
	}
	printf("guest: hostile-%s: queue enabled again (%s) on rings at %lx, "
	       "were at %lx\n",
	       h->name, how, (uint64_t)b->dev.vqs[0].desc, (uint64_t)old.desc);
	/* After a reset the new rings must serve. Enabling a live queue
	 * again is not defined without VIRTIO_F_RING_RESET: QEMU's
	 * virtio-mmio goes silent on the new rings; that is reported. */
	for (unsigned i = 0; i < 8; i++)
		if (hostile_read_check(h, "on the new rings", 1000 + 64 * i,
				       64)) {
			hostile_watch(h);
			h->failed = !disable;
			break;
		}
	delay_us(SETTLE_US);
	check_old(h, &old, canary, slot, seen);
	return hostile_finish(h);
}

/* Where where= points rings: far above any RAM (high), onto the device's
 * own registers in the MMIO hole (hole), or straddling the end of the RAM
 * the guest runs in (edge). */
static uint64_t bad_address(struct hostile *h)
{
	char where[16] = "high";
	const struct memmap_entry *e;
	unsigned n = pvh_memmap(&e);
	uint64_t me = (uint64_t)__image_end;

	arg("where", where, sizeof(where));
	if (!strncmp(where, "hole", 5))
		return h->b.dev.pci ? h->b.dev.common & ~0xfffULL
				    : h->b.dev.mmio;
	if (strncmp(where, "edge", 5))
		return 0xfffff00000000000ULL;
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == 1 && e[i].addr <= me &&
		    me < e[i].addr + e[i].size)
			return e[i].addr + e[i].size - 1024;
	return 0xfffff00000000000ULL;
}

static void point_rings(struct vdev *d, uint64_t at)
{
	vdev_queue_write(d, 0, VQ_REG_DESC, at);
	vdev_queue_write(d, 0, VQ_REG_DRIVER, at + 0x400);
	vdev_queue_write(d, 0, VQ_REG_DEVICE, at + 0x800);
}

/* Ring addresses outside RAM: written on the enabled queue with reads in
 * flight (then the doorbell); on virtio-mmio also on the live device's
 * queue disabled and enabled again; and after a reset, on the queue
 * before it is enabled, then DRIVER_OK and the doorbell. */
int hostile_rings_outside_ram(struct hostile *h)
{
	struct vdev *d = &h->b.dev;
	uint64_t at = bad_address(h);

	printf("guest: hostile-%s: rings at %lx\n", h->name, at);
	hostile_start_reads(h, BIG_READS);
	point_rings(d, at);
	vdev_queue_notify(d, 0);
	delay_us(SETTLE_US);
	printf("guest: hostile-%s: enabled queue: status %x\n", h->name,
	       hostile_watch(h));
	hostile_probe(h);
	if (!d->pci) {
		vdev_queue_write(d, 0, VQ_REG_READY, 0);
		point_rings(d, at);
		vdev_queue_write(d, 0, VQ_REG_READY, 1);
		vdev_queue_notify(d, 0);
		printf("guest: hostile-%s: queue enabled again: ready %u, "
		       "status %x\n",
		       h->name, vdev_queue_read(d, 0, VQ_REG_READY),
		       hostile_watch(h));
	}
	if (vdev_negotiate(d, h->b.want) < 0)
		return 1;
	vdev_queue_write(d, 0, VQ_REG_SIZE, 128);
	point_rings(d, at);
	vdev_queue_write(d, 0, VQ_REG_READY, 1);
	vdev_driver_ok(d);
	vdev_queue_notify(d, 0);
	printf("guest: hostile-%s: after a reset: ready %u, status %x\n",
	       h->name, vdev_queue_read(d, 0, VQ_REG_READY), hostile_watch(h));
	return hostile_finish(h);
}

/* After a reset, sizes 0, 3, 100, 512 (above the maximum) and 65535 each
 * written before the queue is enabled, on valid rings with room for them,
 * one zeroed descriptor made available, DRIVER_OK and the doorbell; then,
 * on a proper queue with reads in flight, sizes 0, 3 and 512 written to
 * the enabled queue (and queue_enable 0, which the driver must not). */
int hostile_queue_size_bad(struct hostile *h)
{
	static const uint16_t sizes[] = { 0, 3, 100, 512, 65535 };
	struct vdev *d = &h->b.dev;
	uint8_t *rings = page_alloc(RING_ROOM);

	if (!rings)
		return 1;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		volatile uint16_t *avail =
			(volatile uint16_t *)(rings + (1 << 20));
		if (vdev_negotiate(d, h->b.want) < 0)
			return 1;
		memset(rings, 0, RING_ROOM);
		vdev_queue_write(d, 0, VQ_REG_SIZE, sizes[i]);
		vdev_queue_write(d, 0, VQ_REG_DESC, (uint64_t)rings);
		vdev_queue_write(d, 0, VQ_REG_DRIVER, (uint64_t)avail);
		vdev_queue_write(d, 0, VQ_REG_DEVICE,
				 (uint64_t)rings + (3 << 19));
		vdev_queue_write(d, 0, VQ_REG_READY, 1);
		avail[1] = 1; /* ring[0] = descriptor 0, all zeros */
		vdev_driver_ok(d);
		vdev_queue_notify(d, 0);
		delay_us(2000);
		printf("guest: hostile-%s: size %u: ready %u, status %x\n",
		       h->name, sizes[i], vdev_queue_read(d, 0, VQ_REG_READY),
		       hostile_watch(h));
	}
	if (blk_start(&h->b, 1))
		return 1;
	hostile_start_reads(h, BIG_READS);
	vdev_queue_write(d, 0, VQ_REG_SIZE, 0);
	vdev_queue_write(d, 0, VQ_REG_SIZE, 3);
	vdev_queue_write(d, 0, VQ_REG_SIZE, 512);
	if (d->pci)
		vdev_queue_write(d, 0, VQ_REG_READY, 0);
	vdev_queue_notify(d, 0);
	delay_us(SETTLE_US);
	printf("guest: hostile-%s: enabled queue resized: status %x\n", h->name,
	       hostile_watch(h));
	hostile_probe(h);
	return hostile_finish(h);
}
