/* Hostile attacks on the device status register (see hostile.c): DRIVER_OK
 * set again without a reset, FEATURES_OK cleared and set again after
 * DRIVER_OK, DRIVER_OK before FEATURES_OK, and resets with reads in
 * flight. CPU 0, CPL3, polling. */
#include "hostile.h"

/* Status 0xb then 0xf, loops times: DRIVER_OK cleared and set again with
 * no reset in between, with inflight=1 while reads are in flight. */
int hostile_driver_ok_twice(struct hostile *h)
{
	struct vdev *d = &h->b.dev;

	for (uint64_t i = 0; i < h->loops; i++) {
		if (h->inflight && h->b.inflight[0] < BIG_READS / 2)
			hostile_start_reads(h, BIG_READS);
		vdev_set_status(d, S_LIVE & ~S_DRIVER_OK);
		vdev_set_status(d, S_LIVE);
		if (h->inflight)
			hostile_reap(h);
		if (i % 64 == 63)
			hostile_watch(h);
	}
	printf("guest: hostile-%s: DRIVER_OK set again %lu times\n", h->name,
	       h->loops);
	delay_us(SETTLE_US);
	hostile_probe(h);
	return hostile_finish(h);
}

/* FEATURES_OK cleared after DRIVER_OK (status 0x7), the features written
 * as nothing at all (not even VERSION_1) while it is clear, then status
 * 0xf again; loops times, with inflight=1 while reads are in flight. */
int hostile_features_ok_toggle(struct hostile *h)
{
	struct vdev *d = &h->b.dev;

	for (uint64_t i = 0; i < h->loops; i++) {
		if (h->inflight && h->b.inflight[0] < BIG_READS / 2)
			hostile_start_reads(h, BIG_READS);
		vdev_set_status(d, S_LIVE & ~S_FEATURES_OK);
		vdev_write_features(d, i & 1 ? 0 : d->features);
		vdev_set_status(d, S_LIVE);
		if (h->inflight)
			hostile_reap(h);
		hostile_watch(h);
	}
	printf("guest: hostile-%s: FEATURES_OK cleared and set %lu times\n",
	       h->name, h->loops);
	delay_us(SETTLE_US);
	hostile_probe(h);
	return hostile_finish(h);
}

/* After a reset: features written, a queue set up, then DRIVER_OK with
 * FEATURES_OK never set (status 0x7); a read tried; then status 0xf and
 * a read tried again. */
int hostile_driver_ok_early(struct hostile *h)
{
	struct blk *b = &h->b;
	struct vdev *d = &b->dev;

	vdev_set_status(d, 0);
	vdev_set_status(d, S_ACK);
	vdev_set_status(d, S_ACK | S_DRIVER);
	vdev_write_features(d, d->features);
	b->inflight[0] = 0;
	if (vdev_setup_queue(d, 0, 128, false, 0))
		return printf("guest: hostile-%s: queue setup failed\n",
			      h->name),
		       1;
	vdev_set_status(d, S_ACK | S_DRIVER | S_DRIVER_OK);
	printf("guest: hostile-%s: status %x with DRIVER_OK before "
	       "FEATURES_OK\n",
	       h->name, hostile_watch(h));
	hostile_probe(h);
	/* FEATURES_OK late, with the probe's read perhaps still queued. */
	vdev_set_status(d, S_LIVE);
	printf("guest: hostile-%s: status %x after FEATURES_OK late\n", h->name,
	       hostile_watch(h));
	return hostile_finish(h);
}

/* Reads in flight, a reset a varying few microseconds later, at once a
 * proper initialisation on new rings and a checked read, which must
 * work: resetting is always allowed. loops times. */
int hostile_reset_inflight(struct hostile *h)
{
	for (uint64_t i = 0; i < h->loops; i++) {
		hostile_start_reads(h, BIG_READS);
		delay_us(i % 10 * 30);
		if (blk_start(&h->b, 1) ||
		    hostile_read_check(h, "read after the reset", 8 * i, 8)) {
			printf("guest: hostile-%s: round %lu failed\n", h->name,
			       i);
			h->failed = true;
			break;
		}
		hostile_watch(h);
	}
	printf("guest: hostile-%s: %lu resets with reads in flight\n", h->name,
	       h->loops);
	return hostile_finish(h);
}
