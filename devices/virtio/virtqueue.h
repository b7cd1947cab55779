/* Split virtqueues (virtio 1.x, 2.7): the one queue API every device uses.
 * A request is popped as a validated chain of host iovecs into guest RAM,
 * its device-readable buffers first, then the device-writable ones; the
 * device pushes it back as used and asks whether to interrupt the driver.
 *
 * The driver is hostile: rings and buffers are checked against guest RAM,
 * chains are walked under a budget of the queue size (no loops), indirect
 * tables are checked for size, nesting and the NEXT flag, and a readable
 * buffer after a writable one is refused. A malformed queue is reported
 * broken (the transport then sets DEVICE_NEEDS_RESET) and never touched
 * again; nothing a driver writes can make the VMM read or write outside
 * guest RAM. */
#ifndef DEVICES_VIRTIO_VIRTQUEUE_H
#define DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "memory/memory.h"

#define VQ_MAX_SIZE 32768    /* split queues: a power of two up to 2^15 */
#define VQ_MAX_SEGS 256	     /* iovecs in one popped chain */
#define VQ_MAX_INDIRECT 1024 /* entries in one indirect table */

/* Queue state: a plain struct, saved and restored as it is (rings live in
 * guest RAM). The device core keeps the driver's registers in one; a
 * queue's worker (queue_worker.h) serves from its own copy taken when it
 * starts, so nothing the driver writes while the queue runs can change
 * the size or ring addresses under it. Each struct is used by one thread
 * at a time. */
struct virtqueue {
	uint16_t size;
	bool ready;
	bool broken;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	gpa_t desc, avail, used;
	uint16_t last_avail;	 /* next avail ring slot to consume */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when we last interrupted */
	bool signalled_valid;
	const struct guest_mem *mem;
};

struct vq_chain {
	const struct guest_mem *mem; /* where iov points */
	uint16_t head;
	unsigned n_out; /* device-readable iovecs, iov[0 .. n_out) */
	unsigned n_in;	/* device-writable iovecs, iov[n_out .. n_out + n_in) */
	uint64_t out_bytes, in_bytes;
	struct iovec iov[VQ_MAX_SEGS];
};

/* Checks the ring addresses and size the driver configured (alignment,
 * inside guest RAM, size a power of two no larger than max, the device's
 * QueueNumMax, which bounds every head and so every per-head array of the
 * device) and makes the queue ready. Returns 0 or -EINVAL (the queue
 * stays not ready). */
int vq_enable(struct virtqueue *vq, const struct guest_mem *mem, uint16_t max);

/* Pops the next available chain into *c. Returns 1 with a chain, 0 when
 * the ring is empty, -EINVAL when the driver broke the queue (vq->broken
 * is then set and every later call returns -EINVAL). */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);

/* Returns a popped chain with `written` bytes written by the device. The
 * used element and index go through the memory API (marked dirty); the
 * index is published after the element (release). */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/* After one or more pushes: true when the driver wants an interrupt
 * (used_event with EVENT_IDX, else the avail NO_INTERRUPT flag); false
 * when nothing was pushed since the last call. */
bool vq_should_notify(struct virtqueue *vq);

/* Asks the driver for (or to stop) notifications while the device polls.
 * With EVENT_IDX writes avail_event, else the used NO_NOTIFY flag. After
 * enabling, returns true when buffers arrived meanwhile (pop again). */
bool vq_set_notification(struct virtqueue *vq, bool enable);

/* True when the driver made buffers available that were not popped yet:
 * a read of the avail index alone, for a device polling the ring. */
bool vq_has_avail(struct virtqueue *vq);

/* Copies from a chain's device-readable part at offset off; 0 or -EFAULT
 * when the chain holds fewer bytes. */
int vq_chain_read(const struct vq_chain *c, uint64_t off, void *dst,
		  uint64_t len);
/* Copies into a chain's device-writable part at offset off and marks the
 * pages written dirty. */
int vq_chain_write(const struct vq_chain *c, uint64_t off, const void *src,
		   uint64_t len);

/* Marks dirty the guest pages behind the first `bytes` bytes of iov[0..n)
 * (host iovecs of a popped chain, or slices of them): for data written
 * into guest buffers by someone else (io_uring), called when the write has
 * completed. */
void vq_mark_dirty(const struct guest_mem *mem, const struct iovec *iov,
		   unsigned n, uint64_t bytes);

#endif
