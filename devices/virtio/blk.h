/* virtio-blk: a block device over any virtio transport, backed by a block
 * node. Each virtqueue has its own iothread with its own io_uring; no lock
 * is shared between queues on the data path. */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "blk_req.h"
#include "virtio.h"

#define VBLK_MAX_QUEUES 8
#define VBLK_SEG_MAX 254

struct vblk_config {
	const char *path;
	bool readonly;
	bool direct;	  /* cache=none */
	unsigned queues;  /* 1 .. VBLK_MAX_QUEUES */
	char serial[VBLK_ID_BYTES + 1];
};

struct vblk;

struct vblk_queue;

/* One request in flight, indexed by its descriptor head. */
struct vblk_slot {
	struct vblk_queue *q;
	struct blk_req req;
	struct vblk_request parsed;
	uint16_t head;
	uint32_t written;
	bool busy; /* a driver that reuses a busy head breaks the queue */
};

#define VBLK_MERGE_MAX_IOV 256
#define VBLK_MERGE_MAX_BYTES (4u << 20)
#define VBLK_MERGE_MAX_REQS 32
#define VBLK_MERGES 8

/* Reads or writes of adjacent sectors popped in one batch, submitted as
 * one request (as QEMU's virtio-blk does): fewer, larger host I/Os. */
struct vblk_merge {
	struct blk_req req;
	struct iovec iov[VBLK_MERGE_MAX_IOV];
	struct vblk_slot *member[VBLK_MERGE_MAX_REQS];
	unsigned n;
	bool busy;
};

/* The requests of the current batch that may still merge. */
struct vblk_group {
	struct vblk_slot *member[VBLK_MERGE_MAX_REQS];
	unsigned n, iovcnt;
	uint64_t end; /* byte offset after the last member */
	uint64_t bytes;
};

/* A queue's iothread state: touched only by that thread while active. */
struct vblk_queue {
	struct vblk *blk;
	unsigned index;
	int kick_fd;	 /* ioeventfd for QueueNotify, or written by notify() */
	int stop_fd;
	int done_fd;	 /* io_uring completions */
	bool stop;	 /* atomic */
	bool running;
	pthread_t thread;
	struct blk_ctx ctx;
	struct vblk_slot slots[VIRTIO_QUEUE_SIZE];
	struct vblk_group group;
	struct vblk_merge merges[VBLK_MERGES];
	uint64_t merged; /* atomic: requests sent as part of a merge */
};

struct vblk {
	struct vblk_config cfg;
	struct blk_node node;
	struct vblk_limits limits;
	struct virtio_dev vdev;
	struct vblk_queue queues[VBLK_MAX_QUEUES];
	unsigned index; /* vda = 0 */
};

/* Opens the disk and prepares the device; the transport is attached by the
 * caller. 0 or -errno (logged). */
int vblk_init(struct vblk *b, const struct vblk_config *cfg, unsigned index,
	      const struct guest_mem *mem);
void vblk_destroy(struct vblk *b);

/* How many requests went to the host as part of a merged one; any
 * thread. */
uint64_t vblk_merged(const struct vblk *b);

/* QueueNotify without an ioeventfd: wakes the queue's iothread. */
void vblk_kick(struct vblk *b, unsigned queue);

extern const struct virtio_device_ops vblk_ops;

#endif
