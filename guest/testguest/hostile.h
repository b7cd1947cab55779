/* Hostile virtio-blk scenarios (hostile.c and the attacks in
 * hostile_status.c and hostile_queue.c): the virtio register rules broken
 * on purpose, the way a malicious or broken guest would. */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "blk.h"

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_LIVE (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)
#define BIG_BYTES (256 * 1024) /* one in-flight read */
#define BIG_READS 16
#define PROBE_MS 2000
#define SETTLE_US 20000 /* lets in-flight reads complete after an attack */

struct hostile {
	struct blk b;
	const char *name;
	uint8_t *big;	 /* BIG_READS * BIG_BYTES of read buffers */
	uint8_t *buf;	 /* 64 sectors for checked I/O */
	uint64_t loops;	 /* loops=N, each attack's own default */
	bool inflight;	 /* inflight=1: keep reads in flight meanwhile */
	bool saw_broken; /* the device said DEVICE_NEEDS_RESET */
	bool failed;	 /* a legal operation failed: exit 1 */
};

/* Reads the device status and remembers DEVICE_NEEDS_RESET. */
uint8_t hostile_watch(struct hostile *h);
/* Queues up to n large reads on queue 0 (as many as fit) and kicks. */
void hostile_start_reads(struct hostile *h, unsigned n);
/* Collects the completions that are ready, waiting for none. */
void hostile_reap(struct hostile *h);
/* A checked read of `sectors` at `sector` on queue 0 within PROBE_MS,
 * after every earlier request came back; 0, or -1 with a line saying
 * what went wrong, prefixed by what. */
int hostile_read_check(struct hostile *h, const char *what, uint64_t sector,
		       unsigned sectors);
/* The device as the attack left it: a checked read, reported on one
 * informational line, skipped once the device asked for a reset. */
void hostile_probe(struct hostile *h);
/* Proper reset and initialisation, checked reads and a write; then the
 * verdict line. The scenario's exit status. */
int hostile_finish(struct hostile *h);

int hostile_driver_ok_twice(struct hostile *h);
int hostile_features_ok_toggle(struct hostile *h);
int hostile_driver_ok_early(struct hostile *h);
int hostile_reset_inflight(struct hostile *h);
int hostile_queue_zero_inflight(struct hostile *h);
int hostile_queue_reenable(struct hostile *h);
int hostile_rings_outside_ram(struct hostile *h);
int hostile_queue_size_bad(struct hostile *h);

#endif
