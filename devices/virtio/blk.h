/* virtio-blk: a block device over any virtio transport, backed by a block
 * node. Each virtqueue is served by its own worker (queue_worker.h, thread
 * "vdX-qN") with its own io_uring; no lock is shared between queues on the
 * data path. Threads, io_urings and eventfds are created by vblk_init,
 * never on a vCPU thread. */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "blk_req.h"
#include "queue_worker.h"
#include "virtio.h"

#define VBLK_MAX_QUEUES 8
/* Poll window bounds. Waiting for the driver: QEMU's iothread
 * poll-max-ns (default 32 us). */
#define VBLK_POLL_DEFAULT_NS 32768
/* Waiting for the host: longer than a fast disk's 4k completion (50 to
 * 100 us on the development machine's virtual disk), so that at queue
 * depth 1 the queue's thread is still polling when it arrives. */
#define VBLK_POLL_HOST_DEFAULT_NS 262144
#define VBLK_POLL_MAX_NS 1000000000
#define VBLK_SEG_MAX 254
/* QueueNumMax: the core refuses larger queues, so a descriptor head always
 * indexes slots[]. */
#define VBLK_QUEUE_SIZE VIRTIO_QUEUE_SIZE

struct vblk_config {
	const char *path;
	const char *format; /* a block format driver's name; NULL: raw */
	bool readonly;
	bool direct;	 /* cache=none */
	unsigned queues; /* 1 .. VBLK_MAX_QUEUES */
	char serial[VBLK_ID_BYTES + 1];
	/* Each queue worker's longest poll window waiting for the driver's
	 * next request, and waiting for the host's completion. */
	uint32_t poll_max_ns;
	uint32_t poll_host_max_ns;
	enum sandbox_mode seccomp; /* of the queue threads; not an option */
	/* A live migration's destination (not an option): the image is
	 * opened read-only and inactive until vblk_take_over takes it over
	 * from the source. */
	bool incoming;
};

struct vblk;

struct vblk_queue;

/* One request in flight, indexed by its descriptor head. */
struct vblk_slot {
	struct vblk_queue *q;
	struct blk_req req;
	struct vblk_request parsed; /* intact until finished: dirty marking */
	struct iovec io_iov[VQ_MAX_SEGS]; /* the block layer advances these */
	uint16_t head;
	uint32_t written;
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
};

/* The requests of the current batch that may still merge. */
struct vblk_group {
	struct vblk_slot *member[VBLK_MERGE_MAX_REQS];
	unsigned n, iovcnt;
	uint64_t end; /* byte offset after the last member */
	uint64_t bytes;
};

/* One queue. Created by vblk_init (main thread); the rest is touched only
 * by the queue's worker thread. */
struct vblk_queue {
	struct vblk *blk;
	unsigned index;
	int kick_fd; /* the worker's kick eventfd, for the ioeventfd */
	int done_fd; /* io_uring completions */
	bool have_ctx, have_worker;
	struct blk_ctx ctx;
	struct vq_worker worker;
	uint64_t merged; /* atomic: requests sent as part of a merge */
	/* Worker thread only. */
	struct virtqueue *vq; /* the worker's copy of the queue */
	struct vq_chain chain;
	struct vblk_group group;
	/* Apart from the slots and merges, so that a start clears them
	 * without touching the pages of slots the driver never used: the
	 * queue's pages are allocated on first touch (alloc_queues). A driver that
	 * reuses a busy head breaks the queue. */
	bool busy[VBLK_QUEUE_SIZE];
	bool merge_busy[VBLK_MERGES];
	struct vblk_merge merges[VBLK_MERGES];
	struct vblk_slot slots[VBLK_QUEUE_SIZE];
};

struct vblk {
	struct vblk_config cfg;
	struct blk_node node;
	struct vblk_limits limits;
	struct virtio_dev vdev;
	struct sandbox_filter sandbox; /* of the queue threads */
	/* cfg.queues of them, without huge pages: each is about 2 MiB,
	 * nearly all of it request slots that only the heads a driver uses
	 * ever touch. */
	struct vblk_queue *queues;
	unsigned index; /* vda = 0 */
};

/* Opens the disk and prepares the device with each queue's io_uring,
 * eventfds and worker thread (idle until DRIVER_OK); the transport is
 * attached by the caller. 0 or -errno (logged); after a failure with
 * b->vdev.ops set, vblk_destroy releases what was created. */
int vblk_init(struct vblk *b, const struct vblk_config *cfg, unsigned index,
	      const struct guest_mem *mem);
void vblk_destroy(struct vblk *b);
/* A live migration's destination, after the END of the stream and
 * before the device's state is restored (main thread, no worker
 * running): the image the source has handed over, opened read-only and
 * inactive so far, is opened again with the --disk options (its
 * metadata read afresh) and each queue's io_uring registers the new
 * files. 0, or -errno after one log line (the old, inactive image is
 * kept, nothing written). */
int vblk_take_over(struct vblk *b);

/* How many requests went to the host as part of a merged one; any
 * thread. */
uint64_t vblk_merged(const struct vblk *b);

/* QueueNotify without an ioeventfd: wakes the queue's worker. */
void vblk_kick(struct vblk *b, unsigned queue);

extern const struct virtio_device_ops vblk_ops;
/* The sandbox of the queue threads. */
extern const struct sandbox_role vblk_queue_role;

#endif
