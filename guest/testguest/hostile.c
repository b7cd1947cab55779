/* scenario=hostile attack=NAME transport=pci|mmio [loops=N] [inflight=1]
 * [where=high|hole|edge] [how=disable|reset]: one attack on the virtio-blk
 * register interface (hostile_status.c, hostile_queue.c), then the same
 * ending for all (hostile_finish): the status after the attack, the
 * device reset and initialised properly, checked reads and a write, and
 * one verdict line
 *   hostile-NAME: survived, device serving      (no DEVICE_NEEDS_RESET seen)
 *   hostile-NAME: survived, device needs reset  (DEVICE_NEEDS_RESET seen)
 * with exit status 0; or exit status 1 when a legal operation failed
 * (I/O after a proper reset above all). vmm crashing shows as its own exit
 * status, not the guest's. Runs on CPU 0 at CPL3, polling. */
#include "hostile.h"

#define VERIFY_SECTOR 20000 /* the checked write; the cases use a copy */

uint8_t hostile_watch(struct hostile *h)
{
	uint8_t st = vdev_status(&h->b.dev);

	if (st & VDEV_S_NEEDS_RESET)
		h->saw_broken = true;
	return st;
}

void hostile_start_reads(struct hostile *h, unsigned n)
{
	struct blk *b = &h->b;
	uint64_t step = BIG_BYTES / SECTOR, spots = b->sectors / step;

	for (unsigned i = 0; i < n && spots; i++) {
		unsigned k =
			(unsigned)(b->done[0] + b->inflight[0]) % BIG_READS;
		if (blk_submit(b, 0, BLK_T_IN, (k % spots) * step,
			       h->big + (uint64_t)k * BIG_BYTES, BIG_BYTES) < 0)
			break;
	}
	vq_kick(&b->dev, &b->dev.vqs[0]);
}

void hostile_reap(struct hostile *h)
{
	while (h->b.inflight[0] && blk_complete_within(&h->b, 0, 0) >= 0)
		;
}

int hostile_read_check(struct hostile *h, const char *what, uint64_t sector,
		       unsigned sectors)
{
	struct blk *b = &h->b;
	int head, st = -1;

	memset(h->buf, 0, (uint64_t)sectors * SECTOR);
	head = blk_submit(b, 0, BLK_T_IN, sector, h->buf, sectors * SECTOR);
	if (head < 0)
		return printf("guest: hostile-%s: %s: ring full\n", h->name,
			      what),
		       -1;
	vq_kick(&b->dev, &b->dev.vqs[0]);
	while (b->inflight[0] &&
	       (st = blk_complete_within(b, 0, PROBE_MS)) >= 0)
		;
	if (b->inflight[0])
		return printf("guest: hostile-%s: %s: no completion in %u ms\n",
			      h->name, what, PROBE_MS),
		       -1;
	st = b->slots[0][head].status;
	if (st != BLK_S_OK)
		return printf("guest: hostile-%s: %s: status %d\n", h->name,
			      what, st),
		       -1;
	if (!check_sectors(h->buf, 'S', sector, sectors))
		return printf("guest: hostile-%s: %s: wrong data\n", h->name,
			      what),
		       -1;
	return 0;
}

void hostile_probe(struct hostile *h)
{
	if (hostile_watch(h) & VDEV_S_NEEDS_RESET)
		return;
	if (!hostile_read_check(h, "in place", 4096, 8))
		printf("guest: hostile-%s: in place: I/O ok\n", h->name);
	hostile_watch(h);
}

/* A checked write and read back at VERIFY_SECTOR on a started device. */
static int verify_write(struct hostile *h)
{
	struct blk *b = &h->b;

	for (unsigned i = 0; i < 8; i++)
		fill_sector(h->buf + i * SECTOR, 'H', VERIFY_SECTOR + i);
	if (blk_submit(b, 0, BLK_T_OUT, VERIFY_SECTOR, h->buf, 8 * SECTOR) < 0)
		return -1;
	vq_kick(&b->dev, &b->dev.vqs[0]);
	if (blk_complete_within(b, 0, PROBE_MS) != BLK_S_OK)
		return -1;
	memset(h->buf, 0, 8 * SECTOR);
	if (blk_submit(b, 0, BLK_T_IN, VERIFY_SECTOR, h->buf, 8 * SECTOR) < 0)
		return -1;
	vq_kick(&b->dev, &b->dev.vqs[0]);
	if (blk_complete_within(b, 0, PROBE_MS) != BLK_S_OK ||
	    !check_sectors(h->buf, 'H', VERIFY_SECTOR, 8))
		return -1;
	return 0;
}

/* The device after a proper reset: it must serve again. */
static int verify(struct hostile *h)
{
	struct blk *b = &h->b;
	uint8_t st;

	if (blk_start(b, 1))
		return -1;
	st = vdev_status(&b->dev);
	if (st != S_LIVE)
		return printf("guest: hostile-%s: status %x after a proper "
			      "initialisation\n",
			      h->name, st),
		       -1;
	if (hostile_read_check(h, "after reset", 0, 64) ||
	    hostile_read_check(h, "after reset", b->sectors / 2, 64) ||
	    hostile_read_check(h, "after reset", b->sectors - 64, 64))
		return -1;
	if (verify_write(h))
		return printf("guest: hostile-%s: after reset: write and read "
			      "back failed\n",
			      h->name),
		       -1;
	st = vdev_status(&b->dev);
	return st == S_LIVE ? 0 : -1;
}

int hostile_finish(struct hostile *h)
{
	uint8_t st = hostile_watch(h);

	printf("guest: hostile-%s: status %x after the attack%s\n", h->name, st,
	       h->saw_broken ? ", DEVICE_NEEDS_RESET seen" : "");
	if (verify(h)) {
		printf("hostile-%s: device does not serve after a reset\n",
		       h->name);
		return 1;
	}
	printf("guest: hostile-%s: after a reset: reads and a write checked\n",
	       h->name);
	if (h->failed) {
		printf("hostile-%s: device misbehaved\n", h->name);
		return 1;
	}
	printf("hostile-%s: survived, device %s\n", h->name,
	       h->saw_broken ? "needs reset" : "serving");
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct hostile *h);
	uint64_t loops;
} attacks[] = {
	{ "driver-ok-twice", hostile_driver_ok_twice, 5000 },
	{ "features-ok-toggle", hostile_features_ok_toggle, 200 },
	{ "driver-ok-early", hostile_driver_ok_early, 1 },
	{ "reset-inflight", hostile_reset_inflight, 20 },
	{ "queue-zero-inflight", hostile_queue_zero_inflight, 20 },
	{ "queue-reenable", hostile_queue_reenable, 1 },
	{ "rings-outside-ram", hostile_rings_outside_ram, 1 },
	{ "queue-size-bad", hostile_queue_size_bad, 1 },
};

int scenario_hostile(void)
{
	static struct hostile h;
	char name[32];

	timing_init();
	if (!arg("attack", name, sizeof(name)))
		return printf("guest: hostile: attack= missing\n"), 4;
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		if (strncmp(name, attacks[i].name, sizeof(name)))
			continue;
		if (blk_find(&h.b))
			return 1;
		h.name = attacks[i].name;
		h.loops = arg_u64("loops", attacks[i].loops);
		h.inflight = arg_u64("inflight", 0);
		h.big = page_alloc((uint64_t)BIG_READS * BIG_BYTES);
		h.buf = page_alloc(64 * SECTOR);
		if (!h.big || !h.buf || blk_start(&h.b, 1))
			return 1;
		return attacks[i].run(&h);
	}
	printf("guest: hostile: unknown attack '%s'\n", name);
	return 4;
}
