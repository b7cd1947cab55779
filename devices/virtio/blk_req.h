/* virtio-blk requests (virtio 1.x 5.2.6), parsed from a popped chain into
 * a validated struct before any I/O: header, type, sector range against
 * the capacity with checked arithmetic, data length, buffer directions,
 * discard/write-zeroes segments and the status byte. */
#ifndef DEVICES_VIRTIO_BLK_REQ_H
#define DEVICES_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtqueue.h"

#define VBLK_SECTOR 512ULL
#define VBLK_ID_BYTES 20

struct vblk_limits {
	uint64_t capacity; /* in 512-byte sectors */
	bool readonly;
	bool discard;	   /* DISCARD offered */
	bool write_zeroes; /* WRITE_ZEROES offered */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
};

struct vblk_request {
	uint32_t type;	 /* VIRTIO_BLK_T_* */
	uint64_t offset; /* bytes */
	uint64_t len;	 /* bytes: data, or the discarded/zeroed range */
	bool unmap;	 /* write-zeroes may deallocate */
	unsigned iovcnt; /* data buffers: IN, OUT, GET_ID */
	struct iovec iov[VQ_MAX_SEGS];
	uint8_t *status; /* where the status byte goes */
};

/* Returns VIRTIO_BLK_S_OK with *r ready for I/O; VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP for a request to fail at once (r->status is set);
 * or -EINVAL when the chain has no writable byte for a status, which only
 * a broken driver sends (the device then breaks the queue). */
int vblk_parse(const struct vq_chain *c, const struct vblk_limits *lim,
	       struct vblk_request *r);

#endif
