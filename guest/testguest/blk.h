/* The test guest's virtio-blk driver (blk.c), shared with the hostile
 * scenarios (hostile.c), which re-initialise the device many times. */
#ifndef GUEST_BLK_H
#define GUEST_BLK_H

#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_PENDING 0xff
#define SECTOR 512

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

/* One request's device-visible pieces. */
struct blk_slot {
	struct blk_hdr hdr;
	struct blk_range range;
	uint8_t status;
	uint8_t pad[7];
};

struct blk {
	struct vdev dev;
	uint64_t sectors;
	uint64_t want; /* features asked for */
	uint32_t features;
	unsigned queues;
	bool irq;
	struct blk_slot *slots[VQ_MAX]; /* MAX_INFLIGHT per queue, by head */
	unsigned inflight[VQ_MAX];
	uint64_t done[VQ_MAX];
};

/* Finds the device the arguments name (transport=, ecam=, irq=,
 * indirect=, eventidx=); 0 or -1 with a message. */
int blk_find(struct blk *b);
/* Resets the device, negotiates, sets up `queues` fresh queues (new rings
 * at new addresses each time) and sets DRIVER_OK; 0 or -1. */
int blk_start(struct blk *b, unsigned queues);
/* Queues one request on queue q (not kicked); the head or -1 when full. */
int blk_submit(struct blk *b, unsigned q, uint32_t type, uint64_t sector,
	       void *data, uint32_t len);
/* Collects one completion of queue q within timeout_ms: its status, or
 * -1 (no message). */
int blk_complete_within(struct blk *b, unsigned q, uint64_t timeout_ms);
void fill_sector(uint8_t *p, char tag, uint64_t s);
/* Sectors [first, first + n) hold tag lines, or zeros with tag 0;
 * prints the first difference. */
bool check_sectors(const uint8_t *p, char tag, uint64_t first, uint64_t n);

#endif
